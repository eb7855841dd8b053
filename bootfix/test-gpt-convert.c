/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the MBR -> GPT conversion (gpt-convert.c) on small
 * sparse images made with sfdisk, and for the grub.cfg rewrite.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libfdisk/libfdisk.h>

#include "bootfix/bootfix.h"
#include "convert/convert.h"

static char dir[64], img[128], orig[128];

static void
sh (const char *cmd)
{
  ck_assert_msg (system (cmd) == 0, "%s", cmd);
}

static void
setup (void)
{
  snprintf (dir, sizeof dir, "/tmp/lf-gpt-test-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (dir));
  snprintf (img, sizeof img, "%s/disk.img", dir);
  snprintf (orig, sizeof orig, "%s/orig.img", dir);
}

static void
teardown (void)
{
  char cmd[256];
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  (void) system (cmd);
}

/* A 64 MiB MBR image with TABLE (sfdisk's input), boot code and a core.img
 * stand-in in the gap, and a pattern inside each partition's first and
 * last sector.
 */
static void
make_mbr (const char *table, uint64_t mib)
{
  char cmd[2048];
  snprintf (cmd, sizeof cmd, "truncate -s %lluM %s && printf '%s' | "
            "sfdisk -q %s >/dev/null", (unsigned long long) mib, img, table,
            img);
  sh (cmd);
  int fd = open (img, O_RDWR);
  ck_assert_int_ne (fd, -1);
  uint8_t buf[512];
  memset (buf, 0xeb, 440);
  ck_assert_int_eq (pwrite (fd, buf, 440, 0), 440);
  memset (buf, 0xc0, sizeof buf);
  for (int s = 1; s < 30; s++)          /* grub's core.img */
    ck_assert_int_eq (pwrite (fd, buf, 512, s * 512), 512);
  close (fd);
}

static void
pattern_at (uint64_t sector, uint8_t v)
{
  uint8_t buf[512];
  int fd = open (img, O_RDWR);
  memset (buf, v, sizeof buf);
  ck_assert_int_eq (pwrite (fd, buf, 512, (off_t) (sector * 512)), 512);
  close (fd);
}

static uint64_t
file_size (const char *f)
{
  struct stat st;
  ck_assert_int_eq (stat (f, &st), 0);
  return (uint64_t) st.st_size;
}

/* The GPT libfdisk reads back: partition NUM's start and size. */
static void
gpt_part (const char *path, unsigned num, uint64_t *start, uint64_t *size,
          char *type, size_t tlen)
{
  struct fdisk_context *cxt = fdisk_new_context ();
  struct fdisk_partition *pa = NULL;
  ck_assert_int_eq (fdisk_assign_device (cxt, path, 1), 0);
  ck_assert (fdisk_is_label (cxt, GPT));
  ck_assert_int_eq (fdisk_get_partition (cxt, num - 1, &pa), 0);
  *start = fdisk_partition_get_start (pa);
  *size = fdisk_partition_get_size (pa);
  snprintf (type, tlen, "%s",
            fdisk_parttype_get_string (fdisk_partition_get_type (pa)));
  fdisk_unref_partition (pa);
  fdisk_unref_context (cxt);
}

/* The journal's record, as journal.c writes it. */
static json_t *
record (const struct lf_gpt_conv *c, const char *footer_hex)
{
  json_t *m = json_pack ("{s:I, s:I}",
                         "old_file_size", (json_int_t) c->old_file_size,
                         "new_file_size", (json_int_t) (c->new_size +
                                                        (c->vhd ? 512 : 0)));
  if (footer_hex)
    json_object_set_new (m, "old_footer", json_string (footer_hex));
  return m;
}

static void *
read_gap (const struct lf_gpt_conv *c)
{
  void *gap = malloc (c->gap);
  int fd = open (img, O_RDONLY);
  ck_assert_int_eq (pread (fd, gap, c->gap, 0), (ssize_t) c->gap);
  close (fd);
  return gap;
}

START_TEST (test_convert_keeps_partitions)
{
  /* Old DOS alignment (63), swap, an extended partition with two
   * logicals: every start and size kept, numbers too.
   */
  make_mbr ("63,20417,83,*\n20480,8192,82\n28672,,5\n30720,10240,8e\n"
            "43008,,83\n", 64);
  pattern_at (63, 0x11);
  pattern_at (63 + 20417 - 1, 0x22);
  pattern_at (30720, 0x33);
  char cmd[512];
  snprintf (cmd, sizeof cmd, "cp --sparse=always %s %s", img, orig);
  sh (cmd);

  struct lf_gpt_conv *c = calloc (1, sizeof *c);
  ck_assert_int_eq (lf_gpt_conv_plan (img, false, 64 * LF_MiB, c), 0);
  ck_assert_uint_eq (c->nparts, 4);
  ck_assert (c->had_extended);
  ck_assert_uint_eq (c->gap, 63 * 512);
  ck_assert_uint_eq (c->esp_start, 64 * LF_MiB / 512);
  ck_assert_uint_eq (c->new_size, 64 * LF_MiB + LF_ESP_SIZE + LF_MiB);
  ck_assert_uint_eq (c->esp_number, 3);
  void *gap = read_gap (c);

  ck_assert_msg (lf_gpt_conv_apply (c, false) == 0, "%s", lf_last_error ());
  ck_assert_uint_eq (file_size (img), c->new_size);
  ck_assert_uint_eq (file_size (img) % LF_MiB, 0);
  static const struct { unsigned n; uint64_t start, size; const char *type; } want[] = {
    { 1, 63, 20417, "0FC63DAF-8483-4772-8E79-3D69D8477DE4" },
    { 2, 20480, 8192, "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" },
    { 5, 30720, 10240, "E6D6D379-F507-44C2-A23C-238F2A3DF928" },
    { 6, 43008, 64 * 2048 - 43008, "0FC63DAF-8483-4772-8E79-3D69D8477DE4" },
    { 3, 64 * 2048, LF_ESP_SIZE / 512, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" },
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    uint64_t s, z;
    char t[64];
    gpt_part (img, want[i].n, &s, &z, t, sizeof t);
    ck_assert_msg (s == want[i].start && z == want[i].size,
                   "partition %u: %llu+%llu", want[i].n,
                   (unsigned long long) s, (unsigned long long) z);
    ck_assert_str_eq (t, want[i].type);
  }
  /* Inside the partitions nothing moved. */
  snprintf (cmd, sizeof cmd, "cmp -i %d -n %d %s %s", 63 * 512,
            (64 * 2048 - 63) * 512, img, orig);
  sh (cmd);
  /* No BIOS boot code left to jump into a core.img that is gone. */
  {
    uint8_t s0[512];
    int fd = open (img, O_RDONLY);
    ck_assert_int_eq (pread (fd, s0, 512, 0), 512);
    close (fd);
    ck_assert (lf_is_zero (s0, 440));
    ck_assert_uint_eq (s0[450], 0xee);
  }

  /* Undo: byte for byte, size included. */
  json_t *m = record (c, NULL);
  ck_assert_int_eq (lf_gpt_conv_undo (img, m, gap, c->gap), 0);
  ck_assert_uint_eq (file_size (img), 64 * LF_MiB);
  snprintf (cmd, sizeof cmd, "cmp %s %s", img, orig);
  sh (cmd);
  /* A second undo finds the MBR disk as it was and leaves it so. */
  ck_assert_int_eq (lf_gpt_conv_undo (img, m, gap, c->gap), 0);
  sh (cmd);
  json_decref (m);
  free (gap);
  lf_gpt_conv_free (c);
}
END_TEST

START_TEST (test_vhd_footer_moves)
{
  make_mbr ("2048,,83,*\n", 40);
  int fd = open (img, O_RDWR);
  uint8_t f[512];
  static const uint8_t uuid[16] = { 1, 2, 3 };
  lf_vhd_make_fixed_footer (f, 40 * LF_MiB, uuid, 12345);
  ck_assert_int_eq (pwrite (fd, f, 512, 40 * LF_MiB), 512);
  close (fd);
  char cmd[512], hex[1025];
  for (int i = 0; i < 512; i++)
    snprintf (hex + 2 * i, 3, "%02x", f[i]);
  snprintf (cmd, sizeof cmd, "cp --sparse=always %s %s", img, orig);
  sh (cmd);

  struct lf_gpt_conv *c = calloc (1, sizeof *c);
  ck_assert_int_eq (lf_gpt_conv_plan (img, true, 40 * LF_MiB, c), 0);
  void *gap = read_gap (c);
  ck_assert_msg (lf_gpt_conv_apply (c, false) == 0, "%s", lf_last_error ());
  ck_assert_uint_eq (file_size (img), c->new_size + 512);
  struct lf_disk *d = lf_disk_open (img, "vhd");
  ck_assert_msg (d != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (lf_disk_subformat (d), "fixed");
  ck_assert_uint_eq (lf_disk_size (d), c->new_size);
  ck_assert_uint_eq (lf_disk_size (d) % LF_MiB, 0);
  lf_disk_close (d);

  json_t *m = record (c, hex);
  ck_assert_int_eq (lf_gpt_conv_undo (img, m, gap, c->gap), 0);
  snprintf (cmd, sizeof cmd, "cmp %s %s", img, orig);
  sh (cmd);
  json_decref (m);
  free (gap);
  lf_gpt_conv_free (c);
}
END_TEST

START_TEST (test_refusals)
{
  struct lf_gpt_conv *c = calloc (1, sizeof *c);

  /* Where GPT's header and entries go. */
  make_mbr ("32,4000,83\n", 8);
  ck_assert_int_eq (lf_gpt_conv_plan (img, false, 8 * LF_MiB, c), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "partition 1 starts at "
                                 "sector 32, inside where GPT's header"));
  /* A type with no GPT equivalent, named. */
  make_mbr ("2048,4000,a5\n", 8);
  ck_assert_int_eq (lf_gpt_conv_plan (img, false, 8 * LF_MiB, c), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "MBR type 0xa5"));
  /* Nothing to grow. */
  ck_assert_int_eq (lf_gpt_conv_plan ("/dev/null", false, 0, c), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "not a regular file"));
  /* A GPT disk already. */
  {
    char cmd[512];
    snprintf (cmd, sizeof cmd, "truncate -s 8M %s.g && printf 'label: gpt\\n"
              "2048,,L\\n' | sfdisk -q %s.g >/dev/null", img, img);
    sh (cmd);
    snprintf (cmd, sizeof cmd, "%s.g", img);
    ck_assert_int_eq (lf_gpt_conv_plan (cmd, false, 8 * LF_MiB, c), -1);
    ck_assert_ptr_nonnull (strstr (lf_last_error (), "not an MBR"));
  }
  /* The image file must be what the caller says (a VHD's footer). */
  make_mbr ("2048,4000,83\n", 8);
  ck_assert_int_eq (lf_gpt_conv_plan (img, true, 8 * LF_MiB, c), -1);

  /* 128 partitions leave no entry for the ESP. */
  struct lf_gpt_part parts[128];
  for (unsigned i = 0; i < 128; i++)
    parts[i] = (struct lf_gpt_part) { .number = i + 1, .start = 2048 + i * 8,
                                      .size = 8, .mbr_type = 0x83 };
  ck_assert_int_eq (lf_gpt_conv_check (parts, 128, LF_GiB, "d"), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "at most 127"));
  ck_assert_int_eq (lf_gpt_conv_check (parts, 127, LF_GiB, "d"), 0);
  parts[0].start = 34;                  /* GPT's first usable sector */
  ck_assert_int_eq (lf_gpt_conv_check (parts, 127, LF_GiB, "d"), 0);
  parts[0].start = 33;
  ck_assert_int_eq (lf_gpt_conv_check (parts, 127, LF_GiB, "d"), -1);
  parts[0].start = 2048;
  parts[3].start = 1;
  ck_assert_int_eq (lf_gpt_conv_check (parts, 127, LF_GiB, "d"), -1);
  parts[3].start = LF_GiB / 512;
  ck_assert_int_eq (lf_gpt_conv_check (parts, 127, LF_GiB, "d"), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "does not fit"));
  lf_gpt_conv_free (c);
}
END_TEST

START_TEST (test_grub_cfg_uefi)
{
  static const char in[] =
    "menuentry 'x' {\n\tlinux16 /vmlinuz root=UUID=1 ro\n"
    "\tinitrd16 /initrd.img\n}\n# linux16 in a comment\n"
    "  linux /vmlinuz\nlinux16x keep\n";
  static const char want[] =
    "menuentry 'x' {\n\tlinux /vmlinuz root=UUID=1 ro\n"
    "\tinitrd /initrd.img\n}\n# linux16 in a comment\n"
    "  linux /vmlinuz\nlinux16x keep\n";
  unsigned n;
  char *out = lf_grub_cfg_uefi (in, strlen (in), &n);
  ck_assert_str_eq (out, want);
  ck_assert_uint_eq (n, 2);
  free (out);
  out = lf_grub_cfg_uefi (want, strlen (want), &n);
  ck_assert_str_eq (out, want);
  ck_assert_uint_eq (n, 0);
  free (out);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("gpt-convert");
  TCase *tc = tcase_create ("gpt-convert");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_convert_keeps_partitions);
  tcase_add_test (tc, test_vhd_footer_moves);
  tcase_add_test (tc, test_refusals);
  tcase_add_test (tc, test_grub_cfg_uefi);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
