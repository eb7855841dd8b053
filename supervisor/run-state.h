/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: a job's state while it runs (run*.c only).
 *
 * Typed inside the process; JSON only at its edges: the state file
 * (run-state.c: lf_state_to_json, lf_state_from_json), the report and
 * --json (run-report.c).
 */
#ifndef LF_RUN_STATE_H
#define LF_RUN_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "bootfix/bootfix.h"
#include "hw/hw.h"
#include "supervisor/job.h"

#define LF_STATE_VERSION 1

enum lf_step { LF_STEP_PREREQ, LF_STEP_CONVERT, LF_STEP_FIX, LF_STEP_VERIFY,
               LF_STEP_REPORT, LF_NSTEPS };
enum lf_step_status { LF_STEP_PENDING, LF_STEP_RUNNING, LF_STEP_DONE,
                      LF_STEP_FAILED, LF_STEP_INTERRUPTED,
                      LF_STEP_NSTATUS };
enum lf_disk_status { LF_DISK_PENDING, LF_DISK_CONVERTED, LF_DISK_NSTATUS };

extern const char *const lf_step_names[LF_NSTEPS];
extern const char *lf_step_status_name (enum lf_step_status s);
extern const char *lf_finding_result_name (enum lf_finding f);
extern const char *lf_run_result_name (enum lf_run_result res);
extern int lf_run_exit_status (enum lf_run_result res);

/* Strings in order, grown by doubling. */
struct lf_strs {
  char **v;
  size_t n, cap;
};
extern int lf_strs_add (struct lf_strs *s, const char *fmt, ...) LF_PRINTF (2, 3);
extern void lf_strs_free (struct lf_strs *s);

struct lf_state_convert {
  bool done;
  char *action;
  uint64_t source_size, size, file_size, data_bytes;
  double seconds;
};

enum lf_verified { LF_VERIFIED_NOT, LF_VERIFIED_VHD, LF_VERIFIED_BLOCKDEV };

struct lf_state_disk {
  char *source, *output;        /* output NULL in place */
  char uuid[33];                /* the VHD footer's, hex */
  uint32_t timestamp;           /* the VHD footer's */
  uint64_t source_size;
  char source_mtime[64];        /* "SEC.NSEC", compared as text */
  enum lf_disk_status state;
  char *source_format;          /* NULL until converted to a copy */
  struct lf_state_convert convert;
  char sha256[65];              /* "" unless the job asked for it */
  enum lf_verified verified;
  uint64_t verified_size, verified_file_size;
};

struct lf_state_finding {
  char *concern;
  enum lf_finding result;
  char *message;
};

struct lf_state_fix {
  bool done;
  /* The edits as lf_plan_report gives them, for the report alone: the
   * process never reads them back.
   */
  json_t *edits;
  struct lf_state_finding *findings;
  size_t nfindings;
  char *journal;
};

struct lf_state_verify {
  bool done;
  bool footers_ok;
  char *profile;
  json_t *checks;               /* lf_verify_static's, for the report */
};

struct lf_job_state {
  char job_sha256[65];
  char *machine;
  int64_t clock;
  char profile[LF_HW_MAX_STRING + 1];
  char *os;
  int64_t runs;
  struct {
    enum lf_step_status status;
    bool timed;
    double seconds;
  } steps[LF_NSTEPS];
  struct lf_state_disk *disks;
  size_t ndisks;
  struct lf_strs warnings;
  char *recovery_point;         /* NULL without one */
  struct lf_state_fix fix;
  struct lf_state_verify verify;
};

extern void lf_state_free (struct lf_job_state *s);
extern void lf_state_fix_clear (struct lf_state_fix *f);
extern void lf_state_verify_clear (struct lf_state_verify *v);
/* The state file's JSON; NULL (out of memory) recorded. */
extern json_t *lf_state_to_json (const struct lf_job_state *s);
/* The state file's JSON J, checked as untrusted, into *S (zeroed first);
 * NDISKS is the job's.  -1 with the error recorded (naming PATH).
 */
extern int lf_state_from_json (json_t *j, size_t ndisks, const char *path,
                               struct lf_job_state *s);
/* The findings of F as the report and the state file have them. */
extern json_t *lf_state_findings_json (const struct lf_state_fix *f);
/* Load PATH (-1: error; 0: no file; 1: loaded into *S). */
extern int lf_state_load (const char *path, size_t ndisks,
                          struct lf_job_state *s);
extern int lf_state_save (const char *path, const struct lf_job_state *s);

/* The summary's changes line: "N files (by concern: a 3, b 1)". */
extern void lf_run_print_changes (const json_t *changes, FILE *fp);

#endif
