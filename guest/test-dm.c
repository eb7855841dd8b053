/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for guest/dm.c's pure parts: the device names (LVM's
 * escaping, so that "lf-VG-LV" is unambiguous) and the linear targets'
 * parameters.  The device-mapper calls themselves need a kernel with
 * dm_mod, which only the appliance has: tests/test-appliance.sh boots it
 * with an LV the kernel mounts.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "guest/guest.h"

START_TEST (test_names)
{
  char buf[128];

  ck_assert_int_eq (lf_dm_name ("rhel", "root", buf, sizeof buf), 0);
  ck_assert_str_eq (buf, "lf-rhel-root");
  /* "a-b"/"c" and "a"/"b-c" must not both be "lf-a-b-c". */
  ck_assert_int_eq (lf_dm_name ("a-b", "c", buf, sizeof buf), 0);
  ck_assert_str_eq (buf, "lf-a--b-c");
  ck_assert_int_eq (lf_dm_name ("a", "b-c", buf, sizeof buf), 0);
  ck_assert_str_eq (buf, "lf-a-b--c");
}
END_TEST

START_TEST (test_long_names)
{
  char buf[128], vg[128], lv[128];

  /* 60 + 60 characters: 124 with "lf-" and the dash, under DM_NAME_LEN. */
  memset (vg, 'v', 60);
  vg[60] = '\0';
  memset (lv, 'l', 60);
  lv[60] = '\0';
  ck_assert_int_eq (lf_dm_name (vg, lv, buf, sizeof buf), 0);
  ck_assert_uint_eq (strlen (buf), 124);
  /* Doubled dashes push it over: refused, not cut short (two LVs could
   * then share a name).
   */
  memset (vg, '-', 100);
  vg[100] = '\0';
  ck_assert_int_eq (lf_dm_name (vg, "root", buf, sizeof buf), -1);
  ck_assert_int_eq (lf_last_errno (), ENAMETOOLONG);
  ck_assert_int_eq (lf_dm_name ("rhel", "root", buf, 8), -1);
  ck_assert_int_eq (lf_last_errno (), ENAMETOOLONG);
}
END_TEST

START_TEST (test_table_line)
{
  char p[64];
  struct lf_dm_target t = { .dev = makedev (8, 18), .offset = 2048,
                            .len = 1474560 };

  ck_assert_int_eq (lf_dm_table_line (&t, p, sizeof p), 0);
  ck_assert_str_eq (p, "8:18 2048");
  t = (struct lf_dm_target) { .dev = makedev (259, 1048575),
                              .offset = UINT64_C (0x7fffffffffffffff) };
  ck_assert_int_eq (lf_dm_table_line (&t, p, sizeof p), 0);
  ck_assert_str_eq (p, "259:1048575 9223372036854775807");
  ck_assert_int_eq (lf_dm_table_line (&t, p, 8), -1);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("dm");
  TCase *tc = tcase_create ("dm");
  tcase_add_test (tc, test_names);
  tcase_add_test (tc, test_long_names);
  tcase_add_test (tc, test_table_line);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
