/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the VHD footer, the VHD reader and the Azure size rules. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/format.h"

START_TEST (test_footer_layout)
{
  /* The offsets the spec and disks.md §3 give. */
  ck_assert_uint_eq (offsetof (struct vhd_footer, features), 0x08);
  ck_assert_uint_eq (offsetof (struct vhd_footer, data_offset), 0x10);
  ck_assert_uint_eq (offsetof (struct vhd_footer, creator_app), 0x1c);
  ck_assert_uint_eq (offsetof (struct vhd_footer, original_size), 0x28);
  ck_assert_uint_eq (offsetof (struct vhd_footer, current_size), 0x30);
  ck_assert_uint_eq (offsetof (struct vhd_footer, cylinders), 0x38);
  ck_assert_uint_eq (offsetof (struct vhd_footer, disk_type), 0x3c);
  ck_assert_uint_eq (offsetof (struct vhd_footer, checksum), 0x40);
  ck_assert_uint_eq (offsetof (struct vhd_footer, uuid), 0x44);
  ck_assert_uint_eq (offsetof (struct vhd_footer, reserved), 0x55);
}
END_TEST

/* CHS by the spec's algorithm; values cross-checked with qemu-img. */
static const struct { uint64_t size; uint16_t c; uint8_t h, s; } chs[] = {
  { 8 * LF_GiB, 16644, 16, 63 },            /* disks.md §4's example */
  { 10 * LF_MiB, 301, 4, 17 },
  { 20 * LF_MiB, 602, 4, 17 },
  { 127 * LF_GiB, 65278, 16, 255 },       /* 266338304 sectors / 255 / 16 */
  { 4 * LF_TiB, 65535, 16, 255 },           /* capped */
  { 32 * LF_GiB, 16448, 16, 255 },
};

START_TEST (test_chs)
{
  for (size_t i = 0; i < sizeof chs / sizeof chs[0]; i++) {
    uint16_t c; uint8_t h, s;
    lf_vhd_chs (chs[i].size, &c, &h, &s);
    ck_assert_msg (c == chs[i].c && h == chs[i].h && s == chs[i].s,
                   "size %lu: got %u/%u/%u", (unsigned long) chs[i].size,
                   c, h, s);
  }
}
END_TEST

START_TEST (test_make_footer)
{
  uint8_t f[512], uuid[16] = { 1, 2, 3 };
  struct lf_vhd_footer_info fi;

  lf_vhd_make_fixed_footer (f, 8 * LF_GiB, uuid, 12345);
  ck_assert_int_eq (lf_vhd_footer_decode (f, "t.vhd", "footer", &fi), 0);
  ck_assert (fi.checksum_ok);
  ck_assert_uint_eq (fi.disk_type, VHD_TYPE_FIXED);
  ck_assert_uint_eq (fi.current_size, 8 * LF_GiB);
  ck_assert_uint_eq (fi.original_size, 8 * LF_GiB);
  ck_assert_uint_eq (fi.data_offset, UINT64_MAX);
  ck_assert_str_eq (fi.creator_app, "win ");
  ck_assert_uint_eq (fi.timestamp, 12345);
  ck_assert_mem_eq (fi.uuid, uuid, 16);
  /* qemu must see the current size, not the CHS product (32 KiB less). */
  ck_assert_uint_eq (lf_vhd_footer_virtual_size (&fi), 8 * LF_GiB);
  ck_assert (lf_vhd_footer_is_azure_ready (&fi, 8 * LF_GiB + 512));
  ck_assert (!lf_vhd_footer_is_azure_ready (&fi, 8 * LF_GiB));
  /* Reproducible given the UUID and timestamp. */
  uint8_t g[512];
  lf_vhd_make_fixed_footer (g, 8 * LF_GiB, uuid, 12345);
  ck_assert_mem_eq (f, g, 512);
  /* A random UUID is RFC 4122 version 4. */
  lf_vhd_make_fixed_footer (g, LF_MiB, NULL, 0);
  ck_assert_uint_eq (g[0x44 + 6] >> 4, 4);
}
END_TEST

START_TEST (test_footer_errors)
{
  uint8_t f[512];
  struct lf_vhd_footer_info fi;

  lf_vhd_make_fixed_footer (f, 64 * LF_MiB, NULL, 0);
  f[100] ^= 1;
  ck_assert_int_eq (lf_vhd_footer_decode (f, "t.vhd", "footer", &fi), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "t.vhd: footer: checksum"));

  lf_vhd_make_fixed_footer (f, 64 * LF_MiB, NULL, 0);
  memcpy (f, "conectiX", 8);
  ck_assert_int_eq (lf_vhd_footer_decode (f, "t.vhd", "footer", &fi), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "cookie"));

  lf_vhd_make_fixed_footer (f, 64 * LF_MiB, NULL, 0);
  lf_put_be32 (f + 0x3c, 7);
  lf_put_be32 (f + 0x40, lf_vhd_checksum (f, 512, 0x40));
  ck_assert_int_eq (lf_vhd_footer_decode (f, "t.vhd", "footer", &fi), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "disk type 7"));
}
END_TEST

START_TEST (test_size_rule)
{
  uint8_t f[512];
  struct lf_vhd_footer_info fi;
  /* Hyper-V 2012 R2's sample: current size wins over a smaller CHS. */
  lf_vhd_make_fixed_footer (f, 136365211648, NULL, 0);
  lf_put_be16 (f + 0x38, 65535);
  f[0x3a] = 16; f[0x3b] = 254;
  memcpy (f + 0x1c, "win ", 4);
  lf_put_be32 (f + 0x40, lf_vhd_checksum (f, 512, 0x40));
  ck_assert_int_eq (lf_vhd_footer_decode (f, "t", "f", &fi), 0);
  ck_assert_uint_eq (lf_vhd_footer_virtual_size (&fi), 136365211648);
  /* Virtual PC: the geometry is the size. */
  memcpy (f + 0x1c, "vpc ", 4);
  lf_put_be32 (f + 0x40, lf_vhd_checksum (f, 512, 0x40));
  ck_assert_int_eq (lf_vhd_footer_decode (f, "t", "f", &fi), 0);
  ck_assert_uint_eq (lf_vhd_footer_virtual_size (&fi),
                     UINT64_C (65535) * 16 * 254 * 512);
  /* Disk2vhd's "d2v\0" means the current size. */
  memcpy (f + 0x1c, "d2v\0", 4);
  lf_put_be32 (f + 0x40, lf_vhd_checksum (f, 512, 0x40));
  ck_assert_int_eq (lf_vhd_footer_decode (f, "t", "f", &fi), 0);
  ck_assert_uint_eq (lf_vhd_footer_virtual_size (&fi), 136365211648);
}
END_TEST

/* A real footer cut from a Virtual PC image (libvhdi's test data). */
START_TEST (test_real_footer)
{
  uint8_t f[512];
  struct lf_vhd_footer_info fi;
  FILE *fp = fopen ("../shared/testdata/images/libvhdi-fragments/file_footer.1", "rb");
  if (!fp) {
    fprintf (stderr, "SKIP: test_real_footer: ../shared/testdata not found\n");
    return;
  }
  ck_assert_uint_eq (fread (f, 1, 512, fp), 512);
  fclose (fp);
  ck_assert_int_eq (lf_vhd_footer_decode (f, "file_footer.1", "footer", &fi), 0);
  ck_assert (fi.checksum_ok);
  ck_assert_str_eq (fi.creator_app, "vpc ");
}
END_TEST

START_TEST (test_azure_size)
{
  uint64_t r;
  ck_assert_int_eq (lf_azure_size (1, false, &r), 0);
  ck_assert_uint_eq (r, LF_MiB);
  ck_assert_int_eq (lf_azure_size (LF_MiB + 1, false, &r), 0);
  ck_assert_uint_eq (r, 2 * LF_MiB);
  ck_assert_int_eq (lf_azure_size (LF_AZURE_MAX_DATA_DISK, false, &r), 0);
  ck_assert_int_eq (lf_azure_size (LF_AZURE_MAX_DATA_DISK + 1, false, &r), -1);
  ck_assert_int_eq (lf_last_errno (), EFBIG);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "data disks"));
  ck_assert_int_eq (lf_azure_size (4 * LF_TiB, true, &r), 0);
  ck_assert_int_eq (lf_azure_size (4 * LF_TiB + 1, true, &r), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "OS disks"));
  ck_assert_int_eq (lf_azure_size (0, false, &r), -1);
  ck_assert_int_eq (lf_azure_size (UINT64_MAX, false, &r), -1);
}
END_TEST

/* Write BUF to a temporary file; returns its path (static). */
static const char *
tmpfile_with (const void *buf, size_t len)
{
  static char path[64];
  strcpy (path, "/tmp/landfall-test-vhd-XXXXXX");
  int fd = mkstemp (path);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (lf_pwrite_all (fd, buf, len, 0), 0);
  close (fd);
  return path;
}

/* A minimal dynamic VHD: footer copy, header, BAT, one block, footer. */
#define DYN_SIZE (4 * LF_MiB)
static uint8_t *
make_dynamic (size_t *len)
{
  size_t n = 512 + 1024 + 512 + (512 + 2 * LF_MiB) + 512;
  uint8_t *b = calloc (1, n);
  uint8_t *h = b + 512, *bat = b + 1536;
  lf_vhd_make_fixed_footer (b, DYN_SIZE, NULL, 1);
  lf_put_be64 (b + 0x10, 512);
  lf_put_be32 (b + 0x3c, VHD_TYPE_DYNAMIC);
  lf_put_be32 (b + 0x40, lf_vhd_checksum (b, 512, 0x40));
  memcpy (b + n - 512, b, 512);
  memcpy (h, "cxsparse", 8);
  lf_put_be64 (h + 8, UINT64_MAX);
  lf_put_be64 (h + 16, 1536);
  lf_put_be32 (h + 24, 0x00010000);
  lf_put_be32 (h + 28, 2);
  lf_put_be32 (h + 32, 2 * LF_MiB);
  lf_put_be32 (h + 36, lf_vhd_checksum (h, 1024, 36));
  lf_put_be32 (bat, 0xffffffff);
  lf_put_be32 (bat + 4, 2048 / 512);        /* block 1 at 0x800 */
  memset (bat + 8, 0xff, 512 - 8);
  memset (b + 2048, 0xff, 512);             /* bitmap */
  memset (b + 2048 + 512, 0xab, 2 * LF_MiB);
  *len = n;
  return b;
}

START_TEST (test_dynamic_read)
{
  size_t n;
  CLEANUP_FREE uint8_t *img = make_dynamic (&n);
  const char *path = tmpfile_with (img, n);
  struct lf_disk *d = lf_disk_open (path, NULL);
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_disk_format (d), "vhd");
  ck_assert_str_eq (lf_disk_subformat (d), "dynamic");
  ck_assert_uint_eq (lf_disk_size (d), DYN_SIZE);
  uint8_t buf[1024];
  ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 2 * LF_MiB - 512), 0);
  for (int i = 0; i < 512; i++) ck_assert_uint_eq (buf[i], 0);
  for (int i = 512; i < 1024; i++) ck_assert_uint_eq (buf[i], 0xab);
  uint64_t len = DYN_SIZE;
  unsigned type;
  ck_assert_int_eq (lf_disk_extent (d, 0, &len, &type), 0);
  ck_assert_uint_eq (type, LF_EXTENT_ZERO);
  ck_assert_uint_eq (len, 2 * LF_MiB);
  /* Reading past the end is refused, not wrapped. */
  ck_assert_int_eq (lf_disk_pread (d, buf, 2, DYN_SIZE - 1), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "beyond the virtual size"));
  lf_disk_close (d);
  unlink (path);
}
END_TEST

/* Each damage and the words its error must contain. */
static void
expect_open_error (uint8_t *img, size_t n, const char *words)
{
  const char *path = tmpfile_with (img, n);
  struct lf_disk *d = lf_disk_open (path, "vhd");
  ck_assert_msg (d == NULL, "opened a damaged image (%s)", words);
  ck_assert_msg (strstr (lf_last_error (), words) != NULL,
                 "error \"%s\" lacks \"%s\"", lf_last_error (), words);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), path));
  unlink (path);
}

START_TEST (test_dynamic_errors)
{
  size_t n;
  uint8_t *img = make_dynamic (&n);
  uint8_t *h = img + 512;

  lf_put_be32 (img + 1536 + 4, 0x7ffffff0);
  expect_open_error (img, n, "BAT entry 1: block at 0xffffffe000");
  lf_put_be32 (img + 1536 + 4, 1);
  expect_open_error (img, n, "BAT entry 1: block at 0x200 overlaps");
  lf_put_be32 (img + 1536 + 4, 4);

  lf_put_be32 (h + 32, 3000);
  lf_put_be32 (h + 36, lf_vhd_checksum (h, 1024, 36));
  expect_open_error (img, n, "block size 3000 is not a power of 2");
  lf_put_be32 (h + 32, 2 * LF_MiB);

  lf_put_be32 (h + 28, 1);
  lf_put_be32 (h + 36, lf_vhd_checksum (h, 1024, 36));
  expect_open_error (img, n, "1 BAT entries cannot cover");
  lf_put_be32 (h + 28, 0x7fffffff);
  lf_put_be32 (h + 36, lf_vhd_checksum (h, 1024, 36));
  expect_open_error (img, n, "over the limit");
  lf_put_be32 (h + 28, 2);
  lf_put_be32 (h + 36, lf_vhd_checksum (h, 1024, 36));

  lf_put_be64 (h + 16, 0x7fffffff000);
  lf_put_be32 (h + 36, lf_vhd_checksum (h, 1024, 36));
  expect_open_error (img, n, "BAT at 0x7fffffff000");
  lf_put_be64 (h + 16, 1536);

  h[100] ^= 1;
  expect_open_error (img, n, "dynamic disk header: checksum");
  free (img);

  uint8_t tiny[100] = { 0 };
  expect_open_error (tiny, sizeof tiny, "too short for a VHD footer");
}
END_TEST

START_TEST (test_fixed_truncated)
{
  uint8_t img[4096 + 512] = { 0 };
  lf_vhd_make_fixed_footer (img + 4096, 8192, NULL, 0);
  expect_open_error (img, sizeof img, "larger than the 4096 bytes of data");
}
END_TEST

/* A file of fewer than 512 bytes starting with an image magic is that
 * image, truncated, when probed: not a raw disk to be copied or fixed.
 */
START_TEST (test_short_magic)
{
  static const struct { const char *magic, *name; size_t len; } cases[] = {
    { "conectix", "VHD", 8 },
    { "conectix", "VHD", 511 },
    { "vhdxfile", "VHDX", 8 },
    { "QFI\xfb", "qcow2", 4 },
    { "KDMV", "VMDK", 100 },
    { "COWD", "VMDK", 4 },
  };
  char path[] = "/tmp/test-vhd-short-XXXXXX";

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[512] = { 0 };
    char want[128];
    int fd = mkstemp (path);
    ck_assert_int_ge (fd, 0);
    memcpy (buf, cases[i].magic, strlen (cases[i].magic));
    ck_assert_int_eq (write (fd, buf, cases[i].len), (ssize_t) cases[i].len);
    close (fd);
    struct lf_disk *d = lf_disk_open (path, NULL);
    snprintf (want, sizeof want, "%s: truncated %s (%zu bytes)", path,
              cases[i].name, cases[i].len);
    ck_assert_msg (d == NULL && strstr (lf_last_error (), want),
                   "%s: opened as %s, error \"%s\"", want,
                   d ? lf_disk_format (d) : "-", lf_last_error ());
    unlink (path);
    strcpy (path, "/tmp/test-vhd-short-XXXXXX");
  }
  /* A short file starting with anything else is raw. */
  int fd = mkstemp (path);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (write (fd, "connecti", 8), 8);
  close (fd);
  struct lf_disk *d = lf_disk_open (path, NULL);
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_disk_format (d), "raw");
  lf_disk_close (d);
  unlink (path);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("vhd");
  TCase *tc = tcase_create ("vhd");
  tcase_add_test (tc, test_footer_layout);
  tcase_add_test (tc, test_chs);
  tcase_add_test (tc, test_make_footer);
  tcase_add_test (tc, test_footer_errors);
  tcase_add_test (tc, test_size_rule);
  tcase_add_test (tc, test_real_footer);
  tcase_add_test (tc, test_azure_size);
  tcase_add_test (tc, test_dynamic_read);
  tcase_add_test (tc, test_dynamic_errors);
  tcase_add_test (tc, test_fixed_truncated);
  tcase_add_test (tc, test_short_magic);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
