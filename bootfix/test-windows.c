/* Unit tests for bootfix/windows: the hive-edit helpers on hivex's small
 * test hives (minimal, special) and the BCD edits on the real BCD store
 * from the test data, on a mounted-tree guest.  The planned bytes are
 * read back with hivex itself.
 */
#include <check.h>
#include <errno.h>
#include <hivex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootfix.h"
#include "winfix.h"

static char root[64];
static struct lf_fs *fs;
static struct lf_mounts ms;
static const char *testdata;

static void
sh (const char *fmt, ...) LF_PRINTF (1, 2);

static void
sh (const char *fmt, ...)
{
  char cmd[2048];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (cmd, sizeof cmd, fmt, ap);
  va_end (ap);
  ck_assert_msg (system (cmd) == 0, "%s", cmd);
}

static void
setup (void)
{
  const char *shared = getenv ("LANDFALL_SHARED");
  static char td[512];

  snprintf (td, sizeof td, "%s/testdata", shared ? shared : "../shared");
  testdata = td;
  strcpy (root, "/tmp/landfall-win-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (root));
  sh ("mkdir -p %s/Windows/System32/config %s/Boot %s/h", root, root, root);
  sh ("cp %s/windows/hivex/minimal %s/windows/hivex/special %s/h/ && "
      "chmod u+w %s/h/*", testdata, testdata, root, root);
  sh ("xz -dc %s/windows/BCD.xz > %s/Boot/BCD", testdata, root);
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

/* The planned content of PATH, opened with hivex (read-only). */
static hive_h *
planned (struct lf_plan *p, const char *path, char *tmp)
{
  char *buf = NULL;
  size_t len;
  FILE *fp;

  ck_assert_int_eq (lf_plan_read (p, path, WIN_HIVE_MAX, &buf, &len), 0);
  strcpy (tmp, "/tmp/landfall-win-hive-XXXXXX");
  int fd = mkstemp (tmp);
  ck_assert_int_ge (fd, 0);
  fp = fdopen (fd, "w");
  ck_assert_uint_eq (fwrite (buf, 1, len, fp), len);
  fclose (fp);
  free (buf);
  hive_h *h = hivex_open (tmp, 0);
  ck_assert_ptr_nonnull (h);
  return h;
}

static size_t
count_findings (struct lf_plan *p, const char *result)
{
  json_t *r = lf_plan_report (p), *f;
  size_t i, n = 0;

  json_array_foreach (json_object_get (r, "findings"), i, f)
    n += strcmp (json_string_value (json_object_get (f, "result")),
                 result) == 0;
  json_decref (r);
  return n;
}

static bool
has_finding (struct lf_plan *p, const char *text)
{
  json_t *r = lf_plan_report (p), *f;
  size_t i;
  bool found = false;

  json_array_foreach (json_object_get (r, "findings"), i, f)
    found |= strstr (json_string_value (json_object_get (f, "message")),
                     text) != NULL;
  json_decref (r);
  return found;
}

START_TEST (test_set_values)
{
  struct lf_plan *p = lf_plan_new (&ms);
  struct lf_whive *w = lf_whive_open (p, "t", "/h/minimal", "MIN");
  char tmp[64];
  hive_node_h k;
  uint32_t v;

  ck_assert_ptr_nonnull (w);
  k = lf_whive_key (w, hivex_root (w->h), "", "Services");
  ck_assert_uint_ne (k, 0);
  ck_assert_uint_eq (lf_whive_key (w, hivex_root (w->h), "", "services"), k);
  ck_assert_int_eq (lf_whive_set_dword (w, k, "Services", "Start", 3), 1);
  ck_assert_int_eq (lf_whive_set_dword (w, k, "Services", "Start", 3), 0);
  ck_assert_int_eq (lf_whive_set_dword (w, k, "Services", "start", 0), 1);
  ck_assert_int_eq (lf_whive_get_dword (w, k, "START", &v), LF_MATCH);
  ck_assert_uint_eq (v, 0);
  ck_assert_int_eq (lf_whive_set_sz (w, k, "Services", "Group", "Base", false), 1);
  ck_assert_int_eq (lf_whive_set_sz (w, k, "Services", "ImagePath",
                                     "system32\\drivers\\x.sys", true), 1);
  const char *const l[] = { "C:\\pagefile.sys 0 0", "E:\\p.sys", NULL };
  ck_assert_int_eq (lf_whive_set_multi (w, k, "Services", "PagingFiles", l), 1);
  ck_assert_int_eq (lf_whive_set_multi (w, k, "Services", "PagingFiles", l), 0);
  ck_assert_int_eq (lf_whive_set_sz (w, k, "Services", "Gone", "x", false), 1);
  ck_assert_int_eq (lf_whive_delete (w, k, "Services", "gone"), 1);
  ck_assert_int_eq (lf_whive_delete (w, k, "Services", "gone"), 0);
  ck_assert_ptr_null (lf_whive_get_sz (w, k, "Gone"));
  ck_assert_int_eq (lf_plan_nedits (p), 0);     /* not before commit */
  ck_assert_int_eq (lf_whive_commit (w, "test"), 0);
  ck_assert_int_eq (lf_plan_nedits (p), 1);
  lf_whive_close (w);
  ck_assert (has_finding (p, "MIN\\Services\\Start: absent -> 3"));
  ck_assert (has_finding (p, "MIN\\Services\\start: 3 -> 0"));
  ck_assert (has_finding (p, "MIN\\Services\\gone: \"x\" -> deleted"));
  ck_assert (has_finding (p, "MIN\\Services\\PagingFiles: [\"C:\\pagefile.sys 0 0\", \"E:\\p.sys\"]"));

  /* What hivex reads back from the planned bytes. */
  hive_h *h = planned (p, "/h/minimal", tmp);
  hive_node_h n = hivex_node_get_child (h, hivex_root (h), "Services");
  ck_assert_uint_ne (n, 0);
  hive_value_h val = hivex_node_get_value (h, n, "Start");
  ck_assert_uint_ne (val, 0);
  ck_assert_int_eq (hivex_value_dword (h, val), 0);
  char *key = hivex_value_key (h, val);
  ck_assert_str_eq (key, "Start");              /* the first spelling kept */
  free (key);
  char *s = hivex_value_string (h, hivex_node_get_value (h, n, "ImagePath"));
  ck_assert_str_eq (s, "system32\\drivers\\x.sys");
  free (s);
  hive_type t;
  size_t len;
  ck_assert_int_eq (hivex_value_type (h, hivex_node_get_value (h, n, "ImagePath"),
                                      &t, &len), 0);
  ck_assert_int_eq (t, hive_t_REG_EXPAND_SZ);
  char **m = hivex_value_multiple_strings (h, hivex_node_get_value (h, n, "PagingFiles"));
  ck_assert_str_eq (m[0], "C:\\pagefile.sys 0 0");
  ck_assert_str_eq (m[1], "E:\\p.sys");
  ck_assert_msg (m[2] == NULL || !*m[2], "third: %s", m[2]);
  for (char **q = m; *q; q++)
    free (*q);
  free (m);
  ck_assert_uint_eq (hivex_node_get_value (h, n, "Gone"), 0);
  hivex_close (h);
  unlink (tmp);
  /* The guest file itself is untouched until the plan is applied. */
  sh ("cmp -s %s/h/minimal %s/windows/hivex/minimal", root, testdata);
  lf_plan_free (p);
}
END_TEST

/* Nothing changed: nothing is committed, nothing planned. */
START_TEST (test_no_change_no_edit)
{
  struct lf_plan *p = lf_plan_new (&ms);
  struct lf_whive *w = lf_whive_open (p, "t", "/h/special", "SPECIAL");
  char **kids;

  ck_assert_ptr_nonnull (w);
  kids = lf_whive_children (w, hivex_root (w->h));
  ck_assert_ptr_nonnull (kids);
  ck_assert_ptr_nonnull (kids[0]);              /* names with NUL, ™, ... */
  lf_free_names (kids);
  ck_assert_uint_eq (lf_whive_node (w, 0, "no\\such\\key"), 0);
  ck_assert_ptr_null (lf_whive_control_sets (w));
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (lf_whive_commit (w, "nothing"), 0);
  ck_assert_int_eq (lf_plan_nedits (p), 0);
  lf_whive_close (w);
  lf_plan_free (p);
}
END_TEST

START_TEST (test_refusals)
{
  struct lf_plan *p = lf_plan_new (&ms);

  /* Sequence numbers differ: unreplayed logs. */
  sh ("cp %s/h/minimal %s/h/dirty && printf '\\007' | dd of=%s/h/dirty bs=1 "
      "seek=4 conv=notrunc status=none", root, root, root);
  ck_assert_ptr_null (lf_whive_open (p, "t", "/h/dirty", "D"));
  ck_assert_int_eq (lf_last_errno (), EUCLEAN);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "/h/dirty: base block "
                                 "sequence numbers differ"));
  /* Not a hive. */
  sh ("head -c 8192 /dev/zero > %s/h/zero", root);
  ck_assert_ptr_null (lf_whive_open (p, "t", "/h/zero", "Z"));
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "/h/zero: not a registry hive"));
  /* A header hivex refuses (damaged hbin area). */
  sh ("cp %s/h/minimal %s/h/bad && head -c 4096 /dev/zero | dd of=%s/h/bad "
      "bs=1 seek=4096 conv=notrunc status=none", root, root, root);
  ck_assert_ptr_null (lf_whive_open (p, "t", "/h/bad", "B"));
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "/h/bad: hivex cannot open"));
  /* Absent. */
  ck_assert_ptr_null (lf_whive_open (p, "t", "/h/none", "N"));
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (lf_plan_nedits (p), 0);
  lf_plan_free (p);
}
END_TEST

START_TEST (test_describe)
{
  uint8_t dw[4] = { 3, 0, 0, 0 }, bin[40] = { 1, 2 };
  char *s;

  s = lf_whive_describe (hive_t_REG_DWORD, dw, 4);
  ck_assert_str_eq (s, "3");
  free (s);
  s = lf_whive_describe (hive_t_REG_DWORD, NULL, 0);
  ck_assert_str_eq (s, "absent");
  free (s);
  s = lf_whive_describe (hive_t_REG_BINARY, bin, 40);
  ck_assert_ptr_nonnull (strstr (s, "hex:01,02,00"));
  ck_assert_ptr_nonnull (strstr (s, "(40 bytes)"));
  free (s);
  /* Odd-length and unterminated multi strings stay in bounds. */
  s = lf_whive_describe (hive_t_REG_MULTI_SZ, "a\0b", 3);
  ck_assert_ptr_nonnull (s);
  free (s);
  size_t len;
  char *u = lf_win_utf16le ("\xc3\xa9\xf0\x9f\x98\x80", &len);
  ck_assert_uint_eq (len, 2 + 4 + 2);
  ck_assert_int_eq ((uint8_t) u[0], 0xe9);
  ck_assert_int_eq ((uint8_t) u[3], 0xd8);
  free (u);
  ck_assert_ptr_null (lf_win_utf16le ("\xc3", &len));
  ck_assert_int_eq (lf_last_errno (), EINVAL);
}
END_TEST

/* ImagePath to guest path: the forms Windows writes, in any case. */
START_TEST (test_image_path)
{
  static const char *const cases[][2] = {
    { "\\SystemRoot\\system32\\DRIVERS\\vmstorfl.sys",
      "/Windows/System32/drivers/vmstorfl.sys" },
    { "system32\\drivers\\storvsc.sys", "/Windows/System32/drivers/storvsc.sys" },
    { "%SystemRoot%\\System32\\drivers\\x.sys", "/Windows/System32/drivers/x.sys" },
    { "\\??\\C:\\Windows\\System32\\drivers\\x.sys",
      "/Windows/System32/drivers/x.sys" },
    { "C:\\Program Files\\x.exe", "/Program Files/x.exe" },
    { "D:\\x.sys", NULL },
    { "\"C:\\Program Files\\x.exe\" -s", NULL },
    { "system32\\..\\..\\x.sys", NULL },
    { "", NULL },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = lf_win_image_path ("/Windows", cases[i][0]);
    if (cases[i][1])
      ck_assert_msg (got && strcmp (got, cases[i][1]) == 0, "%s: %s",
                     cases[i][0], got ? got : "NULL");
    else
      ck_assert_msg (got == NULL, "%s: %s", cases[i][0], got);
    free (got);
  }
  ck_assert_ptr_null (lf_win_image_path ("/Windows", NULL));
}
END_TEST

/* The BCD edits on the real store: {bootmgr} EMS, {emssettings} created
 * with port and baud, the default loader's EMS and boot status policy.
 */
static void
check_element (hive_h *h, const char *obj, const char *el, const void *want,
               size_t wantlen)
{
  char path[200];
  hive_node_h n = hivex_root (h);

  snprintf (path, sizeof path, "Objects\\%s\\Elements\\%s", obj, el);
  char *copy = strdup (path), *save = NULL;
  for (char *c = strtok_r (copy, "\\", &save); c && n;
       c = strtok_r (NULL, "\\", &save))
    n = hivex_node_get_child (h, n, c);
  free (copy);
  ck_assert_msg (n != 0, "%s missing", path);
  hive_value_h v = hivex_node_get_value (h, n, "Element");
  ck_assert_uint_ne (v, 0);
  hive_type t;
  size_t len;
  char *d = hivex_value_value (h, v, &t, &len);
  ck_assert_int_eq (t, hive_t_REG_BINARY);
  ck_assert_uint_eq (len, wantlen);
  ck_assert_msg (memcmp (d, want, len) == 0, "%s: wrong data", path);
  free (d);
}

START_TEST (test_bcd)
{
  struct lf_guest g = { 0 };
  struct lf_os os = { .type = "windows", .root = 0 };
  struct lf_fix_opts o = { 0 };
  struct lf_plan *p = lf_plan_new (&ms);
  char tmp[64];

  os.mounts = ms;
  os.facts = json_pack ("{s:s}", "systemroot", "/Windows");
  ck_assert_int_eq (lf_fix_windows_bcd (&g, &os, p, &o), 0);
  ck_assert_int_eq (lf_plan_nedits (p), 1);
  ck_assert_uint_eq (count_findings (p, "failed"), 0);
  size_t changed = count_findings (p, "changed");
  ck_assert_uint_ge (changed, 5);

  hive_h *h = planned (p, "/Boot/BCD", tmp);
  static const uint8_t one[1] = { 1 }, q1[8] = { 1 },
    baud[8] = { 0x00, 0xc2, 0x01 };
  check_element (h, "{9dea862c-5cdd-4e70-acc1-f32b344d4795}", "16000020", one, 1);
  check_element (h, "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}", "15000022", q1, 8);
  check_element (h, "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}", "15000023", baud, 8);
  /* The store's {bootmgr} default (23000003) is this loader. */
  check_element (h, "{733b62e5-f608-11eb-825c-c112f60133ab}", "260000b0", one, 1);
  check_element (h, "{733b62e5-f608-11eb-825c-c112f60133ab}", "250000e0", q1, 8);
  /* Untouched: the other loader's elements, and the store's own. */
  check_element (h, "{733b62e5-f608-11eb-825c-c112f60133ab}", "250000c2", q1, 8);
  hivex_close (h);
  unlink (tmp);

  /* A second pass over the planned store changes nothing more. */
  ck_assert_int_eq (lf_fix_windows_bcd (&g, &os, p, &o), 0);
  ck_assert_uint_eq (count_findings (p, "changed"), changed);
  ck_assert_int_eq (lf_plan_nedits (p), 1);
  json_decref (os.facts);
  lf_plan_free (p);
}
END_TEST

/* A dirty BCD (its .LOG holds changes) is refused like a dirty SYSTEM. */
START_TEST (test_bcd_dirty)
{
  struct lf_guest g = { 0 };
  struct lf_os os = { .type = "windows", .root = 0 };
  struct lf_fix_opts o = { 0 };
  struct lf_plan *p = lf_plan_new (&ms);

  sh ("printf '\\377' | dd of=%s/Boot/BCD bs=1 seek=8 conv=notrunc "
      "status=none", root);
  os.mounts = ms;
  os.facts = json_pack ("{s:s}", "systemroot", "/Windows");
  ck_assert_int_eq (lf_fix_windows_bcd (&g, &os, p, &o), -1);
  ck_assert_int_eq (lf_last_errno (), EUCLEAN);
  ck_assert_int_eq (lf_plan_nedits (p), 0);
  json_decref (os.facts);
  lf_plan_free (p);
}
END_TEST

static Suite *
windows_suite (void)
{
  Suite *s = suite_create ("bootfix-windows");
  TCase *tc = tcase_create ("core");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_set_values);
  tcase_add_test (tc, test_no_change_no_edit);
  tcase_add_test (tc, test_refusals);
  tcase_add_test (tc, test_describe);
  tcase_add_test (tc, test_image_path);
  tcase_add_test (tc, test_bcd);
  tcase_add_test (tc, test_bcd_dirty);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (windows_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
