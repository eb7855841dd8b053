/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: cpio records (see initramfs.h).
 *
 * Read: newc, newc+CRC, odc, old binary in both byte orders.  Write: newc.
 * Every field is decoded strictly (a non-digit is an error naming the
 * field, where the kernel's simple_strtoul would silently stop) and every
 * size is checked against the buffer before it is used.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "initramfs/initramfs.h"

const char *
lf_cpio_format_name (enum lf_cpio_format f)
{
  switch (f) {
  case LF_CPIO_NEWC:   return "newc";
  case LF_CPIO_CRC:    return "newc+crc";
  case LF_CPIO_ODC:    return "odc";
  case LF_CPIO_BIN_LE: return "bin-le";
  case LF_CPIO_BIN_BE: return "bin-be";
  }
  return "unknown";
}

int
lf_cpio_magic (const uint8_t *p, size_t avail, enum lf_cpio_format *f)
{
  if (avail >= 6 && memcmp (p, "070701", 6) == 0)
    *f = LF_CPIO_NEWC;
  else if (avail >= 6 && memcmp (p, "070702", 6) == 0)
    *f = LF_CPIO_CRC;
  else if (avail >= 6 && memcmp (p, "070707", 6) == 0)
    *f = LF_CPIO_ODC;
  else if (avail >= 2 && p[0] == 0xc7 && p[1] == 0x71)
    *f = LF_CPIO_BIN_LE;
  else if (avail >= 2 && p[0] == 0x71 && p[1] == 0xc7)
    *f = LF_CPIO_BIN_BE;
  else
    return LF_NO_MATCH;
  return LF_MATCH;
}

/* Parse N digits of BASE (8 or 16) from a fixed-width field. */
static int
parse_digits (const char *s, size_t n, unsigned base, const char *field,
              uint64_t *ret)
{
  uint64_t v = 0;

  for (size_t i = 0; i < n; i++) {
    unsigned d;
    char c = s[i];
    if (c >= '0' && c <= '7')
      d = (unsigned) (c - '0');
    else if (base == 16 && c >= '8' && c <= '9')
      d = (unsigned) (c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f')
      d = (unsigned) (c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F')
      d = (unsigned) (c - 'A' + 10);
    else {
      char shown[16];
      size_t k;
      for (k = 0; k < n && k < sizeof shown - 1; k++)
        shown[k] = (s[k] >= 0x20 && s[k] < 0x7f) ? s[k] : '?';
      shown[k] = '\0';
      lf_error (EINVAL, "%s field \"%s\" is not %s", field, shown,
                base == 16 ? "hexadecimal" : "octal");
      return -1;
    }
    v = v * base + d;           /* n <= 11 digits: no overflow */
  }
  *ret = v;
  return 0;
}

/* Old 16-bit device numbers: major in the high byte. */
static void
split_old_dev (uint64_t d, uint32_t *major, uint32_t *minor)
{
  *major = (uint32_t) ((d >> 8) & 0xff);
  *minor = (uint32_t) (d & 0xff);
}

/* One text field of a header: where it is and where it goes. */
struct text_field {
  const char *name;
  size_t off, len;
  uint64_t *dst;
};

static int
read_text_fields (const uint8_t *hdr, const struct text_field *f, size_t n,
                  unsigned base)
{
  for (size_t i = 0; i < n; i++)
    if (parse_digits ((const char *) hdr + f[i].off, f[i].len, base,
                      f[i].name, f[i].dst) == -1)
      return -1;
  return 0;
}

#define TF(type, field, dst) \
  { #field, offsetof (type, field), sizeof ((type *) 0)->field, (dst) }

static int
read_newc (const uint8_t *p, size_t avail, uint64_t off,
           struct lf_cpio_record *r, uint64_t *namesize, uint64_t *hdrlen)
{
  uint64_t v[13];
  const struct text_field f[] = {
    TF (struct cpio_newc_header, ino, &r->ino),
    TF (struct cpio_newc_header, mode, &r->mode),
    TF (struct cpio_newc_header, uid, &r->uid),
    TF (struct cpio_newc_header, gid, &r->gid),
    TF (struct cpio_newc_header, nlink, &r->nlink),
    TF (struct cpio_newc_header, mtime, &r->mtime),
    TF (struct cpio_newc_header, filesize, &r->size),
    TF (struct cpio_newc_header, devmajor, &v[0]),
    TF (struct cpio_newc_header, devminor, &v[1]),
    TF (struct cpio_newc_header, rdevmajor, &v[2]),
    TF (struct cpio_newc_header, rdevminor, &v[3]),
    TF (struct cpio_newc_header, namesize, namesize),
    TF (struct cpio_newc_header, check, &v[4]),
  };

  if (avail < CPIO_NEWC_HEADER) {
    lf_error (EINVAL, "newc header at 0x%" PRIx64 " is truncated "
              "(%zu of %d bytes before the end)", off,
              avail, CPIO_NEWC_HEADER);
    return -1;
  }
  if (read_text_fields (p, f, sizeof f / sizeof f[0], 16) == -1) {
    lf_error_prefix ("newc header at 0x%" PRIx64, off);
    return -1;
  }
  /* Eight hex digits: these fit 32 bits. */
  r->dev_major = (uint32_t) v[0];
  r->dev_minor = (uint32_t) v[1];
  r->rdev_major = (uint32_t) v[2];
  r->rdev_minor = (uint32_t) v[3];
  r->check = (uint32_t) v[4];
  *hdrlen = CPIO_NEWC_HEADER;
  return 0;
}

static int
read_odc (const uint8_t *p, size_t avail, uint64_t off,
          struct lf_cpio_record *r, uint64_t *namesize, uint64_t *hdrlen)
{
  uint64_t dev = 0, rdev = 0;
  const struct text_field f[] = {
    TF (struct cpio_odc_header, dev, &dev),
    TF (struct cpio_odc_header, ino, &r->ino),
    TF (struct cpio_odc_header, mode, &r->mode),
    TF (struct cpio_odc_header, uid, &r->uid),
    TF (struct cpio_odc_header, gid, &r->gid),
    TF (struct cpio_odc_header, nlink, &r->nlink),
    TF (struct cpio_odc_header, rdev, &rdev),
    TF (struct cpio_odc_header, mtime, &r->mtime),
    TF (struct cpio_odc_header, namesize, namesize),
    TF (struct cpio_odc_header, filesize, &r->size),
  };

  if (avail < CPIO_ODC_HEADER) {
    lf_error (EINVAL, "odc header at 0x%" PRIx64 " is truncated "
              "(%zu of %d bytes before the end)", off,
              avail, CPIO_ODC_HEADER);
    return -1;
  }
  if (read_text_fields (p, f, sizeof f / sizeof f[0], 8) == -1) {
    lf_error_prefix ("odc header at 0x%" PRIx64, off);
    return -1;
  }
  split_old_dev (dev, &r->dev_major, &r->dev_minor);
  split_old_dev (rdev, &r->rdev_major, &r->rdev_minor);
  *hdrlen = CPIO_ODC_HEADER;
  return 0;
}

static int
read_bin (const uint8_t *p, size_t avail, uint64_t off, bool be,
          struct lf_cpio_record *r, uint64_t *namesize, uint64_t *hdrlen)
{
  uint16_t w[CPIO_BIN_HEADER / 2];

  if (avail < CPIO_BIN_HEADER) {
    lf_error (EINVAL, "binary cpio header at 0x%" PRIx64 " is truncated "
              "(%zu of %d bytes before the end)", off,
              avail, CPIO_BIN_HEADER);
    return -1;
  }
  for (size_t i = 0; i < CPIO_BIN_HEADER / 2; i++)
    w[i] = be ? lf_be16 (p + 2 * i) : lf_le16 (p + 2 * i);
  split_old_dev (w[1], &r->dev_major, &r->dev_minor);
  r->ino = w[2];
  r->mode = w[3];
  r->uid = w[4];
  r->gid = w[5];
  r->nlink = w[6];
  split_old_dev (w[7], &r->rdev_major, &r->rdev_minor);
  r->mtime = ((uint64_t) w[8] << 16) | w[9];
  *namesize = w[10];
  r->size = ((uint64_t) w[11] << 16) | w[12];
  *hdrlen = CPIO_BIN_HEADER;
  return 0;
}

int
lf_cpio_read_header (const uint8_t *p, size_t avail, uint64_t off,
                     uint64_t base, uint64_t end, struct lf_cpio_record *r)
{
  uint64_t namesize = 0, hdrlen = 0, align, name_end, data_end, t;
  const char *fname;

  memset (r, 0, sizeof *r);
  if (off < base || lf_cpio_magic (p, avail, &r->format) != LF_MATCH) {
    lf_error (EINVAL, "no cpio magic at 0x%" PRIx64, off);
    return -1;
  }
  fname = lf_cpio_format_name (r->format);
  switch (r->format) {
  case LF_CPIO_NEWC: case LF_CPIO_CRC:
    if (read_newc (p, avail, off, r, &namesize, &hdrlen) == -1)
      return -1;
    align = 4;
    break;
  case LF_CPIO_ODC:
    if (read_odc (p, avail, off, r, &namesize, &hdrlen) == -1)
      return -1;
    align = 1;
    break;
  default:
    if (read_bin (p, avail, off, r->format == LF_CPIO_BIN_BE,
                  r, &namesize, &hdrlen) == -1)
      return -1;
    align = 2;
    break;
  }

  /* The sanity block: everything that becomes an offset or a size. */
  if (namesize == 0 || namesize > CPIO_MAX_NAME) {
    lf_error (ENAMETOOLONG, "%s header at 0x%" PRIx64 ": name size %" PRIu64
              " is %s (CPIO_MAX_NAME %d)", fname, off, namesize,
              namesize == 0 ? "zero" : "too large", CPIO_MAX_NAME);
    return -1;
  }
  if (hdrlen + namesize > avail) {
    lf_error (EINVAL, "%s header at 0x%" PRIx64 ": name of %" PRIu64
              " bytes at 0x%" PRIx64 " runs past the end (0x%" PRIx64 ")",
              fname, off, namesize, off + hdrlen, off + avail);
    return -1;
  }
  name_end = off + hdrlen + namesize;   /* all small: no overflow */
  r->name = (const char *) p + hdrlen;
  r->namelen = (size_t) namesize - 1;
  if (r->name[r->namelen] != '\0' ||
      memchr (r->name, '\0', r->namelen) != NULL) {
    lf_error (EINVAL, "%s header at 0x%" PRIx64 ": name of %" PRIu64
              " bytes is not one NUL-terminated string", fname, off,
              namesize);
    return -1;
  }
  if (lf_round_up_overflow (name_end - base, align, &t) ||
      ADD_OVERFLOW (t, base, &r->data_off) ||
      ADD_OVERFLOW (r->data_off, r->size, &data_end) ||
      data_end > end) {
    lf_error (EINVAL, "%s entry \"%s\" at 0x%" PRIx64 ": data of %" PRIu64
              " bytes runs past the end (0x%" PRIx64 ")", fname, r->name,
              off, r->size, end);
    return -1;
  }
  if (lf_round_up_overflow (data_end - base, align, &t) ||
      ADD_OVERFLOW (t, base, &r->next_off)) {
    lf_error (EOVERFLOW, "%s entry \"%s\" at 0x%" PRIx64 ": size overflows",
              fname, r->name, off);
    return -1;
  }
  /* Padding after the data may be cut by the end of the buffer only if
   * nothing follows; the caller sees next_off > len and stops.
   */
  return 0;
}

int
lf_cpio_read (const uint8_t *buf, size_t len, uint64_t off, uint64_t base,
              struct lf_cpio_record *r)
{
  if (off > len) {
    memset (r, 0, sizeof *r);
    lf_error (EINVAL, "no cpio magic at 0x%" PRIx64, off);
    return -1;
  }
  return lf_cpio_read_header (buf + off, len - (size_t) off, off, base,
                              len, r);
}

static void
put_hex8 (char *dst, uint64_t v)
{
  char tmp[9];
  snprintf (tmp, sizeof tmp, "%08" PRIX32, (uint32_t) v);
  memcpy (dst, tmp, 8);
}

bool
lf_cpio_is_trailer (const struct lf_cpio_record *r)
{
  /* As init/initramfs.c: do_header sends symlinks to GotSymlink, and only
   * regular files or empty bodies reach do_name's strcmp.
   */
  if (strcmp (r->name, CPIO_TRAILER) != 0)
    return false;
  if (S_ISLNK (r->mode))
    return false;
  return S_ISREG (r->mode) || r->size == 0;
}

int
lf_cpio_write_newc_header (struct lf_ird_buf *b,
                           const struct lf_cpio_record *r)
{
  struct cpio_newc_header h;
  size_t namesize = r->namelen + 1, pad;
  const uint64_t fields[] = { r->ino, r->mode, r->uid, r->gid, r->nlink,
                              r->mtime, r->size, r->dev_major, r->dev_minor,
                              r->rdev_major, r->rdev_minor, namesize, 0 };

  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    if (fields[i] > UINT32_MAX) {
      lf_error (EOVERFLOW, "entry \"%s\": value %" PRIu64 " (field %zu) "
                "does not fit a newc header", r->name, fields[i], i);
      return -1;
    }
  }
  if (namesize > CPIO_MAX_NAME) {
    lf_error (ENAMETOOLONG, "entry \"%.64s...\": name of %zu bytes is over "
              "CPIO_MAX_NAME %d", r->name, namesize, CPIO_MAX_NAME);
    return -1;
  }
  memcpy (h.magic, "070701", 6);
  put_hex8 (h.ino, r->ino);
  put_hex8 (h.mode, r->mode);
  put_hex8 (h.uid, r->uid);
  put_hex8 (h.gid, r->gid);
  put_hex8 (h.nlink, r->nlink);
  put_hex8 (h.mtime, r->mtime);
  put_hex8 (h.filesize, r->size);
  put_hex8 (h.devmajor, r->dev_major);
  put_hex8 (h.devminor, r->dev_minor);
  put_hex8 (h.rdevmajor, r->rdev_major);
  put_hex8 (h.rdevminor, r->rdev_minor);
  put_hex8 (h.namesize, namesize);
  put_hex8 (h.check, 0);

  if (lf_ird_buf_append (b, &h, sizeof h) == -1 ||
      lf_ird_buf_append (b, r->name, r->namelen) == -1 ||
      lf_ird_buf_zeros (b, 1) == -1)
    return -1;
  pad = (4 - (b->len & 3)) & 3;
  return lf_ird_buf_zeros (b, pad);
}

int
lf_cpio_write_newc (struct lf_ird_buf *b, const struct lf_cpio_record *r,
                    const void *data)
{
  size_t pad;

  if (lf_cpio_write_newc_header (b, r) == -1)
    return -1;
  if (r->size) {
    if (lf_ird_buf_append (b, data, (size_t) r->size) == -1)
      return -1;
    pad = (4 - (b->len & 3)) & 3;
    if (lf_ird_buf_zeros (b, pad) == -1)
      return -1;
  }
  return 0;
}

int
lf_cpio_write_trailer (struct lf_ird_buf *b, size_t pad)
{
  struct lf_cpio_record t = {
    .format = LF_CPIO_NEWC, .nlink = 1,
    .name = CPIO_TRAILER, .namelen = strlen (CPIO_TRAILER),
  };
  size_t rem;

  if (lf_cpio_write_newc (b, &t, NULL) == -1)
    return -1;
  rem = pad ? b->len % pad : 0;
  if (rem && lf_ird_buf_zeros (b, pad - rem) == -1)
    return -1;
  return 0;
}
