/* landfall: the compressors Linux reads an initramfs with (see
 * lib/decompress.c): detection by magic, one stream decoded at a time with
 * an output cap, and encoders that write what the kernel reads (xz with a
 * CRC32 check, lz4 in the legacy frame of 8 MiB chunks).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <bzlib.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "initramfs.h"

/* Codec memory: a hostile xz/lzma header may ask for a huge dictionary. */
#define DECODER_MEMLIMIT  (256 * LF_MiB)
/* The first output allocation; the buffer doubles up to the cap. */
#define OUT_INITIAL       (256 * LF_KiB)

/* Buffers. */

int
lf_ird_buf_reserve (struct lf_ird_buf *b, size_t more)
{
  size_t need, ncap;
  uint8_t *p;

  if (ADD_OVERFLOW (b->len, more, &need)) {
    lf_error (ENOMEM, "buffer size overflows");
    return -1;
  }
  if (need <= b->cap)
    return 0;
  ncap = b->cap ? b->cap : 4096;
  while (ncap < need) {
    if (MUL_OVERFLOW (ncap, (size_t) 2, &ncap)) {
      ncap = need;
      break;
    }
  }
  p = realloc (b->p, ncap);
  if (!p) {
    lf_error (ENOMEM, "cannot allocate %zu bytes", ncap);
    return -1;
  }
  b->p = p;
  b->cap = ncap;
  return 0;
}

int
lf_ird_buf_append (struct lf_ird_buf *b, const void *p, size_t n)
{
  if (n == 0)
    return 0;
  if (lf_ird_buf_reserve (b, n) == -1)
    return -1;
  memcpy (b->p + b->len, p, n);
  b->len += n;
  return 0;
}

int
lf_ird_buf_zeros (struct lf_ird_buf *b, size_t n)
{
  if (n == 0)
    return 0;
  if (lf_ird_buf_reserve (b, n) == -1)
    return -1;
  memset (b->p + b->len, 0, n);
  b->len += n;
  return 0;
}

/* Grow B so that at least one more byte fits, never past MAX_OUT.  Fails
 * with EFBIG when B already holds MAX_OUT bytes.
 */
static int
grow_output (struct lf_ird_buf *b, uint64_t max_out, const char *cap_what)
{
  size_t ncap;
  uint8_t *p;

  if (b->len < b->cap)
    return 0;
  if ((uint64_t) b->cap >= max_out) {
    lf_error (EFBIG, "decoded data exceeds %" PRIu64 " bytes (%s)",
              max_out, cap_what);
    return -1;
  }
  ncap = b->cap ? b->cap * 2 : (size_t) OUT_INITIAL;
  if (ncap < b->cap || (uint64_t) ncap > max_out)
    ncap = (size_t) max_out;
  p = realloc (b->p, ncap);
  if (!p) {
    lf_error (ENOMEM, "cannot allocate %zu bytes for decoded data", ncap);
    return -1;
  }
  b->p = p;
  b->cap = ncap;
  return 0;
}

/* Detection. */

const char *
lf_compression_name (enum lf_compression c)
{
  switch (c) {
  case LF_COMP_NONE:  return "none";
  case LF_COMP_GZIP:  return "gzip";
  case LF_COMP_XZ:    return "xz";
  case LF_COMP_LZMA:  return "lzma";
  case LF_COMP_ZSTD:  return "zstd";
  case LF_COMP_LZ4:   return "lz4";
  case LF_COMP_BZIP2: return "bzip2";
  }
  return "unknown";
}

int
lf_compression_detect (const uint8_t *p, size_t avail, enum lf_compression *c)
{
  static const uint8_t xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
  static const uint8_t zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

  if (avail >= 2 && p[0] == 0x1f && p[1] == 0x8b)
    *c = LF_COMP_GZIP;
  else if (avail >= 6 && memcmp (p, xz_magic, 6) == 0)
    *c = LF_COMP_XZ;
  else if (avail >= 3 && p[0] == 0x5d && p[1] == 0x00 && p[2] == 0x00)
    *c = LF_COMP_LZMA;
  else if (avail >= 4 && memcmp (p, zstd_magic, 4) == 0)
    *c = LF_COMP_ZSTD;
  else if (avail >= 4 && lf_le32 (p) == LZ4_LEGACY_MAGIC)
    *c = LF_COMP_LZ4;
  else if (avail >= 4 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' &&
           p[3] >= '1' && p[3] <= '9')
    *c = LF_COMP_BZIP2;
  else if (avail >= 2 && p[0] == 0x89 && p[1] == 0x4c) {
    lf_error (ENOTSUP, "lzo compression is not supported");
    return -1;
  }
  else if (avail >= 2 && p[0] == 0x1f && p[1] == 0x9e) {
    lf_error (ENOTSUP, "old gzip (\"pack\") compression is not supported");
    return -1;
  }
  else
    return LF_NO_MATCH;
  return LF_MATCH;
}

/* Decoders.  Each fills OUT and sets *CONSUMED; errors name the codec. */

static int
gunzip (const uint8_t *in, size_t inlen, uint64_t max_out,
        const char *cap_what, struct lf_ird_buf *out, size_t *consumed)
{
  z_stream z;
  int r, ret = -1;

  memset (&z, 0, sizeof z);
  if (inflateInit2 (&z, 16 + MAX_WBITS) != Z_OK) {
    lf_error (ENOMEM, "gzip: inflateInit2 failed");
    return -1;
  }
  z.next_in = (Bytef *) in;
  z.avail_in = (uInt) inlen;            /* inlen <= 2 GiB, checked */
  for (;;) {
    if (grow_output (out, max_out, cap_what) == -1)
      goto error;
    z.next_out = out->p + out->len;
    z.avail_out = (uInt) LF_MIN (out->cap - out->len, (size_t) UINT_MAX);
    size_t before = z.avail_out;
    r = inflate (&z, Z_NO_FLUSH);
    out->len += before - z.avail_out;
    if (r == Z_STREAM_END)
      break;
    if (r == Z_BUF_ERROR && z.avail_in == 0) {
      lf_error (EINVAL, "gzip: stream truncated after %lu bytes",
                (unsigned long) z.total_in);
      goto error;
    }
    if (r != Z_OK && r != Z_BUF_ERROR) {
      lf_error (EINVAL, "gzip: invalid data at byte %lu: %s",
                (unsigned long) z.total_in, z.msg ? z.msg : "error");
      goto error;
    }
  }
  *consumed = (size_t) z.total_in;
  ret = 0;
 error:
  inflateEnd (&z);
  return ret;
}

static const char *
lzma_message (lzma_ret r)
{
  switch (r) {
  case LZMA_MEM_ERROR:         return "out of memory";
  case LZMA_MEMLIMIT_ERROR:    return "needs more memory than the 256 MiB "
                                      "decoder limit";
  case LZMA_FORMAT_ERROR:      return "not in this format";
  case LZMA_OPTIONS_ERROR:     return "unsupported options";
  case LZMA_DATA_ERROR:        return "corrupt data";
  case LZMA_BUF_ERROR:         return "stream truncated";
  case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
  default:                     return "error";
  }
}

static int
unxz (bool alone, const uint8_t *in, size_t inlen, uint64_t max_out,
      const char *cap_what, struct lf_ird_buf *out, size_t *consumed)
{
  lzma_stream s = LZMA_STREAM_INIT;
  const char *what = alone ? "lzma" : "xz";
  lzma_ret r;
  int ret = -1;

  if (alone) {
    /* The .lzma header: properties, dictionary, then the size (or all
     * ones for "unknown, end marker").  Refuse a bomb before decoding.
     */
    if (inlen < 13) {
      lf_error (EINVAL, "lzma: header truncated (%zu of 13 bytes)", inlen);
      return -1;
    }
    uint64_t claimed = lf_le64 (in + 5);
    if (claimed != UINT64_MAX && claimed > max_out) {
      lf_error (EFBIG, "lzma: header claims %" PRIu64 " bytes, more than "
                "%" PRIu64 " (%s)", claimed, max_out, cap_what);
      return -1;
    }
    r = lzma_alone_decoder (&s, DECODER_MEMLIMIT);
  }
  else
    r = lzma_stream_decoder (&s, DECODER_MEMLIMIT, 0);
  if (r != LZMA_OK) {
    lf_error (ENOMEM, "%s: decoder init: %s", what, lzma_message (r));
    return -1;
  }
  s.next_in = in;
  s.avail_in = inlen;
  for (;;) {
    if (grow_output (out, max_out, cap_what) == -1)
      goto error;
    s.next_out = out->p + out->len;
    s.avail_out = out->cap - out->len;
    size_t before = s.avail_out;
    r = lzma_code (&s, LZMA_FINISH);
    out->len += before - s.avail_out;
    if (r == LZMA_STREAM_END)
      break;
    if (r != LZMA_OK) {
      lf_error (r == LZMA_MEM_ERROR ? ENOMEM : EINVAL,
                "%s: %s at input byte %" PRIu64, what, lzma_message (r),
                (uint64_t) s.total_in);
      goto error;
    }
  }
  *consumed = (size_t) s.total_in;
  ret = 0;
 error:
  lzma_end (&s);
  return ret;
}

static int
unzstd (const uint8_t *in, size_t inlen, uint64_t max_out,
        const char *cap_what, struct lf_ird_buf *out, size_t *consumed)
{
  ZSTD_DCtx *d = NULL;
  ZSTD_inBuffer ib = { in, inlen, 0 };
  unsigned long long claimed = ZSTD_getFrameContentSize (in, inlen);
  int ret = -1;

  if (claimed == ZSTD_CONTENTSIZE_ERROR) {
    lf_error (EINVAL, "zstd: invalid frame header");
    return -1;
  }
  if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed > max_out) {
    lf_error (EFBIG, "zstd: frame header claims %llu bytes, more than "
              "%" PRIu64 " (%s)", claimed, max_out, cap_what);
    return -1;
  }
  d = ZSTD_createDCtx ();
  if (!d) {
    lf_error (ENOMEM, "zstd: cannot create a decoder");
    return -1;
  }
  for (;;) {
    if (grow_output (out, max_out, cap_what) == -1)
      goto error;
    ZSTD_outBuffer ob = { out->p + out->len, out->cap - out->len, 0 };
    size_t r = ZSTD_decompressStream (d, &ob, &ib);
    out->len += ob.pos;
    if (ZSTD_isError (r)) {
      lf_error (EINVAL, "zstd: %s at input byte %zu",
                ZSTD_getErrorName (r), ib.pos);
      goto error;
    }
    if (r == 0)                 /* frame decoded and flushed */
      break;
    if (ib.pos == ib.size && ob.pos < ob.size) {
      lf_error (EINVAL, "zstd: stream truncated after %zu bytes", ib.pos);
      goto error;
    }
  }
  *consumed = ib.pos;
  ret = 0;
 error:
  ZSTD_freeDCtx (d);
  return ret;
}

/* The legacy frame as lib/decompress_unlz4.c reads it: the magic, then
 * chunks of (le32 length, data) each decoding to at most 8 MiB; a repeated
 * magic is skipped; fewer than 4 bytes left or a zero length ends it.
 */
static int
unlz4 (const uint8_t *in, size_t inlen, uint64_t max_out,
       const char *cap_what, struct lf_ird_buf *out, size_t *consumed)
{
  CLEANUP_FREE char *chunk = NULL;
  size_t pos = 4;
  const uint32_t bound = (uint32_t) LZ4_compressBound (LZ4_LEGACY_CHUNK);

  chunk = malloc (LZ4_LEGACY_CHUNK);
  if (!chunk) {
    lf_error (ENOMEM, "lz4: cannot allocate a chunk buffer");
    return -1;
  }
  while (inlen - pos >= 4) {
    uint32_t len = lf_le32 (in + pos);
    if (len == LZ4_LEGACY_MAGIC) {
      pos += 4;
      continue;
    }
    if (len == 0)
      break;
    if (len > bound) {
      lf_error (EINVAL, "lz4: chunk at input byte %zu has length %" PRIu32
                ", over the bound %" PRIu32 " for 8 MiB chunks",
                pos, len, bound);
      return -1;
    }
    if (len > inlen - pos - 4) {
      lf_error (EINVAL, "lz4: chunk at input byte %zu of %" PRIu32
                " bytes runs past the end", pos, len);
      return -1;
    }
    int n = LZ4_decompress_safe ((const char *) in + pos + 4, chunk,
                                 (int) len, LZ4_LEGACY_CHUNK);
    if (n < 0) {
      lf_error (EINVAL, "lz4: corrupt chunk at input byte %zu", pos);
      return -1;
    }
    if ((uint64_t) out->len + (uint64_t) n > max_out) {
      lf_error (EFBIG, "decoded data exceeds %" PRIu64 " bytes (%s)",
                max_out, cap_what);
      return -1;
    }
    if (lf_ird_buf_append (out, chunk, (size_t) n) == -1)
      return -1;
    pos += 4 + len;
  }
  *consumed = pos;
  return 0;
}

static int
bunzip2 (const uint8_t *in, size_t inlen, uint64_t max_out,
         const char *cap_what, struct lf_ird_buf *out, size_t *consumed)
{
  bz_stream s;
  int r, ret = -1;

  memset (&s, 0, sizeof s);
  if (BZ2_bzDecompressInit (&s, 0, 0) != BZ_OK) {
    lf_error (ENOMEM, "bzip2: BZ2_bzDecompressInit failed");
    return -1;
  }
  s.next_in = (char *) in;
  s.avail_in = (unsigned) inlen;        /* <= 2 GiB, checked */
  for (;;) {
    if (grow_output (out, max_out, cap_what) == -1)
      goto error;
    s.next_out = (char *) out->p + out->len;
    s.avail_out = (unsigned) LF_MIN (out->cap - out->len, (size_t) UINT_MAX);
    unsigned before = s.avail_out;
    r = BZ2_bzDecompress (&s);
    out->len += before - s.avail_out;
    if (r == BZ_STREAM_END)
      break;
    if (r != BZ_OK) {
      lf_error (EINVAL, "bzip2: %s at input byte %u",
                r == BZ_DATA_ERROR ? "corrupt data" :
                r == BZ_DATA_ERROR_MAGIC ? "bad magic" :
                r == BZ_MEM_ERROR ? "out of memory" : "error",
                s.total_in_lo32);
      goto error;
    }
    if (s.avail_in == 0 && s.avail_out > 0) {
      lf_error (EINVAL, "bzip2: stream truncated after %u bytes",
                s.total_in_lo32);
      goto error;
    }
  }
  *consumed = (size_t) (((uint64_t) s.total_in_hi32 << 32) | s.total_in_lo32);
  ret = 0;
 error:
  BZ2_bzDecompressEnd (&s);
  return ret;
}

int
lf_decompress (enum lf_compression c, const uint8_t *in, size_t inlen,
               uint64_t max_out, const char *cap_what, uint8_t **out,
               size_t *outlen, size_t *consumed)
{
  struct lf_ird_buf b = { NULL, 0, 0 };
  int r;

  if (inlen > UINT_MAX / 2) {
    lf_error (EFBIG, "%s: compressed stream of %zu bytes is too large",
              lf_compression_name (c), inlen);
    return -1;
  }
  switch (c) {
  case LF_COMP_GZIP:  r = gunzip (in, inlen, max_out, cap_what, &b, consumed);
    break;
  case LF_COMP_XZ:    r = unxz (false, in, inlen, max_out, cap_what, &b,
                                consumed);
    break;
  case LF_COMP_LZMA:  r = unxz (true, in, inlen, max_out, cap_what, &b,
                                consumed);
    break;
  case LF_COMP_ZSTD:  r = unzstd (in, inlen, max_out, cap_what, &b, consumed);
    break;
  case LF_COMP_LZ4:   r = unlz4 (in, inlen, max_out, cap_what, &b, consumed);
    break;
  case LF_COMP_BZIP2: r = bunzip2 (in, inlen, max_out, cap_what, &b,
                                   consumed);
    break;
  default:
    lf_error (EINVAL, "compression %d is not a stream", (int) c);
    r = -1;
  }
  if (r == -1) {
    free (b.p);
    return -1;
  }
  if (b.p == NULL && (b.p = malloc (1)) == NULL) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  *out = b.p;
  *outlen = b.len;
  return 0;
}

/* Encoders. */

static int
gzip_encode (const uint8_t *in, size_t inlen, struct lf_ird_buf *b)
{
  z_stream z;
  int r, ret = -1;

  memset (&z, 0, sizeof z);
  /* Level 9, gzip wrapper with mtime 0 and no name: deterministic. */
  if (deflateInit2 (&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
                    Z_DEFAULT_STRATEGY) != Z_OK) {
    lf_error (ENOMEM, "gzip: deflateInit2 failed");
    return -1;
  }
  if (lf_ird_buf_reserve (b, deflateBound (&z, (uLong) inlen)) == -1)
    goto error;
  z.next_in = (Bytef *) in;
  z.avail_in = (uInt) inlen;
  z.next_out = b->p + b->len;
  z.avail_out = (uInt) (b->cap - b->len);
  r = deflate (&z, Z_FINISH);
  if (r != Z_STREAM_END) {
    lf_error (EIO, "gzip: deflate failed (%d)", r);
    goto error;
  }
  b->len += z.total_out;
  ret = 0;
 error:
  deflateEnd (&z);
  return ret;
}

static int
xz_encode (bool alone, const uint8_t *in, size_t inlen, struct lf_ird_buf *b)
{
  lzma_stream s = LZMA_STREAM_INIT;
  lzma_options_lzma opt;
  lzma_ret r;
  int ret = -1;

  if (lzma_lzma_preset (&opt, 6)) {
    lf_error (EINVAL, "lzma: preset 6 unavailable");
    return -1;
  }
  if (alone)
    r = lzma_alone_encoder (&s, &opt);
  else
    /* The kernel's xz decoder checks CRC32 (not CRC64 or SHA-256). */
    r = lzma_easy_encoder (&s, 6, LZMA_CHECK_CRC32);
  if (r != LZMA_OK) {
    lf_error (ENOMEM, "%s: encoder init failed (%d)", alone ? "lzma" : "xz",
              (int) r);
    return -1;
  }
  s.next_in = in;
  s.avail_in = inlen;
  do {
    if (lf_ird_buf_reserve (b, 64 * 1024) == -1)
      goto error;
    s.next_out = b->p + b->len;
    s.avail_out = b->cap - b->len;
    size_t before = s.avail_out;
    r = lzma_code (&s, LZMA_FINISH);
    b->len += before - s.avail_out;
    if (r != LZMA_OK && r != LZMA_STREAM_END) {
      lf_error (EIO, "%s: encoder failed (%d)", alone ? "lzma" : "xz",
                (int) r);
      goto error;
    }
  } while (r != LZMA_STREAM_END);
  ret = 0;
 error:
  lzma_end (&s);
  return ret;
}

static int
zstd_encode (const uint8_t *in, size_t inlen, struct lf_ird_buf *b)
{
  size_t bound = ZSTD_compressBound (inlen), n;

  if (lf_ird_buf_reserve (b, bound) == -1)
    return -1;
  n = ZSTD_compress (b->p + b->len, bound, in, inlen, 3);
  if (ZSTD_isError (n)) {
    lf_error (EIO, "zstd: %s", ZSTD_getErrorName (n));
    return -1;
  }
  b->len += n;
  return 0;
}

static int
lz4_encode (const uint8_t *in, size_t inlen, struct lf_ird_buf *b)
{
  uint8_t magic[4];
  const int bound = LZ4_compressBound (LZ4_LEGACY_CHUNK);

  lf_put_le32 (magic, LZ4_LEGACY_MAGIC);
  if (lf_ird_buf_append (b, magic, 4) == -1)
    return -1;
  for (size_t pos = 0; pos < inlen; ) {
    int n = (int) LF_MIN (inlen - pos, (size_t) LZ4_LEGACY_CHUNK), c;
    if (lf_ird_buf_reserve (b, 4 + (size_t) bound) == -1)
      return -1;
    c = LZ4_compress_default ((const char *) in + pos,
                              (char *) b->p + b->len + 4, n, bound);
    if (c <= 0) {
      lf_error (EIO, "lz4: LZ4_compress_default failed");
      return -1;
    }
    lf_put_le32 (b->p + b->len, (uint32_t) c);
    b->len += 4 + (size_t) c;
    pos += (size_t) n;
  }
  return 0;
}

static int
bzip2_encode (const uint8_t *in, size_t inlen, struct lf_ird_buf *b)
{
  bz_stream s;
  int r, ret = -1;

  memset (&s, 0, sizeof s);
  if (BZ2_bzCompressInit (&s, 9, 0, 0) != BZ_OK) {
    lf_error (ENOMEM, "bzip2: BZ2_bzCompressInit failed");
    return -1;
  }
  s.next_in = (char *) in;
  s.avail_in = (unsigned) inlen;
  do {
    if (lf_ird_buf_reserve (b, 64 * 1024) == -1)
      goto error;
    s.next_out = (char *) b->p + b->len;
    s.avail_out = (unsigned) LF_MIN (b->cap - b->len, (size_t) UINT_MAX);
    unsigned before = s.avail_out;
    r = BZ2_bzCompress (&s, BZ_FINISH);
    b->len += before - s.avail_out;
    if (r != BZ_FINISH_OK && r != BZ_STREAM_END) {
      lf_error (EIO, "bzip2: compressor failed (%d)", r);
      goto error;
    }
  } while (r != BZ_STREAM_END);
  ret = 0;
 error:
  BZ2_bzCompressEnd (&s);
  return ret;
}

int
lf_compress (enum lf_compression c, const uint8_t *in, size_t inlen,
             uint8_t **out, size_t *outlen)
{
  struct lf_ird_buf b = { NULL, 0, 0 };
  int r;

  if (inlen > UINT_MAX / 2) {
    lf_error (EFBIG, "%s: %zu bytes is too large to compress",
              lf_compression_name (c), inlen);
    return -1;
  }
  switch (c) {
  case LF_COMP_NONE:  r = lf_ird_buf_append (&b, in, inlen); break;
  case LF_COMP_GZIP:  r = gzip_encode (in, inlen, &b); break;
  case LF_COMP_XZ:    r = xz_encode (false, in, inlen, &b); break;
  case LF_COMP_LZMA:  r = xz_encode (true, in, inlen, &b); break;
  case LF_COMP_ZSTD:  r = zstd_encode (in, inlen, &b); break;
  case LF_COMP_LZ4:   r = lz4_encode (in, inlen, &b); break;
  case LF_COMP_BZIP2: r = bzip2_encode (in, inlen, &b); break;
  default:
    lf_error (EINVAL, "compression %d unknown", (int) c);
    r = -1;
  }
  if (r == -1) {
    free (b.p);
    return -1;
  }
  *out = b.p;
  *outlen = b.len;
  return 0;
}
