/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: a job's convert, fix and verify steps
 * (run-job.h; the sequence and its crash windows are in run.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "convert/convert.h"
#include "guest/guest.h"
#include "bootfix/bootfix.h"
#include "supervisor/cli.h"
#include "supervisor/job.h"
#include "supervisor/run-job.h"
#include "verify/verify.h"

/* ---- Convert ---------------------------------------------------------- */

/* Temporaries a killed writer left beside OUT ("OUT.landfall-XXXXXX"). */
static void
remove_stale_temps (const char *out)
{
  CLEANUP_FREE char *copy = strdup (out), *copy2 = strdup (out);
  DIR *dir;
  struct dirent *e;

  if (!copy || !copy2 || !(dir = opendir (dirname (copy))))
    return;
  const char *base = basename (copy2);
  size_t bl = strlen (base);
  while ((e = readdir (dir)) != NULL)
    if (strncmp (e->d_name, base, bl) == 0 &&
        strncmp (e->d_name + bl, ".landfall-", 10) == 0 &&
        strlen (e->d_name + bl + 10) == 6) {
      LF_DEBUG (1, "removing %s left by an interrupted conversion", e->d_name);
      (void) unlinkat (dirfd (dir), e->d_name, 0);
    }
  closedir (dir);
}

static int
hex_to_bytes (const char *hex, uint8_t *out, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf (hex + 2 * i, "%2x", &v) != 1)
      return -1;
    out[i] = (uint8_t) v;
  }
  return 0;
}

int
lf_run_convert (struct run *r)
{
  const struct lf_job *job = r->job;

  for (size_t i = 0; i < job->ndisks; i++) {
    struct lf_state_disk *ds = &r->st.disks[i];
    /* From the job, never from the state file: what we write where is
     * decided by the job alone.
     */
    CLEANUP_FREE char *out = lf_job_output_path (job, i);
    const char *src = job->disks[i].path;
    struct lf_convert_result res;
    uint8_t uuid[16];
    char rb[32], label[64];
    struct stat st;
    double t0 = lf_now ();
    bool fmt_oom = false;
    int rc;

    lf_run_role (i, rb, sizeof rb);
    if (!out)
      return -1;
    if (ds->state == LF_DISK_CONVERTED) {
      uint64_t fsz = ds->convert.done ? ds->convert.file_size : 0;
      if (stat (out, &st) == 0 && (uint64_t) st.st_size == fsz) {
        lf_run_log (r, "convert: %s: already done", rb);
        continue;
      }
      lf_run_log (r, "convert: %s: %s is missing or changed: converting again", rb, out);
    }
    if (lf_cancel) {
      lf_error (EINTR, "interrupted");
      return -1;
    }
    /* A source written since the job started (a replica still syncing)
     * would mix old and new data across disks and runs: refuse.  In place
     * the source is the output, which we write ourselves.
     */
    if (!job->in_place && stat (src, &st) == 0 && !S_ISBLK (st.st_mode)) {
      char mt[64];
      snprintf (mt, sizeof mt, "%" PRId64 ".%09" PRId64,
                (int64_t) st.st_mtim.tv_sec, (int64_t) st.st_mtim.tv_nsec);
      const char *was = ds->source_mtime;
      if (strcmp (was, mt) != 0) {
        lf_error (ESTALE, "%s %s: modified since the job started (mtime %s, "
                  "was %s): remove %s and the outputs to start over", rb, src,
                  mt, was, r->state_path);
        return -1;
      }
    }
    if (hex_to_bytes (ds->uuid, uuid, 16) == -1) {
      lf_error (EINVAL, "%s: disk %zu: bad uuid", r->state_path, i);
      return -1;
    }
    snprintf (label, sizeof label, "convert %s", rb);
    struct lf_progress *pr = lf_progress_new (label, ds->source_size,
      r->o->log_fd >= 0 ? r->o->log_fd : 2,
      r->o->progress && r->o->log_fd >= 0);
    struct lf_convert_opts co = {
      .os_disk = i == 0, .progress = pr, .uuid = uuid,
      .timestamp = ds->timestamp,
    };
    if (job->in_place && stat (src, &st) == 0 && S_ISBLK (st.st_mode)) {
      memset (&res, 0, sizeof res);
      res.action = "block device: left as it is (the platform holds its "
        "footer)";
      res.source_size = res.size = res.file_size = ds->source_size;
      rc = 0;
    }
    else if (job->in_place)
      rc = lf_convert_in_place (src, &co, &res);
    else {
      remove_stale_temps (out);
      struct lf_disk *d = lf_disk_open (src, NULL);
      rc = d ? lf_convert_to_vhd (d, out, &co, &res) : -1;
      if (d) {
        char f[64];
        snprintf (f, sizeof f, "%s%s%s", lf_disk_format (d),
                  lf_disk_subformat (d)[0] ? " " : "", lf_disk_subformat (d));
        free (ds->source_format);
        fmt_oom = !(ds->source_format = strdup (f));
      }
      lf_disk_close (d);
    }
    lf_progress_free (pr);
    if (rc == -1) {
      lf_error_prefix ("%s", rb);
      return -1;
    }
    free (ds->convert.action);
    ds->convert = (struct lf_state_convert) {
      .done = true, .action = strdup (res.action),
      .source_size = res.source_size, .size = res.size,
      .file_size = res.file_size, .data_bytes = res.data_bytes,
      .seconds = lf_now () - t0,
    };
    if (!ds->convert.action || fmt_oom) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    ds->state = LF_DISK_CONVERTED;
    if (lf_run_save (r) == -1)
      return -1;
    lf_run_log (r, "convert: %s: %s -> %s (%s)", rb, src, out, res.action);
  }
  return 0;
}

/* ---- Fix and verify ----------------------------------------------------- */

char **
lf_run_output_paths (struct run *r)
{
  char **v = calloc (r->job->ndisks + 1, sizeof *v);

  for (size_t i = 0; v && i < r->job->ndisks; i++)
    if (!(v[i] = lf_job_output_path (r->job, i))) {
      lf_free_names (v);
      return NULL;
    }
  if (!v)
    lf_error (ENOMEM, "out of memory");
  return v;
}

/* Open the outputs, find the OS and plan its fix into *PP. */
static int
plan_fix (struct run *r, bool writable, struct lf_guest **gp,
          struct lf_plan **pp, const char **dir)
{
  const struct lf_hw_profile *hw = lf_run_hw (r);
  char **paths = hw ? lf_run_output_paths (r) : NULL;
  struct lf_fix_opts fo = {
    .profile = hw,
    .rootdelay = r->job->rootdelay, .rdp_no_nla = r->job->rdp_no_nla,
  };
  struct lf_os *os;
  int ret = -1;

  struct lf_guest *g = r->out_g;
  bool launched = false;

  *gp = NULL;
  *pp = NULL;
  if (!paths)
    return -1;
  if (g)
    os = r->out_os;
  else {
    g = lf_cli_guest_open ((const char *const *) paths, r->job->ndisks,
                           writable, lf_run_guestfs (r->job), &launched);
    *gp = g;
    if (!g || lf_guest_inspect (g) == -1 || !(os = lf_run_job_os (g)))
      goto out;
    if (launched && writable) {
      r->out_g = g;
      r->out_os = os;
      *gp = NULL;
    }
  }
  if (!(*pp = lf_plan_new (&os->mounts)) || lf_fix_os (g, os, *pp, &fo, dir) == -1)
    goto out;
  ret = 0;
 out:
  lf_free_names (paths);
  return ret;
}

/* "fstab: cannot ..." for each failed finding, into r->errors. */
static void
plan_failures (struct run *r, const struct lf_plan *p)
{
  for (size_t i = 0; i < lf_plan_nfindings (p); i++) {
    struct lf_plan_finding f = lf_plan_finding (p, i);
    if (f.what == LF_FAILED)
      lf_strs_add (&r->errors, "fix: %s: %s", f.concern, f.msg);
  }
}

int
lf_run_fix (struct run *r)
{
  struct lf_guest *g = NULL;
  struct lf_plan *p = NULL;
  const char *dir = NULL;
  json_t *rep = NULL;
  struct lf_state_fix *fx = &r->st.fix;
  int ret = -1;

  /* Every inode, directory and superblock time the fix writes. */
  lf_fs_set_clock (r->st.clock);
  if (plan_fix (r, true, &g, &p, &dir) == -1)
    goto out;
  if (lf_plan_failed (p)) {
    plan_failures (r, p);
    lf_error (EINVAL, "the fix could not be planned (nothing was changed)");
    goto out;
  }
  if (lf_plan_apply (p, dir) == -1)
    goto out;
  /* MBR -> GPT: the disk is written outside the filesystems and grows,
   * with every handle on it closed (a kept appliance too).
   */
  if (lf_plan_disk_conv (p)) {
    const struct lf_gpt_conv *c = lf_plan_disk_conv (p);
    lf_guest_close (g);
    g = NULL;
    lf_guest_close (r->out_g);
    r->out_g = NULL;
    r->out_os = NULL;
    if (lf_plan_convert_disk (p) == -1) {
      lf_error_prefix ("fix: converting the OS disk to GPT");
      goto out;
    }
    /* The output's size now, so that a re-run does not take it for a
     * damaged conversion.
     */
    if (c->disk_index < r->st.ndisks && r->st.disks[c->disk_index].convert.done) {
      struct lf_state_convert *cv = &r->st.disks[c->disk_index].convert;
      cv->size = c->new_size;
      cv->file_size = c->new_size + (c->vhd ? LF_VHD_FOOTER_SIZE : 0);
    }
    lf_run_log (r, "fix: %s converted from MBR to GPT, EFI system partition %u",
                c->path, c->esp_number);
  }
  /* The findings as the plan has them; the edits' JSON is only ever
   * written (state file, report).
   */
  lf_state_fix_clear (fx);
  fx->done = true;
  size_t nf = lf_plan_nfindings (p);
  if (!(rep = lf_plan_report (p)) ||
      !(fx->edits = json_incref (json_object_get (rep, "edits"))) ||
      !(fx->journal = strdup (dir)) ||
      (nf && !(fx->findings = calloc (nf, sizeof *fx->findings))))
    goto oom;
  for (size_t i = 0; i < nf; i++) {
    struct lf_plan_finding f = lf_plan_finding (p, i);
    struct lf_state_finding *x = &fx->findings[fx->nfindings++];
    x->result = f.what;
    if (!(x->concern = strdup (f.concern)) || !(x->message = strdup (f.msg)))
      goto oom;
  }
  lf_run_log (r, "fix: %zu change%s", lf_plan_nedits (p),
         lf_plan_nedits (p) == 1 ? "" : "s");
  ret = 0;
  goto out;
 oom:
  lf_error (ENOMEM, "out of memory");
 out:
  json_decref (rep);
  lf_plan_free (p);
  lf_guest_close (g);
  lf_fs_set_clock (0);
  return ret;
}

/* A warning the state does not hold yet: a verify done again after a
 * resume finds the same ones, and the state keeps the earlier run's.
 */
static void LF_PRINTF (2, 3)
warn_once (struct run *r, const char *fmt, ...)
{
  CLEANUP_FREE char *m = NULL;
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&m, fmt, ap);
  va_end (ap);
  if (n == -1)
    return;
  for (size_t i = 0; i < r->st.warnings.n; i++)
    if (strcmp (r->st.warnings.v[i], m) == 0)
      return;
  lf_strs_add (&r->st.warnings, "%s", m);
}

int
lf_run_verify (struct run *r)
{
  const struct lf_job *job = r->job;
  struct lf_guest *g = NULL;
  struct lf_plan *p = NULL;
  const char *dir;
  int ret = -1;

  /* A libguestfs appliance the fix kept open was inspected before the
   * fix wrote through it: what it knows now is what the fix left.
   */
  if (r->out_g) {
    if (lf_guest_reinspect (r->out_g) == -1 ||
        !(r->out_os = lf_run_job_os (r->out_g))) {
      lf_error_prefix ("verify: inspecting the outputs again");
      goto out;
    }
  }
  /* The fix planned again, read-only, must find nothing left to do. */
  if (plan_fix (r, false, &g, &p, &dir) == -1) {
    lf_error_prefix ("verify: planning the fix again");
    goto out;
  }
  if (lf_plan_nedits (p) > 0 || lf_plan_failed (p)) {
    for (size_t i = 0; i < lf_plan_nedits (p); i++)
      lf_strs_add (&r->errors, "verify: the fix would still change %s",
               lf_plan_edit_path (p, i));
    plan_failures (r, p);
    lf_error (EINVAL, "verify: the fix planned again is not empty (%zu "
              "change%s left)", lf_plan_nedits (p),
              lf_plan_nedits (p) == 1 ? "" : "s");
    goto out;
  }
  /* The profile's own checks, as `landfall verify --profile` runs them
   * on this output (on plan_fix's guest, or the job's libguestfs
   * appliance it reused): a failed check fails the job, the rest are
   * warnings.  The report shows them either way.
   */
  json_t *checks = lf_verify_static (g ? g : r->out_g, r->hw);
  if (!checks) {
    lf_error_prefix ("verify: the checks of profile %s", r->hw->name);
    goto out;
  }
  size_t nfail = lf_verify_count (checks, "fail");
  struct lf_state_verify *v = &r->st.verify;
  lf_state_verify_clear (v);
  v->done = true;
  v->checks = checks;
  if (!(v->profile = strdup (r->hw->name))) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  /* verify/ gives its checks as JSON: read here, at its edge. */
  size_t k;
  json_t *ck;
  json_array_foreach (checks, k, ck) {
    const char *st = json_string_value (json_object_get (ck, "status"));
    const char *id = json_string_value (json_object_get (ck, "check"));
    const char *why = json_string_value (json_object_get (ck, "reason"));
    if (strcmp (st, "fail") == 0)
      lf_strs_add (&r->errors, "verify: %s: %s: %s", r->hw->name, id, why);
    else if (strcmp (st, "unknown") == 0)
      warn_once (r, "verify: %s: %s: could not tell: %s", r->hw->name, id, why);
  }
  if (nfail) {
    lf_error (EINVAL, "verify: %zu check%s of profile %s failed", nfail,
              nfail == 1 ? "" : "s", r->hw->name);
    goto out;
  }

  /* The appliance's work is done: shut it down before reading the
   * outputs' final bytes.
   */
  lf_plan_free (p);
  p = NULL;
  lf_guest_close (g);
  g = NULL;
  lf_guest_close (r->out_g);
  r->out_g = NULL;
  r->out_os = NULL;

  /* Static checks of each output: what Azure checks when it takes a VHD. */
  for (size_t i = 0; i < job->ndisks; i++) {
    struct lf_state_disk *ds = &r->st.disks[i];
    CLEANUP_FREE char *out = lf_job_output_path (job, i);
    struct lf_disk *d;
    struct stat st;
    char rb[32], hex[65] = "";

    lf_run_role (i, rb, sizeof rb);
    if (!out)
      goto out;
    if (job->in_place && stat (out, &st) == 0 && S_ISBLK (st.st_mode)) {
      ds->verified = LF_VERIFIED_BLOCKDEV;
      continue;
    }
    if (!(d = lf_disk_open (out, "vhd"))) {
      lf_error_prefix ("verify: %s", rb);
      goto out;
    }
    bool fixed = strcmp (lf_disk_subformat (d), "fixed") == 0;
    uint64_t size = lf_disk_size (d);
    lf_disk_close (d);
    if (!fixed || size % LF_MiB != 0 || stat (out, &st) == -1 ||
        (uint64_t) st.st_size != size + LF_VHD_FOOTER_SIZE) {
      lf_error (EINVAL, "verify: %s %s: not a fixed VHD of a whole MiB with "
                "its footer at the end (size %" PRIu64 ")", rb, out, size);
      goto out;
    }
    if (job->checksum) {
      CLEANUP_CLOSE int fd = open (out, O_RDONLY | O_CLOEXEC);
      if (fd == -1 || lf_sha256_file (fd, (uint64_t) st.st_size, hex) == -1) {
        if (fd == -1)
          lf_error (errno, "%s: %m", out);
        lf_error_prefix ("verify: %s: checksum", rb);
        goto out;
      }
      memcpy (ds->sha256, hex, sizeof ds->sha256);
    }
    ds->verified = LF_VERIFIED_VHD;
    ds->verified_size = size;
    ds->verified_file_size = (uint64_t) st.st_size;
  }

  v->footers_ok = true;
  ret = 0;
 out:
  lf_plan_free (p);
  lf_guest_close (g);
  return ret;
}
