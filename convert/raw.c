/* landfall convert/: raw images and block devices.
 *
 * The extent map comes from the filesystem (SEEK_DATA/SEEK_HOLE), so a
 * sparse 8 GiB file with 2 GiB of data is never read in full.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "format.h"

struct raw_handle {
  struct lf_file *f;
  bool seek_data;               /* the filesystem answers SEEK_DATA */
};

static int
raw_probe (struct lf_file *f)
{
  (void) f;
  return LF_MATCH;              /* anything is a raw image */
}

static void *
raw_open (struct lf_file *f, struct lf_disk *d)
{
  struct raw_handle *h = calloc (1, sizeof *h);

  if (!h) {
    lf_error (errno, "out of memory");
    return NULL;
  }
  h->f = f;
  /* EINVAL or similar: the filesystem cannot tell holes; all is data. */
  h->seek_data = lseek (f->fd, (off_t) f->base, SEEK_DATA) != -1 ||
    errno == ENXIO;
  d->size = f->size;
  return h;
}

static int
raw_pread (void *hv, void *buf, size_t count, uint64_t offset)
{
  struct raw_handle *h = hv;
  return lf_file_read (h->f, buf, count, offset, "data");
}

static int
raw_extent (void *hv, uint64_t offset, uint64_t *len, unsigned *type)
{
  struct raw_handle *h = hv;
  off_t data, hole;

  if (!h->seek_data) {
    *type = LF_EXTENT_DATA;
    return 0;
  }
  /* The file may be a window (an OVA member): offsets are relative. */
  data = lseek (h->f->fd, (off_t) (h->f->base + offset), SEEK_DATA);
  if (data == -1 && errno == ENXIO) {  /* only a hole up to the end */
    *type = LF_EXTENT_ZERO;
    return 0;
  }
  if (data == -1) {
    lf_error (errno, "%s: SEEK_DATA at 0x%" PRIx64 ": %m", h->f->path, offset);
    return -1;
  }
  data -= (off_t) h->f->base;
  if ((uint64_t) data > offset) {
    *type = LF_EXTENT_ZERO;
    *len = LF_MIN (*len, (uint64_t) data - offset);
    return 0;
  }
  hole = lseek (h->f->fd, (off_t) (h->f->base + offset), SEEK_HOLE);
  if (hole == -1) {
    lf_error (errno, "%s: SEEK_HOLE at 0x%" PRIx64 ": %m", h->f->path, offset);
    return -1;
  }
  *type = LF_EXTENT_DATA;
  hole -= (off_t) h->f->base;
  if ((uint64_t) hole > offset)
    *len = LF_MIN (*len, (uint64_t) hole - offset);
  return 0;
}

static void
raw_close (void *h)
{
  free (h);
}

const struct lf_format raw_format = {
  .name    = "raw",
  .probe   = raw_probe,
  .open    = raw_open,
  .pread   = raw_pread,
  .extent  = raw_extent,
  .close   = raw_close,
};
