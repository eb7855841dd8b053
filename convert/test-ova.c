/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: unit tests of the OVA (tar) reader.
 *
 * Archives are built in memory here, one oddity each: ustar with a
 * prefix, GNU long names, pax paths and sizes, base-256 sizes, bad
 * checksums, truncation, compressed members, OVF ordering.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/format.h"

#define ASSERT_ERROR(needle)                                            \
  ck_assert_msg (strstr (lf_last_error (), (needle)) != NULL,           \
                 "error \"%s\" lacks \"%s\"", lf_last_error (), (needle))

struct tarbuf {
  uint8_t *b;
  size_t len;
};

static void
tb_grow (struct tarbuf *t, size_t n)
{
  t->b = realloc (t->b, t->len + n);
  ck_assert_ptr_nonnull (t->b);
  memset (t->b + t->len, 0, n);
}

static void
tb_checksum (uint8_t *h)
{
  unsigned sum = 0;
  memset (h + 148, ' ', 8);
  for (int i = 0; i < 512; i++)
    sum += h[i];
  snprintf ((char *) h + 148, 8, "%06o", sum);
}

/* Append a member.  NAME goes in the name field (truncated to 100),
 * PREFIX (may be NULL) in the ustar prefix.  SIZE_FIELD overrides the
 * size field when not NULL (raw 12 bytes).
 */
static void
tb_add (struct tarbuf *t, char type, const char *name, const char *prefix,
        const void *data, size_t len, const uint8_t *size_field)
{
  uint8_t *h;
  size_t padded = (len + 511) / 512 * 512;

  tb_grow (t, 512 + padded);
  h = t->b + t->len;
  strncpy ((char *) h, name, 100);
  memcpy (h + 100, "0000644", 8);
  if (size_field)
    memcpy (h + 124, size_field, 12);
  else
    snprintf ((char *) h + 124, 12, "%011o", (unsigned) (len & 0x3fffffff));
  h[156] = (uint8_t) type;
  memcpy (h + 257, "ustar", 6);
  memcpy (h + 263, "00", 2);
  if (prefix)
    strncpy ((char *) h + 345, prefix, 155);
  tb_checksum (h);
  if (len)
    memcpy (h + 512, data, len);
  t->len += 512 + padded;
}

static char *
tb_write (struct tarbuf *t)
{
  char *path;
  int fd;

  tb_grow (t, 1024);            /* end of archive */
  t->len += 1024;
  ck_assert_int_ne (asprintf (&path, "/tmp/landfall-test-ova-%d-XXXXXX",
                              (int) getpid ()), -1);
  fd = mkstemp (path);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (lf_pwrite_all (fd, t->b, t->len, 0), 0);
  close (fd);
  free (t->b);
  t->b = NULL;
  t->len = 0;
  return path;
}

static const char ovf[] =
  "<?xml version=\"1.0\"?>\n<Envelope xmlns:ovf=\"x\">\n<References>\n"
  "  <File ovf:href=\"b.vmdk\" ovf:id=\"fb\"/>\n"
  "  <ovf:File ovf:id='fa' ovf:href='dir/a.vmdk' ovf:size=\"512\"/>\n"
  "</References>\n<DiskSection>\n"
  "  <Disk ovf:diskId=\"d1\" ovf:fileRef=\"fa\" ovf:capacity=\"1\"/>\n"
  "  <Disk ovf:diskId=\"d2\"\n     ovf:fileRef=\"fb\"/>\n"
  "  <Disk ovf:diskId=\"d3\"/>\n"
  "</DiskSection>\n</Envelope>\n";

static uint8_t disk_a[4096], disk_b[2048];

static void
setup (void)
{
  memset (disk_a, 0xaa, sizeof disk_a);
  memset (disk_b, 0xbb, sizeof disk_b);
}

START_TEST (test_list_ovf_order)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;
  struct lf_disk *d;
  uint8_t buf[16];
  int n;

  tb_add (&t, '0', "vm.ovf", NULL, ovf, strlen (ovf), NULL);
  tb_add (&t, '0', "b.vmdk", NULL, disk_b, sizeof disk_b, NULL);
  tb_add (&t, '0', "vm.mf", NULL, "x", 1, NULL);
  tb_add (&t, '0', "a.vmdk", "dir", disk_a, sizeof disk_a, NULL);
  path = tb_write (&t);

  ck_assert_int_eq (lf_ova_probe (path), LF_MATCH);
  n = lf_ova_list (path, &disks);
  ck_assert_msg (n == 2, "%d: %s", n, lf_last_error ());
  ck_assert_str_eq (disks[0].name, "dir/a.vmdk");   /* OVF order */
  ck_assert_uint_eq (disks[0].size, sizeof disk_a);
  ck_assert_str_eq (disks[1].name, "b.vmdk");
  ck_assert_uint_eq (disks[1].offset, 512 + 512 + 512);

  /* Members are read in place (as raw until the VMDK reader lands, the
   * bytes are the member's either way).
   */
  d = lf_disk_open_ova_member (path, &disks[1]);
  if (d) {
    ck_assert_uint_eq (lf_disk_size (d), sizeof disk_b);
    ck_assert_int_eq (lf_disk_pread (d, buf, sizeof buf, 0), 0);
    ck_assert_uint_eq (buf[0], 0xbb);
    lf_disk_close (d);
  }
  lf_ova_free (disks, n);
  unlink (path);
}
END_TEST

START_TEST (test_list_tar_order_without_ovf_refs)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;
  int n;

  tb_add (&t, '0', "vm.ovf", NULL, "<Envelope/>", 11, NULL);
  tb_add (&t, '0', "z.vhd", NULL, disk_b, sizeof disk_b, NULL);
  tb_add (&t, '0', "cd.iso", NULL, disk_a, sizeof disk_a, NULL);
  tb_add (&t, '0', "vm.nvram", NULL, disk_a, 10, NULL);
  tb_add (&t, '5', "dir/", NULL, NULL, 0, NULL);
  tb_add (&t, '0', "a.qcow2", NULL, disk_a, sizeof disk_a, NULL);
  path = tb_write (&t);
  n = lf_ova_list (path, &disks);
  ck_assert_msg (n == 2, "%d: %s", n, lf_last_error ());
  ck_assert_str_eq (disks[0].name, "z.vhd");
  ck_assert_str_eq (disks[1].name, "a.qcow2");
  lf_ova_free (disks, n);
  unlink (path);
}
END_TEST

START_TEST (test_gnu_long_name)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;
  char longname[300];
  int n;

  memset (longname, 'x', sizeof longname);
  strcpy (longname + 280, "/../../disk.vmdk");
  tb_add (&t, '0', "vm.ovf", NULL, "<x/>", 4, NULL);
  tb_add (&t, 'L', "././@LongLink", NULL, longname, strlen (longname) + 1,
          NULL);
  tb_add (&t, '0', longname, NULL, disk_a, sizeof disk_a, NULL);
  path = tb_write (&t);
  n = lf_ova_list (path, &disks);
  ck_assert_msg (n == 1, "%d: %s", n, lf_last_error ());
  /* A name, never a path: kept as it is. */
  ck_assert_str_eq (disks[0].name, longname);
  ck_assert_uint_eq (disks[0].offset, 512 * 2 + 512 * 2 + 512);
  lf_ova_free (disks, n);
  unlink (path);
}
END_TEST

START_TEST (test_pax_path_and_size)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;
  const char pax[] = "29 path=some/where/disk.vmdk\n13 size=4096\n";
  int n;

  tb_add (&t, '0', "vm.ovf", NULL, "<x/>", 4, NULL);
  tb_add (&t, 'x', "PaxHeaders/disk", NULL, pax, strlen (pax), NULL);
  /* The header's own size field says 0: the pax size wins. */
  {
    uint8_t zero[12] = "00000000000";
    size_t at = t.len;
    tb_add (&t, '0', "short", NULL, NULL, 0, zero);
    tb_grow (&t, 4096);
    memcpy (t.b + at + 512, disk_a, 4096);
    t.len += 4096;
  }
  path = tb_write (&t);
  n = lf_ova_list (path, &disks);
  ck_assert_msg (n == 1, "%d: %s", n, lf_last_error ());
  ck_assert_str_eq (disks[0].name, "some/where/disk.vmdk");
  ck_assert_uint_eq (disks[0].size, 4096);
  lf_ova_free (disks, n);
  unlink (path);
}
END_TEST

START_TEST (test_base256_size)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;
  uint8_t sz[12] = { 0x80 };
  int n;

  sz[10] = 0x08;                /* 2048 */
  tb_add (&t, '0', "vm.ovf", NULL, "<x/>", 4, NULL);
  tb_add (&t, '0', "d.raw", NULL, disk_b, sizeof disk_b, sz);
  path = tb_write (&t);
  n = lf_ova_list (path, &disks);
  ck_assert_msg (n == 1, "%d: %s", n, lf_last_error ());
  ck_assert_uint_eq (disks[0].size, 2048);
  lf_ova_free (disks, n);
  unlink (path);
}
END_TEST

START_TEST (test_huge_size_truncated)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;
  uint8_t sz[12];

  memset (sz, 0xff, sizeof sz);
  sz[0] = 0x80 | 0x3f;          /* positive, ~2^94: overflows 64 bits */
  tb_add (&t, '0', "vm.ovf", NULL, "<x/>", 4, NULL);
  tb_add (&t, '0', "d.raw", NULL, disk_b, sizeof disk_b, sz);
  path = tb_write (&t);
  ck_assert_int_eq (lf_ova_list (path, &disks), -1);
  ASSERT_ERROR ("bad size field");
  unlink (path);

  memcpy (sz, "77777777777", 12);          /* 8 GiB in a small file */
  tb_add (&t, '0', "vm.ovf", NULL, "<x/>", 4, NULL);
  tb_add (&t, '0', "d.raw", NULL, disk_b, sizeof disk_b, sz);
  free (path);
  path = tb_write (&t);
  ck_assert_int_eq (lf_ova_list (path, &disks), -1);
  ASSERT_ERROR ("is beyond end of file");
  ASSERT_ERROR ("truncated archive");
  unlink (path);
}
END_TEST

START_TEST (test_bad_checksum)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;

  tb_add (&t, '0', "vm.ovf", NULL, "<x/>", 4, NULL);
  tb_add (&t, '0', "d.raw", NULL, disk_b, sizeof disk_b, NULL);
  t.b[1024 + 10] ^= 1;          /* second header's name */
  path = tb_write (&t);
  ck_assert_int_eq (lf_ova_probe (path), LF_MATCH);   /* .ovf seen first */
  ck_assert_int_eq (lf_ova_list (path, &disks), -1);
  ASSERT_ERROR ("tar header at 0x400: bad checksum");
  unlink (path);
}
END_TEST

START_TEST (test_probe_no_match)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;

  tb_add (&t, '0', "disk.vmdk", NULL, disk_b, sizeof disk_b, NULL);
  path = tb_write (&t);
  ck_assert_int_eq (lf_ova_probe (path), LF_NO_MATCH);     /* no .ovf */
  unlink (path);
  free (path);
  tb_grow (&t, 512);
  memcpy (t.b, "vhdxfile", 8);
  t.len = 512;
  path = tb_write (&t);
  ck_assert_int_eq (lf_ova_probe (path), LF_NO_MATCH);     /* not a tar */
  unlink (path);
}
END_TEST

START_TEST (test_compressed_member)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;
  const char gz[] = "<File ovf:id=\"f\" ovf:href=\"d.vmdk\" "
    "ovf:compression=\"gzip\"/><Disk ovf:fileRef=\"f\"/>";

  tb_add (&t, '0', "vm.ovf", NULL, gz, strlen (gz), NULL);
  tb_add (&t, '0', "d.vmdk", NULL, disk_b, sizeof disk_b, NULL);
  path = tb_write (&t);
  ck_assert_int_eq (lf_ova_list (path, &disks), -1);
  ASSERT_ERROR ("OVF file \"d.vmdk\" is gzip-compressed");
  unlink (path);
  free (path);

  tb_add (&t, '0', "vm.ovf", NULL, "<x/>", 4, NULL);
  tb_add (&t, '0', "d.vmdk.gz", NULL, disk_b, sizeof disk_b, NULL);
  path = tb_write (&t);
  ck_assert_int_eq (lf_ova_list (path, &disks), -1);
  ASSERT_ERROR ("member \"d.vmdk.gz\" is compressed");
  unlink (path);
}
END_TEST

START_TEST (test_ovf_names_missing_file)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;
  const char o[] = "<File ovf:id=\"f\" ovf:href=\"gone.vmdk\"/>"
    "<Disk ovf:fileRef=\"f\"/>";

  tb_add (&t, '0', "vm.ovf", NULL, o, strlen (o), NULL);
  tb_add (&t, '0', "d.vmdk", NULL, disk_b, sizeof disk_b, NULL);
  path = tb_write (&t);
  ck_assert_int_eq (lf_ova_list (path, &disks), -1);
  ASSERT_ERROR ("names disk file \"gone.vmdk\", which is not in the archive");
  unlink (path);
}
END_TEST

START_TEST (test_no_disk)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;

  tb_add (&t, '0', "vm.ovf", NULL, "<x/>", 4, NULL);
  tb_add (&t, '0', "vm.mf", NULL, "x", 1, NULL);
  path = tb_write (&t);
  ck_assert_int_eq (lf_ova_list (path, &disks), -1);
  ASSERT_ERROR ("the OVA holds no disk");
  unlink (path);
}
END_TEST

START_TEST (test_pax_bad_record)
{
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;
  struct lf_ova_disk *disks = NULL;
  const char pax[] = "99 path=x\n";

  tb_add (&t, '0', "vm.ovf", NULL, "<x/>", 4, NULL);
  tb_add (&t, 'x', "PaxHeaders/d", NULL, pax, strlen (pax), NULL);
  tb_add (&t, '0', "d.raw", NULL, disk_b, sizeof disk_b, NULL);
  path = tb_write (&t);
  ck_assert_int_eq (lf_ova_list (path, &disks), -1);
  ASSERT_ERROR ("tar pax header: bad record at byte 0");
  unlink (path);
}
END_TEST

START_TEST (test_member_window_bounds)
{
  struct lf_ova_disk m = { .name = (char *) "d", .offset = 512,
                           .size = 1 << 30 };
  struct tarbuf t = { 0 };
  CLEANUP_FREE char *path = NULL;

  tb_add (&t, '0', "vm.ovf", NULL, "<x/>", 4, NULL);
  path = tb_write (&t);
  ck_assert_ptr_null (lf_disk_open_ova_member (path, &m));
  ASSERT_ERROR ("member \"d\"");
  ASSERT_ERROR ("beyond end of file");
  unlink (path);
}
END_TEST

static Suite *
ova_suite (void)
{
  Suite *s = suite_create ("ova");
  struct { const char *name; const TTest *t; } tests[] = {
#define T(x) { #x, x }
    T (test_list_ovf_order), T (test_list_tar_order_without_ovf_refs),
    T (test_gnu_long_name), T (test_pax_path_and_size),
    T (test_base256_size), T (test_huge_size_truncated),
    T (test_bad_checksum), T (test_probe_no_match),
    T (test_compressed_member), T (test_ovf_names_missing_file),
    T (test_no_disk), T (test_pax_bad_record), T (test_member_window_bounds),
#undef T
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    TCase *tc = tcase_create (tests[i].name);
    tcase_add_checked_fixture (tc, setup, NULL);
    tcase_add_test (tc, tests[i].t);
    suite_add_tcase (s, tc);
  }
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (ova_suite ());
  int failed;

  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
