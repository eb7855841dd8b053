/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for guest/mdraid.c and the md checks of guest/inspect.c.
 *
 * The host kernel has no md driver, so mdadm cannot make arrays here (the
 * fixture debian12-md makes them in a libguestfs appliance, and
 * tests/test-fix-md.sh reads those).  These images carry superblocks laid
 * out as the kernel's struct mdp_superblock_1 and mdp_super_t
 * (include/uapi/linux/raid/md_p.h), written field by field.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/guest.h"

#define SIZE (8 * 1024 * 1024)
static char dir[] = "/tmp/landfall-test-mdraid-XXXXXX";
static const uint8_t uuid[16] = { 0x6a, 0x1f, 0x0c, 0x2e, 0x3b, 0x4d, 0x5e,
  0x6f, 0x7a, 0x8b, 0x9c, 0x0d, 0x1e, 0x2f, 0x3a, 0x46 };

/* A whole-disk member image NAME of a 1.x array, superblock at SB_OFF. */
static char *
member_1x (const char *name, uint64_t sb_off, uint32_t level,
           uint32_t raid_disks, uint32_t role, uint64_t data_off)
{
  static uint8_t sb[4096];
  char *path;
  int fd;

  memset (sb, 0, sizeof sb);
  lf_put_le32 (sb, 0xa92b4efc);
  lf_put_le32 (sb + 4, 1);
  memcpy (sb + 16, uuid, 16);
  snprintf ((char *) sb + 32, 32, "vmdebmd:0");
  lf_put_le32 (sb + 72, level);
  lf_put_le32 (sb + 92, raid_disks);
  lf_put_le64 (sb + 128, data_off / 512);
  lf_put_le64 (sb + 136, (SIZE - data_off - 65536) / 512);
  lf_put_le64 (sb + 144, sb_off / 512);
  lf_put_le32 (sb + 160, role);
  lf_put_le32 (sb + 220, raid_disks < 64 ? raid_disks : 64);
  for (uint32_t i = 0; i < raid_disks && i < (4096 - 256) / 2; i++)
    lf_put_le16 (sb + 256 + 2 * i, (uint16_t) i);
  ck_assert (asprintf (&path, "%s/%s", dir, name) > 0);
  fd = open (path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  ck_assert (fd >= 0);
  ck_assert (ftruncate (fd, SIZE) == 0);
  ck_assert (lf_pwrite_all (fd, sb, sizeof sb, sb_off) == 0);
  close (fd);
  return path;
}

static int
probe (const char *path, struct lf_md_member *m)
{
  struct lf_disk *d = lf_disk_open (path, "raw");
  ck_assert (d);
  struct lf_blockdev *bd = lf_bd_new_disk (d, false, path);
  ck_assert (bd);
  int r = lf_md_probe (bd, m);
  lf_bd_free (bd);
  lf_disk_close (d);
  return r;
}

START_TEST (test_v12)
{
  struct lf_md_member m;
  char *p = member_1x ("a.img", 4096, 1, 2, 1, 1024 * 1024);
  char lvl[32];

  ck_assert_int_eq (probe (p, &m), 1);
  ck_assert_str_eq (m.metadata, "1.2");
  ck_assert_str_eq (m.uuid, "6a1f0c2e-3b4d-5e6f-7a8b-9c0d1e2f3a46");
  ck_assert_str_eq (m.name, "md0");
  ck_assert_str_eq (lf_md_level_name (&m, lvl, sizeof lvl), "RAID1");
  ck_assert_int_eq (m.raid_disks, 2);
  ck_assert_int_eq (m.role, 1);
  ck_assert_int_eq (m.data_offset, 1024 * 1024);
  free (p);
}
END_TEST

START_TEST (test_v10_at_end)
{
  struct lf_md_member m;
  uint64_t off = ((SIZE / 512 - 16) & ~(uint64_t) 7) * 512;
  char *p = member_1x ("b.img", off, 1, 2, 0, 0);

  ck_assert_int_eq (probe (p, &m), 1);
  ck_assert_str_eq (m.metadata, "1.0");
  ck_assert_int_eq (m.data_offset, 0);
  free (p);
}
END_TEST

START_TEST (test_not_a_member)
{
  struct lf_md_member m;
  char *p = member_1x ("c.img", 4096, 1, 2, 0, 1024 * 1024);
  int fd = open (p, O_RDWR);
  /* A superblock whose super_offset names another place: a stale copy. */
  uint8_t v[8];
  lf_put_le64 (v, 99);
  ck_assert (lf_pwrite_all (fd, v, 8, 4096 + 144) == 0);
  close (fd);
  ck_assert_int_eq (probe (p, &m), 0);
  free (p);
}
END_TEST

START_TEST (test_hostile)
{
  struct lf_md_member m;
  char *p = member_1x ("d.img", 4096, 1, 100000, 0, 1024 * 1024);
  ck_assert_int_eq (probe (p, &m), -1);
  ck_assert_msg (strstr (lf_last_error (), "100000 raid disks"), "%s",
                 lf_last_error ());
  free (p);
  /* Data past the device's end. */
  p = member_1x ("e.img", 4096, 1, 2, 0, (uint64_t) SIZE * 4);
  ck_assert_int_eq (probe (p, &m), -1);
  ck_assert_msg (strstr (lf_last_error (), "past the device"), "%s",
                 lf_last_error ());
  free (p);
  /* A device number past the role table. */
  p = member_1x ("f.img", 4096, 1, 2, 5000, 1024 * 1024);
  ck_assert_int_eq (probe (p, &m), -1);
  ck_assert_msg (strstr (lf_last_error (), "device number 5000"), "%s",
                 lf_last_error ());
  free (p);
}
END_TEST

/* Both members: the array is whole; one: refused when opened writable
 * (naming it), recorded when read-only.
 */
START_TEST (test_guest_members)
{
  char *a = member_1x ("m0.img", 4096, 1, 2, 0, 1024 * 1024);
  char *b = member_1x ("m1.img", 4096, 1, 2, 1, 1024 * 1024);
  const char *both[] = { a, b };

  struct lf_guest *g = lf_guest_open (both, 2, true);
  ck_assert_msg (g, "%s", lf_last_error ());
  ck_assert_int_eq (g->nmd, 1);
  ck_assert_int_eq (g->md[0].present, 2);
  ck_assert_int_eq (g->md[0].disks, 3);
  ck_assert_int_eq (lf_guest_md_check (g), 0);
  ck_assert_ptr_null (g->fss[0].fs);
  ck_assert_str_eq (g->fss[0].info.type, "linux_raid_member");
  lf_guest_close (g);

  ck_assert_ptr_null (lf_guest_open (both, 1, true));
  ck_assert_msg (strstr (lf_last_error (), "md0 is a RAID1 of 2 members; "
                         "1 given: "), "%s", lf_last_error ());
  ck_assert_msg (strstr (lf_last_error (), "m0.img (member 0); missing: "
                         "member 1"), "%s", lf_last_error ());
  g = lf_guest_open (both + 1, 1, false);
  ck_assert_msg (g, "%s", lf_last_error ());
  ck_assert_int_eq (lf_guest_md_check (g), -1);
  lf_guest_close (g);
  free (a);
  free (b);
}
END_TEST

int
main (void)
{
  if (!mkdtemp (dir)) {
    perror ("mkdtemp");
    return EXIT_FAILURE;
  }
  Suite *s = suite_create ("mdraid");
  TCase *tc = tcase_create ("mdraid");
  tcase_add_test (tc, test_v12);
  tcase_add_test (tc, test_v10_at_end);
  tcase_add_test (tc, test_not_a_member);
  tcase_add_test (tc, test_hostile);
  tcase_add_test (tc, test_guest_members);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  if (system (cmd) != 0)
    failed++;
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
