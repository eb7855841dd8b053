/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for supervisor/job.c: the job file parser.  One test per
 * error path, each checking errno and that the message names the line
 * and the key.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "supervisor/job.h"

static struct lf_job *
parse (const char *text)
{
  return lf_job_parse (text, strlen (text), "web01.job", "/jobs");
}

/* TEXT must fail with ERRNUM and a message starting with PREFIX. */
static void
check_error (const char *text, int errnum, const char *prefix)
{
  struct lf_job *j = parse (text);
  ck_assert_msg (j == NULL, "parsed: %s", text);
  ck_assert_int_eq (lf_last_errno (), errnum);
  ck_assert_msg (strncmp (lf_last_error (), prefix, strlen (prefix)) == 0,
                 "message \"%s\" does not start with \"%s\"", lf_last_error (),
                 prefix);
}

START_TEST (test_full)
{
  struct lf_job *j = parse (
    "# web01, moved from VMware\n"
    "machine = web01\n"
    "  source=vmware  \n"
    "profile = azure-gen2\r\n"
    "disk = data/d1.vmdk\n"
    "os-disk = /images/web01 os.vmdk\n"
    "disk = d#2.qcow2\n"
    "output = out\n"
    "checksum = yes\n"
    "rdp-no-nla = true\n"
    "rootdelay = 30\n"
    "guestfs = always\n"
    "\n");
  ck_assert_ptr_nonnull (j);
  ck_assert_str_eq (j->machine, "web01");
  ck_assert_str_eq (j->source, "vmware");
  ck_assert_str_eq (j->profile, "azure-gen2");
  ck_assert_str_eq (j->output, "/jobs/out");
  ck_assert (!j->in_place);
  ck_assert_uint_eq (j->ndisks, 3);
  /* The OS disk first, whatever its line; data disks in file order. */
  ck_assert (j->disks[0].os);
  ck_assert_str_eq (j->disks[0].path, "/images/web01 os.vmdk");
  ck_assert_uint_eq (j->disks[0].line, 6);
  ck_assert_str_eq (j->disks[1].path, "/jobs/data/d1.vmdk");
  ck_assert_str_eq (j->disks[1].given, "data/d1.vmdk");
  ck_assert_str_eq (j->disks[2].path, "/jobs/d#2.qcow2");
  ck_assert (j->checksum);
  ck_assert (j->rdp_no_nla);
  ck_assert_int_eq (j->rootdelay, 30);
  ck_assert_int_eq (j->guestfs, LF_GUESTFS_ALWAYS);
  ck_assert_uint_eq (strlen (j->sha256), 64);

  char *p = lf_job_output_path (j, 0);
  ck_assert_str_eq (p, "/jobs/out/web01-os.vhd");
  free (p);
  p = lf_job_output_path (j, 2);
  ck_assert_str_eq (p, "/jobs/out/web01-data2.vhd");
  free (p);
  p = lf_job_state_path (j, "/jobs");
  ck_assert_str_eq (p, "/jobs/out/.landfall-job.json");
  free (p);
  lf_job_free (j);
}
END_TEST

/* allow-backing may be given more than once; paths as for disks. */
START_TEST (test_allow_backing)
{
  struct lf_job *j = parse ("machine=m1\nos-disk=a.qcow2\noutput=out\n"
                            "allow-backing = bases\n"
                            "allow-backing = /srv/chains\n");
  ck_assert_msg (j != NULL, "%s", lf_last_error ());
  ck_assert_uint_eq (j->nallow_backing, 2);
  ck_assert_str_eq (j->allow_backing[0], "/jobs/bases");
  ck_assert_str_eq (j->allow_backing[1], "/srv/chains");
  lf_job_free (j);
  check_error ("machine=m1\nos-disk=a.raw\nallow-backing =\n", EINVAL,
               "web01.job:3: allow-backing: the value is empty");
}
END_TEST

START_TEST (test_defaults_in_place)
{
  struct lf_job *j = parse ("machine=m1\nos-disk=a.raw\noutput=in-place");
  ck_assert_ptr_nonnull (j);
  ck_assert_str_eq (j->source, "physical");
  ck_assert_str_eq (j->profile, "auto");
  lf_job_free (j);
  /* The failback target is a profile like any other. */
  j = parse ("machine=m1\nos-disk=a.raw\noutput=in-place\nprofile=vmware");
  ck_assert_msg (j != NULL, "%s", lf_last_error ());
  ck_assert_str_eq (j->profile, "vmware");
  ck_assert (j->in_place);
  ck_assert_ptr_null (j->output);
  ck_assert (!j->checksum);
  ck_assert_int_eq (j->rootdelay, -1);
  ck_assert_int_eq (j->guestfs, -1);     /* LANDFALL_GUESTFS, else auto */
  char *p = lf_job_output_path (j, 0);
  ck_assert_str_eq (p, "/jobs/a.raw");
  free (p);
  p = lf_job_state_path (j, "/jobs");
  ck_assert_str_eq (p, "/jobs/.landfall-job-m1.json");
  free (p);
  lf_job_free (j);
}
END_TEST

START_TEST (test_same_text_same_hash)
{
  const char *t = "machine=m\nos-disk=a\noutput=o\n";
  struct lf_job *a = parse (t), *b = parse (t);
  struct lf_job *c = parse ("machine=m\nos-disk=a\noutput=o2\n");
  ck_assert_str_eq (a->sha256, b->sha256);
  ck_assert_str_ne (a->sha256, c->sha256);
  lf_job_free (a);
  lf_job_free (b);
  lf_job_free (c);
}
END_TEST

START_TEST (test_errors)
{
  check_error ("machine = a\nfrobnicate = 1\n", EINVAL,
               "web01.job:2: unknown key 'frobnicate'");
  check_error ("machine = a\njust words\n", EINVAL,
               "web01.job:2: expected 'key = value'");
  check_error ("machine =\n", EINVAL, "web01.job:1: machine: the value is empty");
  check_error ("machine = a\nmachine = b\n", EINVAL,
               "web01.job:2: machine: given again (first on line 1)");
  check_error ("machine = ../etc\n", EINVAL, "web01.job:1: machine: '../etc'");
  check_error ("machine = a/b\n", EINVAL, "web01.job:1: machine:");
  check_error ("machine = a\nsource = hyperv\n", EINVAL,
               "web01.job:2: source: 'hyperv' is not");
  check_error ("profile = azure-gen3\n", EINVAL, "web01.job:1: profile:");
  check_error ("profile = ../hw/vmware\n", EINVAL, "web01.job:1: profile:");
  check_error ("checksum = maybe\n", EINVAL, "web01.job:1: checksum: 'maybe' is not yes or no");
  check_error ("rdp-no-nla = 2\n", EINVAL, "web01.job:1: rdp-no-nla:");
  check_error ("rootdelay = -1\n", EINVAL, "web01.job:1: rootdelay:");
  check_error ("rootdelay = 3601\n", EINVAL, "web01.job:1: rootdelay:");
  check_error ("rootdelay = 10s\n", EINVAL, "web01.job:1: rootdelay:");
  check_error ("rootdelay = 99999999999999999999\n", EINVAL, "web01.job:1: rootdelay:");
  check_error ("machine = a\nguestfs = sometimes\n", EINVAL,
               "web01.job:2: guestfs: 'sometimes' is not auto, always or never");
  check_error ("disk = a\ndisk = ./b\ndisk = a\n", EINVAL,
               "web01.job:3: disk: 'a' is already given on line 1");
  check_error ("os-disk = a\nos-disk = b\nmachine = m\noutput = o\n", EINVAL,
               "web01.job:2: os-disk: given again (first on line 1)");
  check_error ("machine = a\x01\n", EINVAL, "web01.job:1: control character 0x01");
  /* Missing required settings name the key. */
  check_error ("os-disk = a\noutput = o\n", EINVAL, "web01.job: machine: missing");
  check_error ("machine = a\nos-disk = a\n", EINVAL, "web01.job: output: missing");
  check_error ("machine = a\noutput = o\ndisk = d\n", EINVAL,
               "web01.job: os-disk: missing");
}
END_TEST

START_TEST (test_limits)
{
  /* A NUL byte, with its line. */
  {
    const char t[] = "machine = a\nos-disk = b\0c\n";
    ck_assert_ptr_null (lf_job_parse (t, sizeof t - 1, "j", "/"));
    ck_assert_str_eq (lf_last_error (), "j:2: NUL byte: this is not a text file");
  }
  /* A line over the cap. */
  {
    size_t n = LF_JOB_MAX_LINE + 20;
    char *t = malloc (n + 1);
    memcpy (t, "machine = a\ndisk = ", 19);
    memset (t + 19, 'x', n - 19);
    t[n] = '\0';
    ck_assert_ptr_null (lf_job_parse (t, n, "j", "/"));
    ck_assert_int_eq (lf_last_errno (), EINVAL);
    ck_assert_str_eq (lf_last_error (), "j:2: line longer than 4096 bytes");
    free (t);
  }
  /* A file over the cap. */
  {
    size_t n = LF_JOB_MAX_SIZE + 1;
    char *t = malloc (n);
    memset (t, '\n', n);
    ck_assert_ptr_null (lf_job_parse (t, n, "j", "/"));
    ck_assert_int_eq (lf_last_errno (), EFBIG);
    free (t);
  }
  /* Too many disks. */
  {
    char *t = NULL;
    size_t len = 0;
    FILE *fp = open_memstream (&t, &len);
    fprintf (fp, "machine = a\noutput = o\nos-disk = os\n");
    for (int i = 0; i < LF_JOB_MAX_DISKS; i++)
      fprintf (fp, "disk = d%d\n", i);
    fclose (fp);
    ck_assert_ptr_null (lf_job_parse (t, len, "j", "/"));
    ck_assert_msg (strstr (lf_last_error (), "more than 64 disks") != NULL,
                   "%s", lf_last_error ());
    ck_assert (strncmp (lf_last_error (), "j:67: disk:", 11) == 0);
    free (t);
  }
  /* A machine name at the cap is fine, one more is not. */
  {
    char t[128];
    snprintf (t, sizeof t, "machine = %.*s\nos-disk = a\noutput = o\n",
              LF_JOB_MAX_MACHINE, "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm");
    struct lf_job *j = lf_job_parse (t, strlen (t), "j", "/");
    ck_assert_ptr_nonnull (j);
    lf_job_free (j);
    snprintf (t, sizeof t, "machine = %.*s\n", LF_JOB_MAX_MACHINE + 1,
              "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm");
    ck_assert_ptr_null (lf_job_parse (t, strlen (t), "j", "/"));
  }
}
END_TEST

START_TEST (test_looks_like)
{
  char path[] = "/tmp/landfall-test-job-XXXXXX";
  int fd = mkstemp (path);
  ck_assert_int_ne (fd, -1);
  ck_assert_int_eq (write (fd, "# job\n\nmachine = a\n", 19), 19);
  close (fd);
  ck_assert (lf_job_looks_like (path));
  fd = open (path, O_WRONLY | O_TRUNC);
  ck_assert_int_eq (write (fd, "\xeb\x63\x90\x00\x00", 5), 5);
  close (fd);
  ck_assert (!lf_job_looks_like (path));
  ck_assert (!lf_job_looks_like ("/nonexistent/landfall.job"));
  unlink (path);
}
END_TEST

START_TEST (test_points)
{
  struct lf_job *a = parse ("machine = a\noutput = o\nmanifest = p.json\n");
  struct lf_job *b = parse ("machine = a\noutput = o\nmanifest = p.json\n"
                            "recovery-point = latest-processed\n");
  ck_assert (a && b);
  ck_assert_str_eq (a->manifest, "/jobs/p.json");
  ck_assert_str_eq (a->recovery_point, "latest");
  ck_assert_str_eq (b->recovery_point, "latest-processed");
  ck_assert_uint_eq (a->ndisks, 0);
  /* The point is kept apart from the job's hash: changing it is Change
   * recovery point, not another job.
   */
  ck_assert_str_eq (a->sha256, b->sha256);
  lf_job_free (a);
  lf_job_free (b);
  check_error ("machine = a\noutput = o\nrecovery-point = latest\nos-disk = x\n",
               EINVAL, "web01.job: recovery-point: needs 'manifest ='");
  check_error ("machine = a\noutput = o\nmanifest = p.json\ndisk = x\n",
               EINVAL, "web01.job:4: disk: not with 'manifest =' (line 3)");
  check_error ("machine = a\noutput = in-place\nmanifest = p.json\n",
               EINVAL, "web01.job:3: manifest: not with 'output = in-place'");
  check_error ("machine = a\noutput = o\nmanifest = p\nrecovery-point = a b\n",
               EINVAL, "web01.job:4: recovery-point: 'a b' is not an option");
  check_error ("machine = a\noutput = o\nmanifest = p\nrecovery-point = x\n"
               "recovery-point = y\n", EINVAL,
               "web01.job:5: recovery-point: given again (first on line 4)");
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("job");
  TCase *tc = tcase_create ("parse");
  SRunner *sr;
  int failed;

  /* A job's profile is any of hw/ (the tests run at the top of the tree). */
  setenv ("LANDFALL_HW_DIR", "hw", 0);

  tcase_add_test (tc, test_full);
  tcase_add_test (tc, test_defaults_in_place);
  tcase_add_test (tc, test_allow_backing);
  tcase_add_test (tc, test_same_text_same_hash);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_limits);
  tcase_add_test (tc, test_points);
  tcase_add_test (tc, test_looks_like);
  suite_add_tcase (s, tc);
  sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
