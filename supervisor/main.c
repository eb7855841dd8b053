/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: command-line entry point and subcommand dispatch. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "supervisor/cli.h"
#include "convert/convert.h"
#include "supervisor/job.h"

#ifndef LF_VERSION
#define LF_VERSION "0.1"
#endif

const char *lf_progname = "landfall";

static const struct command {
  const char *name;
  int (*fn) (int argc, char *argv[]);
  const char *summary;
} commands[] = {
  { "convert", lf_cmd_convert,
    "convert a disk image to an Azure fixed VHD (or in place)" },
  { "inspect", lf_cmd_inspect,
    "report the disks, filesystems and operating systems of a machine" },
  { "fix", lf_cmd_fix,
    "make a guest boot and connect on Azure (changes journalled)" },
  { "undo", lf_cmd_undo,
    "revert what 'landfall fix' (or a job) changed, byte for byte" },
  { "run", lf_cmd_run,
    "run a failover job: check, convert, fix, verify, report (resumable)" },
  { "verify", lf_cmd_verify,
    "check disks against a target hardware profile (and boot them)" },
  { "points", lf_cmd_points,
    "list a machine's recovery points, choose one, commit to it" },
  { "plan", lf_cmd_plan,
    "run a recovery plan: groups of machines, scripts, manual actions" },
};
#define NR_COMMANDS (sizeof commands / sizeof commands[0])

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage: landfall [-v] COMMAND [OPTIONS] ARGS...\n"
"\n"
"landfall makes the disks of physical servers and VMware VMs boot and\n"
"connect on Azure (Hyper-V), without running any program from the guest.\n"
"\n"
"Commands:\n");
  for (size_t i = 0; i < NR_COMMANDS; i++)
    fprintf (fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (fp,
"\n"
"Global options:\n"
"  -v, --verbose   debug output on stderr (-vv: structure dumps);\n"
"                  LANDFALL_DEBUG=1 or 2 does the same\n"
"  -h, --help      this help; 'landfall COMMAND --help' for a command\n"
"  -V, --version   print the version\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error; 'landfall run' and\n"
"'landfall plan' also 3 success with warnings, 4 interrupted (resumable);\n"
"'landfall plan' 5 waiting for a manual action.\n");
}

void
lf_cli_print_error (void)
{
  fprintf (stderr, "%s: error: %s\n", lf_progname, lf_last_error ());
}

int
lf_cli_print_json (json_t *j)
{
  if (json_dumpf (j, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER) == -1)
    return -1;
  fputc ('\n', stdout);
  return fflush (stdout) == 0 ? 0 : -1;
}

int
lf_cli_allow_backing (const char *cmd, const char *dir)
{
  if (lf_allow_backing (dir) == 0)
    return 0;
  lf_error_prefix ("%s --allow-backing", cmd);
  lf_cli_print_error ();
  return -1;
}

int
lf_cli_guestfs (const char *cmd, const char *when)
{
  const char *from = "--guestfs";
  int w;

  if (!when) {
    when = getenv ("LANDFALL_GUESTFS");
    from = "LANDFALL_GUESTFS";
    if (!when || !*when)
      return LF_GUESTFS_AUTO;
  }
  if ((w = lf_guestfs_when_parse (when)) == -1)
    fprintf (stderr, "%s %s: %s is 'auto', 'always' or 'never', not '%s'\n",
             lf_progname, cmd, from, when);
  return w;
}

static void
on_signal (int sig)
{
  (void) sig;
  lf_cancel = 1;
}

int
main (int argc, char *argv[])
{
  struct sigaction sa = { .sa_handler = on_signal };
  int i;

  /* The appliance's initramfs runs us as /init: PID 1 never returns. */
  if (getpid () == 1)
    return lf_pid1_main (argc, argv);
  lf_debug_init ();
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);

  /* Global options come before the command; -v may also follow it. */
  for (i = 1; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0) {
      usage (stdout);
      return LF_EXIT_OK;
    }
    if (strcmp (a, "-V") == 0 || strcmp (a, "--version") == 0) {
      printf ("landfall %s\n", LF_VERSION);
      return LF_EXIT_OK;
    }
    if (strcmp (a, "--verbose") == 0)
      lf_debug_level++;
    else if (a[1] == 'v' && strspn (a + 1, "v") == strlen (a + 1))
      lf_debug_level += (int) strlen (a + 1);
    else {
      fprintf (stderr, "%s: unknown option '%s'\n", lf_progname, a);
      usage (stderr);
      return LF_EXIT_USAGE;
    }
  }
  if (i >= argc) {
    usage (stderr);
    return LF_EXIT_USAGE;
  }
  for (size_t c = 0; c < NR_COMMANDS; c++)
    if (strcmp (argv[i], commands[c].name) == 0)
      return commands[c].fn (argc - i, argv + i);
  fprintf (stderr, "%s: unknown command '%s' (see 'landfall --help')\n",
           lf_progname, argv[i]);
  return LF_EXIT_USAGE;
}
