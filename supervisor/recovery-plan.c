/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: running a recovery plan (failover.md section 8;
 * the file and its parser are in recovery-plan-file.c).
 *
 * Semantics are ASR's: a script fails if it exits non-zero, writes
 * anything on stderr or outlives its timeout (600 s by default); a
 * manual action suspends the plan until `landfall plan --resume`.  An
 * unplanned (or test) failover runs to the end whatever fails and
 * reports every error; a planned one stops at the first.  The plan
 * keeps a state file, so that running it again retries what failed or
 * did not run and skips what is done: each machine's job resumes itself.
 *
 * Machines are `landfall run` child processes, not threads: a job owns
 * process-wide things (signals, the cancel flag, the progress output),
 * and one job crashing must not take the plan or the others with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/common.h"
#include "common/child.h"
#include "supervisor/job.h"

/* As ASR's runbook context spells them ($RecoveryPlanContext). */
static const char *const type_context[] = { "Test", "Planned", "Unplanned" };

/* ---- Tasks ------------------------------------------------------------
 *
 * The plan flattened: stages run one after the other; a stage is one
 * action, or the machines of one group (run together).  Task ids are
 * stable while the plan file is unchanged (the state file is keyed by
 * them and refuses a changed plan).
 */
enum task_kind { T_SCRIPT, T_MANUAL, T_MACHINE };

struct task {
  char id[48];
  char title[LF_RPLAN_MAX_NAME + 64];
  enum task_kind kind;
  size_t stage;
  size_t group;                 /* 1-based; 0: all groups */
  const struct lf_rplan_action *a;
  const char *job;              /* T_MACHINE */
  struct lf_job *j;             /* loaded in preflight */
  char *group_point;            /* its replication group's common point */
  struct lf_child c;
};

struct prun {
  const struct lf_rplan *p;
  const struct lf_rplan_opts *o;
  struct task *t;
  size_t nt, nstages;
  char *state_path, *report_path, *logs;
  json_t *state;                /* {"plan", "sha256", "type", "tasks":{}} */
  char self[PATH_MAX];
};

static void LF_PRINTF (2, 3)
say (struct prun *r, const char *fmt, ...)
{
  va_list ap;

  if (r->o->log_fd < 0)
    return;
  va_start (ap, fmt);
  vdprintf (r->o->log_fd, fmt, ap);
  va_end (ap);
  dprintf (r->o->log_fd, "\n");
}

static struct task *
add_task (struct prun *r, enum task_kind kind, size_t group, const char *id,
          const char *title)
{
  struct task *t = &r->t[r->nt++];

  t->kind = kind;
  t->group = group;
  t->stage = r->nstages;
  snprintf (t->id, sizeof t->id, "%s", id);
  snprintf (t->title, sizeof t->title, "%s", title);
  return t;
}

static void
add_actions (struct prun *r, const struct lf_rplan_list *l, size_t group,
             const char *when)
{
  for (size_t i = 0; i < l->n; i++) {
    char id[48], title[LF_RPLAN_MAX_NAME + 64];
    const struct lf_rplan_action *a = &l->a[i];
    if (group)
      snprintf (id, sizeof id, "group%zu.%s.%zu", group, when, i);
    else
      snprintf (id, sizeof id, "%s.%zu", when, i);
    if (group)
      snprintf (title, sizeof title, "Group %zu: %s-steps: %s", group,
                strcmp (when, "pre") == 0 ? "Pre" : "Post", a->name);
    else
      snprintf (title, sizeof title, "All groups failover: %s-steps: %s",
                strcmp (when, "pre") == 0 ? "Pre" : "Post", a->name);
    add_task (r, a->script ? T_SCRIPT : T_MANUAL, group, id, title)->a = a;
    r->nstages++;
  }
}

static int
build_tasks (struct prun *r)
{
  const struct lf_rplan *p = r->p;
  size_t n = p->pre.n + p->post.n;

  for (size_t g = 0; g < p->ngroups; g++)
    n += p->groups[g].pre.n + p->groups[g].post.n + p->groups[g].nmachines;
  if (!(r->t = calloc (n ? n : 1, sizeof *r->t))) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  add_actions (r, &p->pre, 0, "pre");
  for (size_t g = 0; g < p->ngroups; g++) {
    const struct lf_rplan_group *gr = &p->groups[g];
    add_actions (r, &gr->pre, g + 1, "pre");
    for (size_t m = 0; m < gr->nmachines; m++) {
      struct task *t = add_task (r, T_MACHINE, g + 1, "", "");
      t->job = gr->jobs[m];
    }
    if (gr->nmachines)
      r->nstages++;
    add_actions (r, &gr->post, g + 1, "post");
  }
  add_actions (r, &p->post, 0, "post");
  return 0;
}

/* The members of a replication group fail over to their newest common
 * multi-VM point (failover.md 7.4), which needs every member's manifest:
 * a job alone can only take its own newest multi-VM point.  The plan
 * sees them all; what it chooses is passed to each member's run.
 */
static int
group_points (struct prun *r)
{
  struct lf_points **ms = calloc (r->nt ? r->nt : 1, sizeof *ms);
  struct task **ts = calloc (r->nt ? r->nt : 1, sizeof *ts);
  size_t n = 0;
  int ret = -1;

  if (!ms || !ts) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < r->nt; i++) {
    struct task *t = &r->t[i];
    if (t->kind != T_MACHINE || !t->j->manifest)
      continue;
    if (!(ms[n] = lf_points_load (t->j->manifest)))
      goto out;
    ts[n++] = t;
  }
  for (size_t w = 0; w < n; w++) {
    struct lf_job *j = ts[w]->j;
    long k;
    if (!ms[w]->group || !lf_point_is_multivm (j->recovery_point))
      continue;
    k = lf_points_select (ms, n, w, j->recovery_point, NULL);
    if (k == -1) {
      lf_error_prefix ("%s: %s", r->p->file, ts[w]->job);
      goto out;
    }
    if (!(ts[w]->group_point = strdup (ms[w]->points[k].id))) {
      lf_error (ENOMEM, "out of memory");
      goto out;
    }
    /* The context and the report say the point the run will take. */
    free (j->point_id);
    if (!(j->point_id = strdup (ms[w]->points[k].id))) {
      lf_error (ENOMEM, "out of memory");
      goto out;
    }
  }
  ret = 0;
 out:
  for (size_t i = 0; i < n; i++)
    lf_points_free (ms[i]);
  free (ms);
  free (ts);
  return ret;
}

/* Recovery plan preflight checks: every job file loads (its recovery
 * point chosen), machine names are unique, and no two jobs share an
 * output directory (each keeps its state file there).
 */
static int
preflight (struct prun *r)
{
  for (size_t i = 0; i < r->nt; i++) {
    struct task *t = &r->t[i];
    if (t->kind != T_MACHINE)
      continue;
    if (!(t->j = lf_job_load (t->job, NULL))) {
      lf_error_prefix ("%s: group %zu", r->p->file, t->group);
      return -1;
    }
    snprintf (t->id, sizeof t->id, "group%zu.machine.%s", t->group,
              t->j->machine);
    snprintf (t->title, sizeof t->title, "Group %zu: Start: %s", t->group,
              t->j->machine);
    for (size_t k = 0; k < i; k++) {
      struct task *u = &r->t[k];
      if (u->kind != T_MACHINE)
        continue;
      if (strcmp (u->j->machine, t->j->machine) == 0) {
        lf_error (EINVAL, "%s: machine %s is in the plan twice (%s and %s)",
                  r->p->file, t->j->machine, u->job, t->job);
        return -1;
      }
      if (!u->j->in_place && !t->j->in_place &&
          strcmp (u->j->output, t->j->output) == 0) {
        lf_error (EINVAL, "%s: %s and %s have the same output directory %s: "
                  "each job keeps its state there", r->p->file, u->job,
                  t->job, t->j->output);
        return -1;
      }
    }
  }
  return group_points (r);
}

/* ---- State ----------------------------------------------------------- */

static json_t *
st_task (struct prun *r, const struct task *t)
{
  json_t *tasks = json_object_get (r->state, "tasks");
  json_t *s = json_object_get (tasks, t->id);

  if (!s) {
    s = json_pack ("{s:s}", "state", "pending");
    json_object_set_new (tasks, t->id, s);
  }
  return s;
}

static const char *
task_state (struct prun *r, const struct task *t)
{
  return json_string_value (json_object_get (st_task (r, t), "state"));
}

static void
set_str (json_t *o, const char *k, const char *v)
{
  if (v)
    json_object_set_new (o, k, json_string (v));
  else
    json_object_del (o, k);
}

static void
now_text (char *buf, size_t len)
{
  time_t now = time (NULL);
  struct tm tm;

  gmtime_r (&now, &tm);
  strftime (buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
save_state (struct prun *r)
{
  if (lf_write_json_atomic (r->state_path, r->state) == -1) {
    lf_error_prefix ("the plan's state file");
    return -1;
  }
  return 0;
}

static int
load_state (struct prun *r)
{
  json_error_t err;
  json_t *s;
  const char *sha;

  if (access (r->state_path, F_OK) == -1) {
    r->state = json_pack ("{s:s, s:s, s:s, s:{}}", "plan", r->p->name,
                          "sha256", r->p->sha256, "type",
                          lf_failover_type_name (r->o->type), "tasks");
    return r->state ? 0 : -1;
  }
  s = json_load_file (r->state_path, JSON_REJECT_DUPLICATES, &err);
  if (!s || !json_is_object (s) ||
      !json_is_object (json_object_get (s, "tasks"))) {
    lf_error (EINVAL, "%s: not a plan state file (%s): remove it to start "
              "over", r->state_path, s ? "wrong shape" : err.text);
    json_decref (s);
    return -1;
  }
  sha = json_string_value (json_object_get (s, "sha256"));
  if (!sha || strcmp (sha, r->p->sha256) != 0) {
    lf_error (EINVAL, "%s changed since the plan was started (%s): its "
              "steps would not be the ones recorded; remove %s to start "
              "over", r->p->file, r->state_path, r->state_path);
    json_decref (s);
    return -1;
  }
  json_object_set_new (s, "type", json_string (lf_failover_type_name (r->o->type)));
  r->state = s;
  return 0;
}

/* ---- Child processes ------------------------------------------------- */

static int
open_log (struct prun *r, const char *id, const char *ext, char **path)
{
  int fd;

  if (asprintf (path, "%s/%s.%s", r->logs, id, ext) == -1) {
    *path = NULL;
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  fd = open (*path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd == -1)
    lf_error (errno, "%s: %m", *path);
  return fd;
}

/* Wait for one of the running tasks RUN[0..N) to end; its index, or -1
 * if N is 0.  Each child is in a process group of its own (a timeout
 * kills a script's children too, and our terminal's ^C reaches the plan,
 * which passes it on and stops them in order).
 */
static ssize_t
reap (struct task **run, size_t n)
{
  struct lf_child *cs[64];

  for (size_t i = 0; i < n && i < 64; i++)
    cs[i] = &run[i]->c;
  return lf_child_wait_any (cs, LF_MIN (n, (size_t) 64));
}

/* The runbook context (failover.md 8): what a script may want to know,
 * as JSON on its stdin and in the file $LANDFALL_PLAN_CONTEXT.
 */
static json_t *
context (struct prun *r, const struct task *t)
{
  json_t *vms = json_object ();
  char gid[32];

  if (t->group)
    snprintf (gid, sizeof gid, "Group%zu", t->group);
  else
    snprintf (gid, sizeof gid, "AllGroups");
  for (size_t i = 0; i < r->nt; i++) {
    const struct task *m = &r->t[i];
    if (m->kind != T_MACHINE)
      continue;
    json_t *s = st_task (r, m);
    const char *st = json_string_value (json_object_get (s, "state"));
    bool over = strcmp (st, "done") == 0 || strcmp (st, "warnings") == 0;
    /* As in ASR, a machine's names are filled in once it failed over. */
    json_object_set_new (vms, m->j->machine, json_pack (
      "{s:s, s:s, s:i, s:s, s:s, s:O?}",
      "RoleName", over ? m->j->machine : "",
      "State", st, "Group", (int) m->group,
      "RecoveryPointId", m->j->point_id ? m->j->point_id : "",
      "Job", m->job, "Outputs", json_object_get (s, "outputs")));
  }
  return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
                    "RecoveryPlanName", r->p->name,
                    "FailoverType", type_context[r->o->type],
                    "FailoverDirection", "PrimaryToSecondary",
                    "GroupId", gid,
                    "ActionName", t->a ? t->a->name : "",
                    "TaskId", t->id, "VmMap", vms);
}

static int
start_script (struct prun *r, struct task *t)
{
  CLEANUP_FREE char *ctx_path = NULL, *out = NULL, *err = NULL;
  CLEANUP_FREE char *dir = NULL;
  CLEANUP_CLOSE int in = -1, ofd = -1, efd = -1;
  char *env[5] = { NULL };
  char *argv[] = { t->a->script, NULL };
  json_t *ctx = context (r, t);
  int ret = -1;

  if (!ctx || asprintf (&ctx_path, "%s/%s.context.json", r->logs,
                        t->id) == -1) {
    ctx_path = NULL;
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  if (lf_write_json_atomic (ctx_path, ctx) == -1)
    goto out;
  if ((in = open (ctx_path, O_RDONLY | O_CLOEXEC)) == -1) {
    lf_error (errno, "%s: %m", ctx_path);
    goto out;
  }
  if ((ofd = open_log (r, t->id, "out", &out)) == -1 ||
      (efd = open_log (r, t->id, "err", &err)) == -1)
    goto out;
  if (asprintf (&env[0], "LANDFALL_PLAN_CONTEXT=%s", ctx_path) == -1 ||
      asprintf (&env[1], "LANDFALL_PLAN_NAME=%s", r->p->name) == -1 ||
      asprintf (&env[2], "LANDFALL_FAILOVER_TYPE=%s",
                lf_failover_type_name (r->o->type)) == -1 ||
      asprintf (&env[3], "LANDFALL_PLAN_GROUP=%zu", t->group) == -1) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  dir = lf_path_beside (r->p->file, ".");
  struct lf_spawn_opts so = {
    .in = in, .out = ofd, .err = efd, .cwd = dir, .env = env,
    .timeout = t->a->timeout, .forward_cancel = true, .who = "landfall plan",
  };
  if (lf_spawn (&t->c, argv, &so) == -1)
    goto out;
  json_t *s = st_task (r, t);
  set_str (s, "stdout", out);
  set_str (s, "stderr", err);
  set_str (s, "context", ctx_path);
  ret = 0;
 out:
  for (size_t i = 0; i < 4; i++)
    free (env[i]);
  json_decref (ctx);
  return ret;
}

static int
start_machine (struct prun *r, struct task *t)
{
  CLEANUP_FREE char *rep = NULL, *log = NULL;
  CLEANUP_CLOSE int ofd = -1, efd = -1;
  char *argv[] = { (char *) "landfall", (char *) "run", (char *) "--json",
                   (char *) "--no-progress", (char *) t->job, NULL, NULL,
                   NULL };

  if (t->group_point) {
    argv[4] = (char *) "--group-point";
    argv[5] = t->group_point;
    argv[6] = (char *) t->job;
  }

  if ((ofd = open_log (r, t->id, "report.json", &rep)) == -1 ||
      (efd = open_log (r, t->id, "log", &log)) == -1)
    return -1;
  struct lf_spawn_opts so = {
    .prog = r->self, .out = ofd, .err = efd, .forward_cancel = true,
    .who = "landfall plan",
  };
  if (lf_spawn (&t->c, argv, &so) == -1)
    return -1;
  json_t *s = st_task (r, t);
  set_str (s, "report", rep);
  set_str (s, "log", log);
  return 0;
}

/* The first line of FILE (at most 200 bytes), or NULL if it is empty. */
static char *
first_line (const char *file)
{
  char buf[201];
  FILE *fp = fopen (file, "re");
  char *ret = NULL;

  if (!fp)
    return NULL;
  if (fgets (buf, sizeof buf, fp)) {
    buf[strcspn (buf, "\n")] = '\0';
    /* It goes into JSON and onto a terminal: a script's stderr may be
     * anything, and jansson refuses strings that are not UTF-8.
     */
    for (char *c = buf; *c; c++)
      if ((unsigned char) *c < ' ' || (unsigned char) *c >= 0x7f)
        *c = '?';
    ret = strdup (buf);
  }
  fclose (fp);
  return ret;
}

/* Record the end of T: its state and, on failure, the error. */
static void
finish (struct prun *r, struct task *t, double seconds)
{
  json_t *s = st_task (r, t);
  char when[32], msg[512];
  const char *state = "done";
  int st = t->c.status;

  now_text (when, sizeof when);
  set_str (s, "ended", when);
  json_object_set_new (s, "seconds", json_real (seconds));
  msg[0] = '\0';
  if (t->kind == T_SCRIPT) {
    CLEANUP_FREE char *line =
      first_line (json_string_value (json_object_get (s, "stderr")));
    if (t->c.timed_out && !lf_cancel)
      snprintf (msg, sizeof msg, "timed out after %u s (stopped)",
                t->a->timeout);
    else if (WIFSIGNALED (st))
      snprintf (msg, sizeof msg, "killed by signal %d", WTERMSIG (st));
    else if (WEXITSTATUS (st) != 0)
      snprintf (msg, sizeof msg, "exited with status %d%s%s",
                WEXITSTATUS (st), line ? ": " : "", line ? line : "");
    else if (line)
      /* ASR: anything on stderr fails the script, even with status 0. */
      snprintf (msg, sizeof msg, "wrote to stderr: %s", line);
    if (msg[0])
      state = lf_cancel ? "interrupted" : "failed";
  }
  else {
    const char *rp = json_string_value (json_object_get (s, "report"));
    json_t *rep = rp ? json_load_file (rp, 0, NULL) : NULL;
    int code = WIFEXITED (st) ? WEXITSTATUS (st) : -1;
    const char *e = json_string_value (json_array_get (
                                   json_object_get (rep, "errors"), 0));
    CLEANUP_FREE char *line = NULL;

    if (code == 0)
      state = "done";
    else if (code == 3)
      state = "warnings";
    else if (code == 4 || lf_cancel)
      state = "interrupted";
    else
      state = "failed";
    if (!e && code != 0 && code != 3)
      e = line = first_line (json_string_value (json_object_get (s, "log")));
    if (code == -1)
      snprintf (msg, sizeof msg, "killed by signal %d", WTERMSIG (st));
    else if (code != 0 && code != 3)
      snprintf (msg, sizeof msg, "landfall run exited with status %d%s%s",
                code, e ? ": " : "", e ? e : "");
    json_t *outs = json_array ();
    size_t i;
    json_t *d;
    json_array_foreach (json_object_get (rep, "disks"), i, d)
      if (json_is_string (json_object_get (d, "output")))
        json_array_append (outs, json_object_get (d, "output"));
    json_object_set_new (s, "outputs", outs);
    json_object_set_new (s, "exit_status", json_integer (code));
    json_decref (rep);
  }
  set_str (s, "state", state);
  set_str (s, "error", msg[0] ? msg : NULL);
  say (r, "%s: %s%s%s (%.1f s)", t->title, state, msg[0] ? ": " : "", msg,
       seconds);
}

/* ---- The run --------------------------------------------------------- */

static void
begin (struct prun *r, struct task *t)
{
  json_t *s = st_task (r, t);
  char when[32];

  now_text (when, sizeof when);
  set_str (s, "state", "running");
  set_str (s, "started", when);
  json_object_del (s, "error");
}

static bool
is_done (const char *st)
{
  return strcmp (st, "done") == 0 || strcmp (st, "warnings") == 0 ||
    strcmp (st, "skipped") == 0;
}

/* Run the machines of stage STAGE, O->jobs at a time. */
static int
run_machines (struct prun *r, size_t stage, bool stop_on_error,
              bool *failed)
{
  struct task *run[64];
  size_t n = 0, cap = LF_MIN ((size_t) 64, (size_t) r->o->jobs);
  bool stop = false;

  for (size_t i = 0; ; ) {
    /* Start what may start. */
    while (!stop && !lf_cancel && n < cap && i < r->nt) {
      struct task *t = &r->t[i++];
      if (t->stage != stage || t->kind != T_MACHINE ||
          is_done (task_state (r, t)))
        continue;
      begin (r, t);
      say (r, "%s: running", t->title);
      if (start_machine (r, t) == -1 || save_state (r) == -1)
        return -1;
      run[n++] = t;
    }
    ssize_t k = reap (run, n);
    if (k < 0)
      break;
    struct task *t = run[k];
    run[k] = run[--n];
    finish (r, t, lf_now () - t->c.started);
    if (strcmp (task_state (r, t), "failed") == 0) {
      *failed = true;
      stop |= stop_on_error;
    }
    if (save_state (r) == -1)
      return -1;
  }
  return 0;
}

static int
run_script (struct prun *r, struct task *t, bool *failed)
{
  struct task *run[1] = { t };

  begin (r, t);
  say (r, "%s: running %s (timeout %u s)", t->title, t->a->script,
       t->a->timeout);
  if (start_script (r, t) == -1 || save_state (r) == -1)
    return -1;
  if (reap (run, 1) < 0) {
    lf_error (errno, "waiting for %s: %m", t->a->script);
    return -1;
  }
  finish (r, t, lf_now () - t->c.started);
  if (strcmp (task_state (r, t), "failed") == 0)
    *failed = true;
  return save_state (r);
}

/* `landfall plan`'s exit status (cli.h), also kept in the report. */
int
lf_rplan_exit_status (enum lf_rplan_result res)
{
  static const int exits[] = { 0, 3, 1, 5, 4 };
  return exits[res];
}

static json_t *
build_report (struct prun *r, enum lf_rplan_result res, const char *desc)
{
  static const char *const results[] = {
    "success", "success-with-warnings", "failed", "suspended", "interrupted",
  };
  json_t *tasks = json_array (), *machines = json_object ();
  json_t *warnings = json_array (), *errors = json_array (), *waiting = NULL;
  json_t *rep;

  for (size_t i = 0; i < r->nt; i++) {
    struct task *t = &r->t[i];
    json_t *s = json_deep_copy (st_task (r, t));
    static const char *const kinds[] = { "script", "manual", "machine" };
    json_object_set_new (s, "id", json_string (t->id));
    json_object_set_new (s, "name", json_string (t->title));
    json_object_set_new (s, "kind", json_string (kinds[t->kind]));
    json_object_set_new (s, "group", json_integer ((json_int_t) t->group));
    /* From the state, not this run: a resumed plan reports the errors of
     * its earlier runs too.
     */
    if (strcmp (task_state (r, t), "failed") == 0) {
      const char *e = json_string_value (json_object_get (s, "error"));
      json_array_append_new (errors, json_sprintf ("%s: %s", t->title,
                                                   e ? e : "failed"));
    }
    if (t->kind == T_MACHINE) {
      const char *rp = json_string_value (json_object_get (s, "report"));
      json_t *mr = rp ? json_load_file (rp, 0, NULL) : NULL;
      json_object_set_new (s, "machine", json_string (t->j->machine));
      json_object_set_new (s, "job", json_string (t->job));
      if (mr) {
        size_t k;
        json_t *w;
        json_array_foreach (json_object_get (mr, "warnings"), k, w)
          json_array_append_new (warnings, json_sprintf (
            "%s: %s", t->j->machine, json_string_value (w)));
      }
      json_object_set_new (machines, t->j->machine, mr ? mr : json_null ());
    }
    if (t->kind == T_MANUAL) {
      json_object_set_new (s, "instructions",
                           json_string (t->a->instructions));
      if (strcmp (task_state (r, t), "waiting") == 0)
        waiting = json_pack ("{s:s, s:s, s:s}", "id", t->id, "name",
                             t->title, "instructions", t->a->instructions);
    }
    json_array_append_new (tasks, s);
  }
  rep = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:i}",
                   "plan", r->p->name, "file", r->p->file,
                   "type", lf_failover_type_name (r->o->type),
                   "result", results[res], "state_description", desc,
                   "exit_status", lf_rplan_exit_status (res));
  if (!rep)
    return NULL;
  json_object_set_new (rep, "output", json_string (r->p->output));
  json_object_set_new (rep, "waiting_for", waiting ? waiting : json_null ());
  json_object_set_new (rep, "tasks", tasks);
  json_object_set_new (rep, "machines", machines);
  json_object_set_new (rep, "errors", errors);
  json_object_set_new (rep, "warnings", warnings);
  return rep;
}

int
lf_rplan_run (const struct lf_rplan *p, const struct lf_rplan_opts *o,
              enum lf_rplan_result *res, json_t **report)
{
  struct prun r = { .p = p, .o = o };
  bool stopped = false, failed = false, warned = false, waiting = false;
  const char *desc;
  int ret = -1;

  *report = NULL;
  {
    ssize_t n = readlink ("/proc/self/exe", r.self, sizeof r.self - 1);
    if (n <= 0) {
      lf_error (errno, "/proc/self/exe: %m");
      goto out;
    }
    r.self[n] = '\0';
  }
  if (build_tasks (&r) == -1 || preflight (&r) == -1)
    goto out;
  if (asprintf (&r.state_path, "%s/.landfall-plan.json", p->output) == -1 ||
      asprintf (&r.report_path, "%s/landfall-plan-report.json",
                p->output) == -1 ||
      asprintf (&r.logs, "%s/logs", p->output) == -1)
    goto oom;
  if (lf_mkdir_p (r.logs) == -1 || load_state (&r) == -1)
    goto out;
  json_object_set_new (r.state, "result", json_string ("running"));
  if (save_state (&r) == -1)
    goto out;
  say (&r, "plan %s: %s failover, %zu task%s, %u machine%s at once",
       p->name, lf_failover_type_name (o->type), r.nt, r.nt == 1 ? "" : "s", o->jobs,
       o->jobs == 1 ? "" : "s");

  /* A suspended plan continues only with --resume, and from where it
   * stopped (ASR's Resume): what failed before the manual action is
   * retried by running the plan again once it has ended.
   */
  size_t from = 0;
  for (size_t i = 0; i < r.nt; i++)
    if (r.t[i].kind == T_MANUAL &&
        strcmp (task_state (&r, &r.t[i]), "waiting") == 0) {
      from = r.t[i].stage;
      if (!o->resume) {
        say (&r, "%s: still waiting for the operator:\n  %s\nWhen it is "
             "done, run: landfall plan --resume %s", r.t[i].title,
             r.t[i].a->instructions, p->file);
        waiting = true;
        from = r.nstages;
      }
    }

  for (size_t stage = from; stage < r.nstages; stage++) {
    struct task *first = NULL;
    for (size_t i = 0; i < r.nt && !first; i++)
      if (r.t[i].stage == stage)
        first = &r.t[i];
    if (!first)
      continue;
    if (stopped || lf_cancel)
      break;
    if (first->kind == T_MACHINE) {
      if (run_machines (&r, stage, o->type == LF_FAILOVER_PLANNED,
                        &failed) == -1)
        goto out;
    }
    else {
      struct task *t = first;
      const char *st = task_state (&r, t);
      if (is_done (st))
        continue;
      if (!(t->a->applies & (1u << o->type))) {
        set_str (st_task (&r, t), "state", "skipped");
        say (&r, "%s: skipped (not for this failover type: %s)", t->title,
             lf_failover_type_name (o->type));
        if (save_state (&r) == -1)
          goto out;
        continue;
      }
      if (t->kind == T_MANUAL) {
        json_t *s = st_task (&r, t);
        char when[32];
        now_text (when, sizeof when);
        if (strcmp (st, "waiting") == 0 && o->resume) {
          set_str (s, "state", "done");
          set_str (s, "ended", when);
          set_str (s, "comment", o->comment);
          say (&r, "%s: confirmed by the operator", t->title);
          if (save_state (&r) == -1)
            goto out;
          continue;
        }
        if (strcmp (st, "waiting") != 0) {
          set_str (s, "state", "waiting");
          set_str (s, "started", when);
        }
        say (&r, "%s: waiting for the operator:\n  %s\nWhen it is done, "
             "run: landfall plan --resume %s", t->title, t->a->instructions,
             p->file);
        waiting = true;
        break;
      }
      if (run_script (&r, t, &failed) == -1)
        goto out;
    }
    if (failed && o->type == LF_FAILOVER_PLANNED)
      stopped = true;
  }

  /* What did not run stays pending (a re-run does it); say so. */
  for (size_t i = 0; i < r.nt; i++) {
    const char *st = task_state (&r, &r.t[i]);
    if (strcmp (st, "running") == 0)
      set_str (st_task (&r, &r.t[i]), "state", "interrupted");
    warned |= strcmp (st, "warnings") == 0;
    failed |= strcmp (st, "failed") == 0;
  }
  if (lf_cancel) {
    *res = LF_RPLAN_INTERRUPTED;
    desc = "Interrupted";
  }
  else if (waiting) {
    *res = LF_RPLAN_SUSPENDED;
    desc = "WaitingForManualAction";
  }
  else if (failed) {
    *res = LF_RPLAN_FAILED;
    desc = stopped ? "StoppedAtFirstError" : "CompletedWithErrors";
  }
  else {
    *res = warned ? LF_RPLAN_WARNINGS : LF_RPLAN_OK;
    desc = "Completed";
  }
  json_object_set_new (r.state, "result", json_string (desc));
  if (save_state (&r) == -1)
    goto out;
  if (!(*report = build_report (&r, *res, desc)))
    goto oom;
  if (lf_write_json_atomic (r.report_path, *report) == -1) {
    lf_error_prefix ("the plan's report");
    goto out;
  }
  ret = 0;
  goto out;

 oom:
  lf_error (ENOMEM, "out of memory");
 out:
  for (size_t i = 0; i < r.nt; i++) {
    lf_job_free (r.t[i].j);
    free (r.t[i].group_point);
  }
  free (r.t);
  free (r.state_path);
  free (r.report_path);
  free (r.logs);
  json_decref (r.state);
  return ret;
}

void
lf_rplan_print_summary (const json_t *rep, FILE *fp)
{
  size_t i;
  json_t *t, *e;

  fprintf (fp, "plan %s (%s failover): %s\n",
           json_string_value (json_object_get (rep, "plan")),
           json_string_value (json_object_get (rep, "type")),
           json_string_value (json_object_get (rep, "state_description")));
  json_array_foreach (json_object_get (rep, "tasks"), i, t) {
    json_t *sec = json_object_get (t, "seconds");
    fprintf (fp, "  %-11s %s", json_string_value (json_object_get (t, "state")),
             json_string_value (json_object_get (t, "name")));
    if (json_is_number (sec))
      fprintf (fp, " (%.1f s)", json_number_value (sec));
    fputc ('\n', fp);
  }
  json_array_foreach (json_object_get (rep, "errors"), i, e)
    fprintf (fp, "error: %s\n", json_string_value (e));
  t = json_object_get (rep, "waiting_for");
  if (json_is_object (t))
    fprintf (fp, "waiting for: %s\n  %s\n",
             json_string_value (json_object_get (t, "name")),
             json_string_value (json_object_get (t, "instructions")));
  fprintf (fp, "report: %s/landfall-plan-report.json\n",
           json_string_value (json_object_get (rep, "output")));
}
