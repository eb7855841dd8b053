/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for guest/guestfs.c that launch nothing: device names, the
 * KVM override, argument checks, and the stubs of a build without
 * libguestfs.
 *
 * LANDFALL_TEST_GUESTFS_RW=IMG adds one live test (one appliance launch,
 * 15-35 s under TCG) of every filesystem operation, writable, on XFS
 * partition 1 of IMG, a scratch raw image such as a copy of
 * tests/fixtures/xfs-lvm.sh's: IMG is modified.  make check does not set it.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/guest.h"

START_TEST (test_parse_device)
{
  size_t disk;
  unsigned part;
  char lv[64];

  ck_assert_int_eq (lf_guestfs_parse_device ("/dev/sda", &disk, &part, lv, sizeof lv), 0);
  ck_assert_uint_eq (disk, 0);
  ck_assert_uint_eq (part, 0);
  ck_assert_str_eq (lv, "");
  ck_assert_int_eq (lf_guestfs_parse_device ("/dev/sdb12", &disk, &part, lv, sizeof lv), 0);
  ck_assert_uint_eq (disk, 1);
  ck_assert_uint_eq (part, 12);
  ck_assert_int_eq (lf_guestfs_parse_device ("/dev/sdz", &disk, &part, lv, sizeof lv), 0);
  ck_assert_uint_eq (disk, 25);
  ck_assert_int_eq (lf_guestfs_parse_device ("/dev/sdab3", &disk, &part, lv, sizeof lv), 0);
  ck_assert_uint_eq (disk, 27);
  ck_assert_uint_eq (part, 3);
  ck_assert_int_eq (lf_guestfs_parse_device ("/dev/rhel/root", &disk, &part, lv, sizeof lv), 0);
  ck_assert_uint_eq (disk, SIZE_MAX);
  ck_assert_str_eq (lv, "rhel/root");

  static const char *const bad[] = {
    "/dev/mapper/luks-1", "/dev/md127", "/dev/sd", "/dev/sda0", "/dev/sda1x",
    "/dev/sdzzzz1", "/dev/vg/lv/x", "sda1", "/dev//lv", "/dev/vg/", "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_msg (lf_guestfs_parse_device (bad[i], &disk, &part, lv, sizeof lv) == -1,
                   "%s was accepted", bad[i]);
    ck_assert_int_eq (lf_last_errno (), EINVAL);
  }
  /* An LV name longer than the buffer is refused, not cut. */
  ck_assert_int_eq (lf_guestfs_parse_device ("/dev/vg/lv", &disk, &part, lv, 5), -1);
}
END_TEST

START_TEST (test_kvm_override)
{
  const char *why = NULL;
  char *old = getenv ("LANDFALL_KVM") ? strdup (getenv ("LANDFALL_KVM")) : NULL;

  setenv ("LANDFALL_KVM", "0", 1);
  ck_assert (!lf_kvm_works (&why));
  ck_assert_ptr_nonnull (strstr (why, "LANDFALL_KVM=0"));
  setenv ("LANDFALL_KVM", "1", 1);
  ck_assert (lf_kvm_works (&why));
  ck_assert_ptr_nonnull (strstr (why, "LANDFALL_KVM=1"));
  unsetenv ("LANDFALL_KVM");
  bool ok = lf_kvm_works (&why);
  ck_assert_ptr_nonnull (why);
  ck_assert (*why);
  /* The probe runs once; a second answer is the same. */
  ck_assert (lf_kvm_works (NULL) == ok);
  printf ("KVM on this machine: %s (%s)\n", ok ? "works" : "does not work", why);
  if (old)
    setenv ("LANDFALL_KVM", old, 1);
  free (old);
}
END_TEST

START_TEST (test_handle_checks)
{
  struct lf_guestfs *h = lf_guestfs_new ();

  if (!lf_guestfs_available ()) {
    ck_assert_ptr_null (h);
    ck_assert_int_eq (lf_last_errno (), ENOTSUP);
    ck_assert_ptr_nonnull (strstr (lf_last_error (), "built without libguestfs"));
    ck_assert_ptr_null (lf_fs_open_guestfs (NULL, "/dev/sda1", false));
    ck_assert_ptr_nonnull (strstr (lf_last_error (), "built without libguestfs"));
    lf_guestfs_close (NULL);
    return;
  }
  ck_assert_ptr_nonnull (h);
  /* No disk: nothing to launch, and no 30 s spent finding out. */
  ck_assert_int_eq (lf_guestfs_launch (h), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_int_eq (lf_guestfs_add_disk (h, "/x.ova", "ova", true), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTSUP);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "ova"));
  char path[] = "/tmp/landfall-test-guestfs.XXXXXX";
  int fd = mkstemp (path);
  ck_assert_int_ne (fd, -1);
  close (fd);
  ck_assert_msg (lf_guestfs_add_disk (h, path, "raw", true) == 0, "%s",
                 lf_last_error ());
  unlink (path);
  /* Writable over a read-only disk would write into an overlay. */
  ck_assert_ptr_null (lf_fs_open_guestfs (h, "/dev/sda", true));
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_ptr_null (lf_guestfs_open_luks (h, "/dev/sda", "key", "bad name"));
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  lf_guestfs_close (h);
  lf_guestfs_close (NULL);
}
END_TEST

/* The live test: every operation on a writable XFS. */
START_TEST (test_live_rw)
{
  const char *img = getenv ("LANDFALL_TEST_GUESTFS_RW");
  struct lf_guestfs *h;
  struct lf_fs *fs;
  struct lf_stat st;
  char *buf = NULL, *target = NULL, **names = NULL;
  size_t len;

  if (!img || !*img || !lf_guestfs_available ())
    return;
  h = lf_guestfs_new ();
  ck_assert_ptr_nonnull (h);
  ck_assert_int_eq (lf_guestfs_add_disk (h, img, "raw", false), 0);
  fs = lf_fs_open_guestfs (h, "/dev/sda1", true);
  ck_assert_msg (fs != NULL, "%s", lf_last_error ());
  lf_guestfs_close (h);         /* fs keeps the appliance */
  ck_assert_str_eq (fs->ops->name, "guestfs");

  /* New file with its mode, then replaced keeping mode and owner. */
  ck_assert_int_eq (fs->ops->mkdir (fs, "/lf-test", 0750), 0);
  ck_assert_int_eq (fs->ops->lstat (fs, "/lf-test", &st), 0);
  ck_assert (S_ISDIR (st.mode));
  ck_assert_uint_eq (st.mode & 07777, 0750);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/lf-test/a", "one\n", 4, 0600), 0);
  ck_assert_int_eq (fs->ops->lstat (fs, "/lf-test/a", &st), 0);
  ck_assert_uint_eq (st.mode & 07777, 0600);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/lf-test/a", "two two\n", 8, 0644), 0);
  ck_assert_int_eq (fs->ops->lstat (fs, "/lf-test/a", &st), 0);
  ck_assert_uint_eq (st.mode & 07777, 0600);
  ck_assert_uint_eq (st.size, 8);
  ck_assert_int_eq (fs->ops->read (fs, "/lf-test/a", 100, &buf, &len), 0);
  ck_assert_uint_eq (len, 8);
  ck_assert_str_eq (buf, "two two\n");
  free (buf);
  ck_assert_int_eq (fs->ops->read (fs, "/lf-test/a", 7, &buf, &len), -1);
  ck_assert_int_eq (lf_last_errno (), EFBIG);
  /* Bigger than one protocol message (4 MiB). */
  size_t big = 6u << 20;
  char *data = malloc (big);
  ck_assert_ptr_nonnull (data);
  for (size_t i = 0; i < big; i++)
    data[i] = (char) ('a' + i % 26);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/lf-test/big", data, big, 0644), 0);
  ck_assert_int_eq (fs->ops->read (fs, "/lf-test/big", big, &buf, &len), 0);
  ck_assert_uint_eq (len, big);
  ck_assert (memcmp (buf, data, big) == 0);
  free (buf);
  free (data);

  ck_assert_int_eq (fs->ops->symlink (fs, "../etc/shadow", "/lf-test/l"), 0);
  ck_assert_int_eq (fs->ops->readlink (fs, "/lf-test/l", &target), 0);
  ck_assert_str_eq (target, "../etc/shadow");
  free (target);
  ck_assert_int_eq (fs->ops->rename (fs, "/lf-test/a", "/lf-test/b"), 0);
  ck_assert_int_eq (fs->ops->list (fs, "/lf-test", &names), 0);
  ck_assert_str_eq (names[0], "b");
  ck_assert_str_eq (names[1], "big");
  ck_assert_str_eq (names[2], "l");
  ck_assert_ptr_null (names[3]);    /* no temporary left behind */
  lf_free_names (names);
  ck_assert_int_eq (fs->ops->remove (fs, "/lf-test/l"), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/lf-test/b"), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/lf-test/big"), 0);
  ck_assert_int_eq (fs->ops->lstat (fs, "/lf-test/b", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (fs->ops->remove (fs, "/lf-test"), 0);
  ck_assert_int_eq (fs->ops->read (fs, "/../etc/passwd", 100, &buf, &len), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_int_eq (fs->ops->sync (fs), 0);
  lf_fs_close (fs);
}
END_TEST

/* fstab's subvol=/subvolid= to the subvolume entry inspection made (a
 * guest as lf_guest_open_guestfs leaves one: a device, the default, and
 * its other subvolumes; SUSE's layout, with a second btrfs on partition 2).
 */
START_TEST (test_btrfs_subvol)
{
  struct lf_guest_fs fss[6];
  struct lf_guest g = { .nfs = 6, .fss = fss };
  static const struct { unsigned part; const char *sv; uint64_t id; bool def; } v[] = {
    { 1, "@/.snapshots/1/snapshot", 260, true },
    { 1, "@", 256, false }, { 1, "@/home", 259, false },
    { 1, "@/.snapshots", 257, false },
    { 2, "", 5, true }, { 2, "@data", 256, false },
  };
  memset (fss, 0, sizeof fss);
  for (size_t i = 0; i < 6; i++) {
    fss[i].part = v[i].part;
    strcpy (fss[i].info.type, "btrfs");
    strcpy (fss[i].info.uuid, v[i].part == 1 ? "u1" : "u2");
    strcpy (fss[i].subvol, v[i].sv);
    fss[i].subvolid = v[i].id;
    fss[i].subvol_default = v[i].def;
  }
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[0], "defaults"), &fss[0]);
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[0], "subvol=/@/home"), &fss[2]);
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[0], "noatime,subvol=@/home,compress=zstd"), &fss[2]);
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[2], "subvol=@"), &fss[1]);
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[0], "subvolid=257"), &fss[3]);
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[0], "subvol=/@/.snapshots,subvolid=257"), &fss[3]);
  /* The other volume's: its own default (the top level) and subvolumes. */
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[5], ""), &fss[4]);
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[4], "subvolid=5"), &fss[4]);
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[4], "subvol=/"), &fss[4]);
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[4], "subvol=@data"), &fss[5]);
  /* What was not opened (snapshots), or contradicts itself: none. */
  static const char *const none[] = {
    "subvol=@/.snapshots/2/snapshot", "subvol=@/var", "subvolid=258",
    "subvol=@/home,subvolid=256", "subvolid=x", "subvolid=",
  };
  for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
    ck_assert_msg (lf_guest_btrfs_subvol (&g, &fss[0], none[i]) == NULL,
                   "%s matched", none[i]);
    ck_assert_int_eq (lf_last_errno (), EINVAL);
    ck_assert_msg (strstr (lf_last_error (), "u1") != NULL, "%s", lf_last_error ());
  }
  /* Not btrfs: itself. */
  strcpy (fss[5].info.type, "xfs");
  ck_assert_ptr_eq (lf_guest_btrfs_subvol (&g, &fss[5], "subvol=@x"), &fss[5]);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("guestfs");
  TCase *tc = tcase_create ("guestfs");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_parse_device);
  tcase_add_test (tc, test_btrfs_subvol);
  tcase_add_test (tc, test_kvm_override);
  tcase_add_test (tc, test_handle_checks);
  tcase_add_test (tc, test_live_rw);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
