/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: recovery plan files (failover.md section 8).
 *
 *   {
 *     "name": "shop",
 *     "output": "shop-plan",          state, logs, report (default NAME-plan)
 *     "pre":  [ ACTION... ],          All groups failover: pre-steps
 *     "post": [ ACTION... ],          All groups failover: post-steps
 *     "groups": [                     1 to 7, in order
 *       { "machines": ["db.job"],     job files (landfall run), in parallel
 *         "pre":  [ ACTION... ],      Group N: pre-steps, in order
 *         "post": [ ACTION... ] }     Group N: post-steps
 *     ]
 *   }
 *   ACTION = { "name": "dns", "script": "dns.sh", "timeout": 600,
 *              "applies-to": ["test", "planned", "unplanned"] }
 *          | { "name": "check", "manual": "what the operator must do" }
 *
 * The plan file, checked as untrusted input; recovery-plan.c runs it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/common.h"
#include "supervisor/job.h"

static const char *const type_names[] = { "test", "planned", "unplanned" };

const char *
lf_failover_type_name (enum lf_failover_type t)
{
  return type_names[t];
}

int
lf_failover_type (const char *s, enum lf_failover_type *t)
{
  for (int i = 0; i < 3; i++)
    if (strcmp (s, type_names[i]) == 0) {
      *t = (enum lf_failover_type) i;
      return 0;
    }
  lf_error (EINVAL, "'%s' is not a failover type (test, planned, unplanned)",
            s);
  return -1;
}

/* ---- The plan file -------------------------------------------------- */

static void
free_list (struct lf_rplan_list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    free (l->a[i].name);
    free (l->a[i].script);
    free (l->a[i].instructions);
  }
  free (l->a);
}

void
lf_rplan_free (struct lf_rplan *p)
{
  if (!p)
    return;
  free (p->file);
  free (p->name);
  free (p->output);
  free_list (&p->pre);
  free_list (&p->post);
  for (size_t g = 0; g < p->ngroups; g++) {
    for (size_t m = 0; m < p->groups[g].nmachines; m++)
      free (p->groups[g].jobs[m]);
    free (p->groups[g].jobs);
    free_list (&p->groups[g].pre);
    free_list (&p->groups[g].post);
  }
  free (p->groups);
  free (p);
}

static int
parse_action (const char *name, const char *f, json_t *o, const char *dir,
              struct lf_rplan_action *a)
{
  static const char *const keys[] = {
    "name", "script", "manual", "timeout", "applies-to", NULL,
  };
  char ff[96];
  const char *s;
  json_t *v;

  if (!json_is_object (o)) {
    lf_error (EINVAL, "%s: %s: not an object", name, f);
    return -1;
  }
  if (lf_json_only_keys (name, f, o, keys) == -1)
    return -1;
  snprintf (ff, sizeof ff, "%s.name", f);
  if ((s = lf_json_text (name, ff, json_object_get (o, "name"),
                         LF_RPLAN_MAX_NAME, false)) == LF_JSON_BAD)
    return -1;
  for (const char *c = s; *c; c++)
    if ((unsigned char) *c < ' ' || *c == 0x7f) {
      lf_error (EINVAL, "%s: %s: a control character in the name", name, ff);
      return -1;
    }
  if (!(a->name = strdup (s)))
    goto oom;

  v = json_object_get (o, "script");
  if (!v == !json_object_get (o, "manual")) {
    lf_error (EINVAL, "%s: %s: needs \"script\" or \"manual\" (one of them)",
              name, f);
    return -1;
  }
  if (v) {
    snprintf (ff, sizeof ff, "%s.script", f);
    if (!(a->script = lf_json_path (name, ff, v, dir)))
      return -1;
  }
  else {
    snprintf (ff, sizeof ff, "%s.manual", f);
    if ((s = lf_json_text (name, ff, json_object_get (o, "manual"),
                           LF_RPLAN_MAX_TEXT, false)) == LF_JSON_BAD)
      return -1;
    if (!(a->instructions = strdup (s)))
      goto oom;
  }

  a->timeout = LF_RPLAN_DEFAULT_TIMEOUT;
  v = json_object_get (o, "timeout");
  if (v) {
    snprintf (ff, sizeof ff, "%s.timeout", f);
    if (!a->script || !json_is_integer (v) || json_integer_value (v) < 1 ||
        json_integer_value (v) > LF_RPLAN_MAX_TIMEOUT) {
      lf_error (EINVAL, "%s: %s: %s", name, ff, a->script
                ? "not a number of seconds from 1 to 86400"
                : "only a script has a timeout");
      return -1;
    }
    a->timeout = (unsigned) json_integer_value (v);
  }

  a->applies = 7;
  v = json_object_get (o, "applies-to");
  if (v) {
    size_t i;
    json_t *t;
    snprintf (ff, sizeof ff, "%s.applies-to", f);
    if (!json_is_array (v) || json_array_size (v) == 0 ||
        json_array_size (v) > 3) {
      lf_error (EINVAL, "%s: %s: not a list of failover types (test, "
                "planned, unplanned)", name, ff);
      return -1;
    }
    a->applies = 0;
    json_array_foreach (v, i, t) {
      enum lf_failover_type ty;
      if (!json_is_string (t) ||
          lf_failover_type (json_string_value (t), &ty) == -1) {
        lf_error (EINVAL, "%s: %s[%zu]: not test, planned or unplanned",
                  name, ff, i);
        return -1;
      }
      a->applies |= 1u << ty;
    }
  }
  return 0;
 oom:
  lf_error (ENOMEM, "out of memory");
  return -1;
}

static int
parse_list (const char *name, const char *f, json_t *v, const char *dir,
            struct lf_rplan_list *l)
{
  char ff[64];

  if (!v)
    return 0;
  if (!json_is_array (v) || json_array_size (v) > LF_RPLAN_MAX_ACTIONS) {
    lf_error (EINVAL, "%s: %s: not a list of at most %d actions", name, f,
              LF_RPLAN_MAX_ACTIONS);
    return -1;
  }
  if (json_array_size (v) == 0)
    return 0;
  if (!(l->a = calloc (json_array_size (v), sizeof *l->a))) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < json_array_size (v); i++) {
    snprintf (ff, sizeof ff, "%s[%zu]", f, i);
    l->n++;
    if (parse_action (name, ff, json_array_get (v, i), dir, &l->a[i]) == -1)
      return -1;
  }
  return 0;
}

struct lf_rplan *
lf_rplan_parse (const char *buf, size_t len, const char *name,
                const char *basedir)
{
  static const char *const keys[] = {
    "name", "output", "pre", "post", "groups", NULL,
  };
  static const char *const gkeys[] = { "machines", "pre", "post", NULL };
  struct lf_rplan *p = calloc (1, sizeof *p);
  json_t *root = NULL, *v;
  size_t total = 0;
  const char *s;

  if (!p || !(p->file = strdup (name))) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  if (!(root = lf_json_load_object (buf, len, name, "plan",
                                    LF_RPLAN_MAX_SIZE, keys)))
    goto error;
  if ((s = lf_json_name (name, "name", json_object_get (root, "name"),
                         false)) == LF_JSON_BAD)
    goto error;
  if (!(p->name = strdup (s)))
    goto oom;
  v = json_object_get (root, "output");
  if (v) {
    if (!(p->output = lf_json_path (name, "output", v, basedir)))
      goto error;
  }
  else {
    CLEANUP_FREE char *d = NULL;
    if (asprintf (&d, "%s-plan", p->name) == -1) {
      d = NULL;
      goto oom;
    }
    if (!(p->output = lf_path_under (basedir, d)))
      goto oom;
  }
  if (parse_list (name, "pre", json_object_get (root, "pre"), basedir,
                  &p->pre) == -1 ||
      parse_list (name, "post", json_object_get (root, "post"), basedir,
                  &p->post) == -1)
    goto error;

  v = json_object_get (root, "groups");
  if (!json_is_array (v) || json_array_size (v) == 0 ||
      json_array_size (v) > LF_RPLAN_MAX_GROUPS) {
    lf_error (EINVAL, "%s: groups: missing, or not a list of 1 to %d groups",
              name, LF_RPLAN_MAX_GROUPS);
    goto error;
  }
  if (!(p->groups = calloc (json_array_size (v), sizeof *p->groups)))
    goto oom;
  for (size_t g = 0; g < json_array_size (v); g++) {
    struct lf_rplan_group *gr = &p->groups[p->ngroups++];
    json_t *o = json_array_get (v, g), *ms;
    char f[64];

    snprintf (f, sizeof f, "groups[%zu]", g);
    if (!json_is_object (o)) {
      lf_error (EINVAL, "%s: %s: not an object", name, f);
      goto error;
    }
    if (lf_json_only_keys (name, f, o, gkeys) == -1)
      goto error;
    ms = json_object_get (o, "machines");
    snprintf (f, sizeof f, "groups[%zu].machines", g);
    if (!json_is_array (ms) ||
        json_array_size (ms) > LF_RPLAN_MAX_MACHINES - total) {
      lf_error (EINVAL, "%s: %s: missing, or not a list of job files (at "
                "most %d machines in a plan)", name, f,
                LF_RPLAN_MAX_MACHINES);
      goto error;
    }
    total += json_array_size (ms);
    if (json_array_size (ms) > 0 &&
        !(gr->jobs = calloc (json_array_size (ms), sizeof *gr->jobs)))
      goto oom;
    for (size_t m = 0; m < json_array_size (ms); m++) {
      snprintf (f, sizeof f, "groups[%zu].machines[%zu]", g, m);
      if (!(gr->jobs[gr->nmachines] =
            lf_json_path (name, f, json_array_get (ms, m), basedir)))
        goto error;
      gr->nmachines++;
    }
    snprintf (f, sizeof f, "groups[%zu].pre", g);
    if (parse_list (name, f, json_object_get (o, "pre"), basedir,
                    &gr->pre) == -1)
      goto error;
    snprintf (f, sizeof f, "groups[%zu].post", g);
    if (parse_list (name, f, json_object_get (o, "post"), basedir,
                    &gr->post) == -1)
      goto error;
  }
  lf_sha256_hex (buf, len, p->sha256);
  json_decref (root);
  return p;

 oom:
  lf_error (ENOMEM, "out of memory");
 error:
  json_decref (root);
  lf_rplan_free (p);
  return NULL;
}

struct lf_rplan *
lf_rplan_load (const char *path)
{
  CLEANUP_FREE char *buf = NULL;
  char dir[PATH_MAX];
  size_t len;

  if (lf_input_read (path, LF_RPLAN_MAX_SIZE, &buf, &len, dir) == -1)
    return NULL;
  return lf_rplan_parse (buf, len, path, dir);
}
