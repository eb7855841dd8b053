/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/: the plan of edits (see bootfix.h).
 *
 * Edits are keyed by the file they resolve to (filesystem + path inside
 * it), so two spellings of one file through a symlink are one edit.  A
 * missing parent directory is planned as its own edit, so undo removes it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bootfix/bootfix.h"
#include "bootfix/plan-internal.h"

/* Configuration and initramfs files; nothing larger is edited. */
#define PLAN_MAX_FILE (512 * LF_MiB)

struct lf_plan *
lf_plan_new (struct lf_mounts *ms)
{
  struct lf_plan *p = calloc (1, sizeof *p);

  if (!p) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  p->ms = ms;
  return p;
}

static void
edit_free (struct lf_edit *e)
{
  for (size_t i = 0; i < e->nby; i++)
    free (e->by_concern[i]);
  free (e->by_concern);
  free (e->by_changes);
  free (e->concern);
  free (e->path);
  free (e->fspath);
  free (e->why);
  free (e->old);
  free (e->new);
  free (e->old_link);
}

void
lf_plan_free (struct lf_plan *p)
{
  if (!p)
    return;
  for (size_t i = 0; i < p->nedits; i++)
    edit_free (&p->edits[i]);
  free (p->edits);
  for (size_t i = 0; i < p->nfindings; i++) {
    free (p->findings[i].concern);
    free (p->findings[i].msg);
  }
  free (p->findings);
  lf_gpt_conv_free (p->disk_conv);
  free (p->disk_gap);
  free (p);
}

void
lf_plan_set_disk_conv (struct lf_plan *p, struct lf_gpt_conv *c, void *gap)
{
  lf_gpt_conv_free (p->disk_conv);
  free (p->disk_gap);
  p->disk_conv = c;
  p->disk_gap = gap;
}

const struct lf_gpt_conv *
lf_plan_disk_conv (const struct lf_plan *p)
{
  return p->disk_conv;
}

int
lf_plan_convert_disk (struct lf_plan *p)
{
  if (!p->disk_conv)
    return 0;
  return lf_gpt_conv_apply (p->disk_conv, true);
}

/* The conversion as the plan and the report show it. */
static json_t *
disk_conv_json (const struct lf_gpt_conv *c)
{
  json_t *parts = json_array ();
  for (size_t i = 0; i < c->nparts; i++)
    json_array_append_new (parts, json_pack ("{s:i, s:I, s:I, s:s}",
                           "number", (int) c->parts[i].number,
                           "start", (json_int_t) c->parts[i].start,
                           "sectors", (json_int_t) c->parts[i].size,
                           "kept", "start and size"));
  return json_pack ("{s:s, s:s, s:s, s:I, s:I, s:o, s:{s:i, s:I, s:I, s:s, s:s}, s:I}",
                    "disk", c->path, "from", "dos", "to", "gpt",
                    "old_size", (json_int_t) c->old_size,
                    "new_size", (json_int_t) c->new_size,
                    "partitions", parts,
                    "esp", "number", (int) c->esp_number,
                    "start", (json_int_t) c->esp_start,
                    "sectors", (json_int_t) c->esp_sectors,
                    "uuid", c->esp_volid,
                    "loader", c->loader ? "the guest's shim and signed grub"
                    : "grub built from the host's grub-efi-amd64-bin",
                    "journalled_bytes", (json_int_t) c->gap);
}

static struct lf_edit *
find_edit (struct lf_plan *p, struct lf_fs *fs, const char *fspath)
{
  for (size_t i = p->nedits; i-- > 0; )
    if (p->edits[i].fs == fs && strcmp (p->edits[i].fspath, fspath) == 0)
      return &p->edits[i];
  return NULL;
}

static struct lf_edit *
new_edit (struct lf_plan *p)
{
  struct lf_edit *e;

  if (lf_grow (&p->edits, &p->edits_cap, p->nedits + 1,
               sizeof *p->edits) == -1)
    return NULL;
  e = &p->edits[p->nedits++];
  memset (e, 0, sizeof *e);
  return e;
}

void
lf_plan_note (struct lf_plan *p, const char *concern, enum lf_finding what,
              const char *fmt, ...)
{
  struct lf_finding_rec *f;
  va_list ap;
  char *msg = NULL;

  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) == -1)
    msg = NULL;
  va_end (ap);
  if (!msg || lf_grow (&p->findings, &p->findings_cap, p->nfindings + 1,
                      sizeof *p->findings) == -1) {
    free (msg);
    return;                     /* a lost note is not worth failing for */
  }
  f = &p->findings[p->nfindings++];
  f->concern = strdup (concern);
  f->what = what;
  f->msg = msg;
}

/* Resolve PATH (the last component followed if FOLLOW).  A path under a
 * directory that does not exist yet (planned by plan_parents) resolves
 * through its nearest existing ancestor.
 */
static int
resolve_any (struct lf_plan *p, const char *path, bool follow,
             struct lf_fs **fs, char **fspath)
{
  int r = lf_mounts_resolve_opt (p->ms, path, follow, fs, fspath);

  if (r == -1)
    return -1;
  if (r == 0) {
    const char *slash = strrchr (path, '/');
    CLEANUP_FREE char *dir = NULL;
    CLEANUP_FREE char *dirfs = NULL;
    if (!slash || slash == path) {
      lf_error (ENOENT, "%s: no such file or directory", path);
      return -1;
    }
    dir = strndup (path, (size_t) (slash - path));
    if (!dir || resolve_any (p, dir, true, fs, &dirfs) == -1)
      return -1;
    if (asprintf (fspath, "%s/%s", strcmp (dirfs, "/") ? dirfs : "",
                  slash + 1) == -1) {
      *fspath = NULL;
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
  }
  return 0;
}

/* The same, for a path the plan will write: its filesystem must be
 * writable.
 */
static int
resolve (struct lf_plan *p, const char *path, bool follow, struct lf_fs **fs,
         char **fspath)
{
  if (resolve_any (p, path, follow, fs, fspath) == -1)
    return -1;
  if (!(*fs)->ops->write_atomic) {
    lf_error (EROFS, "%s: the filesystem holding it (%s) is read-only",
              path, (*fs)->name);
    free (*fspath);
    *fspath = NULL;
    return -1;
  }
  return 0;
}

static int credit (struct lf_edit *e, const char *concern, unsigned changes);

/* Plan the parent directories of PATH that do not exist. */
static int
plan_parents (struct lf_plan *p, const char *concern, const char *path)
{
  CLEANUP_FREE char *dir = strdup (path);
  char *slash = dir ? strrchr (dir, '/') : NULL;

  if (!dir) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (!slash || slash == dir)
    return 0;
  *slash = '\0';
  if (lf_plan_exists (p, dir))
    return 0;
  if (plan_parents (p, concern, dir) == -1)
    return -1;

  struct lf_fs *fs;
  CLEANUP_FREE char *fspath = NULL;
  if (resolve (p, dir, true, &fs, &fspath) == -1)
    return -1;
  struct lf_edit *e = new_edit (p);
  if (!e)
    return -1;
  e->kind = LF_EDIT_MKDIR;
  e->fs = fs;
  e->fspath = fspath;
  fspath = NULL;
  e->path = strdup (dir);
  if (credit (e, concern, 0) == -1)
    return -1;
  e->why = strdup ("directory for the files below");
  e->mode = S_IFDIR | 0755;
  return 0;
}

int
lf_plan_mkdir (struct lf_plan *p, const char *concern, const char *path)
{
  CLEANUP_FREE char *child = NULL;

  if (lf_plan_exists (p, path))
    return 0;
  /* plan_parents plans what is missing above a path: above PATH/. */
  if (asprintf (&child, "%s/.", path) == -1) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  return plan_parents (p, concern, child);
}

/* The file's content before the plan (loaded once per edit). */
static int
load_old (struct lf_plan *p, struct lf_edit *e)
{
  struct lf_stat st;

  (void) p;
  switch (e->fs->ops->lookup (e->fs, e->fspath, &st)) {
  case -1:
    return -1;
  case 0:
    e->old_exists = false;
    return 0;
  }
  e->old_exists = true;
  e->old_mode = st.mode;
  if (S_ISLNK (st.mode))
    return e->fs->ops->readlink (e->fs, e->fspath, &e->old_link);
  if (!S_ISREG (st.mode)) {
    lf_error (EINVAL, "%s: not a regular file or symlink", e->path);
    return -1;
  }
  return e->fs->ops->read (e->fs, e->fspath, PLAN_MAX_FILE, &e->old,
                           &e->oldlen);
}

/* Add ITEM to the SEP-separated list *LIST unless it is one of its
 * elements already.  -1 (ENOMEM) on failure, *LIST unchanged.
 */
static int
list_add (char **list, const char *item, const char *sep)
{
  size_t n = strlen (item), k = strlen (sep);
  char *nl;

  for (const char *c = *list; c; ) {
    const char *end = strstr (c, sep);
    size_t l = end ? (size_t) (end - c) : strlen (c);
    if (l == n && memcmp (c, item, n) == 0)
      return 0;
    c = end ? end + k : NULL;
  }
  if (!*list) {
    *list = strdup (item);
    nl = *list;
  }
  else if (asprintf (&nl, "%s%s%s", *list, sep, item) != -1) {
    free (*list);
    *list = nl;
  }
  else
    nl = NULL;
  if (!nl) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  return 0;
}

/* CONCERN made CHANGES more changes in E: in its share, and in E's list
 * of concerns.  A file a concern writes twice is one change.
 */
static int
credit (struct lf_edit *e, const char *concern, unsigned changes)
{
  size_t i;

  for (i = 0; i < e->nby; i++)
    if (strcmp (e->by_concern[i], concern) == 0)
      break;
  if (i == e->nby) {
    char **nc = realloc (e->by_concern, (e->nby + 1) * sizeof *nc);
    if (nc)
      e->by_concern = nc;
    unsigned *nn = nc ? realloc (e->by_changes, (e->nby + 1) * sizeof *nn)
      : NULL;
    if (nn)
      e->by_changes = nn;
    if (!nc || !nn || !(e->by_concern[i] = strdup (concern))) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    e->by_changes[i] = 0;
    e->nby++;
  }
  e->by_changes[i] = changes ? e->by_changes[i] + changes : 1;
  return list_add (&e->concern, concern, ", ");
}

/* A new edit of PATH (at FSPATH in FS, which it takes) for CONCERN, with
 * the file's content before the plan loaded; NULL on error, nothing added.
 */
static struct lf_edit *
open_edit (struct lf_plan *p, const char *concern, const char *path,
           struct lf_fs *fs, char **fspath)
{
  struct lf_edit *e = new_edit (p);
  if (!e)
    return NULL;
  e->fs = fs;
  e->fspath = *fspath;
  *fspath = NULL;
  e->path = strdup (path);
  if (!e->path) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  if (concern && credit (e, concern, 0) == -1)
    goto error;
  if (load_old (p, e) == -1)
    goto error;
  return e;
 error:
  edit_free (e);
  p->nedits--;
  return NULL;
}

/* BUF is copied, or if OWNED (malloc'd, LEN bytes) taken over: a big
 * file (an initramfs image) is then in memory once, not twice.
 */
static int
plan_write (struct lf_plan *p, const struct lf_plan_by *by, size_t nby,
            const char *path, const void *buf, size_t len, char *owned,
            uint32_t mode, const char *why)
{
  const char *concern = by[0].concern;
  struct lf_fs *fs;
  CLEANUP_FREE char *fspath = NULL;
  struct lf_edit *e;

  if (plan_parents (p, concern, path) == -1 ||
      resolve (p, path, true, &fs, &fspath) == -1)
    goto error;
  e = find_edit (p, fs, fspath);
  if (!e) {
    e = open_edit (p, NULL, path, fs, &fspath);
    if (!e)
      goto error;
  }
  else {
    /* A second concern rewrites the file: the edit is both concerns' and
     * the report says so.
     */
    free (e->new);
    e->new = NULL;
  }
  for (size_t i = 0; i < nby; i++)
    if (credit (e, by[i].concern, by[i].changes) == -1)
      goto error;
  if (list_add (&e->why, why, "; ") == -1)
    goto error;
  e->kind = LF_EDIT_WRITE;
  e->mode = e->old_exists ? e->old_mode : (S_IFREG | (mode & 07777));
  if (owned) {
    /* Room for the NUL; a large block grows in place (mremap). */
    e->new = realloc (owned, len + 1);
    if (!e->new) {
      lf_error (ENOMEM, "out of memory");
      goto error;
    }
    owned = NULL;
    buf = e->new;
  }
  else {
    e->new = malloc (len + 1);
    if (!e->new) {
      lf_error (ENOMEM, "out of memory");
      goto error;
    }
    memcpy (e->new, buf, len);
  }
  e->new[len] = '\0';
  e->newlen = len;
  /* Already right: drop the edit, keep the finding. */
  if (e->old_exists && !e->old_link && e->oldlen == len &&
      memcmp (e->old, buf, len) == 0) {
    lf_plan_note (p, concern, LF_ALREADY_RIGHT, "%s: %s", path, why);
    edit_free (e);
    memmove (e, e + 1, (size_t) (p->edits + p->nedits - e - 1) * sizeof *e);
    p->nedits--;
  }
  return 0;
 error:
  free (owned);
  lf_error_prefix ("planning %s", path);
  return -1;
}

int
lf_plan_write (struct lf_plan *p, const char *concern, const char *path,
               const void *buf, size_t len, uint32_t mode, const char *why)
{
  const struct lf_plan_by by = { .concern = concern };
  return plan_write (p, &by, 1, path, buf, len, NULL, mode, why);
}

int
lf_plan_write_take (struct lf_plan *p, const char *concern, const char *path,
                    void *buf, size_t len, uint32_t mode, const char *why)
{
  const struct lf_plan_by by = { .concern = concern };
  return plan_write (p, &by, 1, path, NULL, len, buf, mode, why);
}

int
lf_plan_write_by (struct lf_plan *p, const struct lf_plan_by *by, size_t nby,
                  const char *path, void *buf, size_t len, uint32_t mode,
                  const char *why)
{
  if (nby == 0) {
    free (buf);
    lf_error (EINVAL, "planning %s: an edit made by no concern", path);
    return -1;
  }
  return plan_write (p, by, nby, path, NULL, len, buf, mode, why);
}

int
lf_plan_remove (struct lf_plan *p, const char *concern, const char *path,
                const char *why)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *fspath = NULL;
  struct lf_edit *e;

  if (resolve (p, path, false, &fs, &fspath) == -1) {
    if (lf_last_errno () == ENOENT) {
      lf_error_clear ();
      return 0;
    }
    return -1;
  }
  e = find_edit (p, fs, fspath);
  if (!e) {
    e = open_edit (p, concern, path, fs, &fspath);
    if (!e)
      return -1;
    if (!e->old_exists) {       /* nothing to remove */
      edit_free (e);
      p->nedits--;
      return 0;
    }
  }
  else {
    if (credit (e, concern, 0) == -1)
      return -1;
    free (e->new);
    e->new = NULL;
  }
  if (list_add (&e->why, why, "; ") == -1)
    return -1;
  e->kind = LF_EDIT_REMOVE;
  return 0;
}

int
lf_plan_symlink (struct lf_plan *p, const char *concern, const char *path,
                 const char *target, const char *why)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *fspath = NULL;
  struct lf_edit *e;

  if (plan_parents (p, concern, path) == -1 ||
      resolve (p, path, false, &fs, &fspath) == -1)
    goto error;
  if (find_edit (p, fs, fspath)) {
    lf_error (EEXIST, "already planned by another edit");
    goto error;
  }
  e = open_edit (p, concern, path, fs, &fspath);
  if (!e)
    goto error;
  if (e->old_exists) {
    if (e->old_link && strcmp (e->old_link, target) == 0)
      lf_plan_note (p, concern, LF_ALREADY_RIGHT, "%s -> %s: %s", path,
                    target, why);
    else
      lf_plan_note (p, concern, LF_WARNING, "%s exists%s%s: left alone, so "
                    "not done: %s", path, e->old_link ? " -> " : "",
                    e->old_link ? e->old_link : "", why);
    edit_free (e);
    p->nedits--;
    return 0;
  }
  e->kind = LF_EDIT_SYMLINK;
  e->mode = S_IFLNK | 0777;
  e->new = strdup (target);
  e->newlen = strlen (target);
  e->why = strdup (why);
  if (!e->new || !e->why || !e->path || !e->concern) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  return 0;
 error:
  lf_error_prefix ("planning %s", path);
  return -1;
}

int
lf_plan_read (struct lf_plan *p, const char *path, size_t max, char **buf,
              size_t *len)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *fspath = NULL;
  struct lf_edit *e;

  if (resolve_any (p, path, true, &fs, &fspath) == -1)
    return -1;
  e = find_edit (p, fs, fspath);
  if (e && e->kind == LF_EDIT_REMOVE) {
    lf_error (ENOENT, "%s: planned for removal", path);
    return -1;
  }
  if (e && e->kind == LF_EDIT_WRITE) {
    if (e->newlen > max) {
      lf_error (EFBIG, "%s: over the limit of %zu bytes", path, max);
      return -1;
    }
    *buf = malloc (e->newlen + 1);
    if (!*buf) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    memcpy (*buf, e->new, e->newlen + 1);
    *len = e->newlen;
    return 0;
  }
  return fs->ops->read (fs, fspath, max, buf, len);
}

bool
lf_plan_exists (struct lf_plan *p, const char *path)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *fspath = NULL;
  struct lf_edit *e;
  struct lf_stat st;
  int r;

  if (resolve_any (p, path, true, &fs, &fspath) == -1) {
    lf_error_clear ();
    return false;
  }
  e = find_edit (p, fs, fspath);
  if (e)
    return e->kind != LF_EDIT_REMOVE;
  r = fs->ops->lookup (fs, fspath, &st);
  if (r == -1)
    lf_error_clear ();          /* unreadable: as if absent */
  return r == 1;
}

size_t
lf_plan_nedits (const struct lf_plan *p)
{
  return p->nedits;
}

size_t
lf_plan_nfindings (const struct lf_plan *p)
{
  return p->nfindings;
}

struct lf_plan_finding
lf_plan_finding (const struct lf_plan *p, size_t i)
{
  const struct lf_finding_rec *f = &p->findings[i];
  return (struct lf_plan_finding) { .concern = f->concern, .what = f->what,
                                    .msg = f->msg };
}

const char *
lf_plan_edit_path (const struct lf_plan *p, size_t i)
{
  return p->edits[i].path;
}

bool
lf_plan_failed (const struct lf_plan *p)
{
  for (size_t i = 0; i < p->nfindings; i++)
    if (p->findings[i].what == LF_FAILED)
      return true;
  return false;
}

static const char *
finding_name (enum lf_finding f)
{
  static const char *const n[] = { "changed", "already-right", "skipped",
                                   "warning", "failed" };
  return n[f];
}

/* Lines of TEXT as pointers into it (NUL-terminated by the caller). */
static size_t split_lines (const char *text, size_t len, const char ***lines,
                           size_t **lens);
static bool is_text (const char *b, size_t len);

/* Caps on what a report carries of one edit: enough to see the change in
 * a configuration file, not a copy of a binary.
 */
#define REPORT_MAX_LINES 40
#define REPORT_MAX_TEXT  (256 * LF_KiB)

/* One line without its newline; jansson refuses invalid UTF-8, and a
 * guest file may hold any bytes.
 */
static json_t *
line_json (const char *l, size_t len)
{
  json_t *s = json_stringn (l, len - (l[len - 1] == '\n'));
  return s ? s : json_string ("(not UTF-8)");
}

/* The changed middle of a text edit (common head and tail trimmed, as the
 * dry-run diff shows it) as "old_lines" and "new_lines" in J.
 */
static void
report_text_change (json_t *j, const struct lf_edit *e)
{
  const char **a = NULL, **b = NULL;
  size_t *al = NULL, *bl = NULL;
  size_t na = e->old_exists ? split_lines (e->old, e->oldlen, &a, &al) : 0;
  size_t nb = split_lines (e->new, e->newlen, &b, &bl);
  size_t head = 0, tail = 0;
  json_t *ol = json_array (), *nl = json_array ();

  while (head < na && head < nb && al[head] == bl[head] &&
         memcmp (a[head], b[head], al[head]) == 0)
    head++;
  while (tail < na - head && tail < nb - head &&
         al[na - 1 - tail] == bl[nb - 1 - tail] &&
         memcmp (a[na - 1 - tail], b[nb - 1 - tail], al[na - 1 - tail]) == 0)
    tail++;
  for (size_t i = head; i < na - tail && i - head < REPORT_MAX_LINES; i++)
    json_array_append_new (ol, line_json (a[i], al[i]));
  for (size_t i = head; i < nb - tail && i - head < REPORT_MAX_LINES; i++)
    json_array_append_new (nl, line_json (b[i], bl[i]));
  json_object_set_new (j, "old_lines", ol);
  json_object_set_new (j, "new_lines", nl);
  if (na - tail - head > REPORT_MAX_LINES || nb - tail - head > REPORT_MAX_LINES)
    json_object_set_new (j, "lines_truncated", json_true ());
  free (a);
  free (b);
  free (al);
  free (bl);
}

/* The content before and after: size and SHA-256 (a symlink's target),
 * null for "none".
 */
static json_t *
content_json (bool exists, const char *buf, size_t len, const char *link)
{
  char h[65];

  if (!exists)
    return json_null ();
  if (link)
    return json_pack ("{s:s}", "link", link);
  if (!buf)
    return json_pack ("{s:s}", "type", "directory or special");
  lf_sha256_hex (buf, len, h);
  return json_pack ("{s:I, s:s}", "size", (json_int_t) len, "sha256", h);
}

json_t *
lf_plan_report (const struct lf_plan *p)
{
  json_t *edits = json_array (), *findings = json_array ();

  for (size_t i = 0; i < p->nedits; i++) {
    const struct lf_edit *e = &p->edits[i];
    json_t *j = json_pack ("{s:s, s:s, s:s, s:s}", "concern", e->concern,
                           "path", e->path,
                           "action", e->kind == LF_EDIT_WRITE
                           ? (e->old_exists ? "replace" : "create")
                           : e->kind == LF_EDIT_REMOVE ? "remove"
                           : e->kind == LF_EDIT_SYMLINK ? "symlink" : "mkdir",
                           "why", e->why ? e->why : "");
    json_t *by = json_object ();
    for (size_t k = 0; k < e->nby; k++)
      json_object_set_new (by, e->by_concern[k],
                           json_integer ((json_int_t) e->by_changes[k]));
    json_object_set_new (j, "changes_by_concern", by);
    json_object_set_new (j, "old", content_json (e->old_exists, e->old,
                                                 e->oldlen, e->old_link));
    json_object_set_new (j, "new", e->kind == LF_EDIT_WRITE
                         ? content_json (true, e->new, e->newlen, NULL)
                         : e->kind == LF_EDIT_MKDIR
                         ? json_pack ("{s:s}", "type", "directory")
                         : json_null ());
    if (e->kind == LF_EDIT_WRITE && is_text (e->new, e->newlen) &&
        e->newlen <= REPORT_MAX_TEXT &&
        (!e->old_exists || (e->old && is_text (e->old, e->oldlen) &&
                            e->oldlen <= REPORT_MAX_TEXT)))
      report_text_change (j, e);
    json_array_append_new (edits, j);
  }
  for (size_t i = 0; i < p->nfindings; i++)
    json_array_append_new (findings,
                           json_pack ("{s:s, s:s, s:s}",
                                      "concern", p->findings[i].concern,
                                      "result", finding_name (p->findings[i].what),
                                      "message", p->findings[i].msg));
  json_t *r = json_pack ("{s:o, s:o}", "edits", edits, "findings", findings);
  if (r && p->disk_conv)
    json_object_set_new (r, "disk_conversion", disk_conv_json (p->disk_conv));
  return r;
}

/* Lines of TEXT as pointers into it (NUL-terminated by the caller). */
static size_t
split_lines (const char *text, size_t len, const char ***lines, size_t **lens)
{
  size_t n = 0, cap = 16;
  *lines = malloc (cap * sizeof **lines);
  *lens = malloc (cap * sizeof **lens);
  for (size_t i = 0; i < len && *lines && *lens; ) {
    const char *nl = memchr (text + i, '\n', len - i);
    size_t l = nl ? (size_t) (nl - (text + i)) + 1 : len - i;
    if (n == cap) {
      cap *= 2;
      *lines = realloc (*lines, cap * sizeof **lines);
      *lens = realloc (*lens, cap * sizeof **lens);
      if (!*lines || !*lens)
        return 0;
    }
    (*lines)[n] = text + i;
    (*lens)[n] = l;
    n++;
    i += l;
  }
  return n;
}

static bool
is_text (const char *b, size_t len)
{
  return len < 4 * LF_MiB && memchr (b, '\0', len) == NULL;
}

/* A unified diff with full context for the changed middle: common head
 * and tail are trimmed, the middle is shown as removed then added.  Good
 * for configuration files, where an edit is a few lines.
 */
static void
print_text_diff (FILE *fp, const struct lf_edit *e)
{
  const char **a = NULL, **b = NULL;
  size_t *al = NULL, *bl = NULL;
  size_t na = e->old_exists ? split_lines (e->old, e->oldlen, &a, &al) : 0;
  size_t nb = split_lines (e->new, e->newlen, &b, &bl);
  size_t head = 0, tail = 0;

  while (head < na && head < nb && al[head] == bl[head] &&
         memcmp (a[head], b[head], al[head]) == 0)
    head++;
  while (tail < na - head && tail < nb - head &&
         al[na - 1 - tail] == bl[nb - 1 - tail] &&
         memcmp (a[na - 1 - tail], b[nb - 1 - tail], al[na - 1 - tail]) == 0)
    tail++;
  size_t ctx0 = head > 3 ? head - 3 : 0;
  size_t ctx1 = LF_MIN (tail, (size_t) 3);
  fprintf (fp, "--- %s\n+++ %s\n@@ -%zu,%zu +%zu,%zu @@\n",
           e->old_exists ? e->path : "/dev/null", e->path, ctx0 + 1,
           na - tail + ctx1 - ctx0, ctx0 + 1, nb - tail + ctx1 - ctx0);
  for (size_t i = ctx0; i < head; i++)
    fprintf (fp, " %.*s", (int) al[i], a[i]);
  for (size_t i = head; i < na - tail; i++)
    fprintf (fp, "-%.*s%s", (int) al[i], a[i],
             a[i][al[i] - 1] == '\n' ? "" : "\n\\ No newline at end of file\n");
  for (size_t i = head; i < nb - tail; i++)
    fprintf (fp, "+%.*s%s", (int) bl[i], b[i],
             b[i][bl[i] - 1] == '\n' ? "" : "\n\\ No newline at end of file\n");
  for (size_t i = nb - tail; i < nb - tail + ctx1; i++)
    fprintf (fp, " %.*s", (int) bl[i], b[i]);
  free (a);
  free (b);
  free (al);
  free (bl);
}

void
lf_plan_print (const struct lf_plan *p, FILE *fp)
{
  for (size_t i = 0; i < p->nedits; i++) {
    const struct lf_edit *e = &p->edits[i];
    fprintf (fp, "# %s: %s\n", e->concern, e->why ? e->why : "");
    switch (e->kind) {
    case LF_EDIT_MKDIR:
      fprintf (fp, "mkdir %s\n", e->path);
      break;
    case LF_EDIT_REMOVE:
      fprintf (fp, "remove %s%s%s\n", e->path, e->old_link ? " -> " : "",
               e->old_link ? e->old_link : "");
      break;
    case LF_EDIT_SYMLINK:
      fprintf (fp, "symlink %s -> %s\n", e->path, e->new);
      break;
    case LF_EDIT_WRITE:
      if ((!e->old_exists || (e->old && is_text (e->old, e->oldlen))) &&
          is_text (e->new, e->newlen))
        print_text_diff (fp, e);
      else {
        char h1[65] = "", h2[65];
        if (e->old)
          lf_sha256_hex (e->old, e->oldlen, h1);
        lf_sha256_hex (e->new, e->newlen, h2);
        fprintf (fp, "binary %s: %zu bytes (sha256 %.12s) -> %zu bytes "
                 "(sha256 %.12s)\n", e->path, e->oldlen, h1, e->newlen, h2);
      }
      break;
    }
  }
  if (p->disk_conv) {
    const struct lf_gpt_conv *c = p->disk_conv;
    char a[32], b[32];
    fprintf (fp, "# uefi: the disk converted from MBR to GPT for UEFI\n"
             "convert %s: MBR -> GPT, %zu partition%s kept (start and size), "
             "EFI system partition %u at sector %" PRIu64 " (%s, FAT32, "
             "UUID %s), disk %s -> %s; sectors 0-%" PRIu64 " journalled\n",
             c->path, c->nparts, c->nparts == 1 ? "" : "s", c->esp_number,
             c->esp_start, lf_human_size (c->esp_sectors * 512, a, sizeof a),
             c->esp_volid, lf_human_size (c->old_size, b, sizeof b),
             lf_human_size (c->new_size, (char[32]) { 0 }, 32),
             c->gap / 512 - 1);
  }
  for (size_t i = 0; i < p->nfindings; i++)
    fprintf (fp, "# %s: %s: %s\n", p->findings[i].concern,
             finding_name (p->findings[i].what), p->findings[i].msg);
}
