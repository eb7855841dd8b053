/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall supervisor/: the job file.
 *
 *   # comment (whole lines only: a path may hold '#')
 *   machine   = web01
 *   source    = vmware              physical | vmware | hyperv-as-physical
 *   profile   = auto                auto | a profile of hw/ (azure-gen1, vmware, ...)
 *   output    = out                 a directory, or in-place
 *   os-disk   = web01-disk1.vmdk    exactly one
 *   disk      = web01-disk2.vmdk    data disks, in order (0 to 64)
 *   checksum  = yes                 yes | no
 *   rdp-no-nla = no                 yes | no
 *   rootdelay = auto                auto | seconds
 *   guestfs   = auto                auto | always | never (libguestfs)
 *   manifest  = web01-points.json   recovery points: instead of os-disk
 *                                   and disk (the manifest lists disks)
 *   recovery-point = latest         an option or a point id (points.c)
 *
 * key = value rather than JSON: an engineer edits it on a serial console,
 * and every error can name a line.  Whitespace around keys and values is
 * dropped; a value runs to the end of its line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "hw/hw.h"
#include "convert/convert.h"
#include "supervisor/job.h"

static const char *const keys[] = {
  "machine", "source", "profile", "output", "os-disk", "disk", "checksum",
  "rdp-no-nla", "rootdelay", "manifest", "recovery-point", "allow-backing",
  "guestfs", NULL,
};
static const char *const sources[] = {
  "physical", "vmware", "hyperv-as-physical", NULL,
};

static int
find (const char *const *list, const char *s)
{
  for (int i = 0; list[i]; i++)
    if (strcmp (list[i], s) == 0)
      return i;
  return -1;
}

void
lf_job_free (struct lf_job *job)
{
  if (!job)
    return;
  free (job->name);
  free (job->machine);
  free (job->source);
  free (job->profile);
  free (job->output);
  free (job->manifest);
  free (job->recovery_point);
  free (job->point_id);
  free (job->point_time);
  for (size_t i = 0; i < job->ndisks; i++) {
    free (job->disks[i].given);
    free (job->disks[i].path);
  }
  free (job->disks);
  for (size_t i = 0; i < job->nallow_backing; i++)
    free (job->allow_backing[i]);
  free (job->allow_backing);
  free (job);
}

static int
parse_bool (const char *v, bool *ret)
{
  if (!strcmp (v, "yes") || !strcmp (v, "true") || !strcmp (v, "1"))
    *ret = true;
  else if (!strcmp (v, "no") || !strcmp (v, "false") || !strcmp (v, "0"))
    *ret = false;
  else
    return -1;
  return 0;
}

/* The machine's name becomes part of file names: keep it to a portable
 * set, starting with a letter or digit (no ".", "..", no '/').
 */
static bool
machine_ok (const char *m)
{
  size_t n = strlen (m);

  if (n == 0 || n > LF_JOB_MAX_MACHINE)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = m[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
      return false;
  }
  return true;
}

/* One line (without its newline, NUL-terminated in place) into JOB.
 * SEEN[k] is the line where key k was first set.
 */
static int
parse_line (struct lf_job *job, const char *name, const char *basedir,
            size_t lineno, char *line, size_t *seen, size_t *os_line)
{
  char *eq, *key, *val, *end;
  int k;

  for (char *c = line; *c; c++)
    if ((unsigned char) *c < 0x20 && *c != '\t') {
      lf_error (EINVAL, "%s:%zu: control character 0x%02x", name, lineno,
                (unsigned) (unsigned char) *c);
      return -1;
    }
  key = line + strspn (line, " \t");
  if (*key == '\0' || *key == '#')
    return 0;
  eq = strchr (key, '=');
  if (!eq) {
    lf_error (EINVAL, "%s:%zu: expected 'key = value'", name, lineno);
    return -1;
  }
  for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); end--)
    ;
  *end = '\0';
  val = eq + 1;
  val += strspn (val, " \t");
  for (end = val + strlen (val); end > val && (end[-1] == ' ' || end[-1] == '\t'); end--)
    ;
  *end = '\0';

  k = find (keys, key);
  if (k < 0) {
    lf_error (EINVAL, "%s:%zu: unknown key '%.64s' (known: machine, source, "
              "profile, output, os-disk, disk, checksum, rdp-no-nla, "
              "rootdelay, manifest, recovery-point, allow-backing, guestfs)",
              name, lineno, key);
    return -1;
  }
  if (*val == '\0') {
    lf_error (EINVAL, "%s:%zu: %s: the value is empty", name, lineno, key);
    return -1;
  }
  /* Every key but disk and allow-backing is set once: a second line is a
   * mistake to show, not a silent override.
   */
  if (strcmp (key, "disk") != 0 && strcmp (key, "allow-backing") != 0) {
    if (seen[k]) {
      lf_error (EINVAL, "%s:%zu: %s: given again (first on line %zu)", name,
                lineno, key, seen[k]);
      return -1;
    }
    seen[k] = lineno;
  }

  if (!strcmp (key, "machine")) {
    if (!machine_ok (val)) {
      lf_error (EINVAL, "%s:%zu: machine: '%.64s' is not a name of 1 to %d "
                "letters, digits, '-', '_' or '.', starting with a letter or "
                "digit", name, lineno, val, LF_JOB_MAX_MACHINE);
      return -1;
    }
    job->machine = strdup (val);
  }
  else if (!strcmp (key, "source")) {
    if (find (sources, val) < 0) {
      lf_error (EINVAL, "%s:%zu: source: '%.64s' is not physical, vmware or "
                "hyperv-as-physical", name, lineno, val);
      return -1;
    }
    job->source = strdup (val);
  }
  else if (!strcmp (key, "profile")) {
    /* auto, or any profile of hw/ (loaded to check it parses). */
    if (strcmp (val, "auto") != 0) {
      struct lf_hw_profile *hw = lf_hw_profile_load (NULL, val);
      if (!hw) {
        char why[1024];
        snprintf (why, sizeof why, "%s", lf_last_error ());
        lf_error (EINVAL, "%s:%zu: profile: '%.64s' is not auto or a usable "
                  "profile: %s", name, lineno, val, why);
        return -1;
      }
      lf_hw_profile_free (hw);
    }
    job->profile = strdup (val);
  }
  else if (!strcmp (key, "output")) {
    if (!strcmp (val, "in-place"))
      job->in_place = true;
    else if (!(job->output = lf_path_under (basedir, val)))
      return -1;
  }
  else if (!strcmp (key, "os-disk") || !strcmp (key, "disk")) {
    bool os = key[0] == 'o';
    struct lf_job_disk *d;
    if (job->ndisks >= LF_JOB_MAX_DISKS) {
      lf_error (EINVAL, "%s:%zu: %s: more than %d disks", name, lineno, key,
                LF_JOB_MAX_DISKS);
      return -1;
    }
    d = realloc (job->disks, (job->ndisks + 1) * sizeof *d);
    if (!d) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    job->disks = d;
    /* The OS disk goes first whatever its line. */
    if (os) {
      memmove (&d[1], &d[0], job->ndisks * sizeof *d);
      d = &d[0];
      *os_line = lineno;
    }
    else
      d = &d[job->ndisks];
    memset (d, 0, sizeof *d);
    job->ndisks++;
    d->os = os;
    d->line = lineno;
    d->given = strdup (val);
    if (lf_disk_spec_is (val)) {
      struct lf_disk_spec spec;
      if (lf_disk_spec_parse (val, &spec) == -1) {
        lf_error_prefix ("%s:%zu: %s", name, lineno, key);
        return -1;
      }
      d->spec = true;
      d->path = strdup (val);
    }
    else
      d->path = lf_path_under (basedir, val);
    if (!d->given || !d->path) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    for (size_t i = 0; i < job->ndisks; i++)
      if (&job->disks[i] != d && strcmp (job->disks[i].path, d->path) == 0) {
        lf_error (EINVAL, "%s:%zu: %s: '%.256s' is already given on line %zu",
                  name, lineno, key, val, job->disks[i].line);
        return -1;
      }
    return 0;
  }
  else if (!strcmp (key, "allow-backing")) {
    char **t;
    if (job->nallow_backing >= LF_JOB_MAX_DISKS) {
      lf_error (EINVAL, "%s:%zu: allow-backing: more than %d directories",
                name, lineno, LF_JOB_MAX_DISKS);
      return -1;
    }
    t = realloc (job->allow_backing,
                 (job->nallow_backing + 1) * sizeof *t);
    if (!t) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    job->allow_backing = t;
    if (!(t[job->nallow_backing] = lf_path_under (basedir, val)))
      return -1;
    job->nallow_backing++;
  }
  else if (!strcmp (key, "manifest")) {
    job->manifest_line = lineno;
    if (!(job->manifest = lf_path_under (basedir, val)))
      return -1;
  }
  else if (!strcmp (key, "recovery-point")) {
    /* An option or a point id; which point it is depends on the manifest,
     * read by lf_job_load.  Checked for shape here.
     */
    size_t n = strlen (val);
    if (n > LF_POINTS_MAX_ID || strspn (val, "abcdefghijklmnopqrstuvwxyz"
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") != n) {
      lf_error (EINVAL, "%s:%zu: recovery-point: '%.64s' is not an option "
                "(latest, latest-processed, latest-app-consistent, "
                "latest-multivm-processed, latest-multivm-app-consistent) or "
                "a point id", name, lineno, val);
      return -1;
    }
    if (!(job->recovery_point = strdup (val))) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    return 1;                   /* not part of the job's hash */
  }
  else if (!strcmp (key, "checksum") || !strcmp (key, "rdp-no-nla")) {
    if (parse_bool (val, key[0] == 'c' ? &job->checksum : &job->rdp_no_nla) == -1) {
      lf_error (EINVAL, "%s:%zu: %s: '%.64s' is not yes or no", name, lineno,
                key, val);
      return -1;
    }
  }
  else if (!strcmp (key, "guestfs")) {
    if ((job->guestfs = lf_guestfs_when_parse (val)) == -1) {
      lf_error (EINVAL, "%s:%zu: guestfs: '%.64s' is not auto, always or "
                "never", name, lineno, val);
      return -1;
    }
  }
  else if (!strcmp (key, "rootdelay")) {
    unsigned long n;
    if (!strcmp (val, "auto"))
      job->rootdelay = -1;
    else {
      if (lf_parse_uint (val, 0, LF_JOB_MAX_ROOTDELAY, &n) == -1) {
        lf_error (EINVAL, "%s:%zu: rootdelay: '%.64s' is not auto or a number "
                  "of seconds from 0 to %d", name, lineno, val,
                  LF_JOB_MAX_ROOTDELAY);
        return -1;
      }
      job->rootdelay = (int) n;
    }
  }
  if ((!strcmp (key, "machine") && !job->machine) ||
      (!strcmp (key, "source") && !job->source) ||
      (!strcmp (key, "profile") && !job->profile)) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  return 0;
}

struct lf_job *
lf_job_parse (const char *buf, size_t len, const char *name,
              const char *basedir)
{
  struct lf_job *job = calloc (1, sizeof *job);
  size_t seen[sizeof keys / sizeof keys[0]] = { 0 };
  size_t lineno = 0, os_line = 0, off = 0;
  char line[LF_JOB_MAX_LINE + 1];
  /* Declared before the first goto: the cleanup must see NULL. */
  CLEANUP_FREE char *hashed = NULL;
  size_t hlen = 0;

  if (!job || !(job->name = strdup (name))) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  job->rootdelay = -1;
  job->guestfs = -1;
  if (len > LF_JOB_MAX_SIZE) {
    lf_error (EFBIG, "%s: %zu bytes: a job file is at most %d bytes", name,
              len, LF_JOB_MAX_SIZE);
    goto error;
  }
  {
    const char *nul = memchr (buf, '\0', len);
    if (nul) {
      size_t l = 1;
      for (const char *c = buf; c < nul; c++)
        l += *c == '\n';
      lf_error (EINVAL, "%s:%zu: NUL byte: this is not a text file", name, l);
      goto error;
    }
  }
  /* The hash covers every line but recovery-point's: the state file
   * keeps the point apart, so that changing it re-runs from the new
   * point instead of refusing the changed job.
   */
  if (!(hashed = malloc (len + 1))) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }

  while (off < len) {
    const char *nl = memchr (buf + off, '\n', len - off);
    size_t n = nl ? (size_t) (nl - (buf + off)) : len - off;
    lineno++;
    if (n > LF_JOB_MAX_LINE) {
      lf_error (EINVAL, "%s:%zu: line longer than %d bytes", name, lineno,
                LF_JOB_MAX_LINE);
      goto error;
    }
    memcpy (line, buf + off, n);
    line[n] = '\0';
    if (n > 0 && line[n - 1] == '\r')       /* written on Windows */
      line[n - 1] = '\0';
    int rc = parse_line (job, name, basedir, lineno, line, seen, &os_line);
    if (rc == -1)
      goto error;
    if (rc == 0) {
      memcpy (hashed + hlen, buf + off, n + (nl != NULL));
      hlen += n + (nl != NULL);
    }
    off += n + (nl != NULL);
  }
  lf_sha256_hex (hashed, hlen, job->sha256);

  /* Required settings, named; the rest have defaults. */
  if (!job->machine) {
    lf_error (EINVAL, "%s: machine: missing (e.g. 'machine = web01')", name);
    goto error;
  }
  if (!job->output && !job->in_place) {
    lf_error (EINVAL, "%s: output: missing (a directory, or 'in-place')", name);
    goto error;
  }
  if (job->manifest) {
    if (job->ndisks > 0) {
      lf_error (EINVAL, "%s:%zu: %s: not with 'manifest =' (line %zu): the "
                "manifest lists the disks", name, job->disks[0].line,
                job->disks[0].os ? "os-disk" : "disk", job->manifest_line);
      goto error;
    }
    if (job->in_place) {
      lf_error (EINVAL, "%s:%zu: manifest: not with 'output = in-place': a "
                "recovery point is an overlay chain, converted to a copy",
                name, job->manifest_line);
      goto error;
    }
    if (!job->recovery_point && !(job->recovery_point = strdup ("latest")))
      goto oom;
  }
  else if (job->recovery_point) {
    lf_error (EINVAL, "%s: recovery-point: needs 'manifest =' (the file "
              "listing the points)", name);
    goto error;
  }
  else if (job->ndisks == 0 || !job->disks[0].os) {
    lf_error (EINVAL, "%s: os-disk: missing (the disk the machine boots "
              "from)", name);
    goto error;
  }
  if (job->ndisks > 1 && job->disks[1].os) {
    lf_error (EINVAL, "%s:%zu: os-disk: given again (first on line %zu): a "
              "machine has one OS disk; the others are 'disk ='", name,
              LF_MAX (job->disks[0].line, job->disks[1].line),
              LF_MIN (job->disks[0].line, job->disks[1].line));
    goto error;
  }
  (void) os_line;
  if (!job->source && !(job->source = strdup ("physical")))
    goto oom;
  if (!job->profile && !(job->profile = strdup ("auto")))
    goto oom;
  return job;

 oom:
  lf_error (ENOMEM, "out of memory");
 error:
  lf_job_free (job);
  return NULL;
}

struct lf_job *
lf_job_load (const char *path, const char *group_point)
{
  CLEANUP_FREE char *buf = NULL;
  char dir[PATH_MAX];
  size_t len;

  if (lf_input_read (path, LF_JOB_MAX_SIZE, &buf, &len, dir) == -1)
    return NULL;
  struct lf_job *job = lf_job_parse (buf, len, path, dir);
  /* Before the manifest: its chains are opened to be checked. */
  for (size_t i = 0; job && i < job->nallow_backing; i++)
    if (lf_allow_backing (job->allow_backing[i]) == -1) {
      lf_error_prefix ("%s: allow-backing", path);
      lf_job_free (job);
      return NULL;
    }
  if (job && job->manifest && lf_job_choose_point (job, group_point) == -1) {
    lf_job_free (job);
    return NULL;
  }
  return job;
}

/* Choose the job's recovery point and make its overlays the disks.  Only
 * this machine's manifest is known here: for a group member, the
 * multi-VM options take its own newest multi-VM point (a bookmark the
 * group issued to every member), unless a recovery plan, which sees
 * every member's manifest, chose the common one (GROUP_POINT).
 */
int
lf_job_choose_point (struct lf_job *job, const char *group_point)
{
  struct lf_points *m = lf_points_load (job->manifest);
  long k = -1;

  if (!m) {
    lf_error_prefix ("%s:%zu: manifest", job->name, job->manifest_line);
    return -1;
  }
  if (group_point) {
    /* Chosen by a recovery plan over every member's manifest; it must
     * be a multi-VM point of this machine's group, and the job must
     * ask for a multi-VM option at all.
     */
    for (size_t i = 0; i < m->npoints; i++)
      if (strcmp (m->points[i].id, group_point) == 0 && m->points[i].group)
        k = (long) i;
    if (k == -1 || !lf_point_is_multivm (job->recovery_point)) {
      lf_error (EINVAL, "%s: recovery-point %s: '%.64s' is not a multi-VM "
                "point of this machine's group in %s, or the job does not "
                "ask for one", job->name, job->recovery_point, group_point,
                job->manifest);
      lf_points_free (m);
      return -1;
    }
    job->point_why = "the group's latest common point (chosen by the plan)";
  }
  else
    k = lf_points_select (&m, 1, 0, job->recovery_point, &job->point_why);
  if (k == -1) {
    lf_error_prefix ("%s: recovery-point %s", job->name, job->recovery_point);
    lf_points_free (m);
    return -1;
  }
  if (m->ndisks > LF_JOB_MAX_DISKS ||
      !(job->disks = calloc (m->ndisks, sizeof *job->disks)) ||
      !(job->point_id = strdup (m->points[k].id)) ||
      !(job->point_time = strdup (m->points[k].time_text)))
    goto oom;
  for (size_t d = 0; d < m->ndisks; d++) {
    struct lf_job_disk *jd = &job->disks[job->ndisks++];
    jd->os = d == 0;
    jd->line = job->manifest_line;
    if (!(jd->given = strdup (m->points[k].overlays[d])) ||
        !(jd->path = strdup (m->points[k].overlays[d])))
      goto oom;
  }
  lf_points_free (m);
  return 0;
 oom:
  lf_error (ENOMEM, "out of memory");
  lf_points_free (m);
  return -1;
}

bool
lf_job_looks_like (const char *path)
{
  char buf[512];
  struct stat st;
  ssize_t n;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd == -1)
    return false;
  if (fstat (fd, &st) == -1 || !S_ISREG (st.st_mode) ||
      st.st_size > LF_JOB_MAX_SIZE) {
    close (fd);
    return false;
  }
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  /* The first line that is not blank or a comment starts with a key. */
  for (char *l = buf; l && *l; ) {
    char *nl = strchr (l, '\n');
    char *k = l + strspn (l, " \t");
    if (*k && *k != '\n' && *k != '#' && *k != '\r') {
      size_t kl = strcspn (k, " \t=");
      for (int i = 0; keys[i]; i++)
        if (strlen (keys[i]) == kl && strncmp (k, keys[i], kl) == 0)
          return strchr (k, '=') != NULL;
      return false;
    }
    l = nl ? nl + 1 : NULL;
  }
  return false;
}

int
lf_guestfs_when_parse (const char *s)
{
  return !s ? -1 : !strcmp (s, "auto") ? LF_GUESTFS_AUTO
    : !strcmp (s, "always") ? LF_GUESTFS_ALWAYS
    : !strcmp (s, "never") ? LF_GUESTFS_NEVER : -1;
}

char *
lf_job_output_path (const struct lf_job *job, size_t i)
{
  char *r = NULL;

  if (job->in_place)
    r = strdup (job->disks[i].path);
  else if (i == 0) {
    if (asprintf (&r, "%s/%s-os.vhd", job->output, job->machine) == -1)
      r = NULL;
  }
  else if (asprintf (&r, "%s/%s-data%zu.vhd", job->output, job->machine, i) == -1)
    r = NULL;
  if (!r)
    lf_error (ENOMEM, "out of memory");
  return r;
}

char *
lf_job_state_path (const struct lf_job *job, const char *jobdir)
{
  char *r = NULL;
  int n = job->in_place
    ? asprintf (&r, "%s/.landfall-job-%s.json", jobdir, job->machine)
    : asprintf (&r, "%s/.landfall-job.json", job->output);

  if (n == -1) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  return r;
}
