/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: recovery points (failover.md section 7).
 *
 *   {
 *     "machine": "web01",                    optional, for messages
 *     "group": "shop",                       replication group, optional
 *     "source-available": true,              false: Latest cannot process
 *     "bases": ["web01-os.raw", "web01-data1.raw"],     one per disk
 *     "points": [                            oldest first
 *       { "id": "rp-0001", "time": "2026-11-27T04:00:00Z",
 *         "consistency": "crash",            crash | app
 *         "processed": true,
 *         "group": "shop",                   a multi-VM point, optional
 *         "overlays": ["os-1.qcow2", "data1-1.qcow2"] }  one per disk
 *     ]
 *   }
 *
 * JSON because another program (the replication side) writes it; every
 * field is still checked as hostile: sizes and counts capped, unknown
 * keys refused (a typo must not silently mean "crash-consistent"), each
 * error names the file and the field ("points[3].time").
 *
 * A point is an overlay per disk whose chain ends at that disk's base;
 * the converter reads through the chain, so failing over to a point is
 * one pass over the merged chain, never an intermediate copy.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/common.h"
#include "convert/convert.h"
#include "supervisor/job.h"

const char *const lf_point_options[] = {
  "latest", "latest-processed", "latest-app-consistent",
  "latest-multivm-processed", "latest-multivm-app-consistent", NULL,
};

bool
lf_point_is_multivm (const char *s)
{
  return strcmp (s, "latest-multivm-processed") == 0 ||
    strcmp (s, "latest-multivm-app-consistent") == 0;
}

bool
lf_point_is_option (const char *s)
{
  for (size_t i = 0; lf_point_options[i]; i++)
    if (strcmp (s, lf_point_options[i]) == 0)
      return true;
  return false;
}

static void
free_strv (char **v, size_t n)
{
  if (v)
    for (size_t i = 0; i < n; i++)
      free (v[i]);
  free (v);
}

void
lf_points_free (struct lf_points *m)
{
  if (!m)
    return;
  free (m->name);
  free (m->machine);
  free (m->group);
  free (m->committed);
  free_strv (m->bases, m->ndisks);
  free_strv (m->allow_backing, m->nallow_backing);
  for (size_t i = 0; i < m->npoints; i++) {
    free (m->points[i].id);
    free (m->points[i].group);
    free_strv (m->points[i].overlays, m->ndisks);
  }
  free (m->points);
  free (m);
}

/* Exactly YYYY-MM-DDTHH:MM:SSZ: one spelling, so that the text in the
 * manifest, the listing and the report is the same.  timegm and back
 * refuses 2026-02-30.
 */
static int
parse_time (const char *s, int64_t *ret)
{
  struct tm tm, back;
  int y, mo, d, h, mi, se;
  char z;
  time_t t;

  if (strlen (s) != 20 ||
      sscanf (s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &z) != 7 ||
      z != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || strspn (s, "0123456789-T:Z") != 20 ||
      y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
      h > 23 || mi > 59 || se > 59)
    return -1;
  memset (&tm, 0, sizeof tm);
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  t = timegm (&tm);
  if (t == (time_t) -1 || !gmtime_r (&t, &back) || back.tm_mday != d ||
      back.tm_mon != mo - 1)
    return -1;
  *ret = (int64_t) t;
  return 0;
}

static long
find_id (const struct lf_points *m, const char *id)
{
  for (size_t i = 0; i < m->npoints; i++)
    if (strcmp (m->points[i].id, id) == 0)
      return (long) i;
  return -1;
}

static int
parse_point (struct lf_points *m, size_t i, json_t *o, const char *basedir)
{
  static const char *const keys[] = {
    "id", "time", "consistency", "processed", "group", "overlays", NULL,
  };
  const char *name = m->name;
  struct lf_point *p = &m->points[i];
  char f[64];
  const char *s;
  json_t *v;

  snprintf (f, sizeof f, "points[%zu]", i);
  if (!json_is_object (o)) {
    lf_error (EINVAL, "%s: %s: not an object", name, f);
    return -1;
  }
  if (lf_json_only_keys (name, f, o, keys) == -1)
    return -1;
  snprintf (f, sizeof f, "points[%zu].id", i);
  if ((s = lf_json_name (name, f, json_object_get (o, "id"), false)) == LF_JSON_BAD)
    return -1;
  if (!(p->id = strdup (s)))
    goto oom;
  for (size_t j = 0; j < i; j++)
    if (strcmp (m->points[j].id, s) == 0) {
      lf_error (EINVAL, "%s: %s: '%s' is also points[%zu].id", name, f, s, j);
      return -1;
    }

  snprintf (f, sizeof f, "points[%zu].time", i);
  s = json_string_value (json_object_get (o, "time"));
  if (!s || parse_time (s, &p->time) == -1) {
    lf_error (EINVAL, "%s: %s: %s not a UTC time as YYYY-MM-DDTHH:MM:SSZ",
              name, f, s ? "is" : "missing or");
    return -1;
  }
  memcpy (p->time_text, s, 21);
  /* Oldest first, strictly: "newest" must mean one point. */
  if (i > 0 && p->time <= m->points[i - 1].time) {
    lf_error (EINVAL, "%s: %s: %s is not after points[%zu].time %s (points "
              "are listed oldest first)", name, f, s, i - 1,
              m->points[i - 1].time_text);
    return -1;
  }

  snprintf (f, sizeof f, "points[%zu].consistency", i);
  s = json_string_value (json_object_get (o, "consistency"));
  if (!s || (strcmp (s, "crash") && strcmp (s, "app"))) {
    lf_error (EINVAL, "%s: %s: missing, or not crash or app", name, f);
    return -1;
  }
  p->app = s[0] == 'a';

  snprintf (f, sizeof f, "points[%zu].processed", i);
  v = json_object_get (o, "processed");
  if (!json_is_boolean (v)) {
    lf_error (EINVAL, "%s: %s: missing, or not true or false", name, f);
    return -1;
  }
  p->processed = json_is_true (v);

  snprintf (f, sizeof f, "points[%zu].group", i);
  if ((s = lf_json_name (name, f, json_object_get (o, "group"), true)) == LF_JSON_BAD)
    return -1;
  if (s) {
    /* A multi-VM point is a bookmark the group issued to all its members
     * (failover.md 7.4): a machine outside that group cannot have one.
     */
    if (!m->group || strcmp (s, m->group) != 0) {
      lf_error (EINVAL, "%s: %s: '%s' is not this machine's group (%s)",
                name, f, s, m->group ? m->group : "none");
      return -1;
    }
    if (!(p->group = strdup (s)))
      goto oom;
  }

  snprintf (f, sizeof f, "points[%zu].overlays", i);
  v = json_object_get (o, "overlays");
  if (!json_is_array (v) || json_array_size (v) != m->ndisks) {
    lf_error (EINVAL, "%s: %s: missing, or not an array of %zu file name%s "
              "(one per base)", name, f, m->ndisks, m->ndisks == 1 ? "" : "s");
    return -1;
  }
  if (!(p->overlays = calloc (m->ndisks, sizeof *p->overlays)))
    goto oom;
  for (size_t d = 0; d < m->ndisks; d++) {
    snprintf (f, sizeof f, "points[%zu].overlays[%zu]", i, d);
    if (!(p->overlays[d] = lf_json_path (name, f, json_array_get (v, d), basedir)))
      return -1;
  }
  return 0;

 oom:
  lf_error (ENOMEM, "out of memory");
  return -1;
}

struct lf_points *
lf_points_parse (const char *buf, size_t len, const char *name,
                 const char *basedir)
{
  static const char *const keys[] = {
    "machine", "group", "source-available", "committed", "bases", "points",
    "allow-backing", NULL,
  };
  struct lf_points *m = calloc (1, sizeof *m);
  json_t *root = NULL, *v;
  const char *s;

  if (!m || !(m->name = strdup (name))) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  if (!(root = lf_json_load_object (buf, len, name, "manifest",
                                    LF_POINTS_MAX_SIZE, keys)))
    goto error;
  v = json_object_get (root, "machine");
  if (v) {
    s = json_string_value (v);
    if (!s || strlen (s) != json_string_length (v) || !lf_name_ok (s)) {
      lf_error (EINVAL, "%s: machine: not a name of 1 to %d letters, digits, "
                "'-', '_', '.' or ':'", name, LF_POINTS_MAX_ID);
      goto error;
    }
    if (!(m->machine = strdup (s)))
      goto oom;
  }
  if ((s = lf_json_name (name, "group", json_object_get (root, "group"), true)) == LF_JSON_BAD)
    goto error;
  if (s && !(m->group = strdup (s)))
    goto oom;
  v = json_object_get (root, "source-available");
  if (v && !json_is_boolean (v)) {
    lf_error (EINVAL, "%s: source-available: not true or false", name);
    goto error;
  }
  m->source_available = !v || json_is_true (v);

  v = json_object_get (root, "bases");
  if (!json_is_array (v) || json_array_size (v) == 0 ||
      json_array_size (v) > LF_JOB_MAX_DISKS) {
    lf_error (EINVAL, "%s: bases: missing, or not an array of 1 to %d file "
              "names (the OS disk first)", name, LF_JOB_MAX_DISKS);
    goto error;
  }
  if (!(m->bases = calloc (json_array_size (v), sizeof *m->bases)))
    goto oom;
  m->ndisks = json_array_size (v);
  for (size_t d = 0; d < m->ndisks; d++) {
    char f[32];
    snprintf (f, sizeof f, "bases[%zu]", d);
    if (!(m->bases[d] = lf_json_path (name, f, json_array_get (v, d), basedir)))
      goto error;
  }

  v = json_object_get (root, "allow-backing");
  if (v && (!json_is_array (v) || json_array_size (v) > LF_JOB_MAX_DISKS)) {
    lf_error (EINVAL, "%s: allow-backing: not an array of at most %d "
              "directory names", name, LF_JOB_MAX_DISKS);
    goto error;
  }
  if (v && json_array_size (v) > 0 &&
      !(m->allow_backing = calloc (json_array_size (v),
                                   sizeof *m->allow_backing)))
    goto oom;
  for (size_t d = 0; v && d < json_array_size (v); d++) {
    char f[40];
    snprintf (f, sizeof f, "allow-backing[%zu]", d);
    m->nallow_backing = d + 1;
    if (!(m->allow_backing[d] = lf_json_path (name, f, json_array_get (v, d),
                                              basedir)))
      goto error;
  }

  v = json_object_get (root, "points");
  if (!json_is_array (v) || json_array_size (v) > LF_POINTS_MAX_POINTS) {
    lf_error (EINVAL, "%s: points: missing, or not an array of at most %d "
              "points", name, LF_POINTS_MAX_POINTS);
    goto error;
  }
  if (json_array_size (v) > 0 &&
      !(m->points = calloc (json_array_size (v), sizeof *m->points)))
    goto oom;
  for (size_t i = 0; i < json_array_size (v); i++) {
    m->npoints = i + 1;         /* so that lf_points_free frees it */
    if (parse_point (m, i, json_array_get (v, i), basedir) == -1)
      goto error;
  }
  if ((s = lf_json_name (name, "committed", json_object_get (root, "committed"),
                     true)) == LF_JSON_BAD)
    goto error;
  if (s) {
    if (find_id (m, s) == -1) {
      lf_error (EINVAL, "%s: committed: '%s' is not one of the points", name, s);
      goto error;
    }
    if (!(m->committed = strdup (s)))
      goto oom;
  }
  json_decref (root);
  return m;

 oom:
  lf_error (ENOMEM, "out of memory");
 error:
  json_decref (root);
  lf_points_free (m);
  return NULL;
}

/* ---- Chains ---------------------------------------------------------- */

static bool
same_file (const char *a, const struct stat *b)
{
  struct stat st;
  return stat (a, &st) == 0 && st.st_dev == b->st_dev && st.st_ino == b->st_ino;
}

/* Walk point K's overlay of disk D; with CHAIN non-NULL, append each
 * overlay's path (not the base) to it at *N.
 */
static int
check_one (const struct lf_points *m, size_t k, size_t d, char **chain,
           size_t *n)
{
  char f[64];
  struct lf_disk *top = lf_disk_open (m->points[k].overlays[d], NULL);
  long below = (long) k + 1;    /* the next link must be older than this */
  size_t link = 0;
  int ret = -1;

  snprintf (f, sizeof f, "points[%zu].overlays[%zu]", k, d);
  if (!top) {
    lf_error_prefix ("%s: %s (point %s)", m->name, f, m->points[k].id);
    return -1;
  }
  for (struct lf_disk *c = top; c; c = lf_disk_backing (c), link++) {
    struct stat st;
    const char *p = lf_disk_path (c);
    if (stat (p, &st) == -1) {
      lf_error (errno, "%s: %s: %s: %m", m->name, f, p);
      goto out;
    }
    if (same_file (m->bases[d], &st)) {
      if (link == 0 || lf_disk_backing (c)) {
        lf_error (EINVAL, "%s: %s: %s: %s", m->name, f, p, link == 0
                  ? "is the base itself, not an overlay"
                  : "the base has a backing file of its own: a base must be "
                    "a whole disk");
        goto out;
      }
      ret = 0;
      goto out;
    }
    long j;
    for (j = below - 1; j >= 0; j--)
      if (same_file (m->points[j].overlays[d], &st))
        break;
    if (j < 0 || (link == 0 && j != (long) k)) {
      lf_error (EINVAL, "%s: %s: its chain at link %zu, %s, is neither an "
                "earlier point's overlay of disk %zu nor its base %s (the "
                "chain must lead, newest first, to the base)", m->name, f,
                link, p, d, m->bases[d]);
      goto out;
    }
    if (chain) {
      if (!(chain[*n] = realpath (p, NULL))) {
        lf_error (errno, "%s: %m", p);
        goto out;
      }
      ++*n;
    }
    below = j;
  }
  lf_error (EINVAL, "%s: %s: its chain ends without reaching the base %s",
            m->name, f, m->bases[d]);
 out:
  lf_disk_close (top);
  return ret;
}

int
lf_points_check (const struct lf_points *m)
{
  for (size_t k = 0; k < m->npoints; k++)
    for (size_t d = 0; d < m->ndisks; d++)
      if (check_one (m, k, d, NULL, NULL) == -1)
        return -1;
  return 0;
}

char **
lf_points_chain (const struct lf_points *m, size_t k)
{
  /* A chain holds each point at most once, plus nothing else. */
  size_t cap = (k + 1) * m->ndisks + 1, n = 0;
  char **v = calloc (cap, sizeof *v);

  if (!v) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  for (size_t d = 0; d < m->ndisks; d++)
    if (check_one (m, k, d, v, &n) == -1) {
      free_strv (v, n);
      return NULL;
    }
  return v;
}

/* A manifest names its chains' every file, and lf_points_check checks
 * that each chain is made of those and nothing else: the directories of
 * its bases and overlays may hold what the overlays name, as may those
 * of its allow-backing.
 */
static int
allow_dir_of (const struct lf_points *m, const char *path)
{
  CLEANUP_FREE char *copy = strdup (path);
  if (!copy) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (lf_allow_backing (dirname (copy)) == -1) {
    lf_error_prefix ("%s", m->name);
    return -1;
  }
  return 0;
}

static int
allow_chains (const struct lf_points *m)
{
  for (size_t i = 0; i < m->nallow_backing; i++)
    if (lf_allow_backing (m->allow_backing[i]) == -1) {
      lf_error_prefix ("%s: allow-backing[%zu]", m->name, i);
      return -1;
    }
  for (size_t d = 0; d < m->ndisks; d++) {
    if (allow_dir_of (m, m->bases[d]) == -1)
      return -1;
    for (size_t k = 0; k < m->npoints; k++)
      if (allow_dir_of (m, m->points[k].overlays[d]) == -1)
        return -1;
  }
  return 0;
}

struct lf_points *
lf_points_load (const char *path)
{
  CLEANUP_FREE char *buf = NULL;
  char dir[PATH_MAX];
  size_t len;
  struct lf_points *m;

  if (lf_input_read (path, LF_POINTS_MAX_SIZE, &buf, &len, dir) == -1)
    return NULL;
  m = lf_points_parse (buf, len, path, dir);
  if (m && allow_chains (m) == -1) {
    lf_points_free (m);
    return NULL;
  }
  if (m && lf_points_check (m) == -1) {
    lf_points_free (m);
    return NULL;
  }
  return m;
}

/* ---- Selection (pure) ------------------------------------------------ */

static long
newest (const struct lf_points *m, bool processed, bool app)
{
  for (size_t i = m->npoints; i-- > 0; )
    if ((!processed || m->points[i].processed) && (!app || m->points[i].app))
      return (long) i;
  return -1;
}

long
lf_points_select (struct lf_points *const *ms, size_t n, size_t which,
                  const char *option, const char **why)
{
  const struct lf_points *m = ms[which];
  const char *dummy;
  long i;

  if (!why)
    why = &dummy;
  *why = "";
  if (m->npoints == 0) {
    lf_error (ENOENT, "%s: no recovery points", m->name);
    return -1;
  }
  /* After commit the other points are gone (failover.md 7.6): every
   * option gives the committed point, and naming another is an error.
   */
  if (m->committed) {
    i = find_id (m, m->committed);
    if (!lf_point_is_option (option) && strcmp (option, m->committed) != 0) {
      lf_error (EPERM, "%s: committed to point %s: point '%.64s' was deleted "
                "by the commit", m->name, m->committed, option);
      return -1;
    }
    *why = "committed";
    return i;
  }
  if (!strcmp (option, "latest")) {
    /* Processing everything sent into a new point: here the pending
     * data are the unprocessed points, and processing is the merge of
     * the newest one's chain in the conversion (failover.md 7.3).
     */
    i = (long) m->npoints - 1;
    if (!m->points[i].processed && m->source_available) {
      *why = "unprocessed: processed now, by the conversion (lowest RPO)";
      return i;
    }
    *why = m->points[i].processed ? "nothing pending: the latest processed point"
      : "source unavailable: pending data cannot be processed; the latest "
        "processed point";
    option = "latest-processed";
  }
  if (!strcmp (option, "latest-processed") ||
      !strcmp (option, "latest-app-consistent")) {
    bool app = option[7] == 'a';
    if ((i = newest (m, true, app)) == -1)
      lf_error (ENOENT, "%s: no processed%s recovery point", m->name,
                app ? " app-consistent" : "");
    return i;
  }
  if (lf_point_is_multivm (option)) {
    bool app = option[15] == 'a';
    if (!m->group) {
      *why = "not in a replication group: its own latest";
      if ((i = newest (m, true, app)) == -1)
        lf_error (ENOENT, "%s: no processed%s recovery point", m->name,
                  app ? " app-consistent" : "");
      return i;
    }
    /* The common point: one bookmark id that the group issued to every
     * member at once (failover.md 7.4), processed (and app-consistent)
     * in every member given.  Not equal times: members record the
     * bookmark when they reach it, and their clocks differ.
     */
    for (i = (long) m->npoints - 1; i >= 0; i--) {
      const struct lf_point *p = &m->points[i];
      bool ok = p->group && p->processed && (!app || p->app);
      for (size_t o = 0; ok && o < n; o++) {
        if (o == which || !ms[o]->group || strcmp (ms[o]->group, m->group))
          continue;
        long j = find_id (ms[o], p->id);
        ok = j >= 0 && ms[o]->points[j].group && ms[o]->points[j].processed &&
          (!app || ms[o]->points[j].app);
      }
      if (ok) {
        *why = "the group's latest common point";
        return i;
      }
    }
    lf_error (ENOENT, "%s: no multi-VM%s point of group %s is processed in "
              "every member given", m->name, app ? " app-consistent" : "",
              m->group);
    return -1;
  }
  /* A named (custom) point. */
  if ((i = find_id (m, option)) == -1) {
    lf_error (ENOENT, "%s: no recovery point '%.64s' (nor an option: latest, "
              "latest-processed, latest-app-consistent, "
              "latest-multivm-processed, latest-multivm-app-consistent)",
              m->name, option);
    return -1;
  }
  if (m->group) {
    lf_error (EPERM, "%s: point '%s': a custom point is not allowed for a "
              "member of replication group %s (its members fail over "
              "together, to a common point)", m->name, option, m->group);
    return -1;
  }
  *why = "named";
  return i;
}
