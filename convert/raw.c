/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: raw images and block devices.
 *
 * The extent map comes from the filesystem (SEEK_DATA/SEEK_HOLE, in
 * lf_file_extent), so a sparse 8 GiB file with 2 GiB of data is never read
 * in full.
 */
#include "convert/format.h"

static int
raw_probe (struct lf_file *f)
{
  (void) f;
  return LF_MATCH;              /* anything is a raw image */
}

static void *
raw_open (struct lf_file *f, struct lf_disk *d)
{
  d->size = f->size;
  return f;
}

static int
raw_pread (void *h, void *buf, size_t count, uint64_t offset)
{
  return lf_file_read (h, buf, count, offset, "data");
}

static int
raw_extent (void *h, uint64_t offset, uint64_t *len, unsigned *type)
{
  return lf_file_extent (h, offset, len, type);
}

static void
raw_close (void *h)
{
  (void) h;                     /* the file belongs to the disk */
}

const struct lf_format raw_format = {
  .name    = "raw",
  .probe   = raw_probe,
  .open    = raw_open,
  .pread   = raw_pread,
  .extent  = raw_extent,
  .close   = raw_close,
};
