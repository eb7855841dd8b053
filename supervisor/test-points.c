/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for supervisor/points.c: the recovery-point manifest parser
 * (one test per error path, checking errno and that the message names
 * the file and the field) and selection, a pure function.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "supervisor/job.h"

static struct lf_points *
parse (const char *text)
{
  return lf_points_parse (text, strlen (text), "m.json", "/mf");
}

static void
check_error (const char *text, int errnum, const char *prefix)
{
  struct lf_points *m = parse (text);
  ck_assert_msg (m == NULL, "parsed: %s", text);
  ck_assert_int_eq (lf_last_errno (), errnum);
  ck_assert_msg (strncmp (lf_last_error (), prefix, strlen (prefix)) == 0,
                 "message \"%s\" does not start with \"%s\"", lf_last_error (),
                 prefix);
}

#define PT(id, t, c, pr, g) \
  "{\"id\":\"" id "\",\"time\":\"2026-11-27T04:" t ":00Z\",\"consistency\":\"" \
  c "\",\"processed\":" pr g ",\"overlays\":[\"" id ".qcow2\"]}"
#define G ",\"group\":\"shop\""

START_TEST (test_full)
{
  struct lf_points *m = parse (
    "{\"machine\":\"web01\",\"bases\":[\"base.raw\"],\"points\":["
    PT ("p1", "00", "crash", "true", "") "," PT ("p2", "05", "app", "false", "")
    "]}");
  ck_assert_ptr_nonnull (m);
  ck_assert_str_eq (m->machine, "web01");
  ck_assert_uint_eq (m->ndisks, 1);
  ck_assert_str_eq (m->bases[0], "/mf/base.raw");
  ck_assert_uint_eq (m->npoints, 2);
  ck_assert_str_eq (m->points[1].id, "p2");
  ck_assert (m->points[1].app && !m->points[1].processed);
  ck_assert (!m->points[0].app && m->points[0].processed);
  ck_assert_int_eq (m->points[1].time - m->points[0].time, 300);
  ck_assert_str_eq (m->points[0].overlays[0], "/mf/p1.qcow2");
  ck_assert (m->source_available);
  lf_points_free (m);
}
END_TEST

START_TEST (test_allow_backing)
{
  struct lf_points *m = parse (
    "{\"bases\":[\"base.raw\"],\"allow-backing\":[\"../b\",\"/srv\"],"
    "\"points\":[" PT ("p1", "00", "crash", "true", "") "]}");
  ck_assert_msg (m != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (m->nallow_backing, 2);
  ck_assert_str_eq (m->allow_backing[0], "/mf/../b");
  ck_assert_str_eq (m->allow_backing[1], "/srv");
  lf_points_free (m);
  check_error ("{\"bases\":[\"b\"],\"allow-backing\":\"/srv\",\"points\":[]}",
               EINVAL, "m.json: allow-backing: not an array");
  check_error ("{\"bases\":[\"b\"],\"allow-backing\":[7],\"points\":[]}",
               EINVAL, "m.json: allow-backing[0]: not a file name");
}
END_TEST

START_TEST (test_errors)
{
  check_error ("[", EINVAL, "m.json:1: not JSON");
  check_error ("[]", EINVAL, "m.json: not a JSON object");
  check_error ("{\"bases\":[\"a\"],\"points\":[],\"x\":1}", EINVAL,
               "m.json: manifest: unknown key 'x'");
  check_error ("{\"points\":[]}", EINVAL, "m.json: bases: missing");
  check_error ("{\"bases\":[\"\"],\"points\":[]}", EINVAL, "m.json: bases[0]: ");
  check_error ("{\"bases\":[\"a\\u0000b\"],\"points\":[]}", EINVAL, "m.json:1: not JSON");
  check_error ("{\"bases\":[\"a\"]}", EINVAL, "m.json: points: missing");
  check_error ("{\"bases\":[\"a\"],\"points\":[1]}", EINVAL, "m.json: points[0]: not an object");
  check_error ("{\"bases\":[\"a\"],\"points\":[{\"id\":\"a b\"}]}", EINVAL,
               "m.json: points[0].id: is not a name");
  check_error ("{\"bases\":[\"a\"],\"points\":[" PT ("p1", "00", "crash", "true", "")
               "," PT ("p1", "05", "crash", "true", "") "]}", EINVAL,
               "m.json: points[1].id: 'p1' is also points[0].id");
  check_error ("{\"bases\":[\"a\"],\"points\":[" PT ("p1", "05", "crash", "true", "")
               "," PT ("p2", "05", "crash", "true", "") "]}", EINVAL,
               "m.json: points[1].time: 2026-11-27T04:05:00Z is not after");
  check_error ("{\"bases\":[\"a\"],\"points\":[{\"id\":\"p\",\"time\":"
               "\"2026-02-30T00:00:00Z\"}]}", EINVAL, "m.json: points[0].time: is not a UTC");
  check_error ("{\"bases\":[\"a\"],\"points\":[{\"id\":\"p\",\"time\":"
               "\"2026-02-03 00:00:00Z\"}]}", EINVAL, "m.json: points[0].time: is not a UTC");
  check_error ("{\"bases\":[\"a\"],\"points\":[" PT ("p1", "00", "full", "true", "") "]}",
               EINVAL, "m.json: points[0].consistency: ");
  check_error ("{\"bases\":[\"a\"],\"points\":[" PT ("p1", "00", "app", "1", "") "]}",
               EINVAL, "m.json: points[0].processed: ");
  check_error ("{\"bases\":[\"a\"],\"points\":[" PT ("p1", "00", "app", "true", G) "]}",
               EINVAL, "m.json: points[0].group: 'shop' is not this machine's group (none)");
  check_error ("{\"bases\":[\"a\",\"b\"],\"points\":[" PT ("p1", "00", "app", "true", "") "]}",
               EINVAL, "m.json: points[0].overlays: missing, or not an array of 2");
  check_error ("{\"bases\":[\"a\"],\"points\":[],\"points\":[]}", EINVAL, "m.json:1: not JSON");
  check_error ("{\"bases\":[\"a\"],\"source-available\":1,\"points\":[]}", EINVAL,
               "m.json: source-available: ");
}
END_TEST

START_TEST (test_too_big)
{
  size_t n = LF_POINTS_MAX_SIZE + 1;
  char *b = malloc (n);
  ck_assert_ptr_nonnull (b);
  memset (b, ' ', n);
  ck_assert_ptr_null (lf_points_parse (b, n, "m.json", "/"));
  ck_assert_int_eq (lf_last_errno (), EFBIG);
  free (b);
}
END_TEST

static long
sel (struct lf_points **ms, size_t n, size_t w, const char *opt)
{
  return lf_points_select (ms, n, w, opt, NULL);
}

START_TEST (test_select_single)
{
  struct lf_points *m = parse (
    "{\"bases\":[\"b\"],\"points\":["
    PT ("p1", "00", "app", "true", "") "," PT ("p2", "05", "crash", "true", "") ","
    PT ("p3", "10", "app", "false", "") "," PT ("p4", "15", "crash", "false", "") "]}");
  ck_assert_ptr_nonnull (m);
  ck_assert_int_eq (sel (&m, 1, 0, "latest"), 3);
  ck_assert_int_eq (sel (&m, 1, 0, "latest-processed"), 1);
  ck_assert_int_eq (sel (&m, 1, 0, "latest-app-consistent"), 0);
  ck_assert_int_eq (sel (&m, 1, 0, "latest-multivm-processed"), 1);
  ck_assert_int_eq (sel (&m, 1, 0, "latest-multivm-app-consistent"), 0);
  ck_assert_int_eq (sel (&m, 1, 0, "p3"), 2);
  ck_assert_int_eq (sel (&m, 1, 0, "nope"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  /* Source gone: Latest cannot process, takes Latest processed. */
  m->source_available = false;
  ck_assert_int_eq (sel (&m, 1, 0, "latest"), 1);
  m->source_available = true;
  /* Nothing pending: the latest processed point. */
  m->points[2].processed = m->points[3].processed = true;
  ck_assert_int_eq (sel (&m, 1, 0, "latest"), 3);
  ck_assert_int_eq (sel (&m, 1, 0, "latest-app-consistent"), 2);
  lf_points_free (m);
}
END_TEST

START_TEST (test_select_group)
{
  /* a and b share bookmarks g1..g3 recorded at different times; g3 is
   * processed in a only; c is outside the group.
   */
  struct lf_points *ms[3];
  ms[0] = parse ("{\"group\":\"shop\",\"bases\":[\"b\"],\"points\":["
    PT ("g1", "00", "app", "true", G) "," PT ("a2", "03", "crash", "true", "") ","
    PT ("g2", "05", "crash", "true", G) "," PT ("g3", "10", "app", "true", G) ","
    PT ("a5", "12", "crash", "true", "") "]}");
  ms[1] = parse ("{\"group\":\"shop\",\"bases\":[\"b\"],\"points\":["
    PT ("g1", "01", "app", "true", G) "," PT ("g2", "06", "crash", "true", G) ","
    PT ("g3", "11", "app", "false", G) "]}");
  ms[2] = parse ("{\"bases\":[\"b\"],\"points\":["
    PT ("c1", "02", "app", "true", "") "," PT ("c2", "09", "crash", "true", "") "]}");
  ck_assert (ms[0] && ms[1] && ms[2]);
  ck_assert_int_eq (sel (ms, 3, 0, "latest-multivm-processed"), 2);        /* g2 */
  ck_assert_int_eq (sel (ms, 3, 1, "latest-multivm-processed"), 1);        /* g2 */
  ck_assert_int_eq (sel (ms, 3, 2, "latest-multivm-processed"), 1);        /* c2 */
  ck_assert_int_eq (sel (ms, 3, 0, "latest-multivm-app-consistent"), 0);   /* g1 */
  ck_assert_int_eq (sel (ms, 3, 1, "latest-multivm-app-consistent"), 0);
  ck_assert_int_eq (sel (ms, 3, 2, "latest-multivm-app-consistent"), 0);   /* c1 */
  /* Alone, a's own multi-VM points decide. */
  ck_assert_int_eq (sel (ms, 1, 0, "latest-multivm-processed"), 3);        /* g3 */
  /* Custom points are refused for group members. */
  ck_assert_int_eq (sel (ms, 3, 0, "g1"), -1);
  ck_assert_int_eq (lf_last_errno (), EPERM);
  /* No common point at all. */
  ms[1]->points[0].processed = ms[1]->points[1].processed = false;
  ck_assert_int_eq (sel (ms, 3, 0, "latest-multivm-processed"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  for (int i = 0; i < 3; i++)
    lf_points_free (ms[i]);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("points");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_full);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_allow_backing);
  tcase_add_test (tc, test_too_big);
  tcase_add_test (tc, test_select_single);
  tcase_add_test (tc, test_select_group);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
