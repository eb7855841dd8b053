/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: small helpers used by every layer. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/common.h"

bool
lf_is_zero (const void *buf, size_t len)
{
  const unsigned char *p = buf;

  /* Check the first 16 bytes by hand, then compare the buffer with itself
   * shifted by 16: memcmp is vectorised, so this runs near memory speed.
   */
  size_t head = len < 16 ? len : 16;
  for (size_t i = 0; i < head; i++)
    if (p[i])
      return false;
  return len <= 16 || memcmp (p, p + 16, len - 16) == 0;
}

const char *
lf_human_size (uint64_t n, char *buf, size_t buflen)
{
  static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
  double v = (double) n;
  unsigned u = 0;

  while (v >= 1024 && u < 5) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf (buf, buflen, "%" PRIu64 " B", n);
  else
    snprintf (buf, buflen, "%.1f %s", v, units[u]);
  return buf;
}

int
lf_parse_size (const char *s, uint64_t *ret)
{
  char *end;
  uint64_t mult = 1, v;

  errno = 0;
  if (!s || *s < '0' || *s > '9')
    goto bad;
  v = strtoull (s, &end, 10);
  if (errno)
    goto bad;
  switch (*end) {
  case '\0': break;
  case 'k': case 'K': mult = LF_KiB; end++; break;
  case 'm': case 'M': mult = LF_MiB; end++; break;
  case 'g': case 'G': mult = LF_GiB; end++; break;
  case 't': case 'T': mult = LF_TiB; end++; break;
  default: goto bad;
  }
  if (*end != '\0' || MUL_OVERFLOW (v, mult, ret))
    goto bad;
  return 0;
 bad:
  lf_error (EINVAL, "cannot parse size '%s'", s ? s : "");
  return -1;
}

int
lf_parse_uint (const char *s, unsigned long min, unsigned long max,
               unsigned long *ret)
{
  char *end;
  unsigned long v;

  /* strtoul takes "-1" (as ULONG_MAX), "+5" and leading blanks. */
  if (!s || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoul (s, &end, 10);
  if (errno || *end || v < min || v > max)
    return -1;
  *ret = v;
  return 0;
}

double
lf_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

char *
lf_path_under (const char *basedir, const char *p)
{
  char *r = NULL;

  if (p[0] == '/')
    r = strdup (p);
  else if (asprintf (&r, "%s/%s", basedir, p) == -1)
    r = NULL;
  if (!r)
    lf_error (ENOMEM, "out of memory");
  return r;
}

char *
lf_path_beside (const char *path, const char *name)
{
  char *r = NULL;

  if (name[0] == '/')
    r = strdup (name);
  else {
    CLEANUP_FREE char *copy = strdup (path);
    if (copy && asprintf (&r, "%s/%s", dirname (copy), name) == -1)
      r = NULL;
  }
  if (!r)
    lf_error (errno, "out of memory");
  return r;
}

int
lf_pwrite_all (int fd, const void *buf, size_t len, uint64_t off)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t r = pwrite (fd, p, len, (off_t) off);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      lf_error (errno, "write at 0x%" PRIx64 ": %m", off);
      return -1;
    }
    p += r;
    len -= (size_t) r;
    off += (uint64_t) r;
  }
  return 0;
}

int
lf_pread_all (int fd, void *buf, size_t len, uint64_t off)
{
  char *p = buf;

  while (len > 0) {
    ssize_t r = pread (fd, p, len, (off_t) off);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      lf_error (errno, "read at 0x%" PRIx64 ": %m", off);
      return -1;
    }
    if (r == 0) {
      lf_error (EIO, "unexpected end of file at 0x%" PRIx64, off);
      return -1;
    }
    p += r;
    len -= (size_t) r;
    off += (uint64_t) r;
  }
  return 0;
}

int
lf_fsync_dir_of (const char *path)
{
  CLEANUP_FREE char *copy = strdup (path);
  CLEANUP_CLOSE int fd = -1;

  if (!copy) {
    lf_error (errno, "out of memory");
    return -1;
  }
  fd = open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1 || fsync (fd) == -1) {
    lf_error (errno, "%s: fsync of directory: %m", path);
    return -1;
  }
  return 0;
}

char *
lf_utf16_to_utf8 (const void *buf, size_t bytes, bool big_endian)
{
  const uint8_t *p = buf;
  size_t n = bytes / 2, o = 0;
  char *out = malloc (n * 3 + 1);       /* a BMP char is at most 3 bytes */

  if (!out) {
    lf_error (errno, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t c = big_endian ? lf_be16 (p + 2 * i) : lf_le16 (p + 2 * i);
    if (c == 0)
      break;
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
      uint32_t c2 = big_endian ? lf_be16 (p + 2 * i + 2) : lf_le16 (p + 2 * i + 2);
      if (c2 >= 0xdc00 && c2 < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (c2 - 0xdc00);
        i++;
      }
      else
        c = 0xfffd;
    }
    else if (c >= 0xd800 && c < 0xe000)
      c = 0xfffd;
    /* Two UTF-16 units (4 bytes of input) make at most 4 bytes of output,
     * so n * 3 is always enough.
     */
    if (c < 0x80)
      out[o++] = (char) c;
    else if (c < 0x800) {
      out[o++] = (char) (0xc0 | (c >> 6));
      out[o++] = (char) (0x80 | (c & 0x3f));
    }
    else if (c < 0x10000) {
      out[o++] = (char) (0xe0 | (c >> 12));
      out[o++] = (char) (0x80 | ((c >> 6) & 0x3f));
      out[o++] = (char) (0x80 | (c & 0x3f));
    }
    else {
      out[o++] = (char) (0xf0 | (c >> 18));
      out[o++] = (char) (0x80 | ((c >> 12) & 0x3f));
      out[o++] = (char) (0x80 | ((c >> 6) & 0x3f));
      out[o++] = (char) (0x80 | (c & 0x3f));
    }
  }
  out[o] = '\0';
  return out;
}
volatile sig_atomic_t lf_cancel;

void
lf_sha256_hex (const void *buf, size_t len, char hex[65])
{
  static const char digits[] = "0123456789abcdef";
  unsigned char md[32];
  unsigned mdlen = 0;

  /* Not expected to fail (no engine, no allocation that can): an empty
   * string rather than stack garbage if it ever does.
   */
  hex[0] = '\0';
  if (EVP_Digest (buf, len, md, &mdlen, EVP_sha256 (), NULL) != 1 ||
      mdlen != 32)
    return;
  for (unsigned i = 0; i < 32; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[64] = '\0';
}

int
lf_mkdir_p (const char *path)
{
  CLEANUP_FREE char *p = strdup (path);

  if (!p) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  for (char *s = p + 1; ; s++) {
    if (*s == '/' || *s == '\0') {
      char c = *s;
      *s = '\0';
      if (mkdir (p, 0755) == -1 && errno != EEXIST) {
        lf_error (errno, "%s: %m", p);
        return -1;
      }
      *s = c;
      if (c == '\0')
        break;
    }
  }
  return 0;
}
