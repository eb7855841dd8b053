/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for supervisor/run-state.c and the run summary: a job's
 * state written and read back is the state it was, a state file that is
 * not ours is refused, and the summary counts each concern's changes.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "supervisor/job.h"
#include "supervisor/run-state.h"

static char dir[] = "/tmp/lf-test-run-state-XXXXXX";
static char path[256];

static void
setup (void)
{
  ck_assert_ptr_nonnull (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/web01.state.json", dir);
}

static void
teardown (void)
{
  unlink (path);
  ck_assert_int_eq (rmdir (dir), 0);
  strcpy (dir, "/tmp/lf-test-run-state-XXXXXX");
}

/* A state with every field set, as a job in the middle of its verify. */
static void
sample (struct lf_job_state *s)
{
  memset (s, 0, sizeof *s);
  memset (s->job_sha256, 'a', 64);
  s->machine = strdup ("web01");
  s->clock = 1700000000;
  strcpy (s->profile, "azure-gen2");
  s->os = strdup ("linux: Debian GNU/Linux 12 (bookworm)");
  s->runs = 2;
  for (int i = 0; i < LF_NSTEPS; i++) {
    s->steps[i].status = i < 3 ? LF_STEP_DONE : i == 3 ? LF_STEP_FAILED
      : LF_STEP_PENDING;
    s->steps[i].timed = i < 4;
    s->steps[i].seconds = 0.25 * (i + 1);
  }
  s->ndisks = 2;
  s->disks = calloc (2, sizeof *s->disks);
  for (size_t i = 0; i < 2; i++) {
    struct lf_state_disk *d = &s->disks[i];
    d->source = strdup (i ? "/src/web01-data.vmdk" : "/src/web01 os.vmdk");
    d->output = strdup (i ? "/out/web01-data1.vhd" : "/out/web01-os.vhd");
    memset (d->uuid, i ? 'b' : 'c', 32);
    d->timestamp = 12345 + (uint32_t) i;
    d->source_size = 10 * LF_MiB + i;
    snprintf (d->source_mtime, sizeof d->source_mtime, "1700000000.%09zu", i);
  }
  struct lf_state_disk *d = &s->disks[0];
  d->state = LF_DISK_CONVERTED;
  d->source_format = strdup ("vmdk monolithicSparse");
  d->convert = (struct lf_state_convert) {
    .done = true, .action = strdup ("converted to a fixed VHD"),
    .source_size = 10 * LF_MiB, .size = 11 * LF_MiB,
    .file_size = 11 * LF_MiB + 512, .data_bytes = 3 * LF_MiB, .seconds = 1.5,
  };
  memset (d->sha256, 'e', 64);
  d->verified = LF_VERIFIED_VHD;
  d->verified_size = 11 * LF_MiB;
  d->verified_file_size = 11 * LF_MiB + 512;
  s->disks[1].verified = LF_VERIFIED_BLOCKDEV;
  lf_strs_add (&s->warnings, "profile auto: assuming %s", "azure-gen1");
  lf_strs_add (&s->warnings, "volume group vg0 spans a disk");
  s->recovery_point = strdup ("rp-0007");
  s->fix.done = true;
  s->fix.edits = json_pack ("[{s:s, s:s, s:{s:i, s:i}}]", "concern", "network",
                            "path", "/etc/network/interfaces",
                            "changes_by_concern", "network", 1, "rdp", 2);
  s->fix.journal = strdup ("/var/lib/landfall/journal");
  s->fix.nfindings = 5;
  s->fix.findings = calloc (5, sizeof *s->fix.findings);
  for (size_t i = 0; i < 5; i++) {
    s->fix.findings[i].concern = strdup (i % 2 ? "fstab" : "initramfs");
    s->fix.findings[i].result = (enum lf_finding) i;
    s->fix.findings[i].message = strdup ("a message");
  }
  s->verify.done = true;
  s->verify.footers_ok = false;
  s->verify.profile = strdup ("azure-gen2");
  s->verify.checks = json_pack ("[{s:s, s:s, s:s}]", "check", "mbr-boot-code",
                                "status", "fail", "reason", "empty");
}

static void
assert_equal (const struct lf_job_state *a, const struct lf_job_state *b)
{
  ck_assert_str_eq (a->job_sha256, b->job_sha256);
  ck_assert_str_eq (a->machine, b->machine);
  ck_assert_int_eq (a->clock, b->clock);
  ck_assert_str_eq (a->profile, b->profile);
  ck_assert_str_eq (a->os, b->os);
  ck_assert_int_eq (a->runs, b->runs);
  for (int i = 0; i < LF_NSTEPS; i++) {
    ck_assert_int_eq (a->steps[i].status, b->steps[i].status);
    ck_assert_int_eq (a->steps[i].timed, b->steps[i].timed);
    if (a->steps[i].timed)
      ck_assert_double_eq_tol (a->steps[i].seconds, b->steps[i].seconds, 1e-9);
  }
  ck_assert_uint_eq (a->ndisks, b->ndisks);
  for (size_t i = 0; i < a->ndisks; i++) {
    const struct lf_state_disk *x = &a->disks[i], *y = &b->disks[i];
    ck_assert_str_eq (x->source, y->source);
    ck_assert_pstr_eq (x->output, y->output);
    ck_assert_str_eq (x->uuid, y->uuid);
    ck_assert_uint_eq (x->timestamp, y->timestamp);
    ck_assert_uint_eq (x->source_size, y->source_size);
    ck_assert_str_eq (x->source_mtime, y->source_mtime);
    ck_assert_int_eq (x->state, y->state);
    ck_assert_pstr_eq (x->source_format, y->source_format);
    ck_assert_int_eq (x->convert.done, y->convert.done);
    ck_assert_pstr_eq (x->convert.action, y->convert.action);
    ck_assert_uint_eq (x->convert.source_size, y->convert.source_size);
    ck_assert_uint_eq (x->convert.size, y->convert.size);
    ck_assert_uint_eq (x->convert.file_size, y->convert.file_size);
    ck_assert_uint_eq (x->convert.data_bytes, y->convert.data_bytes);
    ck_assert_double_eq_tol (x->convert.seconds, y->convert.seconds, 1e-9);
    ck_assert_str_eq (x->sha256, y->sha256);
    ck_assert_int_eq (x->verified, y->verified);
    if (x->verified == LF_VERIFIED_VHD) {
      ck_assert_uint_eq (x->verified_size, y->verified_size);
      ck_assert_uint_eq (x->verified_file_size, y->verified_file_size);
    }
  }
  ck_assert_uint_eq (a->warnings.n, b->warnings.n);
  for (size_t i = 0; i < a->warnings.n; i++)
    ck_assert_str_eq (a->warnings.v[i], b->warnings.v[i]);
  ck_assert_pstr_eq (a->recovery_point, b->recovery_point);
  ck_assert_int_eq (a->fix.done, b->fix.done);
  ck_assert (a->fix.edits == b->fix.edits || json_equal (a->fix.edits, b->fix.edits));
  ck_assert_pstr_eq (a->fix.journal, b->fix.journal);
  ck_assert_uint_eq (a->fix.nfindings, b->fix.nfindings);
  for (size_t i = 0; i < a->fix.nfindings; i++) {
    ck_assert_str_eq (a->fix.findings[i].concern, b->fix.findings[i].concern);
    ck_assert_int_eq (a->fix.findings[i].result, b->fix.findings[i].result);
    ck_assert_str_eq (a->fix.findings[i].message, b->fix.findings[i].message);
  }
  ck_assert_int_eq (a->verify.done, b->verify.done);
  ck_assert_int_eq (a->verify.footers_ok, b->verify.footers_ok);
  ck_assert_pstr_eq (a->verify.profile, b->verify.profile);
  ck_assert (a->verify.checks == b->verify.checks ||
             json_equal (a->verify.checks, b->verify.checks));
}

START_TEST (test_round_trip)
{
  struct lf_job_state a, b;

  sample (&a);
  ck_assert_int_eq (lf_state_save (path, &a), 0);
  ck_assert_int_eq (lf_state_load (path, 2, &b), 1);
  assert_equal (&a, &b);
  /* And what it writes again is the same file. */
  json_t *ja = lf_state_to_json (&a), *jb = lf_state_to_json (&b);
  ck_assert (json_equal (ja, jb));
  json_decref (ja);
  json_decref (jb);
  lf_state_free (&a);
  lf_state_free (&b);

  /* A fresh state (nothing converted, no fix, no point) too. */
  sample (&a);
  a.disks[0].state = LF_DISK_PENDING;
  free (a.disks[0].convert.action);
  free (a.disks[0].source_format);
  memset (&a.disks[0].convert, 0, sizeof a.disks[0].convert);
  a.disks[0].source_format = NULL;
  a.disks[0].sha256[0] = '\0';
  a.disks[0].verified = a.disks[1].verified = LF_VERIFIED_NOT;
  lf_state_fix_clear (&a.fix);
  lf_state_verify_clear (&a.verify);
  free (a.recovery_point);
  a.recovery_point = NULL;
  ck_assert_int_eq (lf_state_save (path, &a), 0);
  ck_assert_int_eq (lf_state_load (path, 2, &b), 1);
  assert_equal (&a, &b);
  lf_state_free (&a);
  lf_state_free (&b);

  /* No file: nothing loaded, not an error. */
  unlink (path);
  ck_assert_int_eq (lf_state_load (path, 2, &b), 0);
}
END_TEST

/* The JSON of the sample with KEY of the object at the JSON pointer-ish
 * place changed to VALUE (NULL: removed), loaded as a job of NDISKS.
 */
static int
load_changed (size_t ndisks, const char *obj, const char *key, json_t *value)
{
  struct lf_job_state a, b;
  json_t *j, *o;
  int r;

  sample (&a);
  j = lf_state_to_json (&a);
  lf_state_free (&a);
  o = !obj ? j : strcmp (obj, "disk0") == 0
    ? json_array_get (json_object_get (j, "disks"), 0)
    : strcmp (obj, "fix-finding0") == 0
    ? json_array_get (json_object_get (json_object_get (j, "fix"), "findings"), 0)
    : json_object_get (json_object_get (j, "steps"), obj);
  ck_assert_ptr_nonnull (o);
  if (value)
    json_object_set_new (o, key, value);
  else
    json_object_del (o, key);
  r = lf_state_from_json (j, ndisks, path, &b);
  json_decref (j);
  if (r == 0)
    lf_state_free (&b);
  return r;
}

START_TEST (test_refused)
{
  ck_assert_int_eq (load_changed (2, NULL, "runs", json_integer (3)), 0);
  ck_assert_int_eq (load_changed (3, NULL, "runs", json_integer (3)), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), path));
  ck_assert_int_eq (load_changed (2, NULL, "version", json_integer (2)), -1);
  ck_assert_int_eq (load_changed (2, NULL, "clock", json_string ("x")), -1);
  ck_assert_int_eq (load_changed (2, NULL, "job_sha256", json_string ("ab")), -1);
  ck_assert_int_eq (load_changed (2, NULL, "warnings", json_integer (1)), -1);
  ck_assert_int_eq (load_changed (2, "fix", "state", json_string ("half")), -1);
  ck_assert_int_eq (load_changed (2, "verify", "state", NULL), -1);
  ck_assert_int_eq (load_changed (2, "disk0", "uuid",
                                  json_string ("0123456789abcdef0123456789ABCDEF")), -1);
  ck_assert_int_eq (load_changed (2, "disk0", "timestamp",
                                  json_integer (0x100000000LL)), -1);
  ck_assert_int_eq (load_changed (2, "disk0", "state", json_string ("copied")), -1);
  ck_assert_int_eq (load_changed (2, "disk0", "convert", json_string ("x")), -1);
  ck_assert_int_eq (load_changed (2, "fix-finding0", "result",
                                  json_string ("maybe")), -1);
  lf_error_clear ();
}
END_TEST

/* The summary's changes line for a report whose changes are CHANGES. */
static char *
changes_line (const char *changes)
{
  static char buf[1024];
  json_error_t e;
  json_t *c = json_loads (changes, 0, &e);
  json_t *rep = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:[], s:[], s:O, s:[], "
                           "s:{s:f}}", "machine", "web01", "source", "vmware",
                           "profile", "azure-gen1", "output", "/out",
                           "result", "success", "steps", "disks", "changes", c,
                           "warnings", "timings", "total_seconds", 1.0);
  char *text = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&text, &len);

  ck_assert_ptr_nonnull (c);
  ck_assert_ptr_nonnull (rep);
  lf_run_print_summary (rep, fp);
  fclose (fp);
  char *l = strstr (text, "  changes:");
  ck_assert_ptr_nonnull (l);
  snprintf (buf, sizeof buf, "%.*s", (int) strcspn (l, "\n"), l);
  free (text);
  json_decref (c);
  json_decref (rep);
  return buf;
}

START_TEST (test_summary_counts)
{
  /* A Windows fix: SYSTEM changed by four concerns, BCD by one. */
  ck_assert_str_eq (changes_line (
    "[{\"concern\": \"boot-drivers\", \"path\": \"/Windows/System32/config/SYSTEM\","
    "  \"changes_by_concern\": {\"boot-drivers\": 5, \"network\": 2, \"rdp\": 3,"
    "                           \"agents\": 1}},"
    " {\"concern\": \"bcd\", \"path\": \"/Boot/BCD\","
    "  \"changes_by_concern\": {\"bcd\": 1}}]"),
    "  changes:  2 files (by concern: boot-drivers 5, network 2, rdp 3, "
    "agents 1, bcd 1)");
  /* Linux: one file per edit, a concern's edits summed. */
  ck_assert_str_eq (changes_line (
    "[{\"concern\": \"fstab\", \"changes_by_concern\": {\"fstab\": 1}},"
    " {\"concern\": \"network\", \"changes_by_concern\": {\"network\": 1}},"
    " {\"concern\": \"fstab\", \"changes_by_concern\": {\"fstab\": 1}}]"),
    "  changes:  3 files (by concern: fstab 2, network 1)");
  /* An edit a state file of an older landfall kept, without its counts:
   * one change of its concern.
   */
  ck_assert_str_eq (changes_line (
    "[{\"concern\": \"grub\"}, {\"concern\": \"grub\"}]"),
    "  changes:  2 files (by concern: grub 2)");
  ck_assert_str_eq (changes_line ("[]"), "  changes:  0 files");
  ck_assert_str_eq (changes_line (
    "[{\"concern\": \"x\", \"changes_by_concern\": {}}]"),
    "  changes:  1 file");
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("run-state");
  TCase *tc = tcase_create ("state");
  SRunner *sr;
  int nf;

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_round_trip);
  tcase_add_test (tc, test_refused);
  tcase_add_test (tc, test_summary_counts);
  suite_add_tcase (s, tc);
  sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  nf = srunner_ntests_failed (sr);
  srunner_free (sr);
  return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
