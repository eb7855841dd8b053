/* landfall convert/: bounded reads from an image file.
 *
 * Parsers never call read(2) themselves: every read names the structure it
 * is for and is checked against the file (or OVA member) first, so an
 * offset from a hostile header becomes a clear error, not a wild read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"

static struct lf_file *
file_open (const char *path, bool window, uint64_t base, uint64_t size)
{
  struct lf_file *f = calloc (1, sizeof *f);
  struct stat st;

  if (!f) {
    lf_error (errno, "out of memory");
    return NULL;
  }
  f->fd = -1;
  f->path = strdup (path);
  if (!f->path) {
    lf_error (errno, "out of memory");
    goto error;
  }
  f->fd = open (path, O_RDONLY | O_CLOEXEC);
  if (f->fd == -1) {
    lf_error (errno, "%s: %m", path);
    goto error;
  }
  if (fstat (f->fd, &st) == -1) {
    lf_error (errno, "%s: stat: %m", path);
    goto error;
  }
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  if (S_ISBLK (st.st_mode)) {
    off_t end = lseek (f->fd, 0, SEEK_END);
    if (end == -1) {
      lf_error (errno, "%s: cannot find the size of the block device: %m", path);
      goto error;
    }
    st.st_size = end;
  }
  else if (!S_ISREG (st.st_mode)) {
    lf_error (EINVAL, "%s: not a regular file or block device", path);
    goto error;
  }
  if (window) {
    uint64_t end;
    if (ADD_OVERFLOW (base, size, &end) || end > (uint64_t) st.st_size) {
      lf_error (EINVAL, "%s: member at 0x%" PRIx64 " (%" PRIu64
                " bytes) is beyond end of file (0x%" PRIx64 ")",
                path, base, size, (uint64_t) st.st_size);
      goto error;
    }
    f->base = base;
    f->size = size;
  }
  else
    f->size = (uint64_t) st.st_size;
  /* EINVAL or similar: the filesystem cannot tell holes; all is data. */
  f->seek_data = lseek (f->fd, (off_t) f->base, SEEK_DATA) != -1 ||
    errno == ENXIO;
  return f;

 error:
  lf_file_close (f);
  return NULL;
}

struct lf_file *
lf_file_open (const char *path)
{
  return file_open (path, false, 0, 0);
}

struct lf_file *
lf_file_open_window (const char *path, uint64_t base, uint64_t size)
{
  return file_open (path, true, base, size);
}

void
lf_file_close (struct lf_file *f)
{
  if (!f)
    return;
  if (f->fd >= 0)
    close (f->fd);
  free (f->path);
  free (f);
}

bool
lf_file_contains (const struct lf_file *f, uint64_t off, uint64_t len)
{
  uint64_t end;
  return !ADD_OVERFLOW (off, len, &end) && end <= f->size;
}

int
lf_file_read (struct lf_file *f, void *buf, size_t len, uint64_t off,
              const char *what)
{
  if (!lf_file_contains (f, off, len)) {
    lf_error (EINVAL, "%s: %s at 0x%" PRIx64 " (%zu bytes) is beyond end of "
              "file (0x%" PRIx64 ")", f->path, what, off, len, f->size);
    return -1;
  }
  if (lf_pread_all (f->fd, buf, len, f->base + off) == -1) {
    lf_error_prefix ("%s: %s", f->path, what);
    return -1;
  }
  return 0;
}

void *
lf_file_read_alloc (struct lf_file *f, uint64_t len, uint64_t off,
                    uint64_t max, const char *what)
{
  void *buf;

  if (len > max) {
    lf_error (EINVAL, "%s: %s is %" PRIu64 " bytes, larger than the limit "
              "of %" PRIu64, f->path, what, len, max);
    return NULL;
  }
  if (!lf_file_contains (f, off, len)) {
    lf_error (EINVAL, "%s: %s at 0x%" PRIx64 " (%" PRIu64 " bytes) is beyond "
              "end of file (0x%" PRIx64 ")", f->path, what, off, len, f->size);
    return NULL;
  }
  buf = malloc (len ? len : 1);
  if (!buf) {
    lf_error (errno, "%s: %s: out of memory", f->path, what);
    return NULL;
  }
  if (lf_file_read (f, buf, len, off, what) == -1) {
    free (buf);
    return NULL;
  }
  return buf;
}

int
lf_file_extent (struct lf_file *f, uint64_t offset, uint64_t *len,
                unsigned *type)
{
  off_t data, hole;

  *type = LF_EXTENT_DATA;
  if (!f->seek_data)
    return 0;
  /* The file may be a window (an OVA member): offsets are relative. */
  data = lseek (f->fd, (off_t) (f->base + offset), SEEK_DATA);
  if (data == -1 && errno == ENXIO) {  /* only a hole up to the end */
    *type = LF_EXTENT_ZERO;
    return 0;
  }
  if (data == -1) {
    lf_error (errno, "%s: SEEK_DATA at 0x%" PRIx64 ": %m", f->path, offset);
    return -1;
  }
  data -= (off_t) f->base;
  if ((uint64_t) data > offset) {
    *type = LF_EXTENT_ZERO;
    *len = LF_MIN (*len, (uint64_t) data - offset);
    return 0;
  }
  hole = lseek (f->fd, (off_t) (f->base + offset), SEEK_HOLE);
  if (hole == -1) {
    lf_error (errno, "%s: SEEK_HOLE at 0x%" PRIx64 ": %m", f->path, offset);
    return -1;
  }
  hole -= (off_t) f->base;
  if ((uint64_t) hole > offset)
    *len = LF_MIN (*len, (uint64_t) hole - offset);
  return 0;
}
