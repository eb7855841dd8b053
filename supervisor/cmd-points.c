/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall points: list recovery points, show what each option picks,
 * and commit to one (which deletes the others' overlays).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
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
"Usage: landfall points [--json] [--select OPTION] MANIFEST...\n"
"       landfall points --commit MANIFEST --point ID [--yes]\n"
"\n"
"List the recovery points of one machine per MANIFEST and mark what each\n"
"option would fail over to.  Give every member of a replication group\n"
"together: the multi-VM options take the newest point common to the\n"
"members given.  Every overlay's chain is checked against the manifest.\n"
"\n"
"Manifest (JSON; relative paths are relative to the manifest):\n"
"  {\"machine\": \"web01\",             optional\n"
"   \"group\": \"shop\",                replication group, optional\n"
"   \"source-available\": true,       false: latest cannot process\n"
"   \"bases\": [\"os.raw\", \"data1.raw\"],   one per disk, OS disk first\n"
"   \"points\": [                     oldest first, times strictly rising\n"
"     {\"id\": \"rp-1\", \"time\": \"2026-11-27T04:00:00Z\",   UTC\n"
"      \"consistency\": \"crash\",       crash | app\n"
"      \"processed\": true,\n"
"      \"group\": \"shop\",              a multi-VM point of the group\n"
"      \"overlays\": [\"os-1.qcow2\", \"data1-1.qcow2\"]}]}   one per disk\n"
"  Each overlay (qcow2 with a backing file, or VHD differencing disk) must\n"
"  chain, newest first, through earlier points' overlays of its disk to\n"
"  that disk's base.  'commit' adds \"committed\": ID.\n"
"  The directories of the bases and overlays may hold what the overlays\n"
"  name; \"allow-backing\": [\"DIR\", ...] allows others (as\n"
"  --allow-backing does).\n"
"\n"
"Options (failover.md 7.3):\n"
"  latest          the newest point; if unprocessed, it is processed by the\n"
"                  conversion (lowest RPO); nothing pending, or the source\n"
"                  unavailable: as latest-processed\n"
"  latest-processed              the newest processed point (lowest RTO)\n"
"  latest-app-consistent         the newest processed app-consistent point\n"
"  latest-multivm-processed      group members: the newest multi-VM point\n"
"                  (same id, a bookmark issued to all members at once, not\n"
"                  equal times) processed in every member given; others:\n"
"                  their latest-processed\n"
"  latest-multivm-app-consistent as above, app-consistent in every member\n"
"  ID              a named point (refused for members of a group)\n"
"\n"
"Options:\n"
"      --json          the listing as JSON on stdout\n"
"      --select OPTION print only the point OPTION picks, per manifest\n"
"      --commit MANIFEST --point ID\n"
"                      keep point ID: delete the overlays of every other\n"
"                      point not in its chain and record the commit in the\n"
"                      manifest (irreversible); lists them, and deletes\n"
"                      only with --yes\n"
LF_CLI_ALLOW_BACKING_HELP
"  -h, --help          this help\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static json_t *
point_json (const struct lf_points *m, const struct lf_point *p)
{
  json_t *ov = json_array ();
  for (size_t d = 0; d < m->ndisks; d++)
    json_array_append_new (ov, json_string (p->overlays[d]));
  return json_pack ("{s:s, s:s, s:s, s:b, s:s?, s:o}", "id", p->id, "time",
                    p->time_text, "consistency", p->app ? "app" : "crash",
                    "processed", p->processed, "group", p->group,
                    "overlays", ov);
}

static int
commit (const char *path, const char *id, bool yes)
{
  struct lf_points *m = lf_points_load (path);
  char **keep = NULL;
  json_t *root = NULL, *pts = NULL;
  json_error_t err;
  size_t nkeep = 0, ndel = 0;
  long k;
  int ret = LF_EXIT_FAILED;

  if (!m)
    goto out;
  if ((k = lf_points_select (&m, 1, 0, id, NULL)) == -1 ||
      !(keep = lf_points_chain (m, (size_t) k)))
    goto out;
  while (keep[nkeep])
    nkeep++;
  /* Other points: deleted unless their overlay is under the kept one. */
  for (size_t i = 0; i < m->npoints; i++)
    for (size_t d = 0; d < m->ndisks; d++) {
      CLEANUP_FREE char *rp = realpath (m->points[i].overlays[d], NULL);
      bool kept = false;
      for (size_t j = 0; rp && j < nkeep; j++)
        kept |= strcmp (rp, keep[j]) == 0;
      if (kept)
        continue;
      printf ("%s point %s (%s): %s\n", yes ? "deleting" : "would delete",
              m->points[i].id, m->points[i].time_text, m->points[i].overlays[d]);
      ndel++;
    }
  if (!yes) {
    printf ("%zu file%s; run again with --yes to commit to point %s "
            "(irreversible)\n", ndel, ndel == 1 ? "" : "s", m->points[k].id);
    ret = LF_EXIT_OK;
    goto out;
  }
  /* The manifest first: a crash after it leaves stray files, never a
   * manifest naming deleted ones.  Kept: the points in the chain.
   */
  if (!(root = json_load_file (path, JSON_REJECT_DUPLICATES, &err)) ||
      !(pts = json_array ())) {
    lf_error (EINVAL, "%s:%d: %s", path, err.line, err.text);
    goto out;
  }
  for (size_t i = 0; i < m->npoints; i++) {
    bool kept = true;
    for (size_t d = 0; d < m->ndisks && kept; d++) {
      CLEANUP_FREE char *rp = realpath (m->points[i].overlays[d], NULL);
      kept = false;
      for (size_t j = 0; rp && j < nkeep; j++)
        kept |= strcmp (rp, keep[j]) == 0;
    }
    if (kept)
      json_array_append (pts, json_array_get (json_object_get (root, "points"), i));
  }
  json_object_set_new (root, "points", pts);
  pts = NULL;
  json_object_set_new (root, "committed", json_string (m->points[k].id));
  if (lf_write_json_atomic (path, root) == -1)
    goto out;
  for (size_t i = 0; i < m->npoints; i++)
    for (size_t d = 0; d < m->ndisks; d++) {
      CLEANUP_FREE char *rp = realpath (m->points[i].overlays[d], NULL);
      bool kept = false;
      for (size_t j = 0; rp && j < nkeep; j++)
        kept |= strcmp (rp, keep[j]) == 0;
      if (!kept && unlink (m->points[i].overlays[d]) == -1 && errno != ENOENT) {
        lf_error (errno, "%s: %m", m->points[i].overlays[d]);
        goto out;
      }
    }
  printf ("committed to point %s: %zu file%s deleted\n", m->points[k].id,
          ndel, ndel == 1 ? "" : "s");
  ret = LF_EXIT_OK;
 out:
  if (ret != LF_EXIT_OK)
    lf_cli_print_error ();
  for (size_t j = 0; keep && keep[j]; j++)
    free (keep[j]);
  free (keep);
  json_decref (root);
  json_decref (pts);
  lf_points_free (m);
  return ret;
}

int
lf_cmd_points (int argc, char *argv[])
{
  static const struct option opts[] = {
    { "json", no_argument, NULL, 'j' },
    { "select", required_argument, NULL, 's' },
    { "commit", required_argument, NULL, 'c' },
    { "point", required_argument, NULL, 'p' },
    { "yes", no_argument, NULL, 'y' },
    LF_CLI_ALLOW_BACKING_OPTION,
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *select = NULL, *commit_path = NULL, *point = NULL;
  bool json = false, yes = false;
  struct lf_points **ms = NULL;
  size_t n = 0;
  int c, ret = LF_EXIT_FAILED;
  json_t *out = NULL;

  while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1)
    switch (c) {
    case 'j': json = true; break;
    case 's': select = optarg; break;
    case 'c': commit_path = optarg; break;
    case 'p': point = optarg; break;
    case 'y': yes = true; break;
    case LF_OPT_ALLOW_BACKING:
      if (lf_cli_allow_backing ("points", optarg) == -1)
        return LF_EXIT_USAGE;
      break;
    case 'h': usage (stdout); return LF_EXIT_OK;
    default: usage (stderr); return LF_EXIT_USAGE;
    }
  if (commit_path) {
    if (!point || optind != argc || select || json) {
      fprintf (stderr, "%s points: --commit MANIFEST needs --point ID and "
               "nothing else but --yes\n", lf_progname);
      return LF_EXIT_USAGE;
    }
    return commit (commit_path, point, yes);
  }
  if (optind >= argc || point || yes) {
    usage (stderr);
    return LF_EXIT_USAGE;
  }
  n = (size_t) (argc - optind);
  if (!(ms = calloc (n, sizeof *ms)) || !(out = json_array ())) {
    lf_error (ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    if (!(ms[i] = lf_points_load (argv[optind + i])))
      goto out;

  for (size_t w = 0; w < n; w++) {
    const struct lf_points *m = ms[w];
    json_t *jm = json_pack ("{s:s, s:s?, s:s?, s:s?, s:o, s:o}", "manifest",
                            m->name, "machine", m->machine, "group", m->group,
                            "committed", m->committed, "points", json_array (),
                            "selections", json_object ());
    json_array_append_new (out, jm);
    for (size_t i = 0; i < m->npoints; i++)
      json_array_append_new (json_object_get (jm, "points"),
                             point_json (m, &m->points[i]));
    for (size_t o = 0; lf_point_options[o] || (select && o == 0); o++) {
      const char *opt = select ? select : lf_point_options[o];
      const char *why;
      long k = lf_points_select (ms, n, w, opt, &why);
      json_object_set_new (json_object_get (jm, "selections"), opt, k >= 0
        ? json_pack ("{s:s, s:s}", "id", m->points[k].id, "why", why)
        : json_pack ("{s:n, s:s}", "id", "error", lf_last_error ()));
      if (select && k < 0) {
        goto out;
      }
      if (select)
        break;
    }
  }

  if (json)
    lf_cli_print_json (out);
  else {
    size_t w;
    json_t *jm;
    json_array_foreach (out, w, jm) {
      json_t *sel = json_object_get (jm, "selections");
      const char *grp = json_string_value (json_object_get (jm, "group"));
      if (select) {
        json_t *s = json_object_get (sel, select);
        printf ("%s: %s (%s)\n", ms[w]->name,
                json_string_value (json_object_get (s, "id")),
                json_string_value (json_object_get (s, "why")));
        continue;
      }
      printf ("%s%s%s%s%s\n", ms[w]->name, ms[w]->machine ? ": " : "",
              ms[w]->machine ? ms[w]->machine : "", grp ? ", group " : "",
              grp ? grp : "");
      for (size_t i = 0; i < ms[w]->npoints; i++) {
        const struct lf_point *p = &ms[w]->points[i];
        printf ("  %-16s %s %-5s %-11s %-8s", p->id, p->time_text,
                p->app ? "app" : "crash", p->processed ? "processed" : "pending",
                p->group ? p->group : "-");
        const char *k;
        json_t *s;
        json_object_foreach (sel, k, s) {
          const char *id = json_string_value (json_object_get (s, "id"));
          if (id && !strcmp (id, p->id))
            printf (" <%s", k);
        }
        printf ("\n");
      }
      const char *k;
      json_t *s;
      json_object_foreach (sel, k, s)
        if (!json_is_string (json_object_get (s, "id")))
          printf ("  %s: %s\n", k, json_string_value (json_object_get (s, "error")));
    }
  }
  ret = LF_EXIT_OK;
 out:
  if (ret != LF_EXIT_OK)
    lf_cli_print_error ();
  for (size_t i = 0; ms && i < n; i++)
    lf_points_free (ms[i]);
  free (ms);
  json_decref (out);
  return ret;
}
