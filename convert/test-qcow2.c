/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: unit tests for the qcow2 reader.
 *
 * Each test builds a tiny image in memory (4 KiB clusters: header, L1,
 * L2, data), damages one field, writes it to a temporary directory and
 * checks that lf_disk_open or lf_disk_pread fails naming the structure.
 * The reader is included, not linked, so the layout of its private
 * header struct can be checked with offsetof (as e2fsprogs'
 * tst_super_size.c does); the library's copy is then not pulled in.
 */
#include <check.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/qcow2.c"

#define CB      12                      /* 4 KiB clusters */
#define CS      (1u << CB)
#define VSIZE   (4 * CS)                /* 4 guest clusters */

/* Host layout: 0 header, 1 L1, 2 L2, 3 data, 4 compressed. */
#define L1_OFF  (1 * CS)
#define L2_OFF  (2 * CS)
#define DATA_OFF (3 * CS)
#define COMP_OFF (4 * CS)

struct img {
  uint8_t b[5 * 16384];                 /* also fits the extended L2 image */
  size_t len;
};

static char dir[64];

static void
setup (void)
{
  strcpy (dir, "/tmp/test-qcow2-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (dir));
  lf_error_clear ();
}

static void
teardown (void)
{
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq (system (cmd), 0);
}

static uint8_t
pattern (uint64_t off)
{
  return (uint8_t) (off * 7 + 1);
}

/* Raw deflate with qemu's 4 KiB window. */
static size_t
compress_zlib (const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
  z_stream z;
  memset (&z, 0, sizeof z);
  ck_assert_int_eq (deflateInit2 (&z, 9, Z_DEFLATED, -12, 9,
                                  Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = (Bytef *) in;
  z.avail_in = (uInt) inlen;
  z.next_out = out;
  z.avail_out = (uInt) outlen;
  ck_assert_int_eq (deflate (&z, Z_FINISH), Z_STREAM_END);
  size_t n = outlen - z.avail_out;
  deflateEnd (&z);
  return n;
}

/* A good version 3 image of 4 guest clusters: 0 data (pattern), 1 zero
 * flag, 2 unallocated, 3 compressed (pattern).
 */
static void
make_image (struct img *im, unsigned version)
{
  uint8_t *h = im->b, plain[CS], comp[2 * CS];
  size_t clen;
  uint64_t sectors;

  memset (im, 0, sizeof *im);
  memcpy (h, QCOW2_MAGIC, 4);
  lf_put_be32 (h + 0x04, version);
  lf_put_be32 (h + 0x14, CB);
  lf_put_be64 (h + 0x18, VSIZE);
  lf_put_be32 (h + 0x24, 1);                    /* l1_size */
  lf_put_be64 (h + 0x28, L1_OFF);
  if (version == 3) {
    lf_put_be32 (h + 0x60, 4);                  /* refcount_order */
    lf_put_be32 (h + 0x64, 112);                /* header_length */
  }
  lf_put_be64 (im->b + L1_OFF, L2_OFF | QCOW2_OFLAG_COPIED);
  lf_put_be64 (im->b + L2_OFF + 0, DATA_OFF | QCOW2_OFLAG_COPIED);
  lf_put_be64 (im->b + L2_OFF + 8, QCOW2_OFLAG_ZERO);
  lf_put_be64 (im->b + L2_OFF + 16, 0);
  for (unsigned i = 0; i < CS; i++) {
    im->b[DATA_OFF + i] = pattern (i);
    plain[i] = pattern (3 * CS + i);
  }
  clen = compress_zlib (plain, CS, comp, sizeof comp);
  memcpy (im->b + COMP_OFF, comp, clen);
  sectors = (clen + 511) / 512;
  lf_put_be64 (im->b + L2_OFF + 24, QCOW2_OFLAG_COMPRESSED | COMP_OFF |
               ((sectors - 1) << (62 - (CB - 8))));
  im->len = 5 * CS;
}

static char *
write_image (const struct img *im, const char *name)
{
  char *path;
  FILE *fp;

  ck_assert_int_ne (asprintf (&path, "%s/%s", dir, name), -1);
  fp = fopen (path, "wb");
  ck_assert_ptr_nonnull (fp);
  ck_assert_uint_eq (fwrite (im->b, 1, im->len, fp), im->len);
  ck_assert_int_eq (fclose (fp), 0);
  return path;
}

/* Open must fail with an error containing WANT. */
static void
expect_open_error (const struct img *im, const char *want)
{
  CLEANUP_FREE char *path = write_image (im, "bad.qcow2");
  struct lf_disk *d = lf_disk_open (path, "qcow2");
  if (d) {
    lf_disk_close (d);
    ck_abort_msg ("open succeeded; expected an error with \"%s\"", want);
  }
  ck_assert_msg (strstr (lf_last_error (), want),
                 "error \"%s\" lacks \"%s\"", lf_last_error (), want);
  ck_assert_msg (strstr (lf_last_error (), path),
                 "error \"%s\" does not name the file", lf_last_error ());
}

/* Open succeeds, reading the whole disk fails with WANT. */
static void
expect_read_error (const struct img *im, const char *want)
{
  CLEANUP_FREE char *path = write_image (im, "bad.qcow2");
  static uint8_t buf[VSIZE];
  struct lf_disk *d = lf_disk_open (path, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  ck_assert_int_eq (lf_disk_pread (d, buf, VSIZE, 0), -1);
  ck_assert_msg (strstr (lf_last_error (), want),
                 "error \"%s\" lacks \"%s\"", lf_last_error (), want);
  lf_disk_close (d);
}

/* Read the whole test image and compare with what make_image wrote;
 * cluster 2 comes from BACKING_BYTE (0 without a backing file).
 */
static void
check_contents (struct lf_disk *d, int backing_byte)
{
  static uint8_t buf[VSIZE];
  ck_assert_uint_eq (lf_disk_size (d), VSIZE);
  ck_assert_msg (lf_disk_pread (d, buf, VSIZE, 0) == 0, "pread: %s",
                 lf_last_error ());
  for (unsigned i = 0; i < CS; i++)
    ck_assert_uint_eq (buf[i], pattern (i));
  for (unsigned i = CS; i < 2 * CS; i++)
    ck_assert_uint_eq (buf[i], 0);
  for (unsigned i = 2 * CS; i < 3 * CS; i++)
    ck_assert_uint_eq (buf[i], (uint8_t) backing_byte);
  for (unsigned i = 3 * CS; i < 4 * CS; i++)
    ck_assert_uint_eq (buf[i], pattern (i));
  /* Unaligned, across clusters, into the compressed one. */
  ck_assert_int_eq (lf_disk_pread (d, buf, 100, 3 * CS - 50), 0);
  ck_assert_uint_eq (buf[0], (uint8_t) backing_byte);
  ck_assert_uint_eq (buf[50], pattern (3 * CS));
  ck_assert_uint_eq (buf[99], pattern (3 * CS + 49));
}

START_TEST (test_header_layout)
{
  ck_assert_uint_eq (offsetof (struct qcow2_header, version), 0x04);
  ck_assert_uint_eq (offsetof (struct qcow2_header, backing_file_offset), 0x08);
  ck_assert_uint_eq (offsetof (struct qcow2_header, backing_file_size), 0x10);
  ck_assert_uint_eq (offsetof (struct qcow2_header, cluster_bits), 0x14);
  ck_assert_uint_eq (offsetof (struct qcow2_header, size), 0x18);
  ck_assert_uint_eq (offsetof (struct qcow2_header, crypt_method), 0x20);
  ck_assert_uint_eq (offsetof (struct qcow2_header, l1_size), 0x24);
  ck_assert_uint_eq (offsetof (struct qcow2_header, l1_table_offset), 0x28);
  ck_assert_uint_eq (offsetof (struct qcow2_header, refcount_table_offset), 0x30);
  ck_assert_uint_eq (offsetof (struct qcow2_header, nb_snapshots), 0x3c);
  ck_assert_uint_eq (offsetof (struct qcow2_header, incompatible_features), 0x48);
  ck_assert_uint_eq (offsetof (struct qcow2_header, autoclear_features), 0x58);
  ck_assert_uint_eq (offsetof (struct qcow2_header, refcount_order), 0x60);
  ck_assert_uint_eq (offsetof (struct qcow2_header, header_length), 0x64);
  ck_assert_uint_eq (offsetof (struct qcow2_header, compression_type), 0x68);
  ck_assert_uint_eq (offsetof (struct qcow2_feature_name, name), 2);
}
END_TEST

START_TEST (test_good_v3)
{
  struct img im;
  make_image (&im, 3);
  CLEANUP_FREE char *path = write_image (&im, "good.qcow2");
  struct lf_disk *d = lf_disk_open (path, NULL);        /* probed */
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  ck_assert_str_eq (lf_disk_format (d), "qcow2");
  ck_assert_str_eq (lf_disk_subformat (d), "v3");
  check_contents (d, 0);

  /* Extents: data, zero (zero flag and unallocated), data. */
  uint64_t len = VSIZE;
  unsigned type;
  ck_assert_int_eq (lf_disk_extent (d, 0, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_DATA);
  ck_assert_uint_eq (len, CS);
  len = VSIZE - CS;
  ck_assert_int_eq (lf_disk_extent (d, CS, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_ZERO);
  ck_assert_uint_eq (len, 2 * CS);
  len = CS;
  ck_assert_int_eq (lf_disk_extent (d, 3 * CS, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_DATA);
  lf_disk_close (d);
}
END_TEST

START_TEST (test_good_v2)
{
  struct img im;
  make_image (&im, 2);
  CLEANUP_FREE char *path = write_image (&im, "good.qcow2");
  struct lf_disk *d = lf_disk_open (path, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  ck_assert_str_eq (lf_disk_subformat (d), "v2");
  check_contents (d, 0);
  lf_disk_close (d);
}
END_TEST

START_TEST (test_good_zstd)
{
  struct img im;
  uint8_t plain[CS], comp[2 * CS];
  size_t clen;

  make_image (&im, 3);
  lf_put_be64 (im.b + 0x48, QCOW2_INCOMPAT_COMPRESSION);
  im.b[0x68] = QCOW2_COMPRESSION_ZSTD;
  for (unsigned i = 0; i < CS; i++)
    plain[i] = pattern (3 * CS + i);
  clen = ZSTD_compress (comp, sizeof comp, plain, CS, 3);
  ck_assert (!ZSTD_isError (clen));
  memset (im.b + COMP_OFF, 0, CS);
  memcpy (im.b + COMP_OFF, comp, clen);
  lf_put_be64 (im.b + L2_OFF + 24, QCOW2_OFLAG_COMPRESSED | COMP_OFF |
               (((clen + 511) / 512 - 1) << (62 - (CB - 8))));
  CLEANUP_FREE char *path = write_image (&im, "zstd.qcow2");
  struct lf_disk *d = lf_disk_open (path, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  ck_assert_str_eq (lf_disk_subformat (d), "v3+zstd");
  check_contents (d, 0);
  lf_disk_close (d);
}
END_TEST

START_TEST (test_dirty_is_fine)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + 0x48, QCOW2_INCOMPAT_DIRTY);
  CLEANUP_FREE char *path = write_image (&im, "dirty.qcow2");
  struct lf_disk *d = lf_disk_open (path, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  check_contents (d, 0);
  lf_disk_close (d);
}
END_TEST

START_TEST (test_bad_magic)
{
  struct img im;
  make_image (&im, 3);
  im.b[3] = 0xfa;
  expect_open_error (&im, "qcow2 header: bad magic");
}
END_TEST

START_TEST (test_bad_version)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be32 (im.b + 4, 4);
  expect_open_error (&im, "version 4 is not supported");
  lf_put_be32 (im.b + 4, 1);
  expect_open_error (&im, "version 1 is not supported");
}
END_TEST

START_TEST (test_cluster_bits)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be32 (im.b + 0x14, 8);
  expect_open_error (&im, "cluster_bits 8 is outside the range 9..21");
  lf_put_be32 (im.b + 0x14, 22);
  expect_open_error (&im, "cluster_bits 22 is outside");
  lf_put_be32 (im.b + 0x14, 0xffffffff);
  expect_open_error (&im, "cluster_bits 4294967295");
}
END_TEST

START_TEST (test_header_length)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be32 (im.b + 0x64, 100);
  expect_open_error (&im, "header_length 100");
  lf_put_be32 (im.b + 0x64, 113);
  expect_open_error (&im, "header_length 113");
  lf_put_be32 (im.b + 0x64, 2 * CS);
  expect_open_error (&im, "header_length 8192");
}
END_TEST

START_TEST (test_l1_beyond_eof)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + 0x28, 0x100000);
  expect_open_error (&im, "qcow2 L1 table at 0x100000");
  expect_open_error (&im, "beyond end of file");
}
END_TEST

START_TEST (test_l1_misaligned)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + 0x28, L1_OFF + 8);
  expect_open_error (&im, "l1_table_offset 0x1008 is not aligned");
}
END_TEST

START_TEST (test_l1_too_small)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be32 (im.b + 0x24, 0);
  expect_open_error (&im, "l1_size 0 is too small");
  /* A size whose rounding up overflows. */
  make_image (&im, 3);
  lf_put_be64 (im.b + 0x18, UINT64_MAX - 10);
  expect_open_error (&im, "size 18446744073709551605 is too large");
  /* Huge but representable: more L1 entries than the limit. */
  lf_put_be64 (im.b + 0x18, UINT64_C (1) << 60);
  expect_open_error (&im, "more than the limit of 4194304");
}
END_TEST

START_TEST (test_l2_beyond_eof)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + L1_OFF, 0x7000000);
  expect_open_error (&im, "L1 entry 0: L2 table at 0x7000000 is beyond end "
                     "of file (0x5000)");
}
END_TEST

START_TEST (test_l2_misaligned)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + L1_OFF, L2_OFF + 0x200);
  expect_open_error (&im, "L1 entry 0: L2 table at 0x2200 is not aligned");
}
END_TEST

START_TEST (test_data_beyond_eof)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + L2_OFF, 0x40000000);
  expect_read_error (&im, "entry 0: data cluster at 0x40000000 is beyond "
                     "end of file");
}
END_TEST

START_TEST (test_data_misaligned)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + L2_OFF, DATA_OFF + 0x200);
  expect_read_error (&im, "data cluster at 0x3200 is not aligned");
}
END_TEST

START_TEST (test_compressed_beyond_eof)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + L2_OFF + 24, QCOW2_OFLAG_COMPRESSED | 0x900000);
  expect_read_error (&im, "compressed cluster at 0x900000 is beyond end of "
                     "file");
}
END_TEST

START_TEST (test_compressed_garbage)
{
  struct img im;
  make_image (&im, 3);
  memset (im.b + COMP_OFF, 0xff, 64);
  expect_read_error (&im, "compressed cluster at 0x4000");
  /* A valid stream that is too short: one sector holding a stream of
   * less than a cluster.
   */
  make_image (&im, 3);
  uint8_t small[16] = { 0 }, comp[64];
  size_t clen = compress_zlib (small, sizeof small, comp, sizeof comp);
  memset (im.b + COMP_OFF, 0, CS);
  memcpy (im.b + COMP_OFF, comp, clen);
  lf_put_be64 (im.b + L2_OFF + 24, QCOW2_OFLAG_COMPRESSED | COMP_OFF);
  expect_read_error (&im, "ended early, 16 of 4096 bytes");
}
END_TEST

START_TEST (test_encrypted)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be32 (im.b + 0x20, 1);
  expect_open_error (&im, "encrypted qcow2 is not supported");
  make_image (&im, 2);
  lf_put_be32 (im.b + 0x20, 2);
  expect_open_error (&im, "crypt_method 2: encrypted qcow2 is not supported");
}
END_TEST

START_TEST (test_unknown_incompat)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + 0x48, UINT64_C (1) << 5);
  expect_open_error (&im, "unknown incompatible feature bit 5 (unknown)");

  /* The image's feature name table names it. */
  uint8_t *e = im.b + 112;
  lf_put_be32 (e, QCOW2_EXT_FEATURE_NAMES);
  lf_put_be32 (e + 4, 48);
  e[8] = 0;
  e[9] = 5;
  strcpy ((char *) e + 10, "future thing");
  expect_open_error (&im, "unknown incompatible feature bit 5 (future thing)");
}
END_TEST

START_TEST (test_corrupt_and_data_file)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + 0x48, QCOW2_INCOMPAT_CORRUPT);
  expect_open_error (&im, "marked corrupt");
  lf_put_be64 (im.b + 0x48, QCOW2_INCOMPAT_DATA_FILE);
  expect_open_error (&im, "external data file");
}
END_TEST

START_TEST (test_compression_type)
{
  struct img im;
  make_image (&im, 3);
  im.b[0x68] = QCOW2_COMPRESSION_ZSTD;          /* without the bit */
  expect_open_error (&im, "compression_type 1 without");
  lf_put_be64 (im.b + 0x48, QCOW2_INCOMPAT_COMPRESSION);
  im.b[0x68] = 7;
  expect_open_error (&im, "compression_type 7 is not supported");
  im.b[0x68] = QCOW2_COMPRESSION_ZSTD;
  lf_put_be32 (im.b + 0x64, 104);
  expect_open_error (&im, "no compression_type field");
}
END_TEST

START_TEST (test_extension_too_long)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be32 (im.b + 112, QCOW2_EXT_FEATURE_NAMES);
  lf_put_be32 (im.b + 116, CS);
  expect_open_error (&im, "qcow2 header extension 0 (type 0x6803f857) at "
                     "0x70: length 4096 is beyond the end");
  lf_put_be32 (im.b + 112, QCOW2_EXT_BACKING_FORMAT);
  lf_put_be32 (im.b + 116, 16);
  expect_open_error (&im, "backing format extension: length 16 is larger");
}
END_TEST

/* Add a backing file name (and format extension if FMT) to IM. */
static void
set_backing (struct img *im, const char *name, const char *fmt)
{
  size_t off = 112;
  if (fmt) {
    lf_put_be32 (im->b + off, QCOW2_EXT_BACKING_FORMAT);
    lf_put_be32 (im->b + off + 4, (uint32_t) strlen (fmt));
    memcpy (im->b + off + 8, fmt, strlen (fmt));
    off += 8 + (strlen (fmt) + 7) / 8 * 8;
  }
  lf_put_be32 (im->b + off, 0);                 /* end of extensions */
  lf_put_be64 (im->b + 0x08, 512);
  lf_put_be32 (im->b + 0x10, (uint32_t) strlen (name));
  memcpy (im->b + 512, name, strlen (name));
}

START_TEST (test_backing_raw)
{
  struct img im, base;
  memset (&base, 0, sizeof base);
  memset (base.b, 0x5a, 2 * CS + 100);
  base.len = 2 * CS + 100;              /* smaller than the top: padded */
  free (write_image (&base, "base.raw"));
  make_image (&im, 3);
  set_backing (&im, "base.raw", "raw");
  CLEANUP_FREE char *path = write_image (&im, "top.qcow2");
  struct lf_disk *d = lf_disk_open (path, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  ck_assert_str_eq (lf_disk_subformat (d), "v3+backing");
  ck_assert_ptr_nonnull (lf_disk_backing (d));
  ck_assert_str_eq (lf_disk_format (lf_disk_backing (d)), "raw");

  static uint8_t buf[CS];
  ck_assert_int_eq (lf_disk_pread (d, buf, CS, 2 * CS), 0);
  for (unsigned i = 0; i < CS; i++)
    ck_assert_uint_eq (buf[i], i < 100 ? 0x5a : 0);

  /* The unallocated cluster is data in the backing file for 100 bytes. */
  uint64_t len = CS;
  unsigned type;
  ck_assert_int_eq (lf_disk_extent (d, 2 * CS, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_DATA);
  lf_disk_close (d);
}
END_TEST

START_TEST (test_backing_missing)
{
  struct img im;
  make_image (&im, 3);
  set_backing (&im, "no-such-base.qcow2", "qcow2");
  expect_open_error (&im, "qcow2 backing file \"no-such-base.qcow2\"");
  expect_open_error (&im, "No such file");
}
END_TEST

/* Backing files that lead out of the image's directory, however spelled,
 * are refused; so is anything but a regular file, even where allowed.
 */
START_TEST (test_backing_confined)
{
  struct img im, base;
  char sub[128], outside[128], link[160], fifo[160], rel[160];

  memset (&base, 0, sizeof base);
  memset (base.b, 0x5a, CS);
  base.len = CS;
  free (write_image (&base, "outside.raw"));
  snprintf (outside, sizeof outside, "%s/outside.raw", dir);
  snprintf (sub, sizeof sub, "%s/sub", dir);
  ck_assert_int_eq (mkdir (sub, 0755), 0);

  make_image (&im, 3);
  set_backing (&im, outside, "raw");
  CLEANUP_FREE char *top = write_image (&im, "sub/abs.qcow2");
  ck_assert_ptr_null (lf_disk_open (top, "qcow2"));
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "outside the image's "
                                 "directory"));
  ck_assert_int_eq (lf_last_errno (), EXDEV);

  make_image (&im, 3);
  set_backing (&im, "../outside.raw", "raw");
  CLEANUP_FREE char *dotdot = write_image (&im, "sub/dotdot.qcow2");
  ck_assert_ptr_null (lf_disk_open (dotdot, "qcow2"));
  ck_assert_int_eq (lf_last_errno (), EXDEV);

  /* A symlink in the directory itself, absolute or relative. */
  snprintf (link, sizeof link, "%s/sub/link.raw", dir);
  ck_assert_int_eq (symlink (outside, link), 0);
  make_image (&im, 3);
  set_backing (&im, "link.raw", "raw");
  CLEANUP_FREE char *viasym = write_image (&im, "sub/sym.qcow2");
  ck_assert_ptr_null (lf_disk_open (viasym, "qcow2"));
  ck_assert_int_eq (lf_last_errno (), EXDEV);
  snprintf (link, sizeof link, "%s/sub/rlink.raw", dir);
  ck_assert_int_eq (symlink ("../outside.raw", link), 0);
  make_image (&im, 3);
  set_backing (&im, "rlink.raw", "raw");
  CLEANUP_FREE char *viarsym = write_image (&im, "sub/rsym.qcow2");
  ck_assert_ptr_null (lf_disk_open (viarsym, "qcow2"));
  ck_assert_int_eq (lf_last_errno (), EXDEV);

  /* Allowed, the same chains open and read the file. */
  ck_assert_int_eq (lf_allow_backing (dir), 0);
  struct lf_disk *d = lf_disk_open (dotdot, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  lf_disk_close (d);
  d = lf_disk_open (viasym, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  lf_disk_close (d);

  /* A FIFO, a character device: never, allowed or not, and at once. */
  snprintf (fifo, sizeof fifo, "%s/sub/pipe", dir);
  ck_assert_int_eq (mkfifo (fifo, 0600), 0);
  make_image (&im, 3);
  set_backing (&im, "pipe", "raw");
  CLEANUP_FREE char *viafifo = write_image (&im, "sub/fifo.qcow2");
  ck_assert_ptr_null (lf_disk_open (viafifo, "qcow2"));
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "FIFO"));
  ck_assert_int_eq (lf_allow_backing ("/dev"), 0);
  make_image (&im, 3);
  set_backing (&im, "/dev/null", "raw");
  CLEANUP_FREE char *viadev = write_image (&im, "sub/dev.qcow2");
  ck_assert_ptr_null (lf_disk_open (viadev, "qcow2"));
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "character device"));
  lf_allow_backing_reset ();

  /* Inside the directory, by any spelling that stays inside: fine. */
  snprintf (rel, sizeof rel, "%s/sub/inside.raw", dir);
  ck_assert_int_eq (rename (outside, rel), 0);
  make_image (&im, 3);
  set_backing (&im, "./x/../inside.raw", "raw");
  snprintf (rel, sizeof rel, "%s/sub/x", dir);
  ck_assert_int_eq (mkdir (rel, 0755), 0);
  CLEANUP_FREE char *inside = write_image (&im, "sub/inside.qcow2");
  d = lf_disk_open (inside, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  lf_disk_close (d);
}
END_TEST

START_TEST (test_backing_bad_fields)
{
  struct img im;
  make_image (&im, 3);
  set_backing (&im, "x", NULL);
  lf_put_be32 (im.b + 0x10, 1024);
  expect_open_error (&im, "backing_file_size 1024 is larger than the limit "
                     "of 1023");
  lf_put_be32 (im.b + 0x10, 10);
  lf_put_be64 (im.b + 0x08, CS - 4);
  expect_open_error (&im, "backing file name at 0xffc (10 bytes) is not "
                     "between");
  make_image (&im, 3);
  set_backing (&im, "base", "qed");
  expect_open_error (&im, "backing file format 'qed' is not supported");
}
END_TEST

START_TEST (test_backing_loop)
{
  struct img a, b;
  make_image (&a, 3);
  set_backing (&a, "b.qcow2", "qcow2");
  make_image (&b, 3);
  set_backing (&b, "a.qcow2", "qcow2");
  CLEANUP_FREE char *pa = write_image (&a, "a.qcow2");
  free (write_image (&b, "b.qcow2"));
  struct lf_disk *d = lf_disk_open (pa, NULL);
  ck_assert_ptr_null (d);
  ck_assert_msg (strstr (lf_last_error (), "backing chain loops back"),
                 "error: %s", lf_last_error ());

  /* A file naming itself. */
  make_image (&a, 3);
  set_backing (&a, "self.qcow2", NULL);
  CLEANUP_FREE char *ps = write_image (&a, "self.qcow2");
  d = lf_disk_open (ps, NULL);
  ck_assert_ptr_null (d);
  ck_assert_msg (strstr (lf_last_error (), "loops"), "error: %s",
                 lf_last_error ());
}
END_TEST

START_TEST (test_backing_qemu_img_loop)
{
  char cmd[512];
  if (system ("qemu-img --version >/dev/null 2>&1") != 0)
    return;                     /* crafted loops are tested above */
  snprintf (cmd, sizeof cmd,
            "cd '%s' && qemu-img create -q -f qcow2 b.qcow2 1M && "
            "qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 a.qcow2 && "
            "qemu-img rebase -q -u -b a.qcow2 -F qcow2 b.qcow2", dir);
  ck_assert_int_eq (system (cmd), 0);
  CLEANUP_FREE char *pa = NULL;
  ck_assert_int_ne (asprintf (&pa, "%s/a.qcow2", dir), -1);
  struct lf_disk *d = lf_disk_open (pa, NULL);
  ck_assert_ptr_null (d);
  ck_assert_msg (strstr (lf_last_error (), "backing chain loops back"),
                 "error: %s", lf_last_error ());
}
END_TEST

/* Extended L2: 16 KiB clusters of 32 subclusters of 512 bytes. */
START_TEST (test_extended_l2)
{
  enum { XCB = 14, XCS = 1 << XCB };
  static uint8_t buf[2 * XCS];
  struct img *im = calloc (1, sizeof *im);
  ck_assert_ptr_nonnull (im);
  uint8_t *xb = im->b;

  memcpy (xb, QCOW2_MAGIC, 4);
  lf_put_be32 (xb + 0x04, 3);
  lf_put_be32 (xb + 0x14, XCB);
  lf_put_be64 (xb + 0x18, 2 * XCS);
  lf_put_be32 (xb + 0x24, 1);
  lf_put_be64 (xb + 0x28, 1 * XCS);
  lf_put_be64 (xb + 0x48, QCOW2_INCOMPAT_EXTL2);
  lf_put_be32 (xb + 0x60, 4);
  lf_put_be32 (xb + 0x64, 112);
  lf_put_be64 (xb + XCS, 2 * XCS);
  /* Cluster 0 at 3*XCS: subcluster 0 allocated, 1 zero, rest unallocated. */
  lf_put_be64 (xb + 2 * XCS, 3 * XCS);
  lf_put_be64 (xb + 2 * XCS + 8, (UINT64_C (1) << 33) | 1);
  /* Cluster 1 unallocated, subcluster 31 zero. */
  lf_put_be64 (xb + 2 * XCS + 16, 0);
  lf_put_be64 (xb + 2 * XCS + 24, UINT64_C (1) << 63);
  memset (xb + 3 * XCS, 0x11, XCS);
  im->len = 5 * XCS;
  CLEANUP_FREE char *path = write_image (im, "extl2.qcow2");
  struct lf_disk *d = lf_disk_open (path, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  ck_assert_str_eq (lf_disk_subformat (d), "v3+extl2");
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 0), 0);
  for (unsigned i = 0; i < sizeof buf; i++)
    ck_assert_uint_eq (buf[i], i < 512 ? 0x11 : 0);
  uint64_t len = 2 * XCS;
  unsigned type;
  ck_assert_int_eq (lf_disk_extent (d, 0, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_DATA);
  ck_assert_uint_eq (len, 512);
  len = 2 * XCS - 512;
  ck_assert_int_eq (lf_disk_extent (d, 512, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_ZERO);
  ck_assert_uint_eq (len, 2 * XCS - 512);
  lf_disk_close (d);

  /* Both allocated and zero. */
  lf_put_be64 (im->b + 2 * XCS + 8, (UINT64_C (1) << 32) | 1);
  expect_read_error (im, "marks subclusters both allocated and zero");
  /* Clusters too small for subclusters. */
  lf_put_be32 (im->b + 0x14, 13);
  expect_open_error (im, "extended L2 entries need clusters of at least "
                     "16384 bytes");
  free (im);
}
END_TEST

/* An L2 table that is all zero clusters (or all unallocated) is mapped
 * in one step.
 */
START_TEST (test_uniform_l2)
{
  struct img im;
  static uint8_t buf[VSIZE];
  make_image (&im, 3);
  for (unsigned i = 0; i < CS / 8; i++)
    lf_put_be64 (im.b + L2_OFF + i * 8, QCOW2_OFLAG_ZERO);
  CLEANUP_FREE char *path = write_image (&im, "zero.qcow2");
  struct lf_disk *d = lf_disk_open (path, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  struct qcow2 *q = d->h;
  struct run r;
  ck_assert_int_eq (map (q, 0, VSIZE, false, &r), 0);
  ck_assert_int_eq (r.type, RUN_ZERO);
  ck_assert_uint_eq (r.len, VSIZE);
  memset (buf, 0xff, sizeof buf);
  ck_assert_int_eq (lf_disk_pread (d, buf, VSIZE, 0), 0);
  ck_assert (lf_is_zero (buf, VSIZE));
  lf_disk_close (d);

  memset (im.b + L2_OFF, 0, CS);
  lf_put_be64 (im.b + L2_OFF + 16, QCOW2_OFLAG_COPIED); /* still unallocated */
  CLEANUP_FREE char *path2 = write_image (&im, "unalloc.qcow2");
  d = lf_disk_open (path2, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  ck_assert_int_eq (map (d->h, CS, VSIZE - CS, true, &r), 0);
  ck_assert_int_eq (r.type, RUN_BACKING);
  ck_assert_uint_eq (r.len, VSIZE - CS);
  lf_disk_close (d);
}
END_TEST

/* A cluster allocated over a hole of the file (preallocation=metadata)
 * is zero in the extent map; so is the part of a cluster past the end.
 */
START_TEST (test_cluster_over_hole)
{
  struct img im;
  static uint8_t buf[CS];
  make_image (&im, 3);
  lf_put_be64 (im.b + L2_OFF, 0x10000);
  CLEANUP_FREE char *path = write_image (&im, "hole.qcow2");
  ck_assert_int_eq (truncate (path, 0x10000 + CS / 2), 0);
  struct lf_disk *d = lf_disk_open (path, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  memset (buf, 0xff, sizeof buf);
  ck_assert_int_eq (lf_disk_pread (d, buf, CS, 0), 0);
  ck_assert (lf_is_zero (buf, CS));
  if (d->file->seek_data) {
    uint64_t len = CS;
    unsigned type;
    ck_assert_int_eq (lf_disk_extent (d, 0, &len, &type), 0);
    ck_assert_uint_eq (type, LF_EXTENT_ZERO);
  }
  lf_disk_close (d);
}
END_TEST

START_TEST (test_truncated)
{
  struct img im;
  make_image (&im, 3);
  im.len = 50;
  expect_open_error (&im, "too small (50 bytes) for a qcow2 header");
  im.len = 80;
  expect_open_error (&im, "too small (80 bytes) for a qcow2 version 3 header");
  /* Probed, a file too short for any qcow2 that starts with its magic
   * is a truncated qcow2, not a raw disk that happens to start so.
   */
  for (size_t len = 4; len <= 511; len += 507) {
    im.len = len;
    CLEANUP_FREE char *path = write_image (&im, "short");
    char want[64];
    snprintf (want, sizeof want, ": truncated qcow2 (%zu bytes)", len);
    ck_assert_ptr_null (lf_disk_open (path, NULL));
    ck_assert_msg (strstr (lf_last_error (), want) &&
                   strstr (lf_last_error (), path), "error \"%s\"",
                   lf_last_error ());
  }
  /* Fewer bytes than the magic: nothing to go by, raw. */
  im.len = 3;
  CLEANUP_FREE char *path = write_image (&im, "short");
  struct lf_disk *d = lf_disk_open (path, NULL);
  ck_assert_ptr_nonnull (d);
  ck_assert_str_eq (lf_disk_format (d), "raw");
  lf_disk_close (d);
}
END_TEST

/* Clusters pointing into the image's own metadata: each is refused,
 * naming the two structures.
 */
START_TEST (test_data_over_metadata)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + L2_OFF, L1_OFF | QCOW2_OFLAG_COPIED);
  expect_read_error (&im, "entry 0: data cluster at 0x1000 overlaps the L1 "
                     "table at 0x1000");
  make_image (&im, 3);
  lf_put_be64 (im.b + L2_OFF, L2_OFF);
  expect_read_error (&im, "entry 0: data cluster at 0x2000 overlaps an L2 "
                     "table at 0x2000");
  /* The last sector of a compressed cluster reaching into the L2 table. */
  make_image (&im, 3);
  lf_put_be64 (im.b + L2_OFF + 24, QCOW2_OFLAG_COMPRESSED | (L2_OFF - 512) |
               (UINT64_C (1) << (62 - (CB - 8))));
  expect_read_error (&im, "compressed cluster at 0x1e00 (1024 bytes) "
                     "overlaps an L2 table at 0x2000");
}
END_TEST

START_TEST (test_tables_overlap)
{
  struct img im;
  make_image (&im, 3);
  lf_put_be64 (im.b + L1_OFF, L1_OFF);
  expect_open_error (&im, "an L2 table at 0x1000");
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "the L1 table at 0x1000"));
  /* An L1 table of two clusters running over the L2 table. */
  make_image (&im, 3);
  lf_put_be32 (im.b + 0x24, CS / 8 + 1);
  expect_open_error (&im, "an L2 table at 0x2000 and the L1 table at 0x1000 "
                     "(0x2000 bytes) share clusters");
  /* The refcount table in the header cluster. */
  make_image (&im, 3);
  lf_put_be32 (im.b + 0x38, 1);
  expect_open_error (&im, "the refcount table at 0x0");
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "the header cluster at 0x0"));
}
END_TEST

START_TEST (test_refcount_block_overlap)
{
  struct img im;
  /* A refcount table in cluster 5 naming a refcount block in the data
   * cluster: the data is refused on read.
   */
  make_image (&im, 3);
  lf_put_be64 (im.b + 0x30, 5 * CS);
  lf_put_be32 (im.b + 0x38, 1);
  lf_put_be64 (im.b + 5 * CS, DATA_OFF);
  im.len = 6 * CS;
  expect_read_error (&im, "data cluster at 0x3000 overlaps a refcount block "
                     "at 0x3000");
  /* Naming the L2 table: refused at open. */
  lf_put_be64 (im.b + 5 * CS, L2_OFF);
  expect_open_error (&im, "a refcount block at 0x2000");
  /* Well placed (cluster 6), the image reads. */
  make_image (&im, 3);
  lf_put_be64 (im.b + 0x30, 5 * CS);
  lf_put_be32 (im.b + 0x38, 1);
  lf_put_be64 (im.b + 5 * CS, 6 * CS);
  im.len = 7 * CS;
  CLEANUP_FREE char *path = write_image (&im, "good.qcow2");
  struct lf_disk *d = lf_disk_open (path, "qcow2");
  ck_assert_msg (d != NULL, "open: %s", lf_last_error ());
  check_contents (d, 0);
  lf_disk_close (d);
}
END_TEST

static Suite *
qcow2_suite (void)
{
  Suite *s = suite_create ("qcow2");
  TCase *tc = tcase_create ("qcow2");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_header_layout);
  tcase_add_test (tc, test_good_v3);
  tcase_add_test (tc, test_good_v2);
  tcase_add_test (tc, test_good_zstd);
  tcase_add_test (tc, test_dirty_is_fine);
  tcase_add_test (tc, test_bad_magic);
  tcase_add_test (tc, test_bad_version);
  tcase_add_test (tc, test_cluster_bits);
  tcase_add_test (tc, test_header_length);
  tcase_add_test (tc, test_l1_beyond_eof);
  tcase_add_test (tc, test_l1_misaligned);
  tcase_add_test (tc, test_l1_too_small);
  tcase_add_test (tc, test_l2_beyond_eof);
  tcase_add_test (tc, test_l2_misaligned);
  tcase_add_test (tc, test_data_beyond_eof);
  tcase_add_test (tc, test_data_misaligned);
  tcase_add_test (tc, test_compressed_beyond_eof);
  tcase_add_test (tc, test_compressed_garbage);
  tcase_add_test (tc, test_encrypted);
  tcase_add_test (tc, test_unknown_incompat);
  tcase_add_test (tc, test_corrupt_and_data_file);
  tcase_add_test (tc, test_compression_type);
  tcase_add_test (tc, test_extension_too_long);
  tcase_add_test (tc, test_backing_raw);
  tcase_add_test (tc, test_backing_missing);
  tcase_add_test (tc, test_backing_confined);
  tcase_add_test (tc, test_backing_bad_fields);
  tcase_add_test (tc, test_backing_loop);
  tcase_add_test (tc, test_backing_qemu_img_loop);
  tcase_add_test (tc, test_extended_l2);
  tcase_add_test (tc, test_uniform_l2);
  tcase_add_test (tc, test_cluster_over_hole);
  tcase_add_test (tc, test_truncated);
  tcase_add_test (tc, test_data_over_metadata);
  tcase_add_test (tc, test_tables_overlap);
  tcase_add_test (tc, test_refcount_block_overlap);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (qcow2_suite ());
  int failed;

  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
