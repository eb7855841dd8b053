/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: one run of a job, shared by run.c (the sequence),
 * run-prereq.c, run-steps.c and run-report.c.
 */
#ifndef LF_RUN_JOB_H
#define LF_RUN_JOB_H

#include "guest/guest.h"
#include "supervisor/run-state.h"

struct run {
  const struct lf_job *job;
  const struct lf_run_opts *o;
  char *state_path;
  /* The state; saved only once the prerequisites have passed (or it was
   * loaded): until then it holds what the report needs (the profile
   * resolved, the OS, the warnings, the prerequisites' step).
   */
  struct lf_job_state st;
  bool saved;
  struct lf_strs problems;      /* prerequisites: every one found */
  struct lf_strs errors;
  /* From the prerequisites, for the state. */
  struct src_info {
    bool ok;
    uint64_t size, rounded, data_estimate;
    int64_t mtime_sec, mtime_nsec;
    char format[32];
  } *src;
  struct lf_hw_profile *hw;     /* st.profile's, loaded once when needed */
  /* The outputs' guest while a libguestfs appliance holds them: the fix
   * leaves it open for verify's planning again, so that a job launches
   * one appliance for both (30 s each under TCG).  Everything in it was
   * synced by the fix before its step was marked done.
   */
  struct lf_guest *out_g;
  struct lf_os *out_os;
};

/* run.c */
extern void lf_run_log (struct run *r, const char *fmt, ...) LF_PRINTF (2, 3);
extern const struct lf_hw_profile *lf_run_hw (struct run *r);
extern const char *lf_run_role (size_t i, char *buf, size_t len);
extern int lf_run_save (struct run *r);
extern int lf_run_guestfs (const struct lf_job *job);
extern struct lf_os *lf_run_job_os (struct lf_guest *g);

/* run-prereq.c */
extern void lf_run_prerequisites (struct run *r);
extern int lf_run_new_state (struct run *r);
extern struct lf_job_disk *lf_run_resolve_disks (struct run *r,
                                                 const struct lf_job *job);

/* run-steps.c */
extern int lf_run_convert (struct run *r);
extern int lf_run_fix (struct run *r);
extern int lf_run_verify (struct run *r);
extern char **lf_run_output_paths (struct run *r);

/* run-report.c: the report; *RES becomes LF_RUN_WARNINGS when a success
 * had some.
 */
extern json_t *lf_run_report (struct run *r, enum lf_run_result *res);

#endif
