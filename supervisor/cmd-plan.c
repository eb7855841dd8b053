/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall plan: run a recovery plan (supervisor/recovery-plan.c). */
#include <getopt.h>
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
"Usage: landfall plan [OPTIONS] PLAN\n"
"       landfall plan --resume [--comment TEXT] PLAN\n"
"\n"
"Fail over several machines as a recovery plan: groups in order, the\n"
"machines of a group in parallel (each a 'landfall run' job), scripts and\n"
"manual actions before and after each group and around them all.\n"
"\n"
"Options:\n"
"  -t, --type TYPE     unplanned (default): run to the end whatever fails,\n"
"                      and report every error; planned: stop at the first\n"
"                      error; test: as unplanned (a drill)\n"
"  -j, --jobs N        machines at once (default: the number of CPUs)\n"
"      --resume        the manual action the plan waits for is done:\n"
"                      continue after it\n"
"      --comment TEXT  recorded with --resume\n"
"      --json          print the plan's report as JSON on stdout\n"
"  -q, --quiet         no task lines on stderr\n"
"  -v, --verbose       debug output on stderr\n"
"  -h, --help          this help\n"
"\n"
"THE PLAN FILE (JSON; relative names are relative to its directory)\n"
"  {\n"
"    \"name\": \"shop\",\n"
"    \"output\": \"shop-plan\",      state, logs and report (default NAME-plan)\n"
"    \"pre\": [ACTION...],         before all groups\n"
"    \"post\": [ACTION...],        after all groups\n"
"    \"groups\": [                 1 to 7, run in this order\n"
"      { \"machines\": [\"db.job\"], job files ('landfall run --help'),\n"
"                                up to 100 in the plan\n"
"        \"pre\": [ACTION...], \"post\": [ACTION...] }\n"
"    ]\n"
"  }\n"
"  ACTION is a script, run on this machine (never in a guest):\n"
"    { \"name\": \"TEXT\", \"script\": \"FILE\", \"timeout\": 600,\n"
"      \"applies-to\": [\"test\", \"planned\", \"unplanned\"] }\n"
"  It fails if it exits non-zero, writes anything on stderr, or runs\n"
"  longer than its timeout (seconds, default 600; then SIGTERM, SIGKILL\n"
"  5 s later, to its whole process group).  Its working directory is the\n"
"  plan's; stdin and $LANDFALL_PLAN_CONTEXT hold the context as JSON\n"
"  (RecoveryPlanName, FailoverType, GroupId, VmMap: each machine's state,\n"
"  recovery point and outputs), as ASR passes runbooks; also set:\n"
"  LANDFALL_PLAN_NAME, LANDFALL_FAILOVER_TYPE, LANDFALL_PLAN_GROUP.\n"
"  Or a manual action: the plan stops until 'landfall plan --resume':\n"
"    { \"name\": \"TEXT\", \"manual\": \"INSTRUCTIONS\", \"applies-to\": [...] }\n"
"  An action whose applies-to lacks this run's type is skipped.\n"
"\n"
"RUNNING IT AGAIN\n"
"  OUTPUT/.landfall-plan.json records each task.  Running the same plan\n"
"  again skips what is done and retries what failed, was interrupted or\n"
"  did not run (each machine's job resumes itself).  Changing the plan\n"
"  file in between is refused: remove the state file to start over.\n"
"\n"
"OUTPUT\n"
"  OUTPUT/landfall-plan-report.json: every task with its state, times and\n"
"  error; each machine's own report; all errors and warnings.  Logs of\n"
"  each task (a machine's stderr, a script's stdout and stderr, its\n"
"  context) in OUTPUT/logs/.\n"
"\n"
"Exit status: 0 success, 3 success with warnings, 1 a task failed (the\n"
"report lists each), 5 waiting for a manual action, 4 interrupted (run\n"
"the same command again), 2 usage error (a bad plan or job file, a\n"
"changed plan).\n"
"\n"
"Example:\n"
"  landfall plan --type planned shop.plan\n");
}

int
lf_cmd_plan (int argc, char *argv[])
{
  enum { OPT_JSON = 256, OPT_RESUME, OPT_COMMENT };
  static const struct option longopts[] = {
    { "type",    required_argument, NULL, 't' },
    { "jobs",    required_argument, NULL, 'j' },
    { "resume",  no_argument,       NULL, OPT_RESUME },
    { "comment", required_argument, NULL, OPT_COMMENT },
    { "json",    no_argument,       NULL, OPT_JSON },
    { "quiet",   no_argument,       NULL, 'q' },
    { "verbose", no_argument,       NULL, 'v' },
    { "help",    no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct lf_rplan_opts o = {
    .type = LF_FAILOVER_UNPLANNED, .log_fd = 2,
  };
  long cpus = sysconf (_SC_NPROCESSORS_ONLN);
  bool json = false;
  struct lf_rplan *p;
  json_t *report = NULL;
  enum lf_rplan_result res = LF_RPLAN_FAILED;
  int c, ret;

  o.jobs = cpus > 0 ? (unsigned) LF_MIN (cpus, 64L) : 1;
  optind = 1;
  while ((c = getopt_long (argc, argv, "t:j:qvh", longopts, NULL)) != -1) {
    switch (c) {
    case 't':
      if (lf_failover_type (optarg, &o.type) == -1) {
        lf_cli_print_error ();
        return LF_EXIT_USAGE;
      }
      break;
    case 'j': {
      unsigned long n;
      if (lf_parse_uint (optarg, 1, 64, &n) == -1) {
        fprintf (stderr, "%s plan: --jobs: '%s' is not a number from 1 to "
                 "64\n", lf_progname, optarg);
        return LF_EXIT_USAGE;
      }
      o.jobs = (unsigned) n;
      break;
    }
    case OPT_RESUME: o.resume = true; break;
    case OPT_COMMENT: o.comment = optarg; break;
    case OPT_JSON: json = true; break;
    case 'q': o.log_fd = -1; break;
    case 'v': lf_debug_level++; break;
    case 'h': usage (stdout); return LF_EXIT_OK;
    default: usage (stderr); return LF_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf (stderr, "%s plan: expected one plan file (see --help)\n",
             lf_progname);
    return LF_EXIT_USAGE;
  }
  if (o.comment && !o.resume) {
    fprintf (stderr, "%s plan: --comment goes with --resume\n", lf_progname);
    return LF_EXIT_USAGE;
  }
  p = lf_rplan_load (argv[optind]);
  if (!p) {
    lf_cli_print_error ();
    return LF_EXIT_USAGE;
  }
  if (lf_rplan_run (p, &o, &res, &report) == -1) {
    lf_cli_print_error ();
    lf_rplan_free (p);
    return LF_EXIT_USAGE;
  }
  if (json)
    lf_cli_print_json (report);
  else
    lf_rplan_print_summary (report, stdout);
  /* One mapping from result to exit status, the report's too. */
  ret = lf_rplan_exit_status (res);
  json_decref (report);
  lf_rplan_free (p);
  return ret;
}
