/* SPDX-License-Identifier: LGPL-2.1-or-later */
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

#include "bootfix/bootfix.h"
#include "bootfix/windows/winfix.h"

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

/* Concern FN as lf_fix_windows runs it: on the hives opened once (those
 * the test tree has), committed once.
 */
static int
run_concern (lf_winfix_fn *fn, struct lf_guest *g, struct lf_os *os,
             struct lf_plan *p, const struct lf_fix_opts *o)
{
  struct lf_winfix c = { .g = g, .os = os, .p = p, .o = o };
  static const char *const hives[2] = {
    "/Windows/System32/config/SYSTEM", "/Windows/System32/config/SOFTWARE",
  };
  int r = -1;

  if (lf_plan_exists (p, hives[0]) &&
      !(c.system = lf_whive_open (p, "", hives[0], "SYSTEM")))
    return -1;
  if (lf_plan_exists (p, hives[1]) &&
      !(c.software = lf_whive_open (p, "", hives[1], "SOFTWARE")))
    goto out;
  if (lf_winfix_run (&c, "test", fn) == 0)
    r = lf_winfix_commit (&c);
 out:
  lf_winfix_close (&c);
  return r;
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
  uint64_t k;
  uint32_t v;

  ck_assert_ptr_nonnull (w);
  k = lf_whive_key (w, lf_hive_root (w->hv), "", "Services");
  ck_assert_uint_ne (k, 0);
  ck_assert_uint_eq (lf_whive_key (w, lf_hive_root (w->hv), "", "services"), k);
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
  kids = lf_whive_children (w, lf_hive_root (w->hv));
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
  ck_assert_int_eq (run_concern (lf_fix_windows_bcd, &g, &os, p, &o), 0);
  ck_assert_int_eq (lf_plan_nedits (p), 1);
  ck_assert_uint_eq (count_findings (p, "failed"), 0);
  size_t changed = count_findings (p, "changed");
  ck_assert_uint_ge (changed, 8);
  ck_assert (has_finding (p, "BCD\\Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
                          "\\Elements\\25000004\\Element: type 3 hex:1e,00,00,00,"
                          "00,00,00,00 -> type 3 hex:05,00,00,00,00,00,00,00"));

  hive_h *h = planned (p, "/Boot/BCD", tmp);
  static const uint8_t one[1] = { 1 }, q1[8] = { 1 },
    baud[8] = { 0x00, 0xc2, 0x01 };
  check_element (h, "{9dea862c-5cdd-4e70-acc1-f32b344d4795}", "16000020", one, 1);
  check_element (h, "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}", "15000022", q1, 8);
  check_element (h, "{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}", "15000023", baud, 8);
  /* The store's {bootmgr} default (23000003) is this loader. */
  check_element (h, "{733b62e5-f608-11eb-825c-c112f60133ab}", "260000b0", one, 1);
  check_element (h, "{733b62e5-f608-11eb-825c-c112f60133ab}", "250000e0", q1, 8);
  /* B01, B02 in {bootmgr} (the store had timeout 30), B07 in the loader
   * (it had recoveryenabled 01).
   */
  static const uint8_t zero[1] = { 0 }, q5[8] = { 5 };
  check_element (h, "{9dea862c-5cdd-4e70-acc1-f32b344d4795}", "26000020", one, 1);
  check_element (h, "{9dea862c-5cdd-4e70-acc1-f32b344d4795}", "25000004", q5, 8);
  check_element (h, "{733b62e5-f608-11eb-825c-c112f60133ab}", "16000009", zero, 1);
  /* Untouched: the other loader's elements, and the store's own. */
  check_element (h, "{733b62e5-f608-11eb-825c-c112f60133ab}", "250000c2", q1, 8);
  hivex_close (h);
  unlink (tmp);

  /* A second pass over the planned store changes nothing more. */
  ck_assert_int_eq (run_concern (lf_fix_windows_bcd, &g, &os, p, &o), 0);
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
  ck_assert_int_eq (run_concern (lf_fix_windows_bcd, &g, &os, p, &o), -1);
  ck_assert_int_eq (lf_last_errno (), EUCLEAN);
  ck_assert_int_eq (lf_plan_nedits (p), 0);
  json_decref (os.facts);
  lf_plan_free (p);
}
END_TEST

/* A SYSTEM hive for the concerns, made in the plan from hivex's minimal
 * hive: each "key" line creates a key path, then values are set on it.
 */
static struct lf_whive *
system_hive (struct lf_plan *p)
{
  sh ("cp %s/h/minimal %s/Windows/System32/config/SYSTEM", root, root);
  struct lf_whive *w = lf_whive_open (p, "setup", "/Windows/System32/config/SYSTEM",
                                      "SYSTEM");
  ck_assert_ptr_nonnull (w);
  return w;
}

static uint64_t
mkpath (struct lf_whive *w, const char *path)
{
  char *copy = strdup (path), *save = NULL;
  uint64_t n = lf_hive_root (w->hv);

  for (char *c = strtok_r (copy, "\\", &save); c && n;
       c = strtok_r (NULL, "\\", &save))
    n = lf_whive_key (w, n, "", c);
  free (copy);
  ck_assert_uint_ne (n, 0);
  return n;
}

static void
service (struct lf_whive *w, const char *cs, const char *name, uint32_t type,
         int start, const char *image)
{
  char path[200];

  snprintf (path, sizeof path, "%s\\Services\\%s", cs, name);
  hive_node_h k = mkpath (w, path);
  ck_assert_int_eq (lf_whive_set_dword (w, k, "", "Type", type), 1);
  if (start >= 0)
    ck_assert_int_eq (lf_whive_set_dword (w, k, "", "Start", (uint32_t) start), 1);
  if (image)
    ck_assert_int_eq (lf_whive_set_sz (w, k, "", "ImagePath", image, true), 1);
}

#define DISK_CLASS "ControlSet001\\Control\\Class\\{4D36E967-E325-11CE-BFC1-08002BE10318}"
#define VOLUME_CLASS "ControlSet001\\Control\\Class\\{71A27CDD-812A-11D0-BEC7-08002BE2092F}"

START_TEST (test_multi)
{
  struct lf_plan *p = lf_plan_new (&ms);
  struct lf_whive *w = lf_whive_open (p, "t", "/h/minimal", "MIN");
  hive_node_h k = mkpath (w, "K");
  char **l = NULL;
  /* "a", "", "b" and one stray byte. */
  uint8_t raw[] = { 'a', 0, 0, 0, 0, 0, 'b', 0, 'c' };

  const char *const in[] = { "PartMgr", "fvevol", NULL };
  lf_whive_set_multi (w, k, "K", "M", in);
  ck_assert_int_eq (lf_whive_get_multi (w, k, "m", &l), LF_MATCH);
  ck_assert_str_eq (l[0], "PartMgr");
  ck_assert_str_eq (l[1], "fvevol");
  ck_assert_ptr_null (l[2]);
  lf_free_names (l);
  lf_whive_set_sz (w, k, "K", "S", "one", false);
  ck_assert_int_eq (lf_whive_get_multi (w, k, "S", &l), LF_MATCH);
  ck_assert_str_eq (l[0], "one");
  ck_assert_ptr_null (l[1]);
  lf_free_names (l);
  lf_whive_set_dword (w, k, "K", "D", 1);
  ck_assert_int_eq (lf_whive_get_multi (w, k, "D", &l), LF_NO_MATCH);
  ck_assert_int_eq (lf_whive_get_multi (w, k, "none", &l), LF_NO_MATCH);
  /* An empty string in the middle and odd, unterminated data: the names
   * around it are still read, and nothing past the data.
   */
  lf_whive_set (w, k, "K", "R", hive_t_REG_MULTI_SZ, raw, sizeof raw);
  ck_assert_int_eq (lf_whive_get_multi (w, k, "R", &l), LF_MATCH);
  ck_assert_str_eq (l[0], "a");
  ck_assert_str_eq (l[1], "b");
  ck_assert_ptr_null (l[2]);
  lf_free_names (l);
  lf_whive_close (w);
  lf_plan_free (p);
}
END_TEST

/* W10: every listed filter needs a service key, Start != 4 and its file;
 * the message names the class value, the filter and what is wrong.
 */
START_TEST (test_class_filters)
{
  struct lf_plan *p = lf_plan_new (&ms);
  struct lf_whive *w = system_hive (p);
  const char *const upper[] = { "PartMgr", "gone", "off", NULL };
  const char *const lower[] = { "nofile", "fvevol", NULL };

  sh ("mkdir -p %s/Windows/System32/drivers && touch "
      "%s/Windows/System32/drivers/partmgr.sys "
      "%s/Windows/System32/drivers/fvevol.sys", root, root, root);
  ck_assert_int_eq (lf_whive_set_multi (w, mkpath (w, DISK_CLASS), "",
                                        "UpperFilters", upper), 1);
  ck_assert_int_eq (lf_whive_set_multi (w, mkpath (w, VOLUME_CLASS), "",
                                        "LowerFilters", lower), 1);
  service (w, "ControlSet001", "PartMgr", 1, 0, "System32\\drivers\\partmgr.sys");
  service (w, "ControlSet001", "off", 1, 4, NULL);
  service (w, "ControlSet001", "nofile", 1, 0, "system32\\DRIVERS\\nofile.sys");
  service (w, "ControlSet001", "fvevol", 1, 0, NULL);   /* drivers\fvevol.sys */

  char **all = lf_win_class_filters (w, "ControlSet001");
  ck_assert_ptr_nonnull (all);
  size_t n = 0;
  while (all[n])
    n++;
  ck_assert_uint_eq (n, 5);
  lf_free_names (all);

  ck_assert_int_eq (lf_win_check_class_filters (w, "/Windows", "ControlSet001"), 0);
  ck_assert_uint_eq (count_findings (p, "failed"), 3);
  ck_assert (has_finding (p, "SYSTEM\\" DISK_CLASS "\\UpperFilters lists filter "
                          "driver \"gone\", which has no service key "
                          "(SYSTEM\\ControlSet001\\Services\\gone): Windows "
                          "would stop with INACCESSIBLE_BOOT_DEVICE (0x7B)"));
  ck_assert (has_finding (p, "driver \"off\", which is disabled "
                          "(SYSTEM\\ControlSet001\\Services\\off\\Start is 4)"));
  ck_assert (has_finding (p, "SYSTEM\\" VOLUME_CLASS "\\LowerFilters lists "
                          "filter driver \"nofile\", whose file "
                          "/Windows/System32/drivers/nofile.sys is missing"));
  /* A control set without the class keys has nothing to check. */
  all = lf_win_class_filters (w, "ControlSet009");
  ck_assert_ptr_nonnull (all);
  ck_assert_ptr_null (all[0]);
  lf_free_names (all);
  lf_whive_close (w);
  lf_plan_free (p);
}
END_TEST

/* W60 never disables a VMware service listed as a class filter. */
START_TEST (test_agents_keep_filters)
{
  struct lf_guest g = { 0 };
  struct lf_os os = { .type = "windows", .mounts = ms };
  /* Azure's profile turns VMware Tools off (the suites run at the top). */
  struct lf_hw_profile *hw = lf_hw_profile_load ("hw", "azure-gen1");
  ck_assert_msg (hw != NULL, "%s", lf_last_error ());
  struct lf_fix_opts o = { .profile = hw };
  struct lf_plan *p = lf_plan_new (&ms);
  struct lf_whive *w = system_hive (p);
  const char *const upper[] = { "PartMgr", "vmfilt", NULL };

  ck_assert_int_eq (lf_whive_set_multi (w, mkpath (w, DISK_CLASS), "",
                                        "UpperFilters", upper), 1);
  service (w, "ControlSet001", "vmfilt", 0x10, 2,
           "C:\\Program Files\\VMware\\vmfilt.exe");
  service (w, "ControlSet001", "VMTools", 0x10, 2, NULL);
  ck_assert_int_eq (lf_whive_commit (w, "setup"), 0);
  lf_whive_close (w);

  os.facts = json_pack ("{s:s}", "systemroot", "/Windows");
  ck_assert_int_eq (run_concern (lf_fix_windows_agents, &g, &os, p, &o), 0);
  ck_assert (has_finding (p, "SYSTEM\\ControlSet001\\Services\\VMTools\\Start: 2 -> 4"));
  ck_assert (has_finding (p, "SYSTEM\\ControlSet001\\Services\\vmfilt: VMware "
                          "service left enabled (Start 2): it is listed as a "
                          "storage class filter"));
  ck_assert (!has_finding (p, "vmfilt\\Start"));
  json_decref (os.facts);
  lf_plan_free (p);
  lf_hw_profile_free (hw);
}
END_TEST

/* Issue 14: the whole Windows fix opens each hive once (SYSTEM and the
 * BCD store here; this tree has no SOFTWARE) however many concerns edit
 * it, and plans one edit per hive, shared by the concerns that changed
 * it, each with its own count of changes.
 */
START_TEST (test_fix_opens_once)
{
  static const char sys[] = "/Windows/System32/config/SYSTEM";
  struct lf_guest g = { 0 };
  struct lf_os os = { .type = "windows", .mounts = ms };
  struct lf_hw_profile *hw = lf_hw_profile_load ("hw", "azure-gen1");
  ck_assert_msg (hw != NULL, "%s", lf_last_error ());
  struct lf_fix_opts o = { .profile = hw, .rootdelay = -1 };
  struct lf_plan *p = lf_plan_new (&ms);
  struct lf_whive *w = system_hive (p);
  char path[256], *buf = NULL;
  size_t len;
  FILE *fp;

  /* Dhcp manual (network sets it automatic), W32Time manual and no
   * TimeZoneInformation (time sets both).
   */
  service (w, "ControlSet001", "Dhcp", 0x20, 3, NULL);
  service (w, "ControlSet001", "W32Time", 0x20, 3, NULL);
  mkpath (w, "ControlSet001\\Control");
  ck_assert_int_eq (lf_whive_commit (w, "setup"), 0);
  lf_whive_close (w);
  ck_assert_int_eq (lf_plan_read (p, sys, WIN_HIVE_MAX, &buf, &len), 0);
  lf_plan_free (p);
  snprintf (path, sizeof path, "%s%s", root, sys);
  fp = fopen (path, "wb");
  ck_assert_ptr_nonnull (fp);
  ck_assert_uint_eq (fwrite (buf, 1, len, fp), len);
  ck_assert_int_eq (fclose (fp), 0);
  free (buf);

  os.facts = json_pack ("{s:s, s:s, s:{s:s, s:b}, s:{s:i, s:i, s:i}, "
                        "s:{s:{}}}", "systemroot", "/Windows", "root", "t",
                        "system_hive", "path", sys, "dirty", 0,
                        "select", "current", 1, "default", 1,
                        "last_known_good", 1, "control_sets", "ControlSet001");
  ck_assert_ptr_nonnull (os.facts);
  p = lf_plan_new (&ms);
  unsigned opens = lf_hive_open_count ();
  ck_assert_int_eq (lf_fix_windows (&g, &os, p, &o), 0);
  ck_assert_uint_eq (lf_hive_open_count () - opens, 2);
  ck_assert_uint_eq (lf_plan_nedits (p), 2);
  json_t *r = lf_plan_report (p);
  json_t *e = json_array_get (json_object_get (r, "edits"), 0);
  json_t *by = json_object_get (e, "changes_by_concern");
  ck_assert_str_eq (json_string_value (json_object_get (e, "path")), sys);
  ck_assert_str_eq (json_string_value (json_object_get (e, "concern")),
                    "network, time");
  ck_assert_int_eq (json_integer_value (json_object_get (by, "network")), 1);
  /* The key TimeZoneInformation, RealTimeIsUniversal, W32Time's Start. */
  ck_assert_int_eq (json_integer_value (json_object_get (by, "time")), 3);
  ck_assert_uint_eq (json_object_size (by), 2);
  e = json_array_get (json_object_get (r, "edits"), 1);
  ck_assert_str_eq (json_string_value (json_object_get (e, "path")),
                    "/Boot/BCD");
  ck_assert_str_eq (json_string_value (json_object_get (e, "concern")), "bcd");
  json_decref (r);
  json_decref (os.facts);
  lf_plan_free (p);
  lf_hw_profile_free (hw);
}
END_TEST

/* W11 on 6.3 only: no package, a package without ACPI\MSFT1000, one
 * with it.
 */
START_TEST (test_vmbus_acpi)
{
  struct lf_os os = { .type = "windows" };
  struct lf_plan *p = lf_plan_new (&ms);
  struct lf_whive *w = system_hive (p);

  os.facts = json_pack ("{s:{s:s}}", "product", "version", "6.1");
  ck_assert_uint_eq (lf_win_version (&os), 601);
  lf_win_check_vmbus_acpi (w, &os);
  ck_assert_uint_eq (count_findings (p, "warning"), 0);
  json_decref (os.facts);

  os.facts = json_pack ("{s:{s:s}}", "product", "version", "6.3");
  ck_assert_uint_eq (lf_win_version (&os), 603);
  lf_win_check_vmbus_acpi (w, &os);
  ck_assert (has_finding (p, "SYSTEM\\DriverDatabase\\DriverInfFiles\\wvmbus.inf: "
                          "no Active driver package"));
  ck_assert_int_eq (lf_whive_set_sz (w, mkpath (w, "DriverDatabase\\DriverInfFiles\\wvmbus.inf"),
                                     "", "Active", "wvmbus.inf_amd64_1", false), 1);
  mkpath (w, "DriverDatabase\\DriverPackages\\wvmbus.inf_amd64_1\\Descriptors\\ACPI\\VMBus");
  mkpath (w, "DriverDatabase\\DriverPackages\\wvmbus.inf_amd64_1\\Strings");
  lf_win_check_vmbus_acpi (w, &os);
  ck_assert (has_finding (p, "SYSTEM\\DriverDatabase\\DriverPackages\\"
                          "wvmbus.inf_amd64_1: Windows 8.1 / Server 2012 R2 "
                          "whose VMBus driver knows ACPI\\VMBus only"));
  ck_assert (has_finding (p, "needs the platform update"));
  ck_assert (has_finding (p, "lacks Configurations\\VMBus_Device_WIN8_Child.NT, "
                          "Configurations\\VMBus_Support_Device.NT, "
                          "Descriptors\\VMBUS\\SUBCHANNEL"));
  ck_assert_uint_eq (count_findings (p, "warning"), 2);
  mkpath (w, "DriverDatabase\\DriverPackages\\wvmbus.inf_amd64_1\\Descriptors\\ACPI\\MSFT1000");
  lf_win_check_vmbus_acpi (w, &os);
  ck_assert_uint_eq (count_findings (p, "warning"), 2);
  ck_assert (has_finding (p, "MSFT1000: the VMBus driver knows the ACPI id"));
  json_decref (os.facts);

  /* Windows 10 reports 10.0; a version inspection could not read is 0. */
  os.facts = json_pack ("{s:{s:s}}", "product", "version", "10.0");
  ck_assert_uint_eq (lf_win_version (&os), 1000);
  json_decref (os.facts);
  os.facts = json_pack ("{s:{s:s}}", "product", "version", "6.3x");
  ck_assert_uint_eq (lf_win_version (&os), 0);
  json_decref (os.facts);
  os.facts = json_object ();
  ck_assert_uint_eq (lf_win_version (&os), 0);
  json_decref (os.facts);
  lf_whive_close (w);
  lf_plan_free (p);
}
END_TEST

/* W70, W71 in every control set; the key created where absent, W32Time
 * reported where not installed; a second pass changes nothing.
 */
START_TEST (test_time)
{
  struct lf_guest g = { 0 };
  struct lf_os os = { .type = "windows", .mounts = ms };
  struct lf_fix_opts o = { 0 };
  struct lf_plan *p = lf_plan_new (&ms);
  struct lf_whive *w = system_hive (p);
  char tmp[64];

  ck_assert_int_eq (lf_whive_set_dword (w, mkpath (w, "ControlSet001\\Control\\"
                                                   "TimeZoneInformation"),
                                        "", "Bias", 300), 1);
  service (w, "ControlSet001", "W32Time", 0x20, 3, NULL);
  mkpath (w, "ControlSet002\\Control");
  ck_assert_int_eq (lf_whive_commit (w, "setup"), 0);
  lf_whive_close (w);

  os.facts = json_pack ("{s:s}", "systemroot", "/Windows");
  ck_assert_int_eq (run_concern (lf_fix_windows_time, &g, &os, p, &o), 0);
  ck_assert (has_finding (p, "SYSTEM\\ControlSet001\\Control\\TimeZoneInformation"
                          "\\RealTimeIsUniversal: absent -> 1"));
  ck_assert (has_finding (p, "SYSTEM\\ControlSet001\\Services\\W32Time\\Start: 3 -> 2"));
  ck_assert (has_finding (p, "SYSTEM\\ControlSet002\\Control\\TimeZoneInformation: "
                          "key created"));
  ck_assert (has_finding (p, "SYSTEM\\ControlSet002\\Control\\TimeZoneInformation"
                          "\\RealTimeIsUniversal: absent -> 1"));
  ck_assert (has_finding (p, "SYSTEM\\ControlSet002\\Services\\W32Time: the "
                          "Windows Time service is not installed"));
  hive_h *h = planned (p, "/Windows/System32/config/SYSTEM", tmp);
  hive_node_h n = hivex_node_get_child (h, hivex_root (h), "ControlSet001");
  n = hivex_node_get_child (h, hivex_node_get_child (h, n, "Control"),
                            "TimeZoneInformation");
  hive_value_h v = hivex_node_get_value (h, n, "RealTimeIsUniversal");
  hive_type t;
  size_t len;
  ck_assert_int_eq (hivex_value_type (h, v, &t, &len), 0);
  ck_assert_int_eq (t, hive_t_REG_DWORD);
  ck_assert_int_eq (hivex_value_dword (h, v), 1);
  ck_assert_int_eq (hivex_value_dword (h, hivex_node_get_value (h, n, "Bias")), 300);
  hivex_close (h);
  unlink (tmp);
  size_t changed = count_findings (p, "changed");
  ck_assert_int_eq (run_concern (lf_fix_windows_time, &g, &os, p, &o), 0);
  ck_assert_uint_eq (count_findings (p, "changed"), changed);
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
  tcase_add_test (tc, test_multi);
  tcase_add_test (tc, test_class_filters);
  tcase_add_test (tc, test_agents_keep_filters);
  tcase_add_test (tc, test_vmbus_acpi);
  tcase_add_test (tc, test_fix_opens_once);
  tcase_add_test (tc, test_time);
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
