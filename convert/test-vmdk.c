/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: unit tests for the VMDK reader.
 *
 * Each test builds a small image in memory (a good one, then one field
 * broken), writes it to a temporary directory, opens it with the format
 * forced and checks the error names the structure that was wrong.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "convert/format.h"

/* The layout vmdk.c declares, repeated so a change there fails here. */
struct t_vmdk4_header {
  char     magic[4];
  uint32_t version;
  uint32_t flags;
  uint64_t capacity;
  uint64_t grain_size;
  uint64_t desc_offset;
  uint64_t desc_size;
  uint32_t num_gtes_per_gt;
  uint64_t rgd_offset;
  uint64_t gd_offset;
  uint64_t overhead;
  uint8_t  unclean_shutdown;
  char     single_end_line;
  char     non_end_line;
  char     double_end_line[2];
  uint16_t compress_algorithm;
  uint8_t  pad[433];
} __attribute__ ((packed));

#define SECTOR 512
#define H_VERSION      0x04
#define H_FLAGS        0x08
#define H_CAPACITY     0x0c
#define H_GRAIN        0x14
#define H_DESC_OFFSET  0x1c
#define H_DESC_SIZE    0x24
#define H_GTES         0x2c
#define H_GD_OFFSET    0x38
#define H_OVERHEAD     0x40
#define H_COMPRESS     0x4d

static char dir[64];
static char path[256];

static void
setup (void)
{
  strcpy (dir, "/tmp/landfall-test-vmdk-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/disk.vmdk", dir);
  lf_error_clear ();
}

static void
teardown (void)
{
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq (system (cmd), 0);
}

static void
write_file (const char *name, const void *buf, size_t len)
{
  char p[256];
  FILE *fp;
  snprintf (p, sizeof p, "%s/%s", dir, name);
  fp = fopen (p, "wb");
  ck_assert_ptr_nonnull (fp);
  if (len)
    ck_assert_uint_eq (fwrite (buf, 1, len, fp), len);
  ck_assert_int_eq (fclose (fp), 0);
}

/* Open PATH as vmdk and expect failure with NEEDLE in the message. */
static void
expect_open_error (const char *p, const char *needle)
{
  struct lf_disk *d = lf_disk_open (p, "vmdk");
  if (d)
    lf_disk_close (d);
  ck_assert_msg (d == NULL, "%s opened, expected '%s'", p, needle);
  ck_assert_msg (strstr (lf_last_error (), needle),
                 "error '%s' lacks '%s'", lf_last_error (), needle);
}

/* A good monolithicSparse image: 256 sectors, 4 KiB grains, one grain
 * table.  Sector 0 header, 1 descriptor, 2 GD, 3-6 GT, grains from 8.
 * Grain 0 is 'A's, grain 5 'B's, grain 7 a zero grain (GTE 1), the rest
 * unallocated.
 */
#define IMG_SECTORS   256
#define IMG_GRAIN     8
#define IMG_SIZE      (24 * SECTOR)

static void
build_sparse (uint8_t *img)
{
  static const char desc[] =
    "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
    "createType=\"monolithicSparse\"\nRW 256 SPARSE \"disk.vmdk\"\n";

  memset (img, 0, IMG_SIZE);
  memcpy (img, "KDMV", 4);
  lf_put_le32 (img + H_VERSION, 1);
  lf_put_le32 (img + H_FLAGS, 3);
  lf_put_le64 (img + H_CAPACITY, IMG_SECTORS);
  lf_put_le64 (img + H_GRAIN, IMG_GRAIN);
  lf_put_le64 (img + H_DESC_OFFSET, 1);
  lf_put_le64 (img + H_DESC_SIZE, 1);
  lf_put_le32 (img + H_GTES, 512);
  lf_put_le64 (img + H_GD_OFFSET, 2);
  lf_put_le64 (img + H_OVERHEAD, 8);
  memcpy (img + 0x49, "\n \r\n", 4);
  memcpy (img + SECTOR, desc, sizeof desc - 1);
  lf_put_le32 (img + 2 * SECTOR, 3);                /* GD[0] -> GT */
  lf_put_le32 (img + 3 * SECTOR + 0 * 4, 8);        /* grain 0 */
  lf_put_le32 (img + 3 * SECTOR + 5 * 4, 16);       /* grain 5 */
  lf_put_le32 (img + 3 * SECTOR + 7 * 4, 1);        /* grain 7: zeros */
  memset (img + 8 * SECTOR, 'A', 8 * SECTOR);
  memset (img + 16 * SECTOR, 'B', 8 * SECTOR);
}

START_TEST (test_header_layout)
{
  ck_assert_uint_eq (sizeof (struct t_vmdk4_header), 512);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, version), H_VERSION);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, flags), H_FLAGS);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, capacity), H_CAPACITY);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, grain_size), H_GRAIN);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, desc_offset),
                     H_DESC_OFFSET);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, desc_size), H_DESC_SIZE);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, num_gtes_per_gt),
                     H_GTES);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, gd_offset), H_GD_OFFSET);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, overhead), H_OVERHEAD);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, single_end_line), 0x49);
  ck_assert_uint_eq (offsetof (struct t_vmdk4_header, compress_algorithm),
                     H_COMPRESS);
}
END_TEST

START_TEST (test_good_sparse)
{
  uint8_t img[IMG_SIZE], buf[IMG_SECTORS * SECTOR];
  struct lf_disk *d;
  uint64_t len;
  unsigned type;

  build_sparse (img);
  write_file ("disk.vmdk", img, sizeof img);
  d = lf_disk_open (path, NULL);       /* probed */
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_disk_format (d), "vmdk");
  ck_assert_str_eq (lf_disk_subformat (d), "monolithicSparse");
  ck_assert_uint_eq (lf_disk_size (d), IMG_SECTORS * SECTOR);
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 0), 0);
  for (size_t i = 0; i < sizeof buf; i++) {
    uint8_t want = i < 4096 ? 'A' : (i >= 5 * 4096 && i < 6 * 4096) ? 'B' : 0;
    ck_assert_msg (buf[i] == want, "byte %zu is %u, expected %u", i, buf[i],
                   want);
  }
  /* An unaligned read across grains 4 to 6 (5 is the only data). */
  ck_assert_int_eq (lf_disk_pread (d, buf, 9000, 4 * 4096 + 100), 0);
  ck_assert_uint_eq (buf[0], 0);
  ck_assert_uint_eq (buf[4096 - 100], 'B');
  ck_assert_uint_eq (buf[8091], 'B');
  ck_assert_uint_eq (buf[8092], 0);

  len = lf_disk_size (d);
  ck_assert_int_eq (lf_disk_extent (d, 0, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_DATA);
  ck_assert_uint_eq (len, 4096);
  len = lf_disk_size (d) - 4096;
  ck_assert_int_eq (lf_disk_extent (d, 4096, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_ZERO);
  ck_assert_uint_eq (len, 4 * 4096);
  len = lf_disk_size (d) - 6 * 4096;
  ck_assert_int_eq (lf_disk_extent (d, 6 * 4096, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_ZERO);       /* 6 absent, 7 zero, ... */
  ck_assert_uint_eq (len, lf_disk_size (d) - 6 * 4096);
  lf_disk_close (d);
}
END_TEST

START_TEST (test_bad_magic)
{
  uint8_t img[IMG_SIZE];
  build_sparse (img);
  memcpy (img, "KDMW", 4);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "not a VMDK");
}
END_TEST

START_TEST (test_grain_not_power_of_2)
{
  uint8_t img[IMG_SIZE];
  build_sparse (img);
  lf_put_le64 (img + H_GRAIN, 6);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "grain size 6 sectors is not a power of 2");
}
END_TEST

START_TEST (test_grain_too_large)
{
  uint8_t img[IMG_SIZE];
  build_sparse (img);
  lf_put_le64 (img + H_GRAIN, UINT64_C (1) << 40);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "grain size");
}
END_TEST

START_TEST (test_gtes_too_many)
{
  uint8_t img[IMG_SIZE];
  build_sparse (img);
  lf_put_le32 (img + H_GTES, 513);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "513 entries per grain table");
}
END_TEST

START_TEST (test_gd_beyond_eof)
{
  uint8_t img[IMG_SIZE];
  build_sparse (img);
  lf_put_le64 (img + H_GD_OFFSET, 1000);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "grain directory at 0x7d000");
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "beyond end of file"));
}
END_TEST

START_TEST (test_gd_overlaps_header)
{
  uint8_t img[IMG_SIZE];
  build_sparse (img);
  lf_put_le64 (img + H_GD_OFFSET, 0);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "overlaps the header");
}
END_TEST

START_TEST (test_gt_beyond_eof)
{
  uint8_t img[IMG_SIZE];
  build_sparse (img);
  lf_put_le32 (img + 2 * SECTOR, 0x1f8);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "grain directory entry 0: grain table at 0x3f000 "
                     "is beyond end of file (0x3000)");
}
END_TEST

START_TEST (test_grain_beyond_eof)
{
  uint8_t img[IMG_SIZE], buf[4096];
  struct lf_disk *d;

  build_sparse (img);
  lf_put_le32 (img + 3 * SECTOR + 5 * 4, 0x100000);
  write_file ("disk.vmdk", img, sizeof img);
  d = lf_disk_open (path, "vmdk");
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 0), 0);
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 5 * 4096), -1);
  ck_assert_msg (strstr (lf_last_error (), "grain 5: grain at 0x20000000 is "
                         "beyond end of file"), "%s", lf_last_error ());
  lf_disk_close (d);
}
END_TEST

START_TEST (test_capacity_overflow)
{
  uint8_t img[IMG_SIZE];
  build_sparse (img);
  lf_put_le64 (img + H_CAPACITY, UINT64_MAX / 256);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "capacity");
}
END_TEST

START_TEST (test_gd_too_big)
{
  uint8_t img[IMG_SIZE];
  /* 1-sector grains, 1 GTE per table: 16M GD entries for 8 GiB. */
  build_sparse (img);
  lf_put_le64 (img + H_GRAIN, 1);
  lf_put_le32 (img + H_GTES, 1);
  lf_put_le64 (img + H_CAPACITY, UINT64_C (16) * 1024 * 1024);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "grain directory of 16777216 entries is larger "
                     "than the limit");
}
END_TEST

START_TEST (test_truncated_sparse)
{
  uint8_t img[IMG_SIZE];
  build_sparse (img);
  lf_put_le64 (img + H_OVERHEAD, 100);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "grains start at sector 100 but the file is only "
                     "0x3000 bytes");
}
END_TEST

START_TEST (test_bad_version)
{
  uint8_t img[IMG_SIZE];
  build_sparse (img);
  lf_put_le32 (img + H_VERSION, 4);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "version 4");
}
END_TEST

START_TEST (test_short_file)
{
  write_file ("disk.vmdk", "KDMV", 4);
  expect_open_error (path, "sparse header");
}
END_TEST

/* A streamOptimized image: version 3, markers, deflate.  Grain 0 holds a
 * pattern; the GD is given in the header (at sector 2), or "at end".
 */
static size_t
build_stream (uint8_t *img, size_t cap, bool gd_at_end, uint32_t size_override)
{
  uint8_t grain[4096];
  uLongf clen = cap - 40 * SECTOR;
  size_t end;

  build_sparse (img);
  memset (img + 8 * SECTOR, 0, cap - 8 * SECTOR);
  lf_put_le32 (img + H_VERSION, 3);
  lf_put_le32 (img + H_FLAGS, 0x30001);
  img[H_COMPRESS] = 1;
  lf_put_le64 (img + H_GD_OFFSET, gd_at_end ? UINT64_MAX : 2);
  for (size_t i = 0; i < sizeof grain; i++)
    grain[i] = (uint8_t) (i * 7 + 1);
  ck_assert_int_eq (compress (img + 8 * SECTOR + 12, &clen, grain,
                              sizeof grain), Z_OK);
  lf_put_le64 (img + 8 * SECTOR, 0);
  lf_put_le32 (img + 8 * SECTOR + 8,
               size_override ? size_override : (uint32_t) clen);
  memset (img + 3 * SECTOR, 0, 4 * SECTOR);
  lf_put_le32 (img + 3 * SECTOR, 8);
  end = 8 * SECTOR + LF_DIV_ROUND_UP (12 + clen, SECTOR) * SECTOR;
  ck_assert_uint_le (end, cap);
  return end;
}

START_TEST (test_good_stream)
{
  uint8_t img[64 * SECTOR], buf[8192];
  size_t n = build_stream (img, sizeof img, false, 0);
  struct lf_disk *d;

  write_file ("disk.vmdk", img, n);
  d = lf_disk_open (path, "vmdk");
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_disk_subformat (d), "streamOptimized");
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 0), 0);
  for (size_t i = 0; i < 4096; i++)
    ck_assert_uint_eq (buf[i], (uint8_t) (i * 7 + 1));
  ck_assert (lf_is_zero (buf + 4096, 4096));
  /* Part of a grain goes through the scratch buffer. */
  ck_assert_int_eq (lf_disk_pread (d, buf, 10, 1000), 0);
  ck_assert_uint_eq (buf[0], (uint8_t) (1000 * 7 + 1));
  lf_disk_close (d);
}
END_TEST

START_TEST (test_truncated_stream)
{
  uint8_t img[64 * SECTOR];
  size_t n = build_stream (img, sizeof img, true, 0);
  write_file ("disk.vmdk", img, n);
  expect_open_error (path, "streamOptimized footer");
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "truncated"));
}
END_TEST

START_TEST (test_stream_footer)
{
  uint8_t img[64 * SECTOR], buf[4096];
  size_t n = build_stream (img, sizeof img, true, 0);
  struct lf_disk *d;

  /* Footer marker, footer header (GD at sector 2), end-of-stream. */
  memset (img + n, 0, 3 * SECTOR);
  lf_put_le64 (img + n, 1);
  lf_put_le32 (img + n + 12, 3);
  memcpy (img + n + SECTOR, img, SECTOR);
  lf_put_le64 (img + n + SECTOR + H_GD_OFFSET, 2);
  write_file ("disk.vmdk", img, n + 3 * SECTOR);
  d = lf_disk_open (path, "vmdk");
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 0), 0);
  ck_assert_uint_eq (buf[4095], (uint8_t) (4095 * 7 + 1));
  lf_disk_close (d);
}
END_TEST

START_TEST (test_compressed_size_too_large)
{
  uint8_t img[64 * SECTOR], buf[4096];
  size_t n = build_stream (img, sizeof img, false, 0x7fffffff);
  struct lf_disk *d;

  write_file ("disk.vmdk", img, n);
  d = lf_disk_open (path, "vmdk");
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 0), -1);
  ck_assert_msg (strstr (lf_last_error (), "grain 0: grain marker at 0x1000: "
                         "compressed size 2147483647"), "%s", lf_last_error ());
  lf_disk_close (d);
}
END_TEST

START_TEST (test_compressed_garbage)
{
  uint8_t img[64 * SECTOR], buf[4096];
  size_t n = build_stream (img, sizeof img, false, 0);
  struct lf_disk *d;

  img[8 * SECTOR + 12 + 5] ^= 0xff;
  write_file ("disk.vmdk", img, n);
  d = lf_disk_open (path, "vmdk");
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 0), -1);
  ck_assert_msg (strstr (lf_last_error (), "compressed grain at 0x1000"),
                 "%s", lf_last_error ());
  lf_disk_close (d);
}
END_TEST

static const char flat_desc[] =
  "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
  "createType=\"monolithicFlat\"\n\n# Extent description\n"
  "RW 8 FLAT \"disk-flat.vmdk\" 0\nRW 8 ZERO\nRW 8 FLAT \"disk-flat.vmdk\" 8\n";

START_TEST (test_good_descriptor)
{
  uint8_t data[16 * SECTOR], buf[24 * SECTOR];
  struct lf_disk *d;

  memset (data, 'x', 8 * SECTOR);
  memset (data + 8 * SECTOR, 'y', 8 * SECTOR);
  write_file ("disk-flat.vmdk", data, sizeof data);
  write_file ("disk.vmdk", flat_desc, sizeof flat_desc - 1);
  d = lf_disk_open (path, NULL);
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_disk_subformat (d), "monolithicFlat");
  ck_assert_uint_eq (lf_disk_size (d), 24 * SECTOR);
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 0), 0);
  ck_assert_uint_eq (buf[0], 'x');
  ck_assert_uint_eq (buf[8 * SECTOR], 0);
  ck_assert_uint_eq (buf[16 * SECTOR], 'y');
  lf_disk_close (d);
}
END_TEST

START_TEST (test_descriptor_missing_extent)
{
  write_file ("disk.vmdk", flat_desc, sizeof flat_desc - 1);
  expect_open_error (path, "descriptor line 8: extent file");
  ck_assert_int_eq (lf_last_errno (), ENOENT);
}
END_TEST

START_TEST (test_descriptor_short_extent)
{
  uint8_t data[10 * SECTOR] = { 0 };
  write_file ("disk-flat.vmdk", data, sizeof data);
  write_file ("disk.vmdk", flat_desc, sizeof flat_desc - 1);
  expect_open_error (path, "descriptor line 10: flat extent");
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "too short"));
}
END_TEST

START_TEST (test_descriptor_malformed_line)
{
  static const char desc[] =
    "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n"
    "RW 12x FLAT \"disk-flat.vmdk\" 0\n";
  write_file ("disk.vmdk", desc, sizeof desc - 1);
  expect_open_error (path, "descriptor line 4: malformed extent line");
}
END_TEST

START_TEST (test_descriptor_sector_overflow)
{
  static const char desc[] =
    "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n"
    "RW 99999999999999999999999 FLAT \"disk-flat.vmdk\" 0\n";
  write_file ("disk.vmdk", desc, sizeof desc - 1);
  expect_open_error (path, "malformed extent line");
}
END_TEST

START_TEST (test_descriptor_escaping_name)
{
  static const char desc[] =
    "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n"
    "RW 8 FLAT \"../../../../../../../../etc/passwd\" 0\n";
  static const char abs[] =
    "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n"
    "RW 8 FLAT \"/etc/passwd\" 0\n";
  write_file ("disk.vmdk", desc, sizeof desc - 1);
  expect_open_error (path, "outside the image's directory");
  ck_assert_int_eq (lf_last_errno (), EXDEV);
  write_file ("disk.vmdk", abs, sizeof abs - 1);
  expect_open_error (path, "outside the image's directory");
}
END_TEST

START_TEST (test_descriptor_no_extents)
{
  static const char desc[] =
    "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n";
  write_file ("disk.vmdk", desc, sizeof desc - 1);
  expect_open_error (path, "no extents");
}
END_TEST

START_TEST (test_descriptor_sparse_extent)
{
  static const char desc[] =
    "# Disk DescriptorFile\nversion=1\ncreateType=\"twoGbMaxExtentSparse\"\n"
    "RW 256 SPARSE \"s001.vmdk\"\nRW 256 SPARSE \"s001.vmdk\"\n";
  uint8_t img[IMG_SIZE], buf[4096];
  struct lf_disk *d;

  build_sparse (img);
  write_file ("s001.vmdk", img, sizeof img);
  write_file ("disk.vmdk", desc, sizeof desc - 1);
  d = lf_disk_open (path, "vmdk");
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (lf_disk_size (d), 2 * IMG_SECTORS * SECTOR);
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf,
                                   IMG_SECTORS * SECTOR + 5 * 4096), 0);
  ck_assert_uint_eq (buf[0], 'B');
  lf_disk_close (d);
}
END_TEST

START_TEST (test_parent_cid_mismatch)
{
  uint8_t img[IMG_SIZE];
  static const char desc[] =
    "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=87654321\n"
    "createType=\"monolithicSparse\"\nparentFileNameHint=\"base.vmdk\"\n";

  build_sparse (img);
  write_file ("base.vmdk", img, sizeof img);
  memset (img + SECTOR, 0, SECTOR);
  memcpy (img + SECTOR, desc, sizeof desc - 1);
  write_file ("disk.vmdk", img, sizeof img);
  expect_open_error (path, "parentCID 87654321 does not match the CID "
                     "12345678");
}
END_TEST

static Suite *
vmdk_suite (void)
{
  Suite *s = suite_create ("vmdk");
  TCase *tc = tcase_create ("vmdk");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_header_layout);
  tcase_add_test (tc, test_good_sparse);
  tcase_add_test (tc, test_bad_magic);
  tcase_add_test (tc, test_grain_not_power_of_2);
  tcase_add_test (tc, test_grain_too_large);
  tcase_add_test (tc, test_gtes_too_many);
  tcase_add_test (tc, test_gd_beyond_eof);
  tcase_add_test (tc, test_gd_overlaps_header);
  tcase_add_test (tc, test_gt_beyond_eof);
  tcase_add_test (tc, test_grain_beyond_eof);
  tcase_add_test (tc, test_capacity_overflow);
  tcase_add_test (tc, test_gd_too_big);
  tcase_add_test (tc, test_truncated_sparse);
  tcase_add_test (tc, test_bad_version);
  tcase_add_test (tc, test_short_file);
  tcase_add_test (tc, test_good_stream);
  tcase_add_test (tc, test_truncated_stream);
  tcase_add_test (tc, test_stream_footer);
  tcase_add_test (tc, test_compressed_size_too_large);
  tcase_add_test (tc, test_compressed_garbage);
  tcase_add_test (tc, test_good_descriptor);
  tcase_add_test (tc, test_descriptor_missing_extent);
  tcase_add_test (tc, test_descriptor_short_extent);
  tcase_add_test (tc, test_descriptor_malformed_line);
  tcase_add_test (tc, test_descriptor_sector_overflow);
  tcase_add_test (tc, test_descriptor_escaping_name);
  tcase_add_test (tc, test_descriptor_no_extents);
  tcase_add_test (tc, test_descriptor_sparse_extent);
  tcase_add_test (tc, test_parent_cid_mismatch);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (vmdk_suite ());
  int failed;

  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
