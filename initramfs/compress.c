/* SPDX-License-Identifier: LGPL-2.1-or-later */
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

#include "initramfs/initramfs.h"

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

/* Decoders: one stream pulled a buffer at a time, so that no caller ever
 * needs the whole decoded stream in memory.  Errors name the codec.
 */

struct lf_decoder {
  enum lf_compression c;
  const uint8_t *in;
  size_t inlen;
  uint64_t max_out, total;
  const char *cap_what;
  bool ended, failed;
  size_t consumed;
  union {
    z_stream z;
    lzma_stream x;
    ZSTD_DCtx *zd;
    bz_stream b;
  } u;
  bool inited;
  ZSTD_inBuffer zin;
  /* lz4: one decoded chunk and how much of it was handed out. */
  uint8_t *chunk;
  size_t chunklen, chunkpos, lzpos;
};

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
decoder_init (struct lf_decoder *d)
{
  const uint8_t *in = d->in;
  size_t inlen = d->inlen;

  switch (d->c) {
  case LF_COMP_GZIP:
    if (inflateInit2 (&d->u.z, 16 + MAX_WBITS) != Z_OK) {
      lf_error (ENOMEM, "gzip: inflateInit2 failed");
      return -1;
    }
    d->u.z.next_in = (Bytef *) in;
    d->u.z.avail_in = (uInt) inlen;     /* inlen <= 2 GiB, checked */
    break;
  case LF_COMP_XZ: case LF_COMP_LZMA: {
    lzma_ret r;
    lzma_stream init = LZMA_STREAM_INIT;
    d->u.x = init;
    if (d->c == LF_COMP_LZMA) {
      /* The .lzma header: properties, dictionary, then the size (or all
       * ones for "unknown, end marker").  Refuse a bomb before decoding.
       */
      if (inlen < 13) {
        lf_error (EINVAL, "lzma: header truncated (%zu of 13 bytes)", inlen);
        return -1;
      }
      uint64_t claimed = lf_le64 (in + 5);
      if (claimed != UINT64_MAX && claimed > d->max_out) {
        lf_error (EFBIG, "lzma: header claims %" PRIu64 " bytes, more than "
                  "%" PRIu64 " (%s)", claimed, d->max_out, d->cap_what);
        return -1;
      }
      r = lzma_alone_decoder (&d->u.x, DECODER_MEMLIMIT);
    }
    else
      r = lzma_stream_decoder (&d->u.x, DECODER_MEMLIMIT, 0);
    if (r != LZMA_OK) {
      lf_error (ENOMEM, "%s: decoder init: %s",
                d->c == LF_COMP_LZMA ? "lzma" : "xz", lzma_message (r));
      return -1;
    }
    d->u.x.next_in = in;
    d->u.x.avail_in = inlen;
    break;
  }
  case LF_COMP_ZSTD: {
    unsigned long long claimed = ZSTD_getFrameContentSize (in, inlen);
    if (claimed == ZSTD_CONTENTSIZE_ERROR) {
      lf_error (EINVAL, "zstd: invalid frame header");
      return -1;
    }
    if (claimed != ZSTD_CONTENTSIZE_UNKNOWN && claimed > d->max_out) {
      lf_error (EFBIG, "zstd: frame header claims %llu bytes, more than "
                "%" PRIu64 " (%s)", claimed, d->max_out, d->cap_what);
      return -1;
    }
    d->u.zd = ZSTD_createDCtx ();
    if (!d->u.zd) {
      lf_error (ENOMEM, "zstd: cannot create a decoder");
      return -1;
    }
    d->zin.src = in;
    d->zin.size = inlen;
    d->zin.pos = 0;
    break;
  }
  case LF_COMP_LZ4:
    d->chunk = malloc (LZ4_LEGACY_CHUNK);
    if (!d->chunk) {
      lf_error (ENOMEM, "lz4: cannot allocate a chunk buffer");
      return -1;
    }
    d->lzpos = 4;
    break;
  case LF_COMP_BZIP2:
    if (BZ2_bzDecompressInit (&d->u.b, 0, 0) != BZ_OK) {
      lf_error (ENOMEM, "bzip2: BZ2_bzDecompressInit failed");
      return -1;
    }
    d->u.b.next_in = (char *) in;
    d->u.b.avail_in = (unsigned) inlen;  /* <= 2 GiB, checked */
    break;
  default:
    lf_error (EINVAL, "compression %d is not a stream", (int) d->c);
    return -1;
  }
  d->inited = true;
  return 0;
}

/* One step of the codec: up to N bytes into OUT (*GOT may be 0 while the
 * codec only consumes input); sets d->ended at the end of the stream.
 */
static int
gunzip_step (struct lf_decoder *d, uint8_t *out, size_t n, size_t *got)
{
  z_stream *z = &d->u.z;
  int r;

  z->next_out = out;
  z->avail_out = (uInt) LF_MIN (n, (size_t) UINT_MAX);
  size_t before = z->avail_out;
  r = inflate (z, Z_NO_FLUSH);
  *got = before - z->avail_out;
  if (r == Z_STREAM_END) {
    d->ended = true;
    d->consumed = (size_t) z->total_in;
    return 0;
  }
  if (r == Z_BUF_ERROR && z->avail_in == 0) {
    lf_error (EINVAL, "gzip: stream truncated after %lu bytes",
              (unsigned long) z->total_in);
    return -1;
  }
  if (r != Z_OK && r != Z_BUF_ERROR) {
    lf_error (EINVAL, "gzip: invalid data at byte %lu: %s",
              (unsigned long) z->total_in, z->msg ? z->msg : "error");
    return -1;
  }
  return 0;
}

static int
unxz_step (struct lf_decoder *d, uint8_t *out, size_t n, size_t *got)
{
  lzma_stream *s = &d->u.x;
  lzma_ret r;

  s->next_out = out;
  s->avail_out = n;
  r = lzma_code (s, LZMA_FINISH);
  *got = n - s->avail_out;
  if (r == LZMA_STREAM_END) {
    d->ended = true;
    d->consumed = (size_t) s->total_in;
    return 0;
  }
  if (r != LZMA_OK) {
    lf_error (r == LZMA_MEM_ERROR ? ENOMEM : EINVAL,
              "%s: %s at input byte %" PRIu64,
              d->c == LF_COMP_LZMA ? "lzma" : "xz", lzma_message (r),
              (uint64_t) s->total_in);
    return -1;
  }
  return 0;
}

static int
unzstd_step (struct lf_decoder *d, uint8_t *out, size_t n, size_t *got)
{
  ZSTD_outBuffer ob = { out, n, 0 };
  size_t r = ZSTD_decompressStream (d->u.zd, &ob, &d->zin);

  *got = ob.pos;
  if (ZSTD_isError (r)) {
    lf_error (EINVAL, "zstd: %s at input byte %zu",
              ZSTD_getErrorName (r), d->zin.pos);
    return -1;
  }
  if (r == 0) {                 /* frame decoded and flushed */
    d->ended = true;
    d->consumed = d->zin.pos;
    return 0;
  }
  if (d->zin.pos == d->zin.size && ob.pos < ob.size) {
    lf_error (EINVAL, "zstd: stream truncated after %zu bytes", d->zin.pos);
    return -1;
  }
  return 0;
}

/* The legacy frame as lib/decompress_unlz4.c reads it: the magic, then
 * chunks of (le32 length, data) each decoding to at most 8 MiB; a repeated
 * magic is skipped; fewer than 4 bytes left or a zero length ends it.
 */
static int
unlz4_step (struct lf_decoder *d, uint8_t *out, size_t n, size_t *got)
{
  const uint32_t bound = (uint32_t) LZ4_compressBound (LZ4_LEGACY_CHUNK);
  const uint8_t *in = d->in;
  size_t inlen = d->inlen;

  *got = 0;
  if (d->chunkpos < d->chunklen) {
    *got = LF_MIN (n, d->chunklen - d->chunkpos);
    memcpy (out, d->chunk + d->chunkpos, *got);
    d->chunkpos += *got;
    return 0;
  }
  while (inlen - d->lzpos >= 4) {
    size_t pos = d->lzpos;
    uint32_t len = lf_le32 (in + pos);
    if (len == LZ4_LEGACY_MAGIC) {
      d->lzpos += 4;
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
    int k = LZ4_decompress_safe ((const char *) in + pos + 4,
                                 (char *) d->chunk, (int) len,
                                 LZ4_LEGACY_CHUNK);
    if (k < 0) {
      lf_error (EINVAL, "lz4: corrupt chunk at input byte %zu", pos);
      return -1;
    }
    d->lzpos = pos + 4 + len;
    d->chunklen = (size_t) k;
    d->chunkpos = 0;
    return 0;                   /* handed out by the next step */
  }
  d->ended = true;
  d->consumed = d->lzpos;
  return 0;
}

static int
bunzip2_step (struct lf_decoder *d, uint8_t *out, size_t n, size_t *got)
{
  bz_stream *s = &d->u.b;
  int r;

  s->next_out = (char *) out;
  s->avail_out = (unsigned) LF_MIN (n, (size_t) UINT_MAX);
  unsigned before = s->avail_out;
  r = BZ2_bzDecompress (s);
  *got = before - s->avail_out;
  if (r == BZ_STREAM_END) {
    d->ended = true;
    d->consumed = (size_t) (((uint64_t) s->total_in_hi32 << 32) |
                            s->total_in_lo32);
    return 0;
  }
  if (r != BZ_OK) {
    lf_error (EINVAL, "bzip2: %s at input byte %u",
              r == BZ_DATA_ERROR ? "corrupt data" :
              r == BZ_DATA_ERROR_MAGIC ? "bad magic" :
              r == BZ_MEM_ERROR ? "out of memory" : "error",
              s->total_in_lo32);
    return -1;
  }
  if (s->avail_in == 0 && s->avail_out > 0) {
    lf_error (EINVAL, "bzip2: stream truncated after %u bytes",
              s->total_in_lo32);
    return -1;
  }
  return 0;
}

struct lf_decoder *
lf_decoder_new (enum lf_compression c, const uint8_t *in, size_t inlen,
                uint64_t max_out, const char *cap_what)
{
  struct lf_decoder *d;

  if (inlen > UINT_MAX / 2) {
    lf_error (EFBIG, "%s: compressed stream of %zu bytes is too large",
              lf_compression_name (c), inlen);
    return NULL;
  }
  d = calloc (1, sizeof *d);
  if (!d) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  d->c = c;
  d->in = in;
  d->inlen = inlen;
  d->max_out = max_out;
  d->cap_what = cap_what;
  if (decoder_init (d) == -1) {
    lf_decoder_free (d);
    return NULL;
  }
  return d;
}

int
lf_decoder_read (struct lf_decoder *d, void *buf, size_t n, size_t *got)
{
  *got = 0;
  if (d->failed) {
    lf_error (EINVAL, "%s: read after an error", lf_compression_name (d->c));
    return -1;
  }
  while (*got == 0 && !d->ended && n > 0) {
    /* Ask for one byte past the cap, never more: a stream that has more
     * is refused without decoding it further.
     */
    size_t want = n, k = 0;
    uint64_t room = d->max_out - d->total;
    int r;
    if ((uint64_t) want > room)
      want = (size_t) room + 1;
    switch (d->c) {
    case LF_COMP_GZIP:  r = gunzip_step (d, buf, want, &k); break;
    case LF_COMP_XZ: case LF_COMP_LZMA:
                        r = unxz_step (d, buf, want, &k); break;
    case LF_COMP_ZSTD:  r = unzstd_step (d, buf, want, &k); break;
    case LF_COMP_LZ4:   r = unlz4_step (d, buf, want, &k); break;
    default:            r = bunzip2_step (d, buf, want, &k); break;
    }
    if (r == 0 && (uint64_t) k > room) {
      lf_error (EFBIG, "decoded data exceeds %" PRIu64 " bytes (%s)",
                d->max_out, d->cap_what);
      r = -1;
    }
    if (r == -1) {
      d->failed = true;
      return -1;
    }
    d->total += k;
    *got = k;
  }
  return 0;
}

bool
lf_decoder_ended (const struct lf_decoder *d)
{
  return d->ended;
}

uint64_t
lf_decoder_total (const struct lf_decoder *d)
{
  return d->total;
}

size_t
lf_decoder_consumed (const struct lf_decoder *d)
{
  return d->consumed;
}

void
lf_decoder_free (struct lf_decoder *d)
{
  if (!d)
    return;
  if (d->inited) {
    switch (d->c) {
    case LF_COMP_GZIP:  inflateEnd (&d->u.z); break;
    case LF_COMP_XZ: case LF_COMP_LZMA: lzma_end (&d->u.x); break;
    case LF_COMP_ZSTD:  ZSTD_freeDCtx (d->u.zd); break;
    case LF_COMP_BZIP2: BZ2_bzDecompressEnd (&d->u.b); break;
    default: break;
    }
  }
  free (d->chunk);
  free (d);
}

int
lf_decompress (enum lf_compression c, const uint8_t *in, size_t inlen,
               uint64_t max_out, const char *cap_what, uint8_t **out,
               size_t *outlen, size_t *consumed)
{
  struct lf_ird_buf b = { NULL, 0, 0 };
  struct lf_decoder *d = lf_decoder_new (c, in, inlen, max_out, cap_what);

  if (!d)
    return -1;
  for (;;) {
    size_t got;
    uint8_t past;
    /* Full at the cap: the end of the stream may still follow (the
     * decoder refuses a byte more).
     */
    if (b.len == b.cap && (uint64_t) b.cap >= max_out) {
      if (lf_decoder_read (d, &past, 1, &got) == -1)
        goto error;
      break;
    }
    if (grow_output (&b, max_out, cap_what) == -1 ||
        lf_decoder_read (d, b.p + b.len, b.cap - b.len, &got) == -1)
      goto error;
    b.len += got;
    if (got == 0)
      break;
  }
  if (b.p == NULL && (b.p = malloc (1)) == NULL) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  *consumed = lf_decoder_consumed (d);
  lf_decoder_free (d);
  *out = b.p;
  *outlen = b.len;
  return 0;

 error:
  lf_decoder_free (d);
  free (b.p);
  return -1;
}

/* Encoders: fed a buffer at a time, appending to a byte buffer, so that
 * the data to encode never has to be whole in memory.  Each encodes the
 * same bytes whatever the pieces it is fed in (zstd excepted: its frame
 * header has no content size when it is not told one).
 */

struct lf_encoder {
  enum lf_compression c;
  struct lf_ird_buf *out;
  union {
    z_stream z;
    lzma_stream x;
    ZSTD_CCtx *zc;
    bz_stream b;
  } u;
  bool inited, failed;
  uint8_t *chunk;               /* lz4: the chunk being filled */
  size_t chunklen;
};

struct lf_encoder *
lf_encoder_new (enum lf_compression c, struct lf_ird_buf *out,
                uint64_t pledged)
{
  struct lf_encoder *e = calloc (1, sizeof *e);
  uint8_t magic[4];

  if (!e) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  e->c = c;
  e->out = out;
  switch (c) {
  case LF_COMP_NONE:
    break;
  case LF_COMP_GZIP:
    /* Level 9, gzip wrapper with mtime 0 and no name: deterministic. */
    if (deflateInit2 (&e->u.z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
                      Z_DEFAULT_STRATEGY) != Z_OK) {
      lf_error (ENOMEM, "gzip: deflateInit2 failed");
      goto error;
    }
    break;
  case LF_COMP_XZ: case LF_COMP_LZMA: {
    lzma_stream init = LZMA_STREAM_INIT;
    lzma_options_lzma opt;
    lzma_ret r;
    e->u.x = init;
    if (c == LF_COMP_LZMA) {
      if (lzma_lzma_preset (&opt, 6)) {
        lf_error (EINVAL, "lzma: preset 6 unavailable");
        goto error;
      }
      r = lzma_alone_encoder (&e->u.x, &opt);
    }
    else
      /* The kernel's xz decoder checks CRC32 (not CRC64 or SHA-256). */
      r = lzma_easy_encoder (&e->u.x, 6, LZMA_CHECK_CRC32);
    if (r != LZMA_OK) {
      lf_error (ENOMEM, "%s: encoder init failed (%d)",
                c == LF_COMP_LZMA ? "lzma" : "xz", (int) r);
      goto error;
    }
    break;
  }
  case LF_COMP_ZSTD:
    e->u.zc = ZSTD_createCCtx ();
    if (!e->u.zc ||
        ZSTD_isError (ZSTD_CCtx_setParameter (e->u.zc,
                                              ZSTD_c_compressionLevel, 3)) ||
        (pledged != UINT64_MAX &&
         ZSTD_isError (ZSTD_CCtx_setPledgedSrcSize (e->u.zc, pledged)))) {
      ZSTD_freeCCtx (e->u.zc);
      lf_error (ENOMEM, "zstd: cannot create an encoder");
      goto error;
    }
    break;
  case LF_COMP_LZ4:
    e->chunk = malloc (LZ4_LEGACY_CHUNK);
    if (!e->chunk) {
      lf_error (ENOMEM, "lz4: cannot allocate a chunk buffer");
      goto error;
    }
    lf_put_le32 (magic, LZ4_LEGACY_MAGIC);
    if (lf_ird_buf_append (out, magic, 4) == -1)
      goto error;
    break;
  case LF_COMP_BZIP2:
    if (BZ2_bzCompressInit (&e->u.b, 9, 0, 0) != BZ_OK) {
      lf_error (ENOMEM, "bzip2: BZ2_bzCompressInit failed");
      goto error;
    }
    break;
  default:
    lf_error (EINVAL, "compression %d unknown", (int) c);
    goto error;
  }
  e->inited = true;
  return e;

 error:
  free (e->chunk);
  free (e);
  return NULL;
}

static int
lz4_flush_chunk (struct lf_encoder *e)
{
  const int bound = LZ4_compressBound (LZ4_LEGACY_CHUNK);
  struct lf_ird_buf *b = e->out;
  int c;

  if (e->chunklen == 0)
    return 0;
  if (lf_ird_buf_reserve (b, 4 + (size_t) bound) == -1)
    return -1;
  c = LZ4_compress_default ((const char *) e->chunk,
                            (char *) b->p + b->len + 4, (int) e->chunklen,
                            bound);
  if (c <= 0) {
    lf_error (EIO, "lz4: LZ4_compress_default failed");
    return -1;
  }
  lf_put_le32 (b->p + b->len, (uint32_t) c);
  b->len += 4 + (size_t) c;
  e->chunklen = 0;
  return 0;
}

/* Run the codec over IN (FINISH: and end the stream). */
static int
encoder_run (struct lf_encoder *e, const uint8_t *in, size_t inlen,
             bool finish)
{
  struct lf_ird_buf *b = e->out;
  const char *name = lf_compression_name (e->c);

  switch (e->c) {
  case LF_COMP_NONE:
    return lf_ird_buf_append (b, in, inlen);
  case LF_COMP_GZIP: {
    z_stream *z = &e->u.z;
    z->next_in = (Bytef *) in;
    z->avail_in = (uInt) inlen;         /* pieces < 4 GiB: see write */
    for (;;) {
      int r;
      if (lf_ird_buf_reserve (b, 64 * 1024) == -1)
        return -1;
      z->next_out = b->p + b->len;
      z->avail_out = (uInt) LF_MIN (b->cap - b->len, (size_t) UINT_MAX);
      uInt before = z->avail_out;
      r = deflate (z, finish ? Z_FINISH : Z_NO_FLUSH);
      b->len += before - z->avail_out;
      if (r == Z_STREAM_END)
        return 0;
      if (r != Z_OK && r != Z_BUF_ERROR) {
        lf_error (EIO, "gzip: deflate failed (%d)", r);
        return -1;
      }
      if (!finish && z->avail_in == 0 && z->avail_out > 0)
        return 0;
    }
  }
  case LF_COMP_XZ: case LF_COMP_LZMA: {
    lzma_stream *s = &e->u.x;
    s->next_in = in;
    s->avail_in = inlen;
    for (;;) {
      lzma_ret r;
      if (lf_ird_buf_reserve (b, 64 * 1024) == -1)
        return -1;
      s->next_out = b->p + b->len;
      s->avail_out = b->cap - b->len;
      size_t before = s->avail_out;
      r = lzma_code (s, finish ? LZMA_FINISH : LZMA_RUN);
      b->len += before - s->avail_out;
      if (r == LZMA_STREAM_END)
        return 0;
      if (r != LZMA_OK) {
        lf_error (EIO, "%s: encoder failed (%d)", name, (int) r);
        return -1;
      }
      if (!finish && s->avail_in == 0 && s->avail_out > 0)
        return 0;
    }
  }
  case LF_COMP_ZSTD: {
    ZSTD_inBuffer ib = { in, inlen, 0 };
    for (;;) {
      size_t r;
      if (lf_ird_buf_reserve (b, ZSTD_CStreamOutSize ()) == -1)
        return -1;
      ZSTD_outBuffer ob = { b->p + b->len, b->cap - b->len, 0 };
      r = ZSTD_compressStream2 (e->u.zc, &ob, &ib,
                                finish ? ZSTD_e_end : ZSTD_e_continue);
      b->len += ob.pos;
      if (ZSTD_isError (r)) {
        lf_error (EIO, "zstd: %s", ZSTD_getErrorName (r));
        return -1;
      }
      if (finish ? r == 0 : ib.pos == ib.size)
        return 0;
    }
  }
  case LF_COMP_LZ4:
    while (inlen > 0) {
      size_t n = LF_MIN (inlen, (size_t) LZ4_LEGACY_CHUNK - e->chunklen);
      memcpy (e->chunk + e->chunklen, in, n);
      e->chunklen += n;
      in += n;
      inlen -= n;
      if (e->chunklen == LZ4_LEGACY_CHUNK && lz4_flush_chunk (e) == -1)
        return -1;
    }
    return finish ? lz4_flush_chunk (e) : 0;
  case LF_COMP_BZIP2: {
    bz_stream *s = &e->u.b;
    s->next_in = (char *) in;
    s->avail_in = (unsigned) inlen;
    for (;;) {
      int r;
      if (lf_ird_buf_reserve (b, 64 * 1024) == -1)
        return -1;
      s->next_out = (char *) b->p + b->len;
      s->avail_out = (unsigned) LF_MIN (b->cap - b->len, (size_t) UINT_MAX);
      unsigned before = s->avail_out;
      r = BZ2_bzCompress (s, finish ? BZ_FINISH : BZ_RUN);
      b->len += before - s->avail_out;
      if (r == BZ_STREAM_END)
        return 0;
      if (r != BZ_RUN_OK && r != BZ_FINISH_OK) {
        lf_error (EIO, "bzip2: compressor failed (%d)", r);
        return -1;
      }
      if (!finish && s->avail_in == 0)
        return 0;
    }
  }
  }
  lf_error (EINVAL, "compression %d unknown", (int) e->c);
  return -1;
}

int
lf_encoder_write (struct lf_encoder *e, const void *buf, size_t n)
{
  const uint8_t *p = buf;

  if (e->failed) {
    lf_error (EIO, "%s: write after an error", lf_compression_name (e->c));
    return -1;
  }
  /* Pieces small enough for the codecs' 32-bit counts. */
  while (n > 0) {
    size_t k = LF_MIN (n, (size_t) (64 * LF_MiB));
    if (encoder_run (e, p, k, false) == -1) {
      e->failed = true;
      return -1;
    }
    p += k;
    n -= k;
  }
  return 0;
}

int
lf_encoder_finish (struct lf_encoder *e)
{
  if (e->failed || encoder_run (e, NULL, 0, true) == -1) {
    e->failed = true;
    return -1;
  }
  return 0;
}

void
lf_encoder_free (struct lf_encoder *e)
{
  if (!e)
    return;
  if (e->inited) {
    switch (e->c) {
    case LF_COMP_GZIP:  deflateEnd (&e->u.z); break;
    case LF_COMP_XZ: case LF_COMP_LZMA: lzma_end (&e->u.x); break;
    case LF_COMP_ZSTD:  ZSTD_freeCCtx (e->u.zc); break;
    case LF_COMP_BZIP2: BZ2_bzCompressEnd (&e->u.b); break;
    default: break;
    }
  }
  free (e->chunk);
  free (e);
}

int
lf_compress (enum lf_compression c, const uint8_t *in, size_t inlen,
             uint8_t **out, size_t *outlen)
{
  struct lf_ird_buf b = { NULL, 0, 0 };
  struct lf_encoder *e;

  if (inlen > UINT_MAX / 2) {
    lf_error (EFBIG, "%s: %zu bytes is too large to compress",
              lf_compression_name (c), inlen);
    return -1;
  }
  e = lf_encoder_new (c, &b, inlen);
  if (!e ||
      lf_encoder_write (e, in, inlen) == -1 ||
      lf_encoder_finish (e) == -1) {
    lf_encoder_free (e);
    free (b.p);
    return -1;
  }
  lf_encoder_free (e);
  *out = b.p;
  *outlen = b.len;
  return 0;
}
