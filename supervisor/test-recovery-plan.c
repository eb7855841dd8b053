/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for supervisor/recovery-plan-file.c: the plan file parser (each
 * error names the file and the field, with the right errno).  Running a
 * plan is tested by tests/test-plan.sh, with real jobs and scripts.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "supervisor/job.h"

static struct lf_rplan *
parse (const char *text)
{
  return lf_rplan_parse (text, strlen (text), "p.plan", "/pl");
}

static void
check_error (const char *text, int errnum, const char *prefix)
{
  struct lf_rplan *p = parse (text);
  ck_assert_msg (p == NULL, "parsed: %s", text);
  ck_assert_int_eq (lf_last_errno (), errnum);
  ck_assert_msg (strncmp (lf_last_error (), prefix, strlen (prefix)) == 0,
                 "message \"%s\" does not start with \"%s\"", lf_last_error (),
                 prefix);
}

START_TEST (test_full)
{
  struct lf_rplan *p = parse (
    "{\"name\":\"shop\",\"pre\":[{\"name\":\"a\",\"script\":\"a.sh\"}],"
    "\"groups\":[{\"machines\":[\"db.job\",\"/abs/x.job\"],"
    "\"post\":[{\"name\":\"m\",\"manual\":\"do it\","
    "\"applies-to\":[\"planned\"]}]},"
    "{\"machines\":[],\"pre\":[{\"name\":\"t\",\"script\":\"t.sh\","
    "\"timeout\":5}]}]}");
  ck_assert_ptr_nonnull (p);
  ck_assert_str_eq (p->name, "shop");
  ck_assert_str_eq (p->output, "/pl/shop-plan");
  ck_assert_uint_eq (p->pre.n, 1);
  ck_assert_str_eq (p->pre.a[0].script, "/pl/a.sh");
  ck_assert_uint_eq (p->pre.a[0].timeout, LF_RPLAN_DEFAULT_TIMEOUT);
  ck_assert_uint_eq (p->pre.a[0].applies, 7);
  ck_assert_uint_eq (p->ngroups, 2);
  ck_assert_uint_eq (p->groups[0].nmachines, 2);
  ck_assert_str_eq (p->groups[0].jobs[0], "/pl/db.job");
  ck_assert_str_eq (p->groups[0].jobs[1], "/abs/x.job");
  ck_assert_ptr_null (p->groups[0].post.a[0].script);
  ck_assert_str_eq (p->groups[0].post.a[0].instructions, "do it");
  ck_assert_uint_eq (p->groups[0].post.a[0].applies,
                     1u << LF_FAILOVER_PLANNED);
  ck_assert_uint_eq (p->groups[1].pre.a[0].timeout, 5);
  ck_assert_int_eq (strlen (p->sha256), 64);
  lf_rplan_free (p);
}
END_TEST

START_TEST (test_errors)
{
  check_error ("{", EINVAL, "p.plan:1: not JSON");
  check_error ("[]", EINVAL, "p.plan: not a JSON object");
  check_error ("{\"name\":\"a\",\"groups\":[],\"x\":1}", EINVAL,
               "p.plan: plan: unknown key 'x'");
  check_error ("{\"groups\":[{\"machines\":[]}]}", EINVAL,
               "p.plan: name: missing");
  check_error ("{\"name\":\"a b\",\"groups\":[{\"machines\":[]}]}", EINVAL,
               "p.plan: name: is not a name");
  check_error ("{\"name\":\"a\",\"name\":\"b\",\"groups\":[]}", EINVAL,
               "p.plan:1: not JSON: duplicate");
  check_error ("{\"name\":\"a\",\"groups\":[]}", EINVAL,
               "p.plan: groups: missing, or not a list of 1 to 7");
  check_error ("{\"name\":\"a\",\"groups\":[{},{},{},{},{},{},{},{}]}", EINVAL,
               "p.plan: groups: missing, or not a list of 1 to 7");
  check_error ("{\"name\":\"a\",\"groups\":[{\"machines\":[1]}]}", EINVAL,
               "p.plan: groups[0].machines[0]: not a file name");
  /* jansson refuses NUL in strings itself (without JSON_ALLOW_NUL). */
  check_error ("{\"name\":\"a\",\"groups\":[{\"machines\":[\"a\\u0000b\"]}]}",
               EINVAL, "p.plan:1: not JSON");
  check_error ("{\"name\":\"a\",\"groups\":[{\"machines\":[],\"pre\":[{}]}]}",
               EINVAL, "p.plan: groups[0].pre[0].name: missing");
  check_error ("{\"name\":\"a\",\"groups\":[{\"machines\":[],\"pre\":"
               "[{\"name\":\"x\"}]}]}", EINVAL,
               "p.plan: groups[0].pre[0]: needs \"script\" or \"manual\"");
  check_error ("{\"name\":\"a\",\"groups\":[{\"machines\":[]}],\"post\":"
               "[{\"name\":\"x\",\"manual\":\"y\",\"timeout\":3}]}", EINVAL,
               "p.plan: post[0].timeout: only a script has a timeout");
  check_error ("{\"name\":\"a\",\"groups\":[{\"machines\":[]}],\"post\":"
               "[{\"name\":\"x\",\"script\":\"y\",\"timeout\":0}]}", EINVAL,
               "p.plan: post[0].timeout: not a number of seconds");
  check_error ("{\"name\":\"a\",\"groups\":[{\"machines\":[]}],\"post\":"
               "[{\"name\":\"x\",\"script\":\"y\",\"applies-to\":[\"drill\"]}]}",
               EINVAL, "p.plan: post[0].applies-to[0]: not test");
  check_error ("{\"name\":\"a\",\"groups\":[{\"machines\":[]}],\"pre\":"
               "[{\"name\":\"x\\ny\",\"script\":\"y\"}]}", EINVAL,
               "p.plan: pre[0].name: a control character");
}
END_TEST

/* The caps: 100 machines in the whole plan, 32 actions in a list. */
START_TEST (test_limits)
{
  char *buf = malloc (64 * 1024), *s = buf;
  s += sprintf (s, "{\"name\":\"a\",\"groups\":[{\"machines\":[");
  for (int i = 0; i < 60; i++)
    s += sprintf (s, "%s\"m%d.job\"", i ? "," : "", i);
  s += sprintf (s, "]},{\"machines\":[");
  for (int i = 0; i < 41; i++)
    s += sprintf (s, "%s\"n%d.job\"", i ? "," : "", i);
  sprintf (s, "]}]}");
  check_error (buf, EINVAL, "p.plan: groups[1].machines: missing, or not a "
               "list of job files (at most 100");
  s = buf;
  s += sprintf (s, "{\"name\":\"a\",\"groups\":[{\"machines\":[]}],\"pre\":[");
  for (int i = 0; i < 33; i++)
    s += sprintf (s, "%s{\"name\":\"x\",\"script\":\"y\"}", i ? "," : "");
  sprintf (s, "]}");
  check_error (buf, EINVAL, "p.plan: pre: not a list of at most 32 actions");
  free (buf);
  buf = calloc (1, LF_RPLAN_MAX_SIZE + 2);
  memset (buf, ' ', LF_RPLAN_MAX_SIZE + 1);
  check_error (buf, EFBIG, "p.plan: 262145 bytes: a plan is at most");
  free (buf);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("recovery-plan");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_full);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_limits);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
