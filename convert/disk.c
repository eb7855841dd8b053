/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: opening a disk (probe, chain) and reading from it. */
#include <errno.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "convert/format.h"

/* Probe order matters: formats with a magic at offset 0 first; VHD also
 * matches a fixed disk by the footer at the end, so it comes before raw;
 * raw matches anything and is last.
 */
static const struct lf_format *const formats[] = {
  &qcow2_format,
  &vmdk_format,
  &vhdx_format,
  &vhd_format,
  &raw_format,
};
#define NR_FORMATS (sizeof formats / sizeof formats[0])

const char *const *
lf_format_names (void)
{
  static const char *names[NR_FORMATS + 1];
  for (size_t i = 0; i < NR_FORMATS; i++)
    names[i] = formats[i]->name;
  return names;
}

/* nbdkit refuses a plugin without its required callbacks; so do we, once,
 * the first time the table is used.
 */
static int
check_formats (void)
{
  for (size_t i = 0; i < NR_FORMATS; i++) {
    const struct lf_format *f = formats[i];
    if (!f->name || !f->probe || !f->open || !f->pread || !f->close) {
      lf_error (EINVAL, "internal error: format %zu (%s) lacks a required "
                "callback", i, f->name ? f->name : "?");
      return -1;
    }
  }
  return 0;
}

int
lf_probe_short (struct lf_file *f, const void *magic, size_t mlen,
                const char *name)
{
  char buf[16];

  if (f->size < mlen || mlen > sizeof buf)
    return LF_NO_MATCH;
  if (lf_file_read (f, buf, mlen, 0, "magic") == -1)
    return -1;
  if (memcmp (buf, magic, mlen) != 0)
    return LF_NO_MATCH;
  lf_error (EINVAL, "%s: truncated %s (%" PRIu64 " bytes)", f->path, name,
            f->size);
  return -1;
}

static const struct lf_format *
find_format (struct lf_file *f, const char *name)
{
  if (check_formats () == -1)
    return NULL;
  if (name) {
    for (size_t i = 0; i < NR_FORMATS; i++)
      if (strcmp (formats[i]->name, name) == 0)
        return formats[i];
    lf_error (EINVAL, "unknown format '%s'", name);
    return NULL;
  }
  for (size_t i = 0; i < NR_FORMATS; i++) {
    int r = formats[i]->probe (f);
    if (r == -1)
      return NULL;
    if (r == LF_MATCH) {
      LF_DEBUG (1, "%s: probed as %s", f->path, formats[i]->name);
      return formats[i];
    }
  }
  lf_error (EINVAL, "%s: unknown format", f->path);
  return NULL;
}

struct lf_disk *
lf_disk_open_file (struct lf_file *f, const char *format,
                   struct lf_disk *child)
{
  struct lf_disk *d = NULL;

  d = calloc (1, sizeof *d);
  if (!d) {
    lf_error (errno, "out of memory");
    lf_file_close (f);
    return NULL;
  }
  d->file = f;
  d->child = child;
  d->depth = child ? child->depth + 1 : 0;

  /* A chain whose every link has a different inode cannot loop; checking
   * identity against every disk above catches a->b->a at once.
   */
  for (struct lf_disk *c = child; c; c = c->child)
    if (c->file && c->file->dev == f->dev && c->file->ino == f->ino &&
        c->file->base == f->base) {
      lf_error (ELOOP, "%s: backing chain loops back to %s", child->file->path,
                f->path);
      goto error;
    }
  if (d->depth > LF_MAX_CHAIN_DEPTH) {
    lf_error (ELOOP, "%s: backing chain is deeper than the limit of %d",
              f->path, LF_MAX_CHAIN_DEPTH);
    goto error;
  }

  d->fmt = find_format (f, format);
  if (!d->fmt)
    goto error;
  d->h = d->fmt->open (f, d);
  if (!d->h)
    goto error;
  LF_DEBUG (1, "%s: %s%s%s, virtual size %" PRIu64, f->path, d->fmt->name,
            d->subformat[0] ? " " : "", d->subformat, d->size);
  return d;

 error:
  lf_disk_close (d);
  return NULL;
}

struct lf_disk *
lf_disk_open (const char *path, const char *format)
{
  struct lf_file *f = lf_file_open (path);
  if (!f)
    return NULL;
  return lf_disk_open_file (f, format, NULL);
}

struct lf_disk *
lf_disk_open_backing (struct lf_disk *child, const char *name,
                      const char *format, const char *what)
{
  struct lf_file *f = lf_file_open_named (child->file, name, what);
  if (!f)
    return NULL;
  return lf_disk_open_file (f, format, child);
}

void
lf_disk_close (struct lf_disk *d)
{
  if (!d)
    return;
  if (d->h && d->fmt)
    d->fmt->close (d->h);
  lf_disk_close (d->backing);
  lf_file_close (d->file);
  free (d);
}

uint64_t lf_disk_size (const struct lf_disk *d) { return d->size; }
const char *lf_disk_path (const struct lf_disk *d) { return d->file->path; }

bool
lf_disk_is_file (const struct lf_disk *d, int fd)
{
  struct stat st;

  return !d->file->member && fstat (fd, &st) == 0 &&
    st.st_dev == d->file->dev && st.st_ino == d->file->ino;
}
const char *lf_disk_format (const struct lf_disk *d) { return d->fmt->name; }
const char *lf_disk_subformat (const struct lf_disk *d) { return d->subformat; }
struct lf_disk *lf_disk_backing (const struct lf_disk *d) { return d->backing; }

static int
check_range (struct lf_disk *d, uint64_t offset, uint64_t count)
{
  uint64_t end;
  if (ADD_OVERFLOW (offset, count, &end) || end > d->size) {
    lf_error (EINVAL, "%s: read at 0x%" PRIx64 " (%" PRIu64 " bytes) is "
              "beyond the virtual size (0x%" PRIx64 ")", d->file->path,
              offset, count, d->size);
    return -1;
  }
  return 0;
}

int
lf_disk_pread (struct lf_disk *d, void *buf, size_t count, uint64_t offset)
{
  if (check_range (d, offset, count) == -1)
    return -1;
  if (count == 0)
    return 0;
  return d->fmt->pread (d->h, buf, count, offset);
}

int
lf_disk_extent (struct lf_disk *d, uint64_t offset, uint64_t *len,
                unsigned *type)
{
  uint64_t want = *len, got = 0;
  unsigned first = LF_EXTENT_DATA;

  if (want == 0 || check_range (d, offset, want) == -1) {
    if (want == 0)
      lf_error (EINVAL, "%s: extent query of length 0", d->file->path);
    return -1;
  }
  if (!d->fmt->extent) {
    *type = LF_EXTENT_DATA;
    return 0;
  }
  /* Merge what the format reports piecewise (often one block at a time)
   * so callers see long runs.
   */
  while (got < want) {
    uint64_t n = want - got;
    unsigned t;
    if (d->fmt->extent (d->h, offset + got, &n, &t) == -1)
      return -1;
    if (n == 0 || n > want - got) {
      lf_error (EINVAL, "internal error: %s extent at 0x%" PRIx64
                " returned length %" PRIu64, d->fmt->name, offset + got, n);
      return -1;
    }
    if (got == 0)
      first = t;
    else if (t != first)
      break;
    got += n;
  }
  *len = got;
  *type = first;
  return 0;
}

int
lf_disk_pread_padded (struct lf_disk *d, void *buf, size_t count,
                      uint64_t offset)
{
  size_t n = 0;

  if (offset < d->size)
    n = (size_t) LF_MIN ((uint64_t) count, d->size - offset);
  if (n && lf_disk_pread (d, buf, n, offset) == -1)
    return -1;
  memset ((char *) buf + n, 0, count - n);
  return 0;
}

int
lf_disk_extent_padded (struct lf_disk *d, uint64_t offset, uint64_t *len,
                       unsigned *type)
{
  if (offset >= d->size) {
    *type = LF_EXTENT_ZERO;
    return 0;
  }
  if (*len > d->size - offset)
    *len = d->size - offset;
  return lf_disk_extent (d, offset, len, type);
}

/* Set by fuzz targets (format.h). */
bool lf_fuzzing;
