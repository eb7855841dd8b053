/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: running a job, with resume.
 *
 * Steps: prerequisites, convert, fix, verify, report.  The state file
 * (job.h: lf_job_state_path) is written atomically (temporary, fsync,
 * rename, fsync of the directory) after every step and every disk, and
 * is the only thing a re-run trusts.  It is written only once the
 * prerequisites have passed, so a job that fails them leaves no trace.
 *
 * Crash windows, and why a re-run gives the same bytes:
 *   - The output of a conversion is a pure function of the source: the
 *     footer's unique id and timestamp are derived from the source's
 *     identity (size, mtime) when the prerequisites pass and kept in the
 *     state.  The writer works under a temporary name and renames; a kill
 *     mid-copy leaves a temporary (removed here) and a disk still
 *     "pending", which is converted again from the start.
 *   - The fix edits the converted image.  A fix that was running (or
 *     failed) when the last run stopped has left the image in an unknown
 *     mix of old and new blocks: libext2fs' allocations depend on the
 *     order of what was written, so finishing from the guest journal
 *     would give a correct guest, but not the same bytes.  So when the
 *     output is a copy, the disks are converted again and the fix is done
 *     again from the start; every write of the fix carries the job's
 *     fixed clock (lf_fs_set_clock), so the image is the same to the bit.
 *     In place there is no pristine copy: the fix is finished from what
 *     is on the disk (re-plan; the guest journal keeps undo exact), which
 *     gives a correct guest but not necessarily the same bytes.
 *   - Verify only reads; report writes one file atomically.  Both are
 *     simply done again.
 *
 * The state is typed while the job runs (run-state.h); the prerequisites
 * are in run-prereq.c, the steps in run-steps.c, the report and summary in
 * run-report.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "guest/guest.h"
#include "bootfix/bootfix.h"
#include "supervisor/cli.h"
#include "supervisor/job.h"
#include "supervisor/run-job.h"

/* The resolved profile (st.profile), loaded once; NULL with the error
 * recorded.
 */
const struct lf_hw_profile *
lf_run_hw (struct run *r)
{
  const char *name = r->st.profile;

  if (r->hw && strcmp (r->hw->name, name) != 0) {
    lf_hw_profile_free (r->hw);
    r->hw = NULL;
  }
  if (!r->hw)
    r->hw = lf_hw_profile_load (NULL, name);
  return r->hw;
}

void
lf_run_log (struct run *r, const char *fmt, ...)
{
  va_list ap;

  if (r->o->log_fd < 0)
    return;
  va_start (ap, fmt);
  dprintf (r->o->log_fd, "landfall run: ");
  vdprintf (r->o->log_fd, fmt, ap);
  dprintf (r->o->log_fd, "\n");
  va_end (ap);
}

const char *
lf_run_role (size_t i, char *buf, size_t len)
{
  if (i == 0)
    snprintf (buf, len, "OS disk");
  else
    snprintf (buf, len, "data disk %zu", i);
  return buf;
}

int
lf_run_save (struct run *r)
{
  return lf_state_save (r->state_path, &r->st);
}

static void
set_step (struct run *r, enum lf_step i, enum lf_step_status status,
          double seconds)
{
  r->st.steps[i].status = status;
  if (seconds >= 0) {
    r->st.steps[i].timed = true;
    r->st.steps[i].seconds = seconds;
  }
}

/* Load the state file if there is one: 1 loaded, 0 none, -1 error. */
static int
load_state (struct run *r)
{
  struct lf_job_state s;
  int rc = lf_state_load (r->state_path, r->job->ndisks, &s);

  if (rc <= 0)
    return rc;
  if (strcmp (s.job_sha256, r->job->sha256) != 0) {
    lf_state_free (&s);
    lf_error (EINVAL, "%s: the job file changed since this job was started; "
              "restore it, or remove the state file (and the outputs) to "
              "start over", r->state_path);
    return -1;
  }
  /* Another recovery point (changed in the job, or `latest` now finds a
   * newer one): before commit that is Change recovery point (failover.md
   * 7.6), so the outputs of the old point are removed and the job starts
   * over from the new one, prerequisites included.
   */
  const char *was = s.recovery_point;
  const char *now = r->job->point_id;
  if ((was || now) && (!was || !now || strcmp (was, now) != 0)) {
    lf_run_log (r, "recovery point changed from %s to %s: removing the outputs "
                "of %s and starting over", was ? was : "(none)",
                now ? now : "(none)", was ? was : "(none)");
    for (size_t i = 0; i < r->job->ndisks; i++) {
      CLEANUP_FREE char *out = lf_job_output_path (r->job, i);
      const char *o = s.disks[i].output;
      /* Only what the job writes, and only what the state says it wrote. */
      if (out && o && strcmp (o, out) == 0 && unlink (out) == -1 &&
          errno != ENOENT) {
        lf_state_free (&s);
        lf_error (errno, "%s: %m", out);
        return -1;
      }
    }
    lf_state_free (&s);
    if (unlink (r->state_path) == -1) {
      lf_error (errno, "%s: %m", r->state_path);
      return -1;
    }
    return 0;
  }
  lf_state_free (&r->st);
  r->st = s;
  r->saved = true;
  return 1;
}

/* Here rather than in main.c: run.o is in libsupervisor.a, which the
 * unit tests link without main.o.
 */
struct lf_guest *
lf_cli_guest_open (const char *const *paths, size_t n, bool writable,
                   int when, bool *launched)
{
  struct lf_guest *g = lf_guest_open (paths, n, writable);
  int opened = 0;

  if (launched)
    *launched = false;
  if (g && when != LF_GUESTFS_NEVER &&
      (opened = lf_guest_open_guestfs (g, when == LF_GUESTFS_ALWAYS)) == -1) {
    lf_guest_close (g);
    return NULL;
  }
  if (launched)
    *launched = opened > 0;
  return g;
}

/* The job's guestfs key; in the appliance (no CLI) auto. */
int
lf_run_guestfs (const struct lf_job *job)
{
  return job->guestfs < 0 ? LF_GUESTFS_AUTO : job->guestfs;
}

/* ---- The sequence ----------------------------------------------------- */

static char *
report_path (const struct lf_job *job, const char *jobdir)
{
  char *r = NULL;
  int n = job->in_place
    ? asprintf (&r, "%s/%s-landfall-report.json", jobdir, job->machine)
    : asprintf (&r, "%s/landfall-report.json", job->output);

  if (n == -1) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  return r;
}

static void
free_resolved (struct lf_job_disk *dk, size_t n)
{
  if (!dk)
    return;
  for (size_t i = 0; i < n; i++)
    if (dk[i].spec)
      free (dk[i].path);
  free (dk);
}

int
lf_run_job (const struct lf_job *job, const struct lf_run_opts *o,
            enum lf_run_result *result, json_t **report)
{
  struct run r = { .job = job, .o = o };
  enum lf_run_result res = LF_RUN_OK;
  int ret = -1, loaded;
  struct lf_job rjob;
  struct lf_job_disk *resolved = NULL;
  size_t ndisks = job->ndisks;

  *report = NULL;
  r.src = calloc (job->ndisks ? job->ndisks : 1, sizeof *r.src);
  r.state_path = lf_job_state_path (job, o->jobdir);
  if (!r.src || !r.state_path) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  if (job->point_id)
    lf_run_log (&r, "recovery point %s (%s, %s%s%s)", job->point_id,
                job->point_time, job->recovery_point,
                job->point_why && *job->point_why ? ": " : "",
                job->point_why ? job->point_why : "");
  double t_prereq = lf_now ();
  if ((resolved = lf_run_resolve_disks (&r, job))) {
    rjob = *job;
    rjob.disks = resolved;
    r.job = job = &rjob;
  }
  for (size_t i = 0; i < job->ndisks; i++)
    if (!job->disks[i].path) {
      if (r.problems.n == 0) {
        lf_error (ENOMEM, "out of memory");
        goto out;
      }
      loaded = 0;
      goto refused;
    }
  if ((loaded = load_state (&r)) == -1)
    goto out;

  if (!loaded) {
    lf_run_log (&r, "[1/5] prerequisites: checking %zu disk%s", job->ndisks,
                job->ndisks == 1 ? "" : "s");
    lf_run_prerequisites (&r);
  refused:
    set_step (&r, LF_STEP_PREREQ, LF_STEP_PENDING, lf_now () - t_prereq);
    if (r.problems.n > 0 || lf_cancel) {
      res = r.problems.n > 0 ? LF_RUN_FAILED : LF_RUN_INTERRUPTED;
      r.st.steps[LF_STEP_PREREQ].status =
        res == LF_RUN_FAILED ? LF_STEP_FAILED : LF_STEP_INTERRUPTED;
      for (size_t i = 0; i < r.problems.n; i++)
        lf_strs_add (&r.errors, "prerequisites: %s", r.problems.v[i]);
      lf_run_log (&r, "[1/5] prerequisites: %s (%.1f s): %zu problem%s; "
                  "nothing was written",
                  lf_step_status_name (r.st.steps[LF_STEP_PREREQ].status),
                  r.st.steps[LF_STEP_PREREQ].seconds, r.problems.n,
                  r.problems.n == 1 ? "" : "s");
      *report = lf_run_report (&r, &res);
      ret = 0;
      goto out;
    }
    /* Only now is anything written. */
    if ((!job->in_place && lf_mkdir_p (job->output) == -1) ||
        lf_run_new_state (&r) == -1)
      goto out;
    r.saved = true;
    set_step (&r, LF_STEP_PREREQ, LF_STEP_DONE, -1);
    lf_run_log (&r, "[1/5] prerequisites: done (%.1f s): %s, %s",
                r.st.steps[LF_STEP_PREREQ].seconds, r.st.os, r.st.profile);
  }
  else
    lf_run_log (&r, "resuming the job from %s", r.state_path);
  r.st.runs++;

  /* A fix that did not finish left the copies in an unknown state; redo
   * them from the sources (see the comment at the top).
   */
  {
    enum lf_step_status fs = r.st.steps[LF_STEP_FIX].status;
    if (!job->in_place && (fs == LF_STEP_RUNNING || fs == LF_STEP_FAILED)) {
      lf_run_log (&r, "the fix of the last run did not finish: converting "
                  "again so that the result is exactly that of an "
                  "uninterrupted run");
      for (size_t i = 0; i < job->ndisks; i++)
        r.st.disks[i].state = LF_DISK_PENDING;
      set_step (&r, LF_STEP_CONVERT, LF_STEP_PENDING, -1);
      set_step (&r, LF_STEP_FIX, LF_STEP_PENDING, -1);
    }
  }
  if (lf_run_save (&r) == -1)
    goto out;

  static int (*const fns[LF_NSTEPS]) (struct run *) = {
    NULL, lf_run_convert, lf_run_fix, lf_run_verify, NULL,
  };
  for (int s = LF_STEP_CONVERT; s <= LF_STEP_REPORT; s++) {
    const char *name = lf_step_names[s];
    if (r.st.steps[s].status == LF_STEP_DONE) {
      lf_run_log (&r, "[%d/5] %s: already done", s + 1, name);
      continue;
    }
    if (lf_cancel) {
      res = LF_RUN_INTERRUPTED;
      break;
    }
    double t0 = lf_now ();
    lf_run_log (&r, "[%d/5] %s: running", s + 1, name);
    set_step (&r, s, LF_STEP_RUNNING, -1);
    if (lf_run_save (&r) == -1)
      goto out;
    int rc = 0;
    if (fns[s])
      rc = fns[s] (&r);
    else {                      /* the report: the last step */
      CLEANUP_FREE char *rp = report_path (job, o->jobdir);
      set_step (&r, s, LF_STEP_DONE, lf_now () - t0);
      enum lf_run_result ok = LF_RUN_OK;
      json_t *rep = lf_run_report (&r, &ok);
      json_object_set_new (rep, "report", json_string (rp ? rp : ""));
      rc = rp && lf_write_json_atomic (rp, rep) == 0 ? 0 : -1;
      json_decref (rep);
    }
    double sec = lf_now () - t0;
    if (rc == -1) {
      bool intr = lf_cancel && lf_last_errno () == EINTR;
      if (!intr)
        lf_strs_add (&r.errors, "%s: %s", name, lf_last_error ());
      set_step (&r, s, intr ? LF_STEP_INTERRUPTED : LF_STEP_FAILED, sec);
      lf_run_log (&r, "[%d/5] %s: %s (%.1f s): %s", s + 1, name,
                  intr ? "interrupted" : "failed", sec, lf_last_error ());
      res = intr ? LF_RUN_INTERRUPTED : LF_RUN_FAILED;
      if (lf_run_save (&r) == -1)
        goto out;
      break;
    }
    set_step (&r, s, LF_STEP_DONE, sec);
    if (lf_run_save (&r) == -1)
      goto out;
    lf_run_log (&r, "[%d/5] %s: done (%.1f s)", s + 1, name, sec);
  }
  if (res == LF_RUN_INTERRUPTED)
    lf_run_log (&r, "interrupted: run the same command again to resume");
  *report = lf_run_report (&r, &res);
  {
    CLEANUP_FREE char *rp = report_path (job, o->jobdir);
    json_object_set_new (*report, "report", json_string (rp ? rp : ""));
    /* A failed or interrupted run leaves its report too (the successful
     * one was written by the report step).
     */
    if (res == LF_RUN_FAILED || res == LF_RUN_INTERRUPTED)
      if (rp)
        (void) lf_write_json_atomic (rp, *report);
  }
  ret = 0;

 out:
  if (ret == 0)
    *result = res;
  lf_guest_close (r.out_g);
  lf_state_free (&r.st);
  lf_strs_free (&r.problems);
  lf_strs_free (&r.errors);
  free (r.src);
  free (r.state_path);
  lf_hw_profile_free (r.hw);
  free_resolved (resolved, ndisks);
  return ret;
}

/* ---- Undo ------------------------------------------------------------- */

int
lf_run_undo (const struct lf_job *job, const char *jobdir, json_t **report)
{
  struct lf_run_opts o = { .log_fd = -1, .jobdir = jobdir };
  struct run r = { .job = job, .o = &o };
  struct lf_guest *g = NULL;
  struct lf_os *os;
  char **paths = NULL;
  json_t *entries = NULL;
  int ret = -1, loaded;

  *report = NULL;
  r.state_path = lf_job_state_path (job, jobdir);
  if (!r.state_path || (loaded = load_state (&r)) == -1)
    goto out;
  if (!(paths = lf_run_output_paths (&r)))
    goto out;
  for (size_t i = 0; i < job->ndisks; i++) {
    struct stat st;
    if (stat (paths[i], &st) == -1) {
      lf_error (errno, "%s: %m (the job's output is gone: nothing to undo)",
                paths[i]);
      goto out;
    }
  }
  g = lf_cli_guest_open ((const char *const *) paths, job->ndisks, true,
                         lf_run_guestfs (job), NULL);
  if (!g || lf_guest_inspect (g) == -1 || !(os = lf_run_job_os (g)))
    goto out;
  const struct lf_fixer *f = lf_fixer_find (os->type);
  if (!f)
    goto out;
  /* A disk the fix converted to GPT first (as landfall undo DISK). */
  {
    json_t *meta = NULL;
    char *gap = NULL;
    size_t gaplen;
    if (lf_undo_disk_record (&os->mounts, f->journal_dir, &meta, &gap,
                             &gaplen) == -1)
      goto out;
    if (meta) {
      json_int_t di = json_integer_value (json_object_get (meta, "disk"));
      int rr = -1;
      lf_guest_close (g);
      g = NULL;
      if (di < 0 || (size_t) di >= job->ndisks)
        lf_error (EINVAL, "the journal's disk conversion names disk %lld",
                  (long long) di);
      else
        rr = lf_gpt_conv_undo (paths[di], meta, gap, gaplen);
      if (rr == 0 && loaded && (size_t) di < r.st.ndisks &&
          r.st.disks[di].convert.done) {
        struct lf_state_convert *cv = &r.st.disks[di].convert;
        json_int_t fsz = json_integer_value (json_object_get (meta,
                                                             "old_file_size"));
        cv->file_size = (uint64_t) fsz;
        cv->size = (uint64_t) fsz - LF_VHD_FOOTER_SIZE;
      }
      json_decref (meta);
      free (gap);
      if (rr == -1)
        goto out;
      g = lf_cli_guest_open ((const char *const *) paths, job->ndisks, true,
                             lf_run_guestfs (job), NULL);
      if (!g || lf_guest_inspect (g) == -1 || !(os = lf_run_job_os (g)))
        goto out;
    }
  }
  if (lf_undo (&os->mounts, f->journal_dir, &entries) == -1)
    goto out;
  /* The job is no longer fixed: a re-run fixes (and verifies) again. */
  if (loaded) {
    for (int s = LF_STEP_FIX; s <= LF_STEP_REPORT; s++)
      set_step (&r, s, LF_STEP_PENDING, -1);
    lf_state_fix_clear (&r.st.fix);
    lf_state_verify_clear (&r.st.verify);
    if (lf_run_save (&r) == -1)
      goto out;
  }
  *report = json_pack ("{s:s, s:s, s:b, s:O}", "command", "undo", "machine",
                       job->machine, "ok", 1, "entries", entries);
  ret = 0;
 out:
  json_decref (entries);
  lf_free_names (paths);
  lf_guest_close (g);
  lf_state_free (&r.st);
  free (r.state_path);
  lf_hw_profile_free (r.hw);
  return ret;
}
