/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: a job's state, typed, and its file (run-state.h).
 *
 * The file is untrusted when read back (a crash, an editor, another
 * version): every field is checked for its type, and every name for one
 * of ours, before the run sees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "supervisor/run-state.h"

#define STATE_MAX (16 * LF_MiB)

const char *const lf_step_names[LF_NSTEPS] = {
  "prerequisites", "convert", "fix", "verify", "report",
};

static const char *const step_status_names[LF_STEP_NSTATUS] = {
  "pending", "running", "done", "failed", "interrupted",
};

static const char *const disk_status_names[LF_DISK_NSTATUS] = {
  "pending", "converted",
};

/* As bootfix/plan.c names them in its report. */
static const char *const finding_names[] = {
  "changed", "already-right", "skipped", "warning", "failed",
};
#define NFINDINGS (sizeof finding_names / sizeof finding_names[0])

const char *
lf_step_status_name (enum lf_step_status s)
{
  return step_status_names[s];
}

const char *
lf_finding_result_name (enum lf_finding f)
{
  return finding_names[f];
}

const char *
lf_run_result_name (enum lf_run_result res)
{
  static const char *const n[] = { "success", "success-with-warnings",
                                   "failed", "interrupted" };
  return n[res];
}

int
lf_run_exit_status (enum lf_run_result res)
{
  static const int s[] = { 0, 3, 1, 4 };
  return s[res];
}

/* The index of S in NAMES[0..N), or -1. */
static int
name_index (const char *const *names, size_t n, const char *s)
{
  for (size_t i = 0; s && i < n; i++)
    if (strcmp (names[i], s) == 0)
      return (int) i;
  return -1;
}

/* ---- Strings ---------------------------------------------------------- */

int
lf_strs_add (struct lf_strs *s, const char *fmt, ...)
{
  va_list ap;
  char *m = NULL;
  int n;

  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 8;
    char **v = realloc (s->v, cap * sizeof *v);
    if (!v) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    s->v = v;
    s->cap = cap;
  }
  va_start (ap, fmt);
  n = vasprintf (&m, fmt, ap);
  va_end (ap);
  if (n == -1) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  s->v[s->n++] = m;
  return 0;
}

void
lf_strs_free (struct lf_strs *s)
{
  for (size_t i = 0; i < s->n; i++)
    free (s->v[i]);
  free (s->v);
  memset (s, 0, sizeof *s);
}

/* ---- Freeing ---------------------------------------------------------- */

void
lf_state_fix_clear (struct lf_state_fix *f)
{
  json_decref (f->edits);
  for (size_t i = 0; i < f->nfindings; i++) {
    free (f->findings[i].concern);
    free (f->findings[i].message);
  }
  free (f->findings);
  free (f->journal);
  memset (f, 0, sizeof *f);
}

void
lf_state_verify_clear (struct lf_state_verify *v)
{
  free (v->profile);
  json_decref (v->checks);
  memset (v, 0, sizeof *v);
}

void
lf_state_free (struct lf_job_state *s)
{
  free (s->machine);
  free (s->os);
  for (size_t i = 0; i < s->ndisks; i++) {
    struct lf_state_disk *d = &s->disks[i];
    free (d->source);
    free (d->output);
    free (d->source_format);
    free (d->convert.action);
  }
  free (s->disks);
  lf_strs_free (&s->warnings);
  free (s->recovery_point);
  lf_state_fix_clear (&s->fix);
  lf_state_verify_clear (&s->verify);
  memset (s, 0, sizeof *s);
}

/* ---- To JSON ---------------------------------------------------------- */

/* Messages and names quote guest and file names, which may not be UTF-8;
 * jansson refuses those.
 */
static json_t *
str_json (const char *s)
{
  json_t *j = json_string (s);
  return j ? j : json_string ("(not UTF-8)");
}

static int
set (json_t *o, const char *k, json_t *v)
{
  return v ? json_object_set_new (o, k, v) : -1;
}

static json_t *
disk_json (const struct lf_state_disk *d)
{
  json_t *j = json_object ();
  int r = 0;

  if (!j)
    return NULL;
  r |= set (j, "source", str_json (d->source));
  if (d->output)
    r |= set (j, "output", str_json (d->output));
  r |= set (j, "uuid", json_string (d->uuid));
  r |= set (j, "timestamp", json_integer ((json_int_t) d->timestamp));
  r |= set (j, "source_size", json_integer ((json_int_t) d->source_size));
  r |= set (j, "source_mtime", json_string (d->source_mtime));
  r |= set (j, "state", json_string (disk_status_names[d->state]));
  if (d->source_format)
    r |= set (j, "source_format", str_json (d->source_format));
  if (d->convert.done)
    r |= set (j, "convert", json_pack (
      "{s:o, s:I, s:I, s:I, s:I, s:f}", "action", str_json (d->convert.action),
      "source_size", (json_int_t) d->convert.source_size,
      "size", (json_int_t) d->convert.size,
      "file_size", (json_int_t) d->convert.file_size,
      "data_bytes", (json_int_t) d->convert.data_bytes,
      "seconds", d->convert.seconds));
  if (d->sha256[0])
    r |= set (j, "sha256", json_string (d->sha256));
  if (d->verified == LF_VERIFIED_BLOCKDEV)
    r |= set (j, "verified", json_pack ("{s:b, s:s}", "fixed_vhd", 0, "note",
                                        "a block device: its VHD footer is "
                                        "the platform's"));
  else if (d->verified == LF_VERIFIED_VHD)
    r |= set (j, "verified", json_pack ("{s:b, s:I, s:I}", "fixed_vhd", 1,
                                        "size", (json_int_t) d->verified_size,
                                        "file_size",
                                        (json_int_t) d->verified_file_size));
  if (r) {
    json_decref (j);
    return NULL;
  }
  return j;
}

json_t *
lf_state_findings_json (const struct lf_state_fix *f)
{
  json_t *a = json_array ();

  for (size_t i = 0; a && i < f->nfindings; i++)
    if (json_array_append_new (a, json_pack (
          "{s:o, s:s, s:o}", "concern", str_json (f->findings[i].concern),
          "result", finding_names[f->findings[i].result],
          "message", str_json (f->findings[i].message))) == -1) {
      json_decref (a);
      return NULL;
    }
  return a;
}

json_t *
lf_state_to_json (const struct lf_job_state *s)
{
  json_t *j = json_object (), *steps = json_object (), *disks = json_array ();
  json_t *warnings = json_array ();
  int r = 0;

  if (!j || !steps || !disks || !warnings)
    r = -1;
  for (int i = 0; !r && i < LF_NSTEPS; i++) {
    json_t *st = json_pack ("{s:s}", "state",
                            step_status_names[s->steps[i].status]);
    if (st && s->steps[i].timed)
      r |= set (st, "seconds", json_real (s->steps[i].seconds));
    r |= set (steps, lf_step_names[i], st);
  }
  for (size_t i = 0; !r && i < s->ndisks; i++)
    r |= json_array_append_new (disks, disk_json (&s->disks[i]));
  for (size_t i = 0; !r && i < s->warnings.n; i++)
    r |= json_array_append_new (warnings, str_json (s->warnings.v[i]));
  if (r) {
    json_decref (j);
    json_decref (steps);
    json_decref (disks);
    json_decref (warnings);
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  r |= set (j, "version", json_integer (LF_STATE_VERSION));
  r |= set (j, "job_sha256", json_string (s->job_sha256));
  r |= set (j, "machine", str_json (s->machine));
  r |= set (j, "clock", json_integer ((json_int_t) s->clock));
  r |= set (j, "profile", str_json (s->profile));
  r |= set (j, "os", str_json (s->os ? s->os : ""));
  r |= set (j, "runs", json_integer ((json_int_t) s->runs));
  r |= set (j, "steps", steps);
  r |= set (j, "disks", disks);
  r |= set (j, "warnings", warnings);
  if (s->recovery_point)
    r |= set (j, "recovery_point", str_json (s->recovery_point));
  if (s->fix.done) {
    json_t *f = json_object ();
    r |= set (f, "edits", s->fix.edits ? json_incref (s->fix.edits)
              : json_array ());
    r |= set (f, "findings", lf_state_findings_json (&s->fix));
    r |= set (f, "journal", str_json (s->fix.journal ? s->fix.journal : ""));
    r |= set (j, "fix", f);
  }
  if (s->verify.done)
    r |= set (j, "verify", json_pack (
      "{s:i, s:b, s:o, s:O}", "replan_changes", 0,
      "footers_ok", s->verify.footers_ok,
      "profile", str_json (s->verify.profile ? s->verify.profile : ""),
      "checks", s->verify.checks ? s->verify.checks : json_array ()));
  if (r) {
    json_decref (j);
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  return j;
}

/* ---- From JSON -------------------------------------------------------- */

static bool
opt_str (json_t *o, const char *k, char **out)
{
  json_t *v = json_object_get (o, k);

  if (!v)
    return true;
  if (!json_is_string (v) || !(*out = strdup (json_string_value (v))))
    return false;
  return true;
}

static bool
uint_field (json_t *o, const char *k, uint64_t max, uint64_t *out)
{
  json_t *v = json_object_get (o, k);

  if (!json_is_integer (v) || json_integer_value (v) < 0 ||
      (uint64_t) json_integer_value (v) > max)
    return false;
  *out = (uint64_t) json_integer_value (v);
  return true;
}

static bool
hex_field (json_t *o, const char *k, size_t len, char *out)
{
  const char *s = json_string_value (json_object_get (o, k));

  if (!s || strlen (s) != len || strspn (s, "0123456789abcdef") != len)
    return false;
  memcpy (out, s, len + 1);
  return true;
}

static bool
disk_from (json_t *d, struct lf_state_disk *o)
{
  const char *mt = json_string_value (json_object_get (d, "source_mtime"));
  uint64_t v;
  int st;

  if (!json_is_object (d) || !hex_field (d, "uuid", 32, o->uuid) ||
      !uint_field (d, "timestamp", UINT32_MAX, &v))
    return false;
  o->timestamp = (uint32_t) v;
  if ((st = name_index (disk_status_names, LF_DISK_NSTATUS, json_string_value (
         json_object_get (d, "state")))) < 0)
    return false;
  o->state = (enum lf_disk_status) st;
  if (!opt_str (d, "source", &o->source) || !o->source ||
      !opt_str (d, "output", &o->output) ||
      !opt_str (d, "source_format", &o->source_format) ||
      !uint_field (d, "source_size", INT64_MAX, &o->source_size) ||
      !mt || strlen (mt) >= sizeof o->source_mtime)
    return false;
  strcpy (o->source_mtime, mt);
  json_t *cv = json_object_get (d, "convert");
  if (cv) {
    json_t *sec = json_object_get (cv, "seconds");
    o->convert.done = true;
    if (!json_is_object (cv) || !opt_str (cv, "action", &o->convert.action) ||
        !o->convert.action ||
        !uint_field (cv, "source_size", INT64_MAX, &o->convert.source_size) ||
        !uint_field (cv, "size", INT64_MAX, &o->convert.size) ||
        !uint_field (cv, "file_size", INT64_MAX, &o->convert.file_size) ||
        !uint_field (cv, "data_bytes", INT64_MAX, &o->convert.data_bytes) ||
        !json_is_number (sec))
      return false;
    o->convert.seconds = json_number_value (sec);
  }
  if (json_object_get (d, "sha256") && !hex_field (d, "sha256", 64, o->sha256))
    return false;
  json_t *vf = json_object_get (d, "verified");
  if (vf) {
    json_t *fixed = json_object_get (vf, "fixed_vhd");
    if (!json_is_boolean (fixed))
      return false;
    o->verified = json_is_true (fixed) ? LF_VERIFIED_VHD : LF_VERIFIED_BLOCKDEV;
    if (o->verified == LF_VERIFIED_VHD &&
        (!uint_field (vf, "size", INT64_MAX, &o->verified_size) ||
         !uint_field (vf, "file_size", INT64_MAX, &o->verified_file_size)))
      return false;
  }
  return true;
}

static bool
fix_from (json_t *f, struct lf_state_fix *o)
{
  json_t *edits = json_object_get (f, "edits");
  json_t *fnd = json_object_get (f, "findings");
  size_t i;
  json_t *e;

  if (!json_is_object (f) || !json_is_array (edits) || !json_is_array (fnd))
    return false;
  o->done = true;
  o->edits = json_incref (edits);
  if (!opt_str (f, "journal", &o->journal))
    return false;
  if (json_array_size (fnd) &&
      !(o->findings = calloc (json_array_size (fnd), sizeof *o->findings)))
    return false;
  json_array_foreach (fnd, i, e) {
    struct lf_state_finding *x = &o->findings[o->nfindings++];
    int res = name_index (finding_names, NFINDINGS, json_string_value (
                            json_object_get (e, "result")));
    if (res < 0 || !opt_str (e, "concern", &x->concern) || !x->concern ||
        !opt_str (e, "message", &x->message) || !x->message)
      return false;
    x->result = (enum lf_finding) res;
  }
  return true;
}

static bool
verify_from (json_t *v, struct lf_state_verify *o)
{
  json_t *ok = json_object_get (v, "footers_ok");
  json_t *checks = json_object_get (v, "checks");

  if (!json_is_object (v) || !json_is_boolean (ok) ||
      (checks && !json_is_array (checks)))
    return false;
  o->done = true;
  o->footers_ok = json_is_true (ok);
  o->checks = checks ? json_incref (checks) : NULL;
  return opt_str (v, "profile", &o->profile);
}

static bool
from_json (json_t *j, size_t ndisks, struct lf_job_state *s)
{
  json_t *steps = json_object_get (j, "steps");
  json_t *disks = json_object_get (j, "disks");
  json_t *warnings = json_object_get (j, "warnings");
  json_t *v;
  const char *prof = json_string_value (json_object_get (j, "profile"));
  size_t i;

  if (!json_is_object (j) ||
      json_integer_value (json_object_get (j, "version")) != LF_STATE_VERSION ||
      !hex_field (j, "job_sha256", 64, s->job_sha256) ||
      !json_is_integer (json_object_get (j, "clock")) ||
      !prof || strlen (prof) >= sizeof s->profile ||
      !json_is_object (steps) || !json_is_array (disks) ||
      json_array_size (disks) != ndisks || !json_is_array (warnings))
    return false;
  s->clock = json_integer_value (json_object_get (j, "clock"));
  strcpy (s->profile, prof);
  if (!opt_str (j, "machine", &s->machine) || !opt_str (j, "os", &s->os) ||
      !opt_str (j, "recovery_point", &s->recovery_point))
    return false;
  v = json_object_get (j, "runs");
  if (v && (!json_is_integer (v) || json_integer_value (v) < 0))
    return false;
  s->runs = json_integer_value (v);
  for (int k = 0; k < LF_NSTEPS; k++) {
    json_t *st = json_object_get (steps, lf_step_names[k]);
    json_t *sec = json_object_get (st, "seconds");
    int x = name_index (step_status_names, LF_STEP_NSTATUS, json_string_value (
                          json_object_get (st, "state")));
    if (x < 0 || (sec && !json_is_number (sec)))
      return false;
    s->steps[k].status = (enum lf_step_status) x;
    s->steps[k].timed = sec != NULL;
    s->steps[k].seconds = json_number_value (sec);
  }
  if (ndisks && !(s->disks = calloc (ndisks, sizeof *s->disks)))
    return false;
  json_array_foreach (disks, i, v) {
    s->ndisks++;
    if (!disk_from (v, &s->disks[i]))
      return false;
  }
  json_array_foreach (warnings, i, v)
    if (!json_is_string (v) ||
        lf_strs_add (&s->warnings, "%s", json_string_value (v)) == -1)
      return false;
  if ((v = json_object_get (j, "fix")) && !fix_from (v, &s->fix))
    return false;
  if ((v = json_object_get (j, "verify")) && !verify_from (v, &s->verify))
    return false;
  return true;
}

int
lf_state_from_json (json_t *j, size_t ndisks, const char *path,
                    struct lf_job_state *s)
{
  memset (s, 0, sizeof *s);
  if (!from_json (j, ndisks, s)) {
    lf_state_free (s);
    lf_error (EINVAL, "%s: not a state file of this landfall version (or "
              "damaged); remove it to start the job over", path);
    return -1;
  }
  return 0;
}

/* ---- The file --------------------------------------------------------- */

/* Write J to PATH atomically: a temporary beside it, fsync, rename, fsync
 * of the directory.  A crash leaves the old file or the new, never a mix.
 */
int
lf_write_json_atomic (const char *path, json_t *j)
{
  CLEANUP_FREE char *tmp = NULL;
  char *text = json_dumps (j, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  int fd = -1, ret = -1;

  if (!text || asprintf (&tmp, "%s.tmp", path) == -1) {
    tmp = NULL;
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd == -1 ||
      lf_pwrite_all (fd, text, strlen (text), 0) == -1 ||
      lf_pwrite_all (fd, "\n", 1, strlen (text)) == -1 ||
      fsync (fd) == -1) {
    lf_error (errno, "%s: %m", tmp);
    goto out;
  }
  if (close (fd) == -1) {
    fd = -1;
    lf_error (errno, "%s: %m", tmp);
    goto out;
  }
  fd = -1;
  if (rename (tmp, path) == -1) {
    lf_error (errno, "%s: rename from %s: %m", path, tmp);
    goto out;
  }
  if (lf_fsync_dir_of (path) == -1)
    goto out;
  ret = 0;
 out:
  if (fd >= 0) {
    close (fd);
    unlink (tmp);
  }
  free (text);
  return ret;
}

int
lf_state_save (const char *path, const struct lf_job_state *s)
{
  json_t *j = lf_state_to_json (s);
  int r = j ? lf_write_json_atomic (path, j) : -1;

  json_decref (j);
  if (r == -1)
    lf_error_prefix ("the job's state file");
  return r;
}

int
lf_state_load (const char *path, size_t ndisks, struct lf_job_state *s)
{
  json_error_t err;
  struct stat st;
  json_t *j;
  int r;

  memset (s, 0, sizeof *s);
  if (stat (path, &st) == -1) {
    if (errno == ENOENT)
      return 0;
    lf_error (errno, "%s: %m", path);
    return -1;
  }
  if (st.st_size > (off_t) STATE_MAX) {
    lf_error (EFBIG, "%s: larger than %" PRIu64 " bytes: not a state file "
              "landfall wrote", path, (uint64_t) STATE_MAX);
    return -1;
  }
  if (!(j = json_load_file (path, 0, &err))) {
    lf_error (EINVAL, "%s:%d: damaged state file (%s); remove it to start "
              "the job over", path, err.line, err.text);
    return -1;
  }
  r = lf_state_from_json (j, ndisks, path, s);
  json_decref (j);
  return r == -1 ? -1 : 1;
}
