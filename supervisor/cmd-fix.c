/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fix and landfall undo. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "guest/guest.h"
#include "bootfix/bootfix.h"
#include "supervisor/cli.h"
#include "supervisor/job.h"

static void
usage_fix (FILE *fp)
{
  fprintf (fp,
"Usage: landfall fix [OPTIONS] DISK...\n"
"\n"
"Make the operating system on DISK... boot and connect on Azure (Hyper-V),\n"
"without running any program from the guest.  Every change is planned\n"
"first, then written atomically with the original kept in a journal on the\n"
"guest (" LF_LINUX_JOURNAL_DIR " on Linux, " LF_WINDOWS_JOURNAL_DIR " on the Windows volume),\n"
"so that 'landfall undo' restores every file byte for byte.  A second run\n"
"changes nothing and says so.  Windows is fixed by editing its registry\n"
"hives and BCD store offline; BitLocker, hibernated or dirty volumes and\n"
"hives with unreplayed transaction logs are refused.\n"
"\n"
"The disks must be raw images or fixed VHDs (convert them first); one the\n"
"kernel uses (mounted, also a partition or a loop device over it, swap,\n"
"device-mapper, or open exclusively) is refused, naming the mount point.\n"
"For a UEFI profile (azure-gen2) a Linux MBR disk is converted to GPT, every\n"
"partition kept where it is, and grown by a new EFI system partition; undo\n"
"gives the MBR disk back.\n"
"\n"
"Options:\n"
"  -n, --dry-run       print the plan as diffs; change nothing\n"
"      --profile P     the target: a profile of hw/ (azure-gen1, the\n"
"                      default, azure-gen2, vmware, ...: see landfall\n"
"                      verify --list-profiles)\n"
"      --rootdelay N   rootdelay= on the kernel command line (default:\n"
"                      chosen per initramfs generator)\n"
"      --rdp-no-nla    Windows: turn Network Level Authentication off for\n"
"                      Remote Desktop (default: left on)\n"
"      --json          the report as JSON on stdout\n"
"  -v, --verbose       debug output on stderr\n"
LF_CLI_GUESTFS_HELP
LF_CLI_ALLOW_BACKING_HELP
"  -h, --help          this help\n"
"\n"
"Exit status: 0 success, 1 failure (nothing is changed when planning\n"
"fails or any concern fails, e.g. a Windows boot driver that needs\n"
"injecting), 2 usage error.\n");
}

static void
usage_undo (FILE *fp)
{
  fprintf (fp,
"Usage: landfall undo [OPTIONS] DISK...\n"
"       landfall undo [OPTIONS] JOB\n"
"\n"
"Revert every change 'landfall fix' made to DISK..., newest first, from the\n"
"journal on the guest (" LF_LINUX_JOURNAL_DIR " on Linux, " LF_WINDOWS_JOURNAL_DIR " on the\n"
"Windows volume), then remove the journal and its backups.  A file\n"
"changed again since landfall wrote it is left alone and reported.  Given a\n"
"job file (see 'landfall run --help'), revert the fix of the job's output\n"
"disks; a later 'landfall run JOB' fixes them again.\n"
"\n"
"Options:\n"
"      --json          the report as JSON on stdout\n"
"  -v, --verbose       debug output on stderr\n"
LF_CLI_GUESTFS_HELP
LF_CLI_ALLOW_BACKING_HELP
"  -h, --help          this help\n");
}

/* Open and inspect DISKS writable; the OS to work on, or NULL. */
static struct lf_os *
open_os (int argc, char *argv[], int when, struct lf_guest **gp)
{
  struct lf_guest *g = lf_cli_guest_open ((const char *const *) argv,
                                          (size_t) argc, true, when, NULL);
  *gp = g;
  if (!g || lf_guest_inspect (g) == -1)
    return NULL;
  if (g->nos == 0) {
    /* A Windows volume that could not be opened (BitLocker, hibernated,
     * dirty) holds the OS: say so rather than "nothing found".
     */
    for (size_t i = 0; i < g->nfs; i++)
      if (g->fss[i].error[0] && strcmp (g->fss[i].info.type, "swap") != 0) {
        lf_error (ENOENT, "no operating system found: %s",
                  g->fss[i].error);
        return NULL;
      }
    lf_error (ENOENT, "no operating system found on the disks given");
    return NULL;
  }
  if (g->nos > 1) {
    lf_error (ENOTSUP, "%zu operating systems found: give the disks of one "
              "machine", g->nos);
    return NULL;
  }
  return &g->oses[0];
}

/* Each failed finding, on stderr, and that nothing was written. */
static void
print_failures (const struct lf_plan *p, bool dry)
{
  for (size_t i = 0; i < lf_plan_nfindings (p); i++) {
    struct lf_plan_finding f = lf_plan_finding (p, i);
    if (f.what == LF_FAILED)
      fprintf (stderr, "%s: error: %s: %s\n", lf_progname, f.concern, f.msg);
  }
  if (!dry)
    fprintf (stderr, "%s: nothing was changed\n", lf_progname);
}

int
lf_cmd_fix (int argc, char *argv[])
{
  enum { OPT_JSON = 256, OPT_PROFILE, OPT_ROOTDELAY, OPT_RDP_NO_NLA };
  static const struct option longopts[] = {
    { "dry-run",   no_argument,       NULL, 'n' },
    { "profile",   required_argument, NULL, OPT_PROFILE },
    { "rootdelay", required_argument, NULL, OPT_ROOTDELAY },
    { "rdp-no-nla", no_argument,      NULL, OPT_RDP_NO_NLA },
    { "json",      no_argument,       NULL, OPT_JSON },
    { "verbose",   no_argument,       NULL, 'v' },
    LF_CLI_GUESTFS_OPTION,
    LF_CLI_ALLOW_BACKING_OPTION,
    { "help",      no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct lf_fix_opts o = { .rootdelay = -1 };
  const char *profile = "azure-gen1";
  struct lf_hw_profile *hw = NULL;
  bool json = false, dry = false;
  const char *guestfs = NULL;
  struct lf_guest *g = NULL;
  struct lf_plan *p = NULL;
  struct lf_os *os;
  const char *dir = NULL;
  int c, when, ret = LF_EXIT_FAILED;
  double t0 = lf_now ();

  optind = 1;
  while ((c = getopt_long (argc, argv, "nvh", longopts, NULL)) != -1) {
    switch (c) {
    case 'n': dry = true; break;
    case OPT_PROFILE: profile = optarg; break;
    case OPT_ROOTDELAY: {
      /* The job's limit: the same value means the same in both. */
      unsigned long n;
      if (lf_parse_uint (optarg, 0, LF_JOB_MAX_ROOTDELAY, &n) == -1) {
        fprintf (stderr, "%s fix: --rootdelay: '%s' is not a number of "
                 "seconds from 0 to %d\n", lf_progname, optarg,
                 LF_JOB_MAX_ROOTDELAY);
        return LF_EXIT_USAGE;
      }
      o.rootdelay = (int) n;
      break;
    }
    case OPT_RDP_NO_NLA: o.rdp_no_nla = true; break;
    case OPT_JSON: json = true; break;
    case 'v': lf_debug_level++; break;
    case LF_OPT_GUESTFS: guestfs = optarg; break;
    case LF_OPT_ALLOW_BACKING:
      if (lf_cli_allow_backing ("fix", optarg) == -1)
        return LF_EXIT_USAGE;
      break;
    case 'h': usage_fix (stdout); return LF_EXIT_OK;
    default: usage_fix (stderr); return LF_EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fprintf (stderr, "%s fix: expected at least one disk (see --help)\n",
             lf_progname);
    return LF_EXIT_USAGE;
  }
  if ((when = lf_cli_guestfs ("fix", guestfs)) == -1)
    return LF_EXIT_USAGE;
  /* Any profile of hw/: what the fix does for it is in its file. */
  if (!(hw = lf_hw_profile_load (NULL, profile))) {
    fprintf (stderr, "%s fix: --profile: %s\n", lf_progname,
             lf_last_error ());
    return LF_EXIT_USAGE;
  }
  o.profile = hw;
  os = open_os (argc - optind, argv + optind, when, &g);
  if (!os)
    goto out;
  p = lf_plan_new (&os->mounts);
  if (!p || lf_fix_os (g, os, p, &o, &dir) == -1)
    goto out;
  if (dry)
    lf_plan_print (p, json ? stderr : stdout);
  else if (!lf_plan_failed (p)) {
    if (lf_plan_apply (p, dir) == -1)
      goto out;
    /* An MBR -> GPT conversion writes the disk outside the filesystems
     * and grows it: after every handle on it is closed.
     */
    if (lf_plan_disk_conv (p)) {
      lf_guest_close (g);
      g = NULL;
      if (lf_plan_convert_disk (p) == -1) {
        lf_error_prefix ("converting the disk to GPT (the guest's files "
                         "are fixed and journalled; 'landfall fix' again "
                         "converts it, 'landfall undo' reverts all)");
        goto out;
      }
    }
  }
  ret = lf_plan_failed (p) ? LF_EXIT_FAILED : LF_EXIT_OK;
  if (ret != LF_EXIT_OK)
    print_failures (p, dry);
  if (!json && !dry && ret == LF_EXIT_OK)
    printf ("%zu change%s%s\n", lf_plan_nedits (p),
            lf_plan_nedits (p) == 1 ? "" : "s",
            lf_plan_nedits (p) ? "" : ": the guest is already as it should be");
  if (json) {
    json_t *r = lf_plan_report (p);
    json_object_set_new (r, "command", json_string ("fix"));
    json_object_set_new (r, "profile", json_string (hw->name));
    json_object_set_new (r, "dry_run", json_boolean (dry));
    json_object_set_new (r, "ok", json_boolean (ret == LF_EXIT_OK));
    json_object_set_new (r, "seconds", json_real (lf_now () - t0));
    lf_cli_print_json (r);
    json_decref (r);
  }
 out:
  if (ret != LF_EXIT_OK && (!p || !lf_plan_failed (p)))
    lf_cli_print_error ();
  lf_plan_free (p);
  lf_guest_close (g);
  lf_hw_profile_free (hw);
  return ret;
}

int
lf_cmd_undo (int argc, char *argv[])
{
  enum { OPT_JSON = 256 };
  static const struct option longopts[] = {
    { "json",    no_argument, NULL, OPT_JSON },
    { "verbose", no_argument, NULL, 'v' },
    LF_CLI_GUESTFS_OPTION,
    LF_CLI_ALLOW_BACKING_OPTION,
    { "help",    no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  bool json = false;
  const char *guestfs = NULL;
  struct lf_guest *g = NULL;
  struct lf_os *os;
  const struct lf_fixer *f = NULL;
  json_t *report = NULL;
  int c, when, ret = LF_EXIT_FAILED;

  optind = 1;
  while ((c = getopt_long (argc, argv, "vh", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_JSON: json = true; break;
    case 'v': lf_debug_level++; break;
    case LF_OPT_GUESTFS: guestfs = optarg; break;
    case LF_OPT_ALLOW_BACKING:
      if (lf_cli_allow_backing ("undo", optarg) == -1)
        return LF_EXIT_USAGE;
      break;
    case 'h': usage_undo (stdout); return LF_EXIT_OK;
    default: usage_undo (stderr); return LF_EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fprintf (stderr, "%s undo: expected at least one disk (see --help)\n",
             lf_progname);
    return LF_EXIT_USAGE;
  }
  /* A job file is text of a few lines, a disk at least a sector. */
  if ((when = lf_cli_guestfs ("undo", guestfs)) == -1)
    return LF_EXIT_USAGE;
  if (argc - optind == 1 && lf_job_looks_like (argv[optind]))
    return lf_cmd_undo_job (argv[optind], json, guestfs ? when : -1);
  os = open_os (argc - optind, argv + optind, when, &g);
  if (!os || !(f = lf_fixer_find (os->type)))
    goto out;
  /* A disk converted to GPT gets its MBR sectors and size back first,
   * with the guest closed; its partitions are where they were, so the
   * guest opens again for the files' undo.  A re-run after a crash finds
   * the disk already restored (the record is kept until the files' undo
   * removes the journal).
   */
  {
    json_t *meta = NULL;
    char *gap = NULL;
    size_t gaplen;
    if (lf_undo_disk_record (&os->mounts, f->journal_dir, &meta, &gap,
                             &gaplen) == -1)
      goto out;
    if (meta) {
      json_int_t di = json_integer_value (json_object_get (meta, "disk"));
      char *path = di >= 0 && (size_t) di < g->ndisks
        ? strdup (lf_disk_path (g->disks[di])) : NULL;
      if (!path)
        lf_error (EINVAL, "the journal's disk conversion names disk %lld, "
                  "and %zu disk%s given", (long long) di, g->ndisks,
                  g->ndisks == 1 ? " was" : "s were");
      lf_guest_close (g);
      g = NULL;
      int r = path ? lf_gpt_conv_undo (path, meta, gap, gaplen) : -1;
      json_decref (meta);
      free (gap);
      free (path);
      if (r == -1 ||
          !(os = open_os (argc - optind, argv + optind, when, &g)) ||
          !(f = lf_fixer_find (os->type)))
        goto out;
    }
  }
  if (lf_undo (&os->mounts, f->journal_dir, &report) == -1)
    goto out;
  ret = LF_EXIT_OK;
  if (json) {
    json_t *r = json_pack ("{s:s, s:b, s:O}", "command", "undo", "ok", 1,
                           "entries", report);
    lf_cli_print_json (r);
    json_decref (r);
  }
  else
    printf ("%zu change%s undone\n", json_array_size (report),
            json_array_size (report) == 1 ? "" : "s");
 out:
  if (ret != LF_EXIT_OK)
    lf_cli_print_error ();
  json_decref (report);
  lf_guest_close (g);
  return ret;
}
