/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the kmod index writer and reader (linux/kmod-index.c)
 * and the modules.dep parser (linux/modules-dep.c).  The writer is
 * checked three ways: bytes against a trie worked out by hand from the
 * format, a round trip through our reader, and the host's real kmod
 * (modprobe -d over a tree holding only our index files).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootfix/bootfix.h"

static void
write_index (struct lf_kmod_index *idx, void **buf, size_t *len)
{
  ck_assert_int_eq (lf_kmod_index_write (idx, buf, len), 0);
  lf_kmod_index_free (idx);
}

static char *
lookup (const void *buf, size_t len, const char *key)
{
  char *v = NULL;
  int r = lf_kmod_index_lookup (buf, len, "test.bin", key, &v);
  ck_assert_int_ne (r, -1);
  return r == LF_MATCH ? v : NULL;
}

/* "ab" -> "1", "ac" -> "2": root (no prefix) -a-> node with children
 * b and c, each a leaf with one value.  Post-order: b at 12, c at 22,
 * a at 32, root at 42.
 */
START_TEST (test_bytes_by_hand)
{
  static const uint8_t want[] = {
    0xb0, 0x07, 0xf4, 0x57, 0x00, 0x02, 0x00, 0x01, 0x20, 0x00, 0x00, 42,
    0, 0, 0, 1, 0, 0, 0, 0, '1', 0,                     /* b: values */
    0, 0, 0, 1, 0, 0, 0, 0, '2', 0,                     /* c: values */
    'b', 'c', 0x40, 0, 0, 12, 0x40, 0, 0, 22,           /* a: childs */
    'a', 'a', 0x20, 0, 0, 32,                           /* root */
  };
  struct lf_kmod_index *idx = lf_kmod_index_new ("t");
  void *buf;
  size_t len;

  ck_assert_int_eq (lf_kmod_index_add (idx, "ac", "2", 0), 0);
  ck_assert_int_eq (lf_kmod_index_add (idx, "ab", "1", 0), 0);
  write_index (idx, &buf, &len);
  ck_assert_uint_eq (len, sizeof want);
  ck_assert_mem_eq (buf, want, sizeof want);
  free (buf);
}
END_TEST

START_TEST (test_empty)
{
  static const uint8_t want[] = { 0xb0, 0x07, 0xf4, 0x57, 0, 2, 0, 1,
                                  0, 0, 0, 12 };
  struct lf_kmod_index *idx = lf_kmod_index_new ("t");
  void *buf;
  size_t len;

  write_index (idx, &buf, &len);
  ck_assert_uint_eq (len, 12);
  ck_assert_mem_eq (buf, want, 12);
  ck_assert_ptr_null (lookup (buf, len, "x"));
  free (buf);
}
END_TEST

/* Prefix keys, a shared path, priorities and equal priorities. */
START_TEST (test_round_trip)
{
  static const char *const keys[] = {
    "a", "ab", "abc", "abd", "b", "hv_vmbus", "hv_storvsc", "hv_netvsc",
    "vmbus:635161f83edfc546913ff2d2f965ed0e", "acpi*:VMBus:*", "x_y_z",
    "symbol:vmbus_driver_unregister", "",
  };
  struct lf_kmod_index *idx = lf_kmod_index_new ("t");
  void *buf;
  size_t len;
  char val[64], *v;

  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    snprintf (val, sizeof val, "v%zu", i);
    ck_assert_int_eq (lf_kmod_index_add (idx, keys[i], val, 5), 0);
  }
  /* Lower priority first; among equals the later added first. */
  ck_assert_int_eq (lf_kmod_index_add (idx, "ab", "low", 1), 0);
  ck_assert_int_eq (lf_kmod_index_add (idx, "abc", "later", 5), 0);
  write_index (idx, &buf, &len);
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    snprintf (val, sizeof val, "v%zu", i);
    v = lookup (buf, len, keys[i]);
    ck_assert_ptr_nonnull (v);
    if (strcmp (keys[i], "ab") == 0)
      ck_assert_str_eq (v, "low");
    else if (strcmp (keys[i], "abc") == 0)
      ck_assert_str_eq (v, "later");
    else
      ck_assert_str_eq (v, val);
    free (v);
  }
  ck_assert_ptr_null (lookup (buf, len, "abe"));
  ck_assert_ptr_null (lookup (buf, len, "hv_"));
  ck_assert_ptr_null (lookup (buf, len, "hv_vmbusx"));
  ck_assert_ptr_null (lookup (buf, len, "zzz"));
  free (buf);
}
END_TEST

START_TEST (test_refused)
{
  struct lf_kmod_index *idx = lf_kmod_index_new ("modules.alias.bin");
  char longkey[KMOD_INDEX_MAX_KEY + 2];

  ck_assert_int_eq (lf_kmod_index_add (idx, "caf\xc3\xa9", "m", 0), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "modules.alias.bin: key"));
  memset (longkey, 'a', sizeof longkey - 1);
  longkey[sizeof longkey - 1] = '\0';
  ck_assert_int_eq (lf_kmod_index_add (idx, longkey, "m", 0), -1);
  ck_assert_int_eq (lf_last_errno (), E2BIG);
  lf_kmod_index_free (idx);
}
END_TEST

/* Damaged indexes are errors, never reads out of bounds or loops. */
START_TEST (test_damaged)
{
  uint8_t b[64];
  char *v = NULL;
  struct lf_kmod_index *idx = lf_kmod_index_new ("t");
  void *buf;
  size_t len;

  ck_assert_int_eq (lf_kmod_index_lookup (b, 4, "x.bin", "a", &v), -1);
  memset (b, 0, sizeof b);
  ck_assert_int_eq (lf_kmod_index_lookup (b, 12, "x.bin", "a", &v), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "not a kmod index"));
  /* A root whose child 'a' is the root again: each hop consumes a key
   * byte, so the walk ends with the key (no value at the root).
   */
  static const uint8_t loop[] = { 0xb0, 0x07, 0xf4, 0x57, 0, 2, 0, 1,
                                  0x20, 0, 0, 12, 'a', 'a', 0x20, 0, 0, 12 };
  ck_assert_int_eq (lf_kmod_index_lookup (loop, sizeof loop, "x.bin",
                                          "aaaa", &v), LF_NO_MATCH);
  /* Every truncation of a good index. */
  ck_assert_int_eq (lf_kmod_index_add (idx, "hv_vmbus", "kernel/hv.ko:", 0), 0);
  ck_assert_int_eq (lf_kmod_index_add (idx, "hv_netvsc", "n:", 0), 0);
  write_index (idx, &buf, &len);
  for (size_t n = 0; n < len; n++) {
    int r = lf_kmod_index_lookup (buf, n, "x.bin", "hv_vmbus", &v);
    ck_assert_int_ne (r, LF_MATCH);
  }
  free (buf);
}
END_TEST

START_TEST (test_alias_normalize)
{
  char b[64];

  ck_assert_int_eq (lf_kmod_alias_normalize ("platform:a-b", b, sizeof b), 0);
  ck_assert_str_eq (b, "platform:a_b");
  ck_assert_int_eq (lf_kmod_alias_normalize ("usb:v[0-9]-x", b, sizeof b), 0);
  ck_assert_str_eq (b, "usb:v[0-9]_x");
  ck_assert_int_eq (lf_kmod_alias_normalize ("a]b", b, sizeof b), -1);
  ck_assert_int_eq (lf_kmod_alias_normalize ("a[b", b, sizeof b), -1);
  ck_assert_int_eq (lf_kmod_alias_normalize ("abcdef", b, 4), -1);
}
END_TEST

static const char depfile[] =
  "kernel/drivers/scsi/scsi_common.ko:\n"
  "kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko\n"
  "kernel/drivers/hv/hv_vmbus.ko.xz:\n"
  "kernel/drivers/scsi/hv_storvsc.ko: kernel/drivers/scsi/scsi_mod.ko "
  "kernel/drivers/scsi/scsi_common.ko kernel/drivers/hv/hv_vmbus.ko.xz\n"
  "kernel/drivers/input/serio/hyperv-keyboard.ko: kernel/drivers/hv/hv_vmbus.ko.xz\n";

START_TEST (test_moddep)
{
  struct lf_moddep d;
  const struct lf_moddep_entry *e;

  ck_assert_int_eq (lf_moddep_parse (depfile, strlen (depfile), "modules.dep",
                                     &d), 0);
  ck_assert_uint_eq (d.n, 5);
  e = lf_moddep_find (&d, "hv_storvsc");
  ck_assert_ptr_nonnull (e);
  ck_assert_uint_eq (e->ndeps, 3);
  ck_assert_str_eq (d.e[e->deps[2]].path, "kernel/drivers/hv/hv_vmbus.ko.xz");
  ck_assert_str_eq (lf_moddep_find (&d, "hyperv-keyboard")->name,
                    "hyperv_keyboard");
  ck_assert_ptr_null (lf_moddep_find (&d, "hv_netvsc"));
  /* The closure (guest/modread.c), shared by verify and the fix. */
  bool seen[8] = { false };
  size_t queue[8], qn;
  qn = lf_moddep_closure (&d, (size_t) (e - d.e), seen, queue, 0);
  ck_assert_uint_eq (qn, 4);
  ck_assert_uint_eq (queue[0], (size_t) (e - d.e));
  ck_assert_uint_eq (lf_moddep_closure (&d, e->deps[2], seen, queue, qn), qn);
  lf_moddep_free (&d);

  static const char cyc[] = "a.ko: b.ko\nb.ko: a.ko\nc.ko:\n";
  ck_assert_int_eq (lf_moddep_parse (cyc, strlen (cyc), "modules.dep", &d), 0);
  memset (seen, 0, sizeof seen);
  ck_assert_uint_eq (lf_moddep_closure (&d, 0, seen, queue, 0), 2);
  lf_moddep_free (&d);
}
END_TEST

static void
bad_dep (const char *text, const char *msg)
{
  struct lf_moddep d;
  ck_assert_int_eq (lf_moddep_parse (text, strlen (text), "modules.dep", &d),
                    -1);
  if (!strstr (lf_last_error (), msg))
    ck_abort_msg ("error \"%s\" lacks \"%s\"", lf_last_error (), msg);
}

START_TEST (test_moddep_bad)
{
  bad_dep ("kernel/../../etc/shadow.ko:\n", "line 1: \"kernel/../../etc/shadow.ko\" has an empty, \".\" or \"..\"");
  bad_dep ("a.ko:\n/lib/a.ko:\n", "line 2: \"/lib/a.ko\" is absolute");
  bad_dep ("a.ko: b.ko\n", "dependency b.ko of a.ko has no line of its own");
  bad_dep ("a.ko b.ko\n", "line 1: no ':'");
  bad_dep ("a.ko:\na.ko:\n", "line 2: a.ko is listed again");
  bad_dep ("a.txt:\n", "does not end in .ko");
  bad_dep ("a\x01.ko:\n", "not printable ASCII");
}
END_TEST

/* The host's kmod reads what we write: a tree with nothing but our
 * indexes.
 */
START_TEST (test_with_kmod)
{
  char dir[] = "/tmp/landfall-kmod-XXXXXX", path[256], cmd[512], out[512];
  struct lf_kmod_index *dep = lf_kmod_index_new ("modules.dep.bin");
  struct lf_kmod_index *alias = lf_kmod_index_new ("modules.alias.bin");
  struct lf_kmod_index *sym = lf_kmod_index_new ("modules.symbols.bin");
  struct lf_kmod_index *bi = lf_kmod_index_new ("modules.builtin.bin");
  struct { struct lf_kmod_index *idx; const char *name; } files[] = {
    { dep, "modules.dep.bin" }, { alias, "modules.alias.bin" },
    { sym, "modules.symbols.bin" }, { bi, "modules.builtin.bin" },
  };
  FILE *fp;

  if (system ("modprobe --version >/dev/null 2>&1") != 0) {
    fprintf (stderr, "SKIP (part): no modprobe on the host\n");
    return;
  }
  ck_assert_ptr_nonnull (mkdtemp (dir));
  /* kmod checks that each dependency's file exists (not its content). */
  snprintf (cmd, sizeof cmd, "cd %s && mkdir -p lib/modules/9.9.9/kernel/drivers/hv "
            "lib/modules/9.9.9/kernel/drivers/scsi && cd lib/modules/9.9.9/kernel/drivers && "
            "touch hv/hv_vmbus.ko scsi/scsi_mod.ko scsi/hv_storvsc.ko", dir);
  ck_assert_int_eq (system (cmd), 0);
  ck_assert_int_eq (lf_kmod_index_add (dep, "hv_vmbus", "kernel/drivers/hv/hv_vmbus.ko:", 0), 0);
  ck_assert_int_eq (lf_kmod_index_add (dep, "scsi_mod", "kernel/drivers/scsi/scsi_mod.ko:", 1), 0);
  ck_assert_int_eq (lf_kmod_index_add (dep, "hv_storvsc", "kernel/drivers/scsi/hv_storvsc.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/hv/hv_vmbus.ko", 2), 0);
  ck_assert_int_eq (lf_kmod_index_add (alias, "vmbus:ba6163d9042d", "hv_storvsc", 2), 0);
  ck_assert_int_eq (lf_kmod_index_add (alias, "acpi*:VMBus:*", "hv_vmbus", 0), 0);
  ck_assert_int_eq (lf_kmod_index_add (sym, "symbol:vmbus_driver_unregister", "hv_vmbus", 0), 0);
  ck_assert_int_eq (lf_kmod_index_add (bi, "ext4", "", 0), 0);
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    void *buf;
    size_t len;
    write_index (files[i].idx, &buf, &len);
    snprintf (path, sizeof path, "%s/lib/modules/9.9.9/%s", dir, files[i].name);
    fp = fopen (path, "wb");
    ck_assert_ptr_nonnull (fp);
    ck_assert_uint_eq (fwrite (buf, 1, len, fp), len);
    fclose (fp);
    free (buf);
  }
  static const struct { const char *arg, *want; } q[] = {
    { "--show-depends hv_storvsc",
      "insmod %s/lib/modules/9.9.9/kernel/drivers/hv/hv_vmbus.ko \n"
      "insmod %s/lib/modules/9.9.9/kernel/drivers/scsi/scsi_mod.ko \n"
      "insmod %s/lib/modules/9.9.9/kernel/drivers/scsi/hv_storvsc.ko \n" },
    { "-R vmbus:ba6163d9042d", "hv_storvsc\n" },
    { "-R acpi:VMBus:", "hv_vmbus\n" },
    { "--show-depends symbol:vmbus_driver_unregister",
      "insmod %s/lib/modules/9.9.9/kernel/drivers/hv/hv_vmbus.ko \n" },
    { "--show-depends ext4", "builtin ext4\n" },
  };
  for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
    char want[1024];
    size_t n;
    snprintf (cmd, sizeof cmd, "modprobe -d %s -S 9.9.9 %s 2>&1", dir,
              q[i].arg);
    fp = popen (cmd, "r");
    ck_assert_ptr_nonnull (fp);
    n = fread (out, 1, sizeof out - 1, fp);
    out[n] = '\0';
    pclose (fp);
    snprintf (want, sizeof want, q[i].want, dir, dir, dir);
    if (strcmp (out, want) != 0)
      ck_abort_msg ("modprobe %s:\n%s\nwanted:\n%s", q[i].arg, out, want);
  }
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  ck_assert_int_eq (system (cmd), 0);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("kmod-index");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_bytes_by_hand);
  tcase_add_test (tc, test_empty);
  tcase_add_test (tc, test_round_trip);
  tcase_add_test (tc, test_refused);
  tcase_add_test (tc, test_damaged);
  tcase_add_test (tc, test_alias_normalize);
  tcase_add_test (tc, test_moddep);
  tcase_add_test (tc, test_moddep_bad);
  tcase_add_test (tc, test_with_kmod);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (suite ());
  int nf;
  srunner_run_all (sr, CK_NORMAL);
  nf = srunner_ntests_failed (sr);
  srunner_free (sr);
  return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
