/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for common/child.c: exit status, output, the timeout that
 * stops the whole process group.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "common/child.h"

static char dir[] = "/tmp/lf-test-spawn-XXXXXX";

static void
setup (void)
{
  ck_assert_ptr_nonnull (mkdtemp (dir));
}

static void
teardown (void)
{
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq (system (cmd), 0);
  strcpy (dir, "/tmp/lf-test-spawn-XXXXXX");
}

static char *
slurp (const char *path)
{
  static char buf[4096];
  FILE *fp = fopen (path, "r");
  size_t n;

  ck_assert_ptr_nonnull (fp);
  n = fread (buf, 1, sizeof buf - 1, fp);
  buf[n] = '\0';
  fclose (fp);
  return buf;
}

/* PID has ended: no such process, or a zombie. */
static bool
gone (pid_t pid)
{
  char path[64], buf[512];
  FILE *fp;

  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  if (!(fp = fopen (path, "r")))
    return true;
  size_t n = fread (buf, 1, sizeof buf - 1, fp);
  fclose (fp);
  buf[n] = '\0';
  const char *p = strrchr (buf, ')');
  return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

START_TEST (test_exit_status)
{
  char *ok[] = { "/bin/sh", "-c", "exit 0", NULL };
  char *three[] = { "/bin/sh", "-c", "exit 3", NULL };
  char *sig[] = { "/bin/sh", "-c", "kill -9 $$", NULL };
  char *nope[] = { "landfall-no-such-program", NULL };
  struct lf_spawn_opts o = { .search_path = true };
  bool to = true;

  ck_assert_int_eq (lf_spawn_run (ok, &o, &to), 0);
  ck_assert (!to);
  ck_assert_int_eq (lf_spawn_run (three, &o, NULL), 3);
  ck_assert_int_eq (lf_spawn_run (sig, &o, NULL), 128 + SIGKILL);
  /* A program that is not there is an error, not a status. */
  ck_assert_int_eq (lf_spawn_run (nope, &o, NULL), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  lf_error_clear ();
}
END_TEST

START_TEST (test_output_captured)
{
  char out[256];
  char *argv[] = { "/bin/sh", "-c",
                   "read x && echo \"in:$x\"; echo to-out; echo to-err >&2",
                   NULL };

  snprintf (out, sizeof out, "%s/out", dir);
  struct lf_spawn_opts o = { .out_path = out };
  /* stdin is /dev/null: the read fails at once instead of waiting. */
  ck_assert_int_eq (lf_spawn_run (argv, &o, NULL), 0);
  ck_assert_str_eq (slurp (out), "to-out\nto-err\n");

  /* Appended to, not replaced. */
  char *again[] = { "/bin/echo", "again", NULL };
  ck_assert_int_eq (lf_spawn_run (again, &o, NULL), 0);
  ck_assert_str_eq (slurp (out), "to-out\nto-err\nagain\n");

  /* With WHO, an exec that fails is the child's status 127 and its
   * message on its stderr.
   */
  char *nope[] = { "/nonexistent/prog", NULL };
  struct lf_spawn_opts w = { .out_path = out, .who = "tester" };
  ck_assert_int_eq (lf_spawn_run (nope, &w, NULL), 127);
  ck_assert_ptr_nonnull (strstr (slurp (out), "tester: cannot run /nonexistent/prog"));
}
END_TEST

START_TEST (test_timeout_kills_group)
{
  char pidfile[256], script[512];
  /* The child starts a sleeper in the background (same group), records
   * its pid and ignores SIGTERM itself: only the SIGKILL after the grace
   * ends it, and the sleeper must be gone too.
   */
  snprintf (pidfile, sizeof pidfile, "%s/sleeper", dir);
  snprintf (script, sizeof script,
            "sleep 60 & echo $! > %s; trap '' TERM; while :; do sleep 1; done",
            pidfile);
  char *argv[] = { "/bin/sh", "-c", script, NULL };
  struct lf_spawn_opts o = { .timeout = 0.5, .grace = 0.5 };
  bool to = false;
  double t0 = lf_now ();

  ck_assert_int_eq (lf_spawn_run (argv, &o, &to), 128 + SIGKILL);
  ck_assert (to);
  ck_assert (lf_now () - t0 < 10);

  pid_t sleeper = (pid_t) atoi (slurp (pidfile));
  ck_assert_int_gt (sleeper, 1);
  /* The sleeper was a grandchild: whoever inherits it may leave it a
   * zombie a while, which is dead enough.
   */
  bool dead = false;
  for (int i = 0; i < 100 && !dead; i++) {
    dead = gone (sleeper);
    usleep (20000);
  }
  ck_assert_msg (dead, "the sleeper %d outlived the timeout", (int) sleeper);
}
END_TEST

START_TEST (test_wait_any)
{
  char *slow[] = { "/bin/sh", "-c", "sleep 5", NULL };
  char *fast[] = { "/bin/sh", "-c", "exit 7", NULL };
  struct lf_spawn_opts o = { 0 };
  struct lf_child a, b;
  struct lf_child *cs[] = { &a, &b };

  ck_assert_int_eq (lf_spawn (&a, slow, &o), 0);
  ck_assert_int_eq (lf_spawn (&b, fast, &o), 0);
  ck_assert_int_eq (getpgid (a.pid), a.pid);
  ck_assert_int_eq (lf_child_wait_any (cs, 2), 1);
  ck_assert_int_eq (lf_child_exit_code (&b), 7);
  ck_assert_int_eq (lf_child_poll (&a), 0);
  lf_child_stop (&a);
  ck_assert_int_eq (a.pid, 0);
  ck_assert_int_eq (lf_child_exit_code (&a), 128 + SIGTERM);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("child");
  TCase *tc = tcase_create ("child");
  SRunner *sr;
  int nf;

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 30);
  tcase_add_test (tc, test_exit_status);
  tcase_add_test (tc, test_output_captured);
  tcase_add_test (tc, test_timeout_kills_group);
  tcase_add_test (tc, test_wait_any);
  suite_add_tcase (s, tc);
  sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  nf = srunner_ntests_failed (sr);
  srunner_free (sr);
  return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
