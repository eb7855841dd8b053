/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for plans, the journal and undo, on a mounted-tree guest. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootfix/bootfix.h"

static char root[64];
static struct lf_fs *fs;
static struct lf_mounts ms;

static void
sh (const char *fmt, const char *arg)
{
  char cmd[1024];
  snprintf (cmd, sizeof cmd, fmt, arg, arg, arg, arg);
  ck_assert_int_eq (system (cmd), 0);
}

/* A listing of every file, symlink and directory with content hashes. */
static char *
snapshot (void)
{
  char cmd[512], *buf = NULL;
  size_t n = 0;
  snprintf (cmd, sizeof cmd,
            "cd %s && find . -printf '%%y %%m %%p %%l\\n' | sort && "
            "find . -type f -print0 | sort -z | xargs -0 sha256sum", root);
  FILE *fp = popen (cmd, "r");
  ck_assert_ptr_nonnull (fp);
  FILE *out = open_memstream (&buf, &n);
  int c;
  while ((c = fgetc (fp)) != EOF)
    fputc (c, out);
  pclose (fp);
  fclose (out);
  return buf;
}

static void
setup (void)
{
  strcpy (root, "/tmp/landfall-journal-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (root));
  sh ("mkdir -p %s/etc/udev/rules.d %s/var/lib %s/etc/systemd/system/multi-user.target.wants", root);
  sh ("printf 'UUID=a / ext4 defaults 0 1\\n/dev/sdb1 /data ext4 defaults 0 2\\n' > %s/etc/fstab", root);
  sh ("chmod 0640 %s/etc/fstab && echo 'SUBSYSTEM==\"net\"' > %s/etc/udev/rules.d/70-persistent-net.rules", root);
  sh ("ln -s /lib/systemd/system/open-vm-tools.service %s/etc/systemd/system/multi-user.target.wants/open-vm-tools.service", root);
  fs = lf_fs_open_tree (root, true);
  ck_assert_ptr_nonnull (fs);
  memset (&ms, 0, sizeof ms);
  ck_assert_int_eq (lf_mounts_add (&ms, "/", fs), 0);
}

static void
teardown (void)
{
  lf_mounts_free (&ms);
  lf_fs_close (fs);
  sh ("rm -rf %s", root);
}

static struct lf_plan *
make_plan (void)
{
  struct lf_plan *p = lf_plan_new (&ms);
  static const char fstab[] = "UUID=a / ext4 defaults 0 1\nUUID=b /data ext4 defaults,nofail 0 2\n";
  ck_assert_int_eq (lf_plan_write (p, "fstab", "/etc/fstab", fstab,
                                   sizeof fstab - 1, 0644, "by UUID"), 0);
  ck_assert_int_eq (lf_plan_remove (p, "network",
                                    "/etc/udev/rules.d/70-persistent-net.rules",
                                    "persistent-net rules"), 0);
  ck_assert_int_eq (lf_plan_remove (p, "agents",
                                    "/etc/systemd/system/multi-user.target.wants/open-vm-tools.service",
                                    "VMware tools off"), 0);
  ck_assert_int_eq (lf_plan_write (p, "initramfs",
                                   "/etc/dracut.conf.d/90-landfall.conf",
                                   "add_drivers+=\" hv_vmbus \"\n", 26, 0644,
                                   "persist"), 0);
  ck_assert_int_eq (lf_plan_symlink (p, "agents",
                                     "/etc/systemd/system/multi-user.target.wants/waagent.service",
                                     "/usr/lib/systemd/system/waagent.service",
                                     "waagent on"), 0);
  return p;
}

START_TEST (test_apply_rerun_undo)
{
  CLEANUP_FREE char *before = snapshot ();
  struct lf_plan *p = make_plan ();
  /* The parent directory is an edit of its own; four files, one link. */
  ck_assert_uint_eq (lf_plan_nedits (p), 6);
  /* Reading through the plan sees the planned content. */
  char *buf = NULL;
  size_t len;
  ck_assert_int_eq (lf_plan_read (p, "/etc/fstab", 4096, &buf, &len), 0);
  ck_assert_ptr_nonnull (strstr (buf, "nofail"));
  free (buf);
  ck_assert (!lf_plan_exists (p, "/etc/udev/rules.d/70-persistent-net.rules"));
  ck_assert_int_eq (lf_plan_apply (p, "/var/lib/landfall"), 0);
  lf_plan_free (p);

  CLEANUP_FREE char *after = snapshot ();
  ck_assert_str_ne (before, after);
  char path[256];
  struct stat st;
  snprintf (path, sizeof path, "%s/etc/fstab", root);
  ck_assert_int_eq (stat (path, &st), 0);
  ck_assert_uint_eq (st.st_mode & 0777, 0640);       /* mode kept */
  snprintf (path, sizeof path, "%s/var/lib/landfall/journal.json", root);
  ck_assert_int_eq (access (path, F_OK), 0);
  char target[256];
  snprintf (path, sizeof path,
            "%s/etc/systemd/system/multi-user.target.wants/waagent.service", root);
  ssize_t tl = readlink (path, target, sizeof target - 1);
  ck_assert_int_gt (tl, 0);
  target[tl] = '\0';
  ck_assert_str_eq (target, "/usr/lib/systemd/system/waagent.service");

  /* A second run plans nothing and says why. */
  p = make_plan ();
  ck_assert_uint_eq (lf_plan_nedits (p), 0);
  json_t *r = lf_plan_report (p);
  ck_assert_uint_ge (json_array_size (json_object_get (r, "findings")), 2);
  json_decref (r);
  ck_assert_int_eq (lf_plan_apply (p, "/var/lib/landfall"), 0);
  lf_plan_free (p);

  /* Undo: byte for byte, symlinks and modes included, no trace left. */
  json_t *rep = NULL;
  ck_assert_int_eq (lf_undo (&ms, "/var/lib/landfall", &rep), 0);
  ck_assert_uint_eq (json_array_size (rep), 6);
  json_decref (rep);
  CLEANUP_FREE char *undone = snapshot ();
  ck_assert_str_eq (before, undone);
  /* Nothing left to undo. */
  ck_assert_int_eq (lf_undo (&ms, "/var/lib/landfall", &rep), -1);
}
END_TEST

START_TEST (test_undo_keeps_later_changes)
{
  struct lf_plan *p = make_plan ();
  ck_assert_int_eq (lf_plan_apply (p, "/var/lib/landfall"), 0);
  lf_plan_free (p);
  /* Somebody edits fstab after the fix: undo must not clobber it. */
  sh ("echo '# admin edit' >> %s/etc/fstab", root);
  json_t *rep = NULL;
  ck_assert_int_eq (lf_undo (&ms, "/var/lib/landfall", &rep), 0);
  bool skipped = false;
  size_t i;
  json_t *e;
  json_array_foreach (rep, i, e)
    if (strcmp (json_string_value (json_object_get (e, "path")), "/etc/fstab") == 0)
      skipped = strncmp (json_string_value (json_object_get (e, "result")),
                         "skipped", 7) == 0;
  ck_assert (skipped);
  json_decref (rep);
}
END_TEST

START_TEST (test_dry_run_print)
{
  struct lf_plan *p = make_plan ();
  char *out = NULL;
  size_t n = 0;
  FILE *fp = open_memstream (&out, &n);
  lf_plan_print (p, fp);
  fclose (fp);
  ck_assert_ptr_nonnull (strstr (out, "--- /etc/fstab"));
  ck_assert_ptr_nonnull (strstr (out, "-/dev/sdb1 /data ext4 defaults 0 2"));
  ck_assert_ptr_nonnull (strstr (out, "+UUID=b /data ext4 defaults,nofail 0 2"));
  ck_assert_ptr_nonnull (strstr (out, "remove /etc/systemd/system/multi-user.target.wants/open-vm-tools.service -> /lib/systemd/system/open-vm-tools.service"));
  ck_assert_ptr_nonnull (strstr (out, "mkdir /etc/dracut.conf.d"));
  free (out);
  lf_plan_free (p);
  /* Printing changed nothing. */
  char path[256];
  snprintf (path, sizeof path, "%s/var/lib/landfall", root);
  ck_assert_int_eq (access (path, F_OK), -1);
}
END_TEST

START_TEST (test_damaged_journal)
{
  sh ("mkdir -p %s/var/lib/landfall && echo '{not json' > %s/var/lib/landfall/journal.json", root);
  json_t *rep = NULL;
  ck_assert_int_eq (lf_undo (&ms, "/var/lib/landfall", &rep), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "damaged journal"));
}
END_TEST

/* Two concerns writing one file: the edit names both and both reasons,
 * once each however often they write it; the content is the last one.
 */
START_TEST (test_two_concerns_one_file)
{
  struct lf_plan *p = lf_plan_new (&ms);
  ck_assert_int_eq (lf_plan_write (p, "a", "/etc/fstab", "1\n", 2, 0644,
                                   "first"), 0);
  ck_assert_int_eq (lf_plan_write (p, "b", "/etc/fstab", "2\n", 2, 0644,
                                   "second"), 0);
  ck_assert_int_eq (lf_plan_write (p, "a", "/etc/fstab", "3\n", 2, 0644,
                                   "first"), 0);
  ck_assert_uint_eq (lf_plan_nedits (p), 1);
  json_t *r = lf_plan_report (p);
  json_t *e = json_array_get (json_object_get (r, "edits"), 0);
  ck_assert_str_eq (json_string_value (json_object_get (e, "concern")), "a, b");
  ck_assert_str_eq (json_string_value (json_object_get (e, "why")),
                    "first; second");
  json_decref (r);
  char *buf = NULL;
  size_t len;
  ck_assert_int_eq (lf_plan_read (p, "/etc/fstab", 100, &buf, &len), 0);
  ck_assert_str_eq (buf, "3\n");
  free (buf);
  lf_plan_free (p);
}
END_TEST

/* Issue 14: an edit several concerns share (a Windows hive, written once)
 * carries each concern's own count of changes; a plain file counts one
 * per concern that wrote it.
 */
START_TEST (test_shared_edit_counts)
{
  struct lf_plan *p = lf_plan_new (&ms);
  const struct lf_plan_by by[] = { { "a", 5 }, { "c", 2 } };
  char *buf = strdup ("hive\n");

  ck_assert_int_eq (lf_plan_write (p, "b", "/etc/fstab", "1\n", 2, 0644,
                                   "first"), 0);
  ck_assert_int_eq (lf_plan_write (p, "b", "/etc/fstab", "2\n", 2, 0644,
                                   "first"), 0);
  ck_assert_int_eq (lf_plan_write_by (p, by, 2, "/etc/hive", buf, 5, 0644,
                                      "values"), 0);
  ck_assert_uint_eq (lf_plan_nedits (p), 2);
  json_t *r = lf_plan_report (p);
  json_t *e0 = json_array_get (json_object_get (r, "edits"), 0);
  json_t *e1 = json_array_get (json_object_get (r, "edits"), 1);
  ck_assert_str_eq (json_string_value (json_object_get (e0, "concern")), "b");
  ck_assert_int_eq (json_integer_value (json_object_get (
    json_object_get (e0, "changes_by_concern"), "b")), 1);
  ck_assert_str_eq (json_string_value (json_object_get (e1, "concern")), "a, c");
  ck_assert_int_eq (json_integer_value (json_object_get (
    json_object_get (e1, "changes_by_concern"), "a")), 5);
  ck_assert_int_eq (json_integer_value (json_object_get (
    json_object_get (e1, "changes_by_concern"), "c")), 2);
  json_decref (r);
  ck_assert_str_eq (lf_plan_edit_path (p, 1), "/etc/hive");
  lf_plan_free (p);
}
END_TEST

/* Issue 14: one table says which fix an OS type gets, for fix, undo and
 * run alike; a type with none is refused with nothing planned, never
 * given another OS's fix.
 */
START_TEST (test_fixers)
{
  const struct lf_fixer *f = lf_fixer_find ("linux");
  ck_assert_ptr_nonnull (f);
  ck_assert (f->fix == lf_fix_linux);
  ck_assert_str_eq (f->journal_dir, LF_LINUX_JOURNAL_DIR);
  f = lf_fixer_find ("windows");
  ck_assert_ptr_nonnull (f);
  ck_assert (f->fix == lf_fix_windows);
  ck_assert_str_eq (f->journal_dir, LF_WINDOWS_JOURNAL_DIR);

  struct lf_os os = { .type = "freebsd", .mounts = ms };
  /* No profile: an OS without a fixer is refused before one is read. */
  struct lf_fix_opts o = { .profile = NULL, .rootdelay = -1 };
  struct lf_plan *p = lf_plan_new (&ms);
  const char *dir = NULL;
  ck_assert_int_eq (lf_fix_os (NULL, &os, p, &o, &dir), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTSUP);
  ck_assert_str_eq (lf_last_error (),
                    "no fix for an operating system of type 'freebsd'");
  ck_assert_ptr_null (dir);
  ck_assert_uint_eq (lf_plan_nedits (p), 0);
  ck_assert_uint_eq (lf_plan_nfindings (p), 0);
  ck_assert_ptr_null (lf_fixer_find (NULL));
  lf_plan_free (p);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("journal");
  TCase *tc = tcase_create ("journal");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_apply_rerun_undo);
  tcase_add_test (tc, test_undo_keeps_later_changes);
  tcase_add_test (tc, test_dry_run_print);
  tcase_add_test (tc, test_damaged_journal);
  tcase_add_test (tc, test_two_concerns_one_file);
  tcase_add_test (tc, test_shared_edit_counts);
  tcase_add_test (tc, test_fixers);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
