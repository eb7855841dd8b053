/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: block devices over convert/'s disks.
 *
 * Like nbdkit's partition filter, a window holds its parent and forwards
 * with an offset; a linear device (an LVM logical volume) maps each range
 * to a segment of another device.  Every range is checked in one place,
 * check_range, before it is forwarded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/guest.h"

enum bd_kind { BD_DISK, BD_WINDOW, BD_LINEAR };

struct lf_blockdev {
  enum bd_kind kind;
  char *name;
  uint64_t size;
  bool writable;
  /* BD_DISK */
  struct lf_disk *disk;
  int wfd;                      /* -1 if read-only */
  bool raw_bytes;               /* raw or fixed VHD: bytes stored as-is */
  /* BD_WINDOW */
  struct lf_blockdev *parent;
  uint64_t offset;
  /* BD_LINEAR */
  struct lf_bd_segment *segs;
  size_t nsegs;
};

static struct lf_blockdev *
bd_alloc (enum bd_kind kind, const char *name)
{
  struct lf_blockdev *bd = calloc (1, sizeof *bd);

  if (!bd || !(bd->name = strdup (name))) {
    free (bd);
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  bd->kind = kind;
  bd->wfd = -1;
  return bd;
}

/* The writer opens the disk's path again: it must still be the file that
 * was read and inspected.
 */
static bool
same_file (const struct lf_disk *disk, int fd)
{
  if (lf_disk_is_file (disk, fd))
    return true;
  lf_error (ESTALE, "%s: the path now names another file than the one "
            "inspected (replaced while landfall ran?): not written",
            lf_disk_path (disk));
  return false;
}

struct lf_blockdev *
lf_bd_new_disk (struct lf_disk *disk, bool writable, const char *name)
{
  struct lf_blockdev *bd = bd_alloc (BD_DISK, name);
  const char *fmt = lf_disk_format (disk);

  if (!bd)
    return NULL;
  bd->disk = disk;
  bd->size = lf_disk_size (disk);
  bd->raw_bytes = strcmp (fmt, "raw") == 0 ||
    (strcmp (fmt, "vhd") == 0 && strcmp (lf_disk_subformat (disk), "fixed") == 0);
  if (writable) {
    if (!bd->raw_bytes) {
      lf_error (EROFS, "%s: %s %s images are read-only here: convert the "
                "disk to a fixed VHD first", lf_disk_path (disk), fmt,
                lf_disk_subformat (disk));
      goto error;
    }
    bd->wfd = open (lf_disk_path (disk), O_RDWR | O_CLOEXEC);
    if (bd->wfd == -1) {
      lf_error (errno, "%s: %m", lf_disk_path (disk));
      goto error;
    }
    if (!same_file (disk, bd->wfd))
      goto error;
    bool excl;
    if (lf_check_not_in_use (lf_disk_path (disk), bd->wfd, &excl) == -1)
      goto error;
    /* Held exclusively, no one can mount the device (or a partition)
     * while we write it.  Not where landfall mounts its partitions itself
     * (the appliance, LANDFALL_MOUNT=kernel): the kernel would refuse
     * those mounts against our claim on the whole disk.
     */
    const char *km = getenv ("LANDFALL_MOUNT");
    if (excl && !(km && strcmp (km, "kernel") == 0)) {
      int x = open (lf_disk_path (disk), O_RDWR | O_EXCL | O_CLOEXEC);
      if (x == -1) {
        lf_error (errno, "%s: opening it exclusively: %m%s",
                  lf_disk_path (disk), errno == EBUSY ? " (it was just "
                  "mounted or claimed by another program)" : "");
        goto error;
      }
      close (bd->wfd);
      bd->wfd = x;
      if (!same_file (disk, bd->wfd))
        goto error;
    }
    bd->writable = true;
  }
  return bd;

 error:
  lf_bd_free (bd);
  return NULL;
}

struct lf_blockdev *
lf_bd_new_window (struct lf_blockdev *parent, uint64_t offset, uint64_t size,
                  const char *name)
{
  struct lf_blockdev *bd;
  uint64_t end;

  if (ADD_OVERFLOW (offset, size, &end) || end > parent->size) {
    lf_error (EINVAL, "%s: %s at 0x%" PRIx64 " (%" PRIu64 " bytes) is beyond "
              "the end of the device (0x%" PRIx64 ")", parent->name, name,
              offset, size, parent->size);
    return NULL;
  }
  bd = bd_alloc (BD_WINDOW, name);
  if (!bd)
    return NULL;
  bd->parent = parent;
  bd->offset = offset;
  bd->size = size;
  bd->writable = parent->writable;
  return bd;
}

struct lf_blockdev *
lf_bd_new_linear (const struct lf_bd_segment *segs, size_t n,
                  const char *name)
{
  struct lf_blockdev *bd;
  uint64_t total = 0;
  bool writable = true;

  for (size_t i = 0; i < n; i++) {
    uint64_t end;
    if (ADD_OVERFLOW (segs[i].dev_offset, segs[i].len, &end) ||
        end > segs[i].dev->size || ADD_OVERFLOW (total, segs[i].len, &total)) {
      lf_error (EINVAL, "%s: segment %zu at 0x%" PRIx64 " (%" PRIu64
                " bytes) is beyond the end of %s (0x%" PRIx64 ")", name, i,
                segs[i].dev_offset, segs[i].len, segs[i].dev->name,
                segs[i].dev->size);
      return NULL;
    }
    writable = writable && segs[i].dev->writable;
  }
  bd = bd_alloc (BD_LINEAR, name);
  if (!bd)
    return NULL;
  bd->segs = malloc ((n ? n : 1) * sizeof *segs);
  if (!bd->segs) {
    lf_error (ENOMEM, "out of memory");
    lf_bd_free (bd);
    return NULL;
  }
  memcpy (bd->segs, segs, n * sizeof *segs);
  bd->nsegs = n;
  bd->size = total;
  bd->writable = writable && n > 0;
  return bd;
}

void
lf_bd_free (struct lf_blockdev *bd)
{
  if (!bd)
    return;
  if (bd->wfd >= 0)
    close (bd->wfd);
  free (bd->segs);
  free (bd->name);
  free (bd);
}

const struct lf_bd_segment *
lf_bd_segments (const struct lf_blockdev *bd, size_t *n)
{
  if (bd->kind != BD_LINEAR)
    return NULL;
  *n = bd->nsegs;
  return bd->segs;
}

uint64_t lf_bd_size (const struct lf_blockdev *bd) { return bd->size; }
const char *lf_bd_name (const struct lf_blockdev *bd) { return bd->name; }
bool lf_bd_writable (const struct lf_blockdev *bd) { return bd->writable; }

static int
check_range (struct lf_blockdev *bd, uint64_t offset, uint64_t count)
{
  uint64_t end;

  if (ADD_OVERFLOW (offset, count, &end) || end > bd->size) {
    lf_error (EINVAL, "%s: access at 0x%" PRIx64 " (%" PRIu64 " bytes) is "
              "beyond the end of the device (0x%" PRIx64 ")", bd->name,
              offset, count, bd->size);
    return -1;
  }
  return 0;
}

/* One function for both directions keeps the mapping logic in one place. */
static int
bd_io (struct lf_blockdev *bd, void *rbuf, const void *wbuf, size_t count,
       uint64_t offset)
{
  if (check_range (bd, offset, count) == -1)
    return -1;
  if (count == 0)
    return 0;
  if (wbuf && !bd->writable) {
    lf_error (EROFS, "%s: the device is read-only", bd->name);
    return -1;
  }
  switch (bd->kind) {
  case BD_DISK:
    if (wbuf) {
      if (lf_pwrite_all (bd->wfd, wbuf, count, offset) == -1) {
        lf_error_prefix ("%s", bd->name);
        return -1;
      }
      return 0;
    }
    return lf_disk_pread (bd->disk, rbuf, count, offset);
  case BD_WINDOW:
    return bd_io (bd->parent, rbuf, wbuf, count, bd->offset + offset);
  case BD_LINEAR: {
    uint64_t seg_start = 0;
    for (size_t i = 0; i < bd->nsegs && count > 0; i++) {
      const struct lf_bd_segment *s = &bd->segs[i];
      if (offset < seg_start + s->len) {
        uint64_t in = offset - seg_start;
        size_t n = (size_t) LF_MIN ((uint64_t) count, s->len - in);
        if (bd_io (s->dev, rbuf, wbuf, n, s->dev_offset + in) == -1)
          return -1;
        if (rbuf)
          rbuf = (char *) rbuf + n;
        if (wbuf)
          wbuf = (const char *) wbuf + n;
        count -= n;
        offset += n;
      }
      seg_start += s->len;
    }
    return 0;
  }
  }
  return -1;
}

int
lf_bd_pread (struct lf_blockdev *bd, void *buf, size_t count, uint64_t offset)
{
  return bd_io (bd, buf, NULL, count, offset);
}

int
lf_bd_pwrite (struct lf_blockdev *bd, const void *buf, size_t count,
              uint64_t offset)
{
  return bd_io (bd, NULL, buf, count, offset);
}

int
lf_bd_flush (struct lf_blockdev *bd)
{
  switch (bd->kind) {
  case BD_DISK:
    if (bd->wfd >= 0 && fdatasync (bd->wfd) == -1) {
      lf_error (errno, "%s: fdatasync: %m", bd->name);
      return -1;
    }
    return 0;
  case BD_WINDOW:
    return lf_bd_flush (bd->parent);
  case BD_LINEAR:
    for (size_t i = 0; i < bd->nsegs; i++)
      if (lf_bd_flush (bd->segs[i].dev) == -1)
        return -1;
    return 0;
  }
  return -1;
}

bool
lf_bd_raw_location (const struct lf_blockdev *bd, const char **path,
                    uint64_t *offset)
{
  uint64_t off = 0;

  while (bd->kind == BD_WINDOW) {
    off += bd->offset;
    bd = bd->parent;
  }
  if (bd->kind != BD_DISK || !bd->raw_bytes)
    return false;
  *path = lf_disk_path (bd->disk);
  *offset = off;
  return true;
}

int
lf_bd_extent (struct lf_blockdev *bd, uint64_t offset, uint64_t *len,
              unsigned *type)
{
  if (*len == 0 || check_range (bd, offset, *len) == -1)
    return -1;
  switch (bd->kind) {
  case BD_DISK:
    return lf_disk_extent (bd->disk, offset, len, type);
  case BD_WINDOW:
    return lf_bd_extent (bd->parent, bd->offset + offset, len, type);
  case BD_LINEAR: {
    uint64_t seg_start = 0;
    for (size_t i = 0; i < bd->nsegs; i++) {
      const struct lf_bd_segment *s = &bd->segs[i];
      if (offset < seg_start + s->len) {
        uint64_t in = offset - seg_start;
        *len = LF_MIN (*len, s->len - in);
        return lf_bd_extent (s->dev, s->dev_offset + in, len, type);
      }
      seg_start += s->len;
    }
  }
  }
  lf_error (EINVAL, "%s: internal error: extent at 0x%" PRIx64, bd->name,
            offset);
  return -1;
}
