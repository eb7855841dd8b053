/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for path resolution (fs.c) and the mounted-tree backend:
 * guest symlinks must never reach host files.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/guest.h"

static char root[64], boot[64];
static struct lf_fs *rootfs, *bootfs;
static struct lf_mounts ms;

static void
put (const char *dir, const char *path, const char *content)
{
  char p[512];
  snprintf (p, sizeof p, "%s%s", dir, path);
  FILE *fp = fopen (p, "w");
  ck_assert_ptr_nonnull (fp);
  fputs (content, fp);
  fclose (fp);
}

static void
link_ (const char *dir, const char *target, const char *path)
{
  char p[512];
  snprintf (p, sizeof p, "%s%s", dir, path);
  ck_assert_int_eq (symlink (target, p), 0);
}

static void
setup (void)
{
  char cmd[512];
  strcpy (root, "/tmp/landfall-tree-XXXXXX");
  strcpy (boot, "/tmp/landfall-boot-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (root));
  ck_assert_ptr_nonnull (mkdtemp (boot));
  snprintf (cmd, sizeof cmd, "mkdir -p %s/etc/sub %s/boot %s/var %s/grub",
            root, root, root, boot);
  ck_assert_int_eq (system (cmd), 0);
  put (root, "/etc/shadow", "guest shadow\n");
  put (root, "/etc/hostname", "web01\n");
  put (boot, "/grub/grub.cfg", "set timeout=5\n");
  /* The escapes a hostile guest could plant. */
  link_ (root, "/../../etc/shadow", "/etc/fstab");
  link_ (root, "../../../../../../etc/shadow", "/etc/rel-escape");
  link_ (root, "sub/../hostname", "/etc/hn");
  link_ (root, "/etc/loop2", "/etc/loop1");
  link_ (root, "/etc/loop1", "/etc/loop2");
  link_ (root, "/boot/grub", "/etc/grubdir");
  link_ (root, "/", "/etc/rootlink");
  rootfs = lf_fs_open_tree (root, true);
  bootfs = lf_fs_open_tree (boot, true);
  ck_assert_ptr_nonnull (rootfs);
  ck_assert_ptr_nonnull (bootfs);
  memset (&ms, 0, sizeof ms);
  ck_assert_int_eq (lf_mounts_add (&ms, "/", rootfs), 0);
  ck_assert_int_eq (lf_mounts_add (&ms, "/boot", bootfs), 0);
}

static void
teardown (void)
{
  char cmd[512];
  lf_mounts_free (&ms);
  lf_fs_close (rootfs);
  lf_fs_close (bootfs);
  snprintf (cmd, sizeof cmd, "rm -rf %s %s", root, boot);
  ck_assert_int_eq (system (cmd), 0);
}

static char *
read_str (const char *path)
{
  char *buf = NULL;
  size_t len;
  if (lf_guest_read (&ms, path, 1 << 20, &buf, &len) == -1)
    return NULL;
  return buf;
}

START_TEST (test_escape_absolute)
{
  /* /etc/fstab -> /../../etc/shadow names the guest's shadow. */
  CLEANUP_FREE char *s = read_str ("/etc/fstab");
  ck_assert_ptr_nonnull (s);
  ck_assert_str_eq (s, "guest shadow\n");
}
END_TEST

START_TEST (test_escape_relative)
{
  CLEANUP_FREE char *s = read_str ("/etc/rel-escape");
  ck_assert_ptr_nonnull (s);
  ck_assert_str_eq (s, "guest shadow\n");
  CLEANUP_FREE char *t = read_str ("/../../../etc/hostname");
  ck_assert_str_eq (t, "web01\n");
}
END_TEST

START_TEST (test_dotdot_through_dir)
{
  CLEANUP_FREE char *s = read_str ("/etc/hn");
  ck_assert_str_eq (s, "web01\n");
}
END_TEST

START_TEST (test_loop)
{
  ck_assert_ptr_null (read_str ("/etc/loop1"));
  ck_assert_int_eq (lf_last_errno (), ELOOP);
}
END_TEST

START_TEST (test_cross_mount)
{
  /* A link on / into the separate /boot filesystem. */
  CLEANUP_FREE char *s = read_str ("/etc/grubdir/grub.cfg");
  ck_assert_str_eq (s, "set timeout=5\n");
  CLEANUP_FREE char *t = read_str ("/boot/grub/grub.cfg");
  ck_assert_str_eq (t, "set timeout=5\n");
  CLEANUP_FREE char *u = read_str ("/etc/rootlink/etc/rootlink/etc/hostname");
  ck_assert_str_eq (u, "web01\n");
}
END_TEST

START_TEST (test_lstat_readlink)
{
  struct lf_stat st;
  ck_assert_int_eq (lf_guest_lstat (&ms, "/etc/fstab", &st), 0);
  ck_assert (S_ISLNK (st.mode));
  ck_assert_int_eq (lf_guest_stat (&ms, "/etc/fstab", &st), 0);
  ck_assert (S_ISREG (st.mode));
  ck_assert_uint_eq (st.size, 13);
  CLEANUP_FREE char *t = NULL;
  ck_assert_int_eq (lf_guest_readlink (&ms, "/etc/fstab", &t), 0);
  ck_assert_str_eq (t, "/../../etc/shadow");
  ck_assert_int_eq (lf_guest_stat (&ms, "/etc/missing", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (lf_guest_stat (&ms, "/etc/hostname/x", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTDIR);
}
END_TEST

START_TEST (test_list)
{
  char **names = NULL;
  ck_assert_int_eq (lf_guest_list (&ms, "/boot", &names), 0);
  ck_assert_str_eq (names[0], "grub");
  ck_assert_ptr_null (names[1]);
  lf_free_names (names);
}
END_TEST

START_TEST (test_write_through_link)
{
  /* Writing "/etc/fstab" replaces the file it resolves to, inside the
   * guest, and the backend itself refuses paths with symlinks in them.
   */
  struct lf_fs *fs;
  CLEANUP_FREE char *p = NULL;
  ck_assert_int_eq (lf_mounts_resolve (&ms, "/etc/fstab", true, &fs, &p), 0);
  ck_assert_str_eq (p, "/etc/shadow");
  ck_assert_int_eq (fs->ops->write_atomic (fs, p, "new\n", 4, 0644), 0);
  CLEANUP_FREE char *s = read_str ("/etc/shadow");
  ck_assert_str_eq (s, "new\n");
  /* Direct backend use with a symlink in the path is refused. */
  char *buf = NULL;
  size_t len;
  ck_assert_int_eq (rootfs->ops->read (rootfs, "/etc/rootlink/etc/hostname",
                                       100, &buf, &len), -1);
  ck_assert_int_eq (rootfs->ops->read (rootfs, "/etc/fstab", 100, &buf, &len),
                    -1);
}
END_TEST

START_TEST (test_write_ops)
{
  struct lf_stat st;
  char path[512];
  ck_assert_int_eq (rootfs->ops->write_atomic (rootfs, "/etc/hostname", "db01\n",
                                               5, 0600), 0);
  snprintf (path, sizeof path, "%s/etc/hostname", root);
  struct stat s;
  ck_assert_int_eq (stat (path, &s), 0);
  ck_assert_uint_eq (s.st_mode & 0777, 0644);     /* existing mode kept */
  ck_assert_int_eq (rootfs->ops->mkdir (rootfs, "/var/lib", 0755), 0);
  ck_assert_int_eq (rootfs->ops->write_atomic (rootfs, "/var/lib/x", "1", 1, 0600), 0);
  ck_assert_int_eq (rootfs->ops->lstat (rootfs, "/var/lib/x", &st), 0);
  ck_assert_uint_eq (st.mode & 0777, 0600);
  ck_assert_int_eq (rootfs->ops->rename (rootfs, "/var/lib/x", "/var/lib/y"), 0);
  ck_assert_int_eq (rootfs->ops->remove (rootfs, "/var/lib/y"), 0);
  ck_assert_int_eq (rootfs->ops->remove (rootfs, "/var/lib"), 0);
  ck_assert_int_eq (rootfs->ops->symlink (rootfs, "/x", "/var/l"), 0);
  ck_assert_int_eq (rootfs->ops->remove (rootfs, "/var/l"), 0);
  ck_assert_int_eq (rootfs->ops->lstat (rootfs, "/var/lib", &st), -1);
}
END_TEST

START_TEST (test_readonly)
{
  struct lf_fs *ro = lf_fs_open_tree (root, false);
  struct lf_stat st;
  /* Every write refused with EROFS, nothing created. */
  ck_assert_int_eq (ro->ops->write_atomic (ro, "/ro-file", "x", 1, 0644), -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_int_eq (ro->ops->mkdir (ro, "/ro-dir", 0755), -1);
  ck_assert_int_eq (ro->ops->symlink (ro, "/x", "/ro-link"), -1);
  ck_assert_int_eq (ro->ops->remove (ro, "/etc"), -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_int_eq (ro->ops->lstat (ro, "/ro-file", &st), -1);
  ck_assert_int_eq (ro->ops->lstat (ro, "/ro-dir", &st), -1);
  ck_assert_int_eq (ro->ops->lstat (ro, "/etc", &st), 0);
  lf_fs_close (ro);
  ck_assert_ptr_null (lf_fs_open_tree ("/nonexistent/landfall", false));
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "/nonexistent/landfall"));
}
END_TEST

START_TEST (test_bad_paths)
{
  struct lf_fs *fs;
  char *p = NULL;
  ck_assert_int_eq (lf_mounts_resolve (&ms, "relative", true, &fs, &p), -1);
  char deep[5000];
  memset (deep, '/', sizeof deep - 1);
  deep[sizeof deep - 1] = '\0';
  ck_assert_int_eq (lf_mounts_resolve (&ms, deep, true, &fs, &p), -1);
}
END_TEST

/* Absence is a result of the _opt readers, not a recorded error (-v
 * printed every "error recorded" a reader then cleared); real errors
 * still are errors.
 */
START_TEST (test_absence)
{
  char *buf = NULL, *target = NULL;
  char **names = NULL;
  size_t len;
  struct lf_stat st;

  link_ (root, "/nowhere", "/etc/dangling");
  lf_error_clear ();
  ck_assert (!lf_guest_exists (&ms, "/etc/nope"));
  ck_assert (!lf_guest_exists (&ms, "/no/dir/at/all"));
  ck_assert (!lf_guest_exists (&ms, "/etc/dangling"));
  ck_assert_int_eq (lf_guest_read_opt (&ms, "/etc/nope", 100, &buf, &len), 0);
  ck_assert_int_eq (lf_guest_read_opt (&ms, "/nodir/x", 100, &buf, &len), 0);
  ck_assert_int_eq (lf_guest_list_opt (&ms, "/etc/nosuch", &names), 0);
  ck_assert_int_eq (lf_guest_stat_opt (&ms, "/etc/dangling", &st), 0);
  ck_assert_int_eq (lf_guest_readlink_opt (&ms, "/etc/nope", &target), 0);
  ck_assert_int_eq (rootfs->ops->lookup (rootfs, "/etc/nope", &st), 0);
  ck_assert_int_eq (rootfs->ops->lookup (rootfs, "/nodir/x", &st), 0);
  ck_assert_ptr_null (buf);
  ck_assert_ptr_null (names);
  ck_assert_ptr_null (target);
  ck_assert_int_eq (lf_last_errno (), 0);
  ck_assert_str_eq (lf_last_error (), "unknown error");

  /* Found. */
  ck_assert_int_eq (lf_guest_lstat_opt (&ms, "/etc/dangling", &st), 1);
  ck_assert (S_ISLNK (st.mode));
  ck_assert_int_eq (lf_guest_readlink_opt (&ms, "/etc/dangling", &target), 1);
  ck_assert_str_eq (target, "/nowhere");
  free (target);
  ck_assert_int_eq (lf_guest_read_opt (&ms, "/etc/hn", 100, &buf, &len), 1);
  ck_assert_str_eq (buf, "web01\n");
  free (buf);
  ck_assert_int_eq (lf_guest_list_opt (&ms, "/etc/grubdir", &names), 1);
  ck_assert_str_eq (names[0], "grub.cfg");
  lf_free_names (names);
  ck_assert (lf_guest_exists (&ms, "/etc/grubdir/grub.cfg"));

  /* Errors: a loop, a file where a directory should be. */
  ck_assert_int_eq (lf_guest_read_opt (&ms, "/etc/loop1", 100, &buf, &len),
                    -1);
  ck_assert_int_eq (lf_last_errno (), ELOOP);
  ck_assert_int_eq (lf_guest_stat_opt (&ms, "/etc/hostname/x", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTDIR);
  /* The plain readers keep their contract: absence is ENOENT. */
  ck_assert_int_eq (lf_guest_read (&ms, "/etc/nope", 100, &buf, &len), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (lf_guest_stat (&ms, "/nodir/x", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (rootfs->ops->lstat (rootfs, "/etc/nope", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("tree");
  TCase *tc = tcase_create ("tree");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_escape_absolute);
  tcase_add_test (tc, test_escape_relative);
  tcase_add_test (tc, test_dotdot_through_dir);
  tcase_add_test (tc, test_loop);
  tcase_add_test (tc, test_cross_mount);
  tcase_add_test (tc, test_lstat_readlink);
  tcase_add_test (tc, test_list);
  tcase_add_test (tc, test_write_through_link);
  tcase_add_test (tc, test_write_ops);
  tcase_add_test (tc, test_readonly);
  tcase_add_test (tc, test_bad_paths);
  tcase_add_test (tc, test_absence);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
