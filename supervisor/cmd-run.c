/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall run: the failover job from the command line (the appliance's
 * PID 1 will call lf_run_job the same way), and `landfall undo JOB`.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "supervisor/job.h"
#include "supervisor/cli.h"

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage: landfall run [OPTIONS] JOB\n"
"\n"
"Run the failover job JOB for one machine: check everything, convert each\n"
"disk to an Azure fixed VHD, fix the operating system, verify, report.\n"
"A job that was killed, lost power or was interrupted is resumed by\n"
"running the same command again, and ends with the same output.\n"
"\n"
"Options:\n"
"      --json          print the report as JSON on stdout (no summary)\n"
"      --no-progress   no progress bar or percentage lines\n"
"      --group-point ID  the replication group's common recovery point,\n"
"                      as 'landfall plan' chose it from every member's\n"
"                      manifest (a job alone sees only its own)\n"
"  -q, --quiet         no step lines or progress on stderr\n"
"  -v, --verbose       debug output on stderr\n"
LF_CLI_GUESTFS_HELP
"                      (overrides the job's guestfs key)\n"
LF_CLI_ALLOW_BACKING_HELP
"  -h, --help          this help\n"
"\n"
"THE JOB FILE\n"
"  Text, one 'key = value' per line; blank lines and lines starting with\n"
"  '#' are ignored ('#' later in a line is part of the value).  Relative\n"
"  paths are relative to the job file's directory.  At most 64 KiB, lines\n"
"  up to 4096 bytes.  An error names the file, the line and the key.\n"
"\n"
"  machine = NAME        required; letters, digits, '-', '_', '.' (names\n"
"                        the output files)\n"
"  os-disk = PATH        required, once: the disk the machine boots from;\n"
"                        an image file (raw, VMDK, VHD, VHDX, qcow2) or a\n"
"                        block device\n"
"  disk = PATH           a data disk; repeat, in the machine's order (up\n"
"                        to 64 disks in all)\n"
"                        Either may name a disk as the platform attaches\n"
"                        it, resolved from sysfs in the first step: lun:N\n"
"                        (LUN N of the SCSI controller that is not the\n"
"                        system's own), lun:H:N (of SCSI host H), nvme:N\n"
"                        (namespace id), serial:S, /dev/disk/by-id/NAME,\n"
"                        /dev/disk/azure/scsi1/lunN\n"
"  output = DIR          required: a directory (made if missing) for\n"
"                        NAME-os.vhd, NAME-data1.vhd..., the report\n"
"                        landfall-report.json and the state file\n"
"                        .landfall-job.json; or 'in-place': make raw\n"
"                        images / fixed VHDs the output themselves (the\n"
"                        report and state go beside the job file)\n"
"  source = KIND         physical (default), vmware, hyperv-as-physical\n"
"  profile = P           azure-gen1, azure-gen2, or auto (default: gen1\n"
"                        when the OS disk boots with BIOS, else gen2)\n"
"  checksum = yes|no     SHA-256 of every output in the report (default no)\n"
"  rdp-no-nla = yes|no   Windows: RDP without NLA (default no)\n"
"  rootdelay = N|auto    Linux: rootdelay= seconds (default: chosen per\n"
"                        initramfs generator)\n"
"  guestfs = WHEN        auto (default), always or never: when libguestfs\n"
"                        reads and writes the guest (XFS, btrfs, LVs that\n"
"                        are not linear: see --guestfs); one appliance for\n"
"                        the sources' checks, one for fix and verify\n"
"  manifest = FILE       recovery points (see 'landfall points --help'),\n"
"                        instead of os-disk and disk: the disks are the\n"
"                        chosen point's overlays, each chain merged by\n"
"                        the conversion in one pass\n"
"  recovery-point = OPT  latest (default), latest-processed,\n"
"                        latest-app-consistent, latest-multivm-processed,\n"
"                        latest-multivm-app-consistent, or a point id;\n"
"                        changing it re-runs the job from the new point\n"
"  allow-backing = DIR   backing files, parents and extents the disks name\n"
"                        may also come from DIR (repeatable; relative to\n"
"                        the job file); by default only from the directory\n"
"                        of the image that names them\n"
"\n"
"STEPS\n"
"  1 prerequisites  inputs exist and are readable, formats valid, one OS\n"
"                   found and supported, no BitLocker or hibernation,\n"
"                   free space, sizes within the profile (gen1 OS disk up\n"
"                   to 2 TiB, gen2 4 TiB, data disks 32767 GiB), firmware\n"
"                   fits the profile.  A root on LVM is fine when its\n"
"                   volume group has a physical volume on the OS disk;\n"
"                   every disk of such a group must be in the job (a\n"
"                   missing one is named by its PV).  Every problem is\n"
"                   listed, and nothing is written if there is one.\n"
"  2 convert        each disk to a fixed VHD (or in place)\n"
"  3 fix            the Linux or Windows fix, journalled on the guest\n"
"  4 verify         footers valid, sizes whole MiB, and the fix planned\n"
"                   again finds nothing left to change\n"
"  5 report         JSON report and this summary\n"
"\n"
"RESUMING\n"
"  The state file is written atomically after every step and disk.  A\n"
"  re-run skips what is done; a conversion cut short is done again; a fix\n"
"  cut short is done again on freshly converted disks, so the output is\n"
"  byte-identical to an uninterrupted run (in place, the fix is finished\n"
"  from the guest's journal instead).  SIGINT or SIGTERM stop at the next\n"
"  safe point.  To start over, remove the state file and the outputs.\n"
"  'landfall undo JOB' reverts the fix of the job's outputs.\n"
"\n"
"Exit status: 0 success, 3 success with warnings (listed in the report),\n"
"1 failed (the report says which step and why), 4 interrupted (run the\n"
"same command again to resume), 2 usage error (a bad job file too).\n"
"\n"
"Example:\n"
"  landfall run web01.job\n");
}

int
lf_cmd_run (int argc, char *argv[])
{
  enum { OPT_JSON = 256, OPT_NO_PROGRESS, OPT_GROUP_POINT };
  static const struct option longopts[] = {
    { "json",        no_argument, NULL, OPT_JSON },
    { "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
    { "group-point", required_argument, NULL, OPT_GROUP_POINT },
    { "quiet",       no_argument, NULL, 'q' },
    { "verbose",     no_argument, NULL, 'v' },
    LF_CLI_GUESTFS_OPTION,
    LF_CLI_ALLOW_BACKING_OPTION,
    { "help",        no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  bool json = false, progress = true, quiet = false;
  const char *group_point = NULL, *guestfs = NULL;
  struct lf_job *job = NULL;
  json_t *report = NULL;
  enum lf_run_result res = LF_RUN_FAILED;
  char dir[PATH_MAX];
  int c, ret = LF_EXIT_FAILED;

  optind = 1;
  while ((c = getopt_long (argc, argv, "qvh", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_JSON: json = true; break;
    case OPT_NO_PROGRESS: progress = false; break;
    case OPT_GROUP_POINT: group_point = optarg; break;
    case 'q': quiet = true; break;
    case 'v': lf_debug_level++; break;
    case LF_OPT_GUESTFS: guestfs = optarg; break;
    case LF_OPT_ALLOW_BACKING:
      if (lf_cli_allow_backing ("run", optarg) == -1)
        return LF_EXIT_USAGE;
      break;
    case 'h': usage (stdout); return LF_EXIT_OK;
    default: usage (stderr); return LF_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf (stderr, "%s run: expected one job file (see --help)\n",
             lf_progname);
    return LF_EXIT_USAGE;
  }
  job = lf_job_load (argv[optind], group_point);
  if (!job) {
    lf_cli_print_error ();
    return LF_EXIT_USAGE;       /* a bad job file is a usage error */
  }
  /* --guestfs, then the job's key, then LANDFALL_GUESTFS. */
  if (guestfs || job->guestfs < 0) {
    if ((job->guestfs = lf_cli_guestfs ("run", guestfs)) == -1) {
      lf_job_free (job);
      return LF_EXIT_USAGE;
    }
  }
  {
    CLEANUP_FREE char *copy = strdup (argv[optind]);
    if (!copy || !realpath (dirname (copy), dir)) {
      lf_error (errno, "%s: %m", argv[optind]);
      goto out;
    }
  }
  struct lf_run_opts o = {
    .progress = progress && !quiet, .log_fd = quiet ? -1 : 2,
    .jobdir = dir, .job_path = argv[optind],
  };
  if (lf_run_job (job, &o, &res, &report) == -1)
    goto out;
  if (json)
    lf_cli_print_json (report);
  else
    lf_run_print_summary (report, stdout);
  ret = res == LF_RUN_OK ? LF_EXIT_OK
    : res == LF_RUN_WARNINGS ? LF_EXIT_WARNINGS
    : res == LF_RUN_INTERRUPTED ? LF_EXIT_INTERRUPTED : LF_EXIT_FAILED;
 out:
  if (!report)
    lf_cli_print_error ();
  json_decref (report);
  lf_job_free (job);
  return ret;
}

/* landfall undo JOB (called from cmd-fix.c's undo when its one argument
 * is a job file).
 */
int
lf_cmd_undo_job (const char *path, bool json, int when)
{
  struct lf_job *job = lf_job_load (path, NULL);
  json_t *report = NULL;
  char dir[PATH_MAX];
  int ret = LF_EXIT_FAILED;

  if (!job) {
    lf_cli_print_error ();
    return LF_EXIT_USAGE;
  }
  {
    CLEANUP_FREE char *copy = strdup (path);
    if (!copy || !realpath (dirname (copy), dir)) {
      lf_error (errno, "%s: %m", path);
      goto out;
    }
  }
  if (when >= 0)
    job->guestfs = when;
  else if (job->guestfs < 0 &&
           (job->guestfs = lf_cli_guestfs ("undo", NULL)) == -1) {
    ret = LF_EXIT_USAGE;
    goto out;
  }
  if (lf_run_undo (job, dir, &report) == -1)
    goto out;
  if (json)
    lf_cli_print_json (report);
  else {
    size_t n = json_array_size (json_object_get (report, "entries"));
    printf ("%s: %zu change%s undone\n", job->machine, n, n == 1 ? "" : "s");
  }
  ret = LF_EXIT_OK;
 out:
  if (ret != LF_EXIT_OK && ret != LF_EXIT_USAGE)
    lf_cli_print_error ();
  json_decref (report);
  lf_job_free (job);
  return ret;
}
