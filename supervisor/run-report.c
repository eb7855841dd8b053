/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: a job's report and its one-screen summary
 * (run-job.h).  The report is JSON: it is written to a file and printed
 * by --json; the summary is read from it, so that what a terminal shows
 * is what the file says.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "supervisor/job.h"
#include "supervisor/run-job.h"

/* Messages quote guest and file names, which may not be UTF-8. */
static json_t *
msg_json (const char *s)
{
  json_t *j = json_string (s);
  return j ? j : json_string ("(message not UTF-8)");
}

static json_t *
strs_json (const struct lf_strs *s)
{
  json_t *a = json_array ();

  for (size_t i = 0; a && i < s->n; i++)
    json_array_append_new (a, msg_json (s->v[i]));
  return a;
}

json_t *
lf_run_report (struct run *r, enum lf_run_result *resp)
{
  enum lf_run_result res = *resp;
  const struct lf_job *job = r->job;
  const struct lf_job_state *st = &r->st;
  const struct lf_state_fix *fix = r->saved && st->fix.done ? &st->fix : NULL;
  json_t *steps = json_array (), *disks = json_array (), *timings = json_object ();
  json_t *warnings = strs_json (&st->warnings);
  double total = 0;

  for (int s = 0; s < LF_NSTEPS; s++) {
    double sec = st->steps[s].timed ? st->steps[s].seconds : 0;
    total += sec;
    json_array_append_new (steps, json_pack ("{s:s, s:s, s:f}", "name",
                           lf_step_names[s], "state",
                           lf_step_status_name (st->steps[s].status),
                           "seconds", sec));
    json_object_set_new (timings, lf_step_names[s], json_real (sec));
  }
  json_object_set_new (timings, "total_seconds", json_real (total));

  for (size_t d = 0; d < job->ndisks; d++) {
    const struct lf_state_disk *ds = r->saved ? &st->disks[d] : NULL;
    const struct lf_job_disk *jd = &job->disks[d];
    json_t *j = json_pack ("{s:s, s:o}", "role", d == 0 ? "os" : "data",
                           "source", msg_json (jd->path ? jd->path : jd->given));
    /* A disk the job named by LUN or serial: that name, beside the node
     * it was found at.
     */
    if (jd->spec)
      json_object_set_new (j, "name", json_string (jd->given));
    if (ds) {
      if (ds->output)
        json_object_set_new (j, "output", msg_json (ds->output));
      if (ds->source_format)
        json_object_set_new (j, "source_format", json_string (ds->source_format));
      if (ds->convert.done) {
        const struct lf_state_convert *cv = &ds->convert;
        json_object_set_new (j, "action", msg_json (cv->action));
        json_object_set_new (j, "source_size", json_integer ((json_int_t) cv->source_size));
        json_object_set_new (j, "size", json_integer ((json_int_t) cv->size));
        json_object_set_new (j, "file_size", json_integer ((json_int_t) cv->file_size));
        json_object_set_new (j, "data_bytes", json_integer ((json_int_t) cv->data_bytes));
      }
      if (ds->sha256[0])
        json_object_set_new (j, "sha256", json_string (ds->sha256));
    }
    json_array_append_new (disks, j);
  }

  /* Warnings from the fix's findings, distinct from its errors. */
  for (size_t i = 0; fix && i < fix->nfindings; i++)
    if (fix->findings[i].result == LF_WARNING) {
      CLEANUP_FREE char *m = NULL;
      if (asprintf (&m, "fix: %s: %s", fix->findings[i].concern,
                    fix->findings[i].message) == -1)
        m = NULL;
      json_array_append_new (warnings, msg_json (m ? m : "(out of memory)"));
    }
  if (res == LF_RUN_OK && json_array_size (warnings) > 0)
    res = LF_RUN_WARNINGS;
  *resp = res;

  json_t *rep = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:i}",
    "command", "run", "job", r->o->job_path ? r->o->job_path : job->name,
    "machine", job->machine, "source", job->source,
    "profile_requested", job->profile, "profile", st->profile,
    "output", job->in_place ? "in-place" : job->output,
    "ok", res == LF_RUN_OK || res == LF_RUN_WARNINGS,
    "result", lf_run_result_name (res), "exit_status", lf_run_exit_status (res));
  json_object_set_new (rep, "os", msg_json (st->os ? st->os : ""));
  json_object_set_new (rep, "options", json_pack ("{s:b, s:b, s:i}",
    "checksum", job->checksum, "rdp_no_nla", job->rdp_no_nla,
    "rootdelay", job->rootdelay));
  if (r->saved) {
    json_object_set_new (rep, "runs", json_integer ((json_int_t) st->runs));
    json_object_set_new (rep, "clock", json_integer ((json_int_t) st->clock));
  }
  json_object_set_new (rep, "steps", steps);
  json_object_set_new (rep, "disks", disks);
  json_object_set_new (rep, "changes", fix && fix->edits
                       ? json_deep_copy (fix->edits) : json_array ());
  json_object_set_new (rep, "findings", fix ? lf_state_findings_json (fix)
                       : json_array ());
  if (fix)
    json_object_set_new (rep, "journal", msg_json (fix->journal ? fix->journal : ""));
  json_object_set_new (rep, "warnings", warnings);
  json_object_set_new (rep, "errors", strs_json (&r->errors));
  json_object_set_new (rep, "timings", timings);
  if (job->point_id)
    json_object_set_new (rep, "recovery_point", json_pack (
      "{s:s, s:s, s:s, s:s, s:s}", "manifest", job->manifest, "option",
      job->recovery_point, "id", job->point_id, "time", job->point_time,
      "why", job->point_why ? job->point_why : ""));
  if (r->o->appliance)
    json_object_set_new (rep, "appliance", json_deep_copy (r->o->appliance));
  return rep;
}

/* ---- The summary ------------------------------------------------------ */

/* "N files (by concern: a 3, b 1)": the files changed, then each
 * concern's changes in the order it first appears.  An edit several
 * concerns made (a Windows hive) is one file, and each of them is counted
 * its own changes in it (changes_by_concern: the values and keys it
 * changed); a file counts one for each concern that wrote it.  An edit
 * without the counts (kept by an older landfall's state file) is one
 * change of its concern.
 */
struct concern_count {
  const char *name;
  json_int_t n;
};

static int
count_add (struct concern_count **v, size_t *n, size_t *cap,
           const char *name, json_int_t k)
{
  size_t i = 0;

  if (!name)
    return 0;
  while (i < *n && strcmp ((*v)[i].name, name) != 0)
    i++;
  if (i == *n) {
    if (*n == *cap) {
      size_t nc = *cap ? 2 * *cap : 16;
      struct concern_count *x = realloc (*v, nc * sizeof *x);
      if (!x)
        return -1;
      *v = x;
      *cap = nc;
    }
    (*v)[(*n)++] = (struct concern_count) { .name = name, .n = 0 };
  }
  (*v)[i].n += k;
  return 0;
}

void
lf_run_print_changes (const json_t *changes, FILE *fp)
{
  struct concern_count *cs = NULL;
  size_t n = 0, cap = 0, i;
  json_t *e;

  json_array_foreach (changes, i, e) {
    json_t *by = json_object_get (e, "changes_by_concern");
    const char *c;
    json_t *v;
    if (!json_is_object (by))
      count_add (&cs, &n, &cap, json_string_value (json_object_get (e, "concern")), 1);
    json_object_foreach (by, c, v)
      count_add (&cs, &n, &cap, c, json_integer_value (v));
  }
  fprintf (fp, "  changes:  %zu file%s", json_array_size (changes),
           json_array_size (changes) == 1 ? "" : "s");
  for (i = 0; i < n; i++)
    fprintf (fp, "%s%s %" JSON_INTEGER_FORMAT, i ? ", " : " (by concern: ",
             cs[i].name, cs[i].n);
  fprintf (fp, "%s\n", n ? ")" : "");
  free (cs);
}

void
lf_run_print_summary (const json_t *rep, FILE *fp)
{
  json_t *steps = json_object_get (rep, "steps");
  json_t *disks = json_object_get (rep, "disks");
  json_t *changes = json_object_get (rep, "changes");
  json_t *warnings = json_object_get (rep, "warnings");
  json_t *errors = json_object_get (rep, "errors");
  size_t i;
  json_t *v;
  char a[32];

  fprintf (fp, "landfall run: %s (%s, %s) -> %s: %s\n",
           json_string_value (json_object_get (rep, "machine")),
           json_string_value (json_object_get (rep, "source")),
           json_string_value (json_object_get (rep, "profile")),
           json_string_value (json_object_get (rep, "output")),
           json_string_value (json_object_get (rep, "result")));
  if (json_string_length (json_object_get (rep, "os")))
    fprintf (fp, "  os:       %s\n", json_string_value (json_object_get (rep, "os")));
  json_array_foreach (steps, i, v)
    fprintf (fp, "  %-14s %-12s %6.1f s\n",
             json_string_value (json_object_get (v, "name")),
             json_string_value (json_object_get (v, "state")),
             json_number_value (json_object_get (v, "seconds")));
  json_array_foreach (disks, i, v) {
    const char *out = json_string_value (json_object_get (v, "output"));
    const char *sha = json_string_value (json_object_get (v, "sha256"));
    fprintf (fp, "  %-4s %s", json_string_value (json_object_get (v, "role")),
             json_string_value (json_object_get (v, "source")));
    if (out && json_object_get (v, "size"))
      fprintf (fp, " -> %s (%s, %s)", out,
               lf_human_size ((uint64_t) json_integer_value (json_object_get (v, "size")),
                              a, sizeof a),
               json_string_value (json_object_get (v, "action")));
    fputc ('\n', fp);
    if (sha)
      fprintf (fp, "       sha256 %s\n", sha);
  }
  lf_run_print_changes (changes, fp);
  fprintf (fp, "  warnings: %zu\n", json_array_size (warnings));
  json_array_foreach (warnings, i, v)
    fprintf (fp, "    - %s\n", json_string_value (v));
  if (json_array_size (errors)) {
    fprintf (fp, "  errors:   %zu\n", json_array_size (errors));
    json_array_foreach (errors, i, v)
      fprintf (fp, "    - %s\n", json_string_value (v));
  }
  if (json_string_length (json_object_get (rep, "report")))
    fprintf (fp, "  report:   %s\n", json_string_value (json_object_get (rep, "report")));
  fprintf (fp, "  total:    %.1f s\n", json_number_value (json_object_get (
           json_object_get (rep, "timings"), "total_seconds")));
}

