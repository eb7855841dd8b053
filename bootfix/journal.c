/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/: applying a plan with a journal, and undoing it.
 *
 * The journal is DIR/journal.json on the guest; originals are kept in
 * DIR/backup/ (outside every directory a tool scans by glob).  Apply:
 *   1. every edit is journalled (path, backup name, SHA-256 of the old and
 *      new content) and the journal written atomically, before any change;
 *   2. each original is copied to its backup, once;
 *   3. each edit is made with the backend's atomic write (or remove,
 *      mkdir);
 *   4. the entries are marked done.
 * A crash anywhere leaves each entry's file with its old content, its new
 * content, or (for the backend's own crash window) a state its backend
 * documents; a re-run plans again from what is on disk, and undo decides
 * per entry by hash, so neither needs the "done" marks to be exact.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bootfix/plan-internal.h"
#include "convert/convert.h"

#define JOURNAL_MAX (16 * LF_MiB)
#define BACKUP_MAX  (512 * LF_MiB)

struct jctx {
  struct lf_mounts *ms;
  const char *dir;
  struct lf_fs *fs;             /* holding DIR */
  char *fsdir;                  /* DIR inside it */
  json_t *journal;
};

static int
jpath (struct jctx *j, const char *name, char **ret)
{
  if (asprintf (ret, "%s/%s", strcmp (j->fsdir, "/") ? j->fsdir : "", name) == -1) {
    *ret = NULL;
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  return 0;
}

/* A test hook for the crash windows of apply: LANDFALL_TEST_KILL_APPLY=N
 * makes the process kill itself (SIGKILL: no cleanup, as a crash or power
 * cut) at point N of the next apply: "dirs" once the journal's
 * directories are made and nothing is journalled, 0 right after the intent is
 * journalled, K after the K-th edit, nedits + 1 after the "done" marks.
 * Timers cannot aim at these windows (the apply is a small part of a fix);
 * tests/test-run-inplace-kill.sh visits each.  Unset: nothing happens.
 */
static void
test_kill_at (const char *point)
{
  const char *e = getenv ("LANDFALL_TEST_KILL_APPLY");

  if (e && strcmp (e, point) == 0) {
    LF_DEBUG (1, "LANDFALL_TEST_KILL_APPLY=%s: killing myself", e);
    raise (SIGKILL);
  }
}

static void
test_kill_point (size_t point)
{
  char n[32];

  snprintf (n, sizeof n, "%zu", point);
  test_kill_at (n);
}

static int
write_journal (struct jctx *j)
{
  CLEANUP_FREE char *path = NULL;
  char *text = json_dumps (j->journal, JSON_INDENT (1) | JSON_PRESERVE_ORDER);
  int r;

  if (!text || jpath (j, "journal.json", &path) == -1) {
    free (text);
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  r = j->fs->ops->write_atomic (j->fs, path, text, strlen (text), 0600);
  free (text);
  if (r == -1)
    lf_error_prefix ("writing the journal %s/journal.json", j->dir);
  return r;
}

/* Is J's directory empty but for an empty "backup" directory? */
static bool
left_by_killed_apply (struct jctx *j)
{
  char **names = NULL;
  bool ours = true;

  if (!j->fs->ops->list || j->fs->ops->list (j->fs, j->fsdir, &names) == -1) {
    lf_error_clear ();
    return false;
  }
  for (char **n = names; *n && ours; n++) {
    char **sub = NULL;
    CLEANUP_FREE char *bp = NULL;
    if (strcmp (*n, "backup") != 0 || jpath (j, "backup", &bp) == -1 ||
        j->fs->ops->list (j->fs, bp, &sub) == -1 || sub[0] != NULL)
      ours = false;
    lf_free_names (sub);
  }
  lf_free_names (names);
  lf_error_clear ();
  return ours;
}

/* Open (or with CREATE, make) DIR and load its journal. */
static int
jopen (struct jctx *j, struct lf_mounts *ms, const char *dir, bool create)
{
  CLEANUP_FREE char *path = NULL;
  char *buf = NULL;
  size_t len;
  struct lf_stat st;

  memset (j, 0, sizeof *j);
  j->ms = ms;
  j->dir = dir;
  if (lf_mounts_resolve (ms, dir, true, &j->fs, &j->fsdir) == -1)
    return -1;
  if (j->fs->ops->lstat (j->fs, j->fsdir, &st) == -1) {
    if (!create || lf_last_errno () != ENOENT)
      return -1;
    lf_error_clear ();
    /* Make DIR and the missing parents, remembering which we made. */
    json_t *made = json_array ();
    CLEANUP_FREE char *p = strdup (j->fsdir);
    for (char *s = p + 1; s && *s; s = strchr (s + 1, '/')) {
      char c = *s;
      *s = '\0';
      if (j->fs->ops->lstat (j->fs, p, &st) == -1) {
        lf_error_clear ();
        if (!j->fs->ops->mkdir || j->fs->ops->mkdir (j->fs, p, 0700) == -1) {
          json_decref (made);
          return -1;
        }
        json_array_append_new (made, json_string (p));
      }
      *s = c;
    }
    if (j->fs->ops->mkdir (j->fs, j->fsdir, 0700) == -1) {
      json_decref (made);
      return -1;
    }
    json_array_append_new (made, json_string (j->fsdir));
    j->journal = json_pack ("{s:i, s:o, s:[]}", "version", 1,
                            "created_dirs", made, "entries");
    return 0;
  }
  if (jpath (j, "journal.json", &path) == -1)
    return -1;
  if (j->fs->ops->read (j->fs, path, JOURNAL_MAX, &buf, &len) == -1) {
    if (!create || lf_last_errno () != ENOENT)
      return -1;
    lf_error_clear ();
    j->journal = json_pack ("{s:i, s:[], s:[]}", "version", 1,
                            "created_dirs", "entries");
    /* DIR without a journal, holding nothing or only an empty backup
     * directory: an apply made it and was killed before its first journal
     * write.  It is ours (DIR is landfall's own name), so undo must remove
     * it, as if this run had made it.  Parents made then are not known
     * and are left (on a real guest /var/lib exists).
     */
    if (left_by_killed_apply (j))
      json_array_append_new (json_object_get (j->journal, "created_dirs"),
                             json_string (j->fsdir));
    return 0;
  }
  json_error_t err;
  j->journal = json_loadb (buf, len, 0, &err);
  free (buf);
  if (!j->journal || !json_is_array (json_object_get (j->journal, "entries"))) {
    lf_error (EINVAL, "%s/journal.json: damaged journal (line %d: %s)", dir,
              err.line, err.text);
    json_decref (j->journal);
    j->journal = NULL;
    return -1;
  }
  return 0;
}

static void
jclose (struct jctx *j)
{
  json_decref (j->journal);
  free (j->fsdir);
}

/* "0007-etc_fstab": sequence and a readable hint of the path. */
static char *
backup_name (unsigned seq, const char *path)
{
  char *r = NULL;
  char hint[64];
  size_t o = 0;

  for (const char *s = path; *s && o < sizeof hint - 1; s++)
    if (*s != '/' || o > 0)
      hint[o++] = (*s == '/' || *s == ' ') ? '_' : *s;
  hint[o] = '\0';
  if (asprintf (&r, "backup/%04u-%s", seq, hint) == -1)
    return NULL;
  return r;
}

#define DISK_GAP_BACKUP "backup/disk-mbr-gap.bin"

/* What undo needs to give the MBR disk back: its first sectors (in a
 * backup file, written before the record that names it), its size and a
 * VHD's footer.  The conversion itself comes after the whole apply.
 */
static int
journal_disk (struct jctx *j, const struct lf_gpt_conv *c, const void *gap)
{
  CLEANUP_FREE char *bp = NULL;
  char h[65], fhex[1025] = "";
  json_t *rec;

  /* An apply killed during the conversion left the disk MBR, but maybe
   * grown, and sectors 1-33 maybe GPT: the record and backup of the
   * first attempt describe the disk as it was, so they are kept and
   * only the size the disk will have is updated.
   */
  json_t *old = json_object_get (j->journal, "disk_conversion");
  if (jpath (j, DISK_GAP_BACKUP, &bp) == -1)
    return -1;
  if (json_is_object (old)) {
    struct lf_stat st;
    if (j->fs->ops->lstat (j->fs, bp, &st) == 0) {
      json_object_set_new (old, "new_file_size", json_integer ((json_int_t)
                           (c->new_size + (c->vhd ? LF_VHD_FOOTER_SIZE : 0))));
      return 0;
    }
    lf_error_clear ();
  }
  if (j->fs->ops->write_atomic (j->fs, bp, gap, c->gap, 0600) == -1)
    return -1;
  if (c->vhd) {
    uint8_t f[LF_VHD_FOOTER_SIZE];
    CLEANUP_CLOSE int fd = open (c->path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 || lf_pread_all (fd, f, sizeof f, c->old_size) == -1) {
      if (fd == -1)
        lf_error (errno, "%s: %m", c->path);
      return -1;
    }
    for (size_t i = 0; i < sizeof f; i++)
      snprintf (fhex + 2 * i, 3, "%02x", f[i]);
  }
  lf_sha256_hex (gap, c->gap, h);
  rec = json_pack ("{s:I, s:s, s:s, s:I, s:I, s:I, s:s, s:s}",
                   "disk", (json_int_t) c->disk_index, "from", "dos", "to", "gpt",
                   "old_file_size", (json_int_t) c->old_file_size,
                   "new_file_size", (json_int_t) (c->new_size +
                                                  (c->vhd ? LF_VHD_FOOTER_SIZE : 0)),
                   "gap_bytes", (json_int_t) c->gap, "gap_sha256", h,
                   "backup", DISK_GAP_BACKUP);
  if (rec && c->vhd)
    json_object_set_new (rec, "old_footer", json_string (fhex));
  if (!rec || json_object_set_new (j->journal, "disk_conversion", rec) == -1) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  return 0;
}

int
lf_undo_disk_record (struct lf_mounts *ms, const char *dir, json_t **meta,
                     char **gap, size_t *gaplen)
{
  struct jctx j;
  CLEANUP_FREE char *bp = NULL;
  json_t *rec;
  char h[65];
  int ret = -1;

  *meta = NULL;
  *gap = NULL;
  *gaplen = 0;
  if (jopen (&j, ms, dir, false) == -1) {
    jclose (&j);
    if (lf_last_errno () == ENOENT) {
      lf_error_clear ();
      return 0;
    }
    return -1;
  }
  rec = json_object_get (j.journal, "disk_conversion");
  if (!rec) {
    ret = 0;
    goto out;
  }
  if (!json_is_object (rec) || jpath (&j, DISK_GAP_BACKUP, &bp) == -1)
    goto damaged;
  if (j.fs->ops->read (j.fs, bp, BACKUP_MAX, gap, gaplen) == -1)
    goto out;
  lf_sha256_hex (*gap, *gaplen, h);
  if (!json_string_value (json_object_get (rec, "gap_sha256")) ||
      strcmp (h, json_string_value (json_object_get (rec, "gap_sha256"))) != 0) {
    free (*gap);
    *gap = NULL;
    goto damaged;
  }
  *meta = json_incref (rec);
  ret = 0;
  goto out;
 damaged:
  lf_error (EINVAL, "%s/journal.json: damaged disk conversion record (or its "
            "backup %s differs from its SHA-256)", dir, DISK_GAP_BACKUP);
 out:
  jclose (&j);
  return ret;
}

int
lf_plan_apply (struct lf_plan *p, const char *dir)
{
  struct jctx j;
  json_t *entries;
  unsigned seq = 1;
  size_t first, i;
  json_t *e;
  int ret = -1;

  if (p->nedits == 0 && !p->disk_conv)
    return 0;
  if (jopen (&j, p->ms, dir, true) == -1) {
    jclose (&j);
    return -1;
  }
  entries = json_object_get (j.journal, "entries");
  json_array_foreach (entries, i, e)
    seq = LF_MAX (seq, (unsigned) json_integer_value (json_object_get (e, "seq")) + 1);
  {
    CLEANUP_FREE char *bdir = NULL;
    struct lf_stat st;
    if (jpath (&j, "backup", &bdir) == -1)
      goto out;
    if (j.fs->ops->lstat (j.fs, bdir, &st) == -1) {
      lf_error_clear ();
      if (j.fs->ops->mkdir (j.fs, bdir, 0700) == -1)
        goto out;
    }
  }
  test_kill_at ("dirs");

  /* 1. The intent, flushed before anything changes. */
  first = json_array_size (entries);
  for (i = 0; i < p->nedits; i++) {
    struct lf_edit *ed = &p->edits[i];
    char oh[65] = "", nh[65] = "";
    json_t *je = json_pack ("{s:i, s:s, s:s, s:s, s:b, s:i}",
                            "seq", (int) seq, "path", ed->path,
                            "kind", ed->kind == LF_EDIT_WRITE ? "write"
                            : ed->kind == LF_EDIT_REMOVE ? "remove"
                            : ed->kind == LF_EDIT_SYMLINK ? "symlink" : "mkdir",
                            "concern", ed->concern,
                            "existed", ed->old_exists,
                            "mode", (int) (ed->old_exists ? ed->old_mode : ed->mode));
    if (ed->old_exists && ed->old) {
      CLEANUP_FREE char *b = backup_name (seq, ed->path);
      lf_sha256_hex (ed->old, ed->oldlen, oh);
      json_object_set_new (je, "old_sha256", json_string (oh));
      json_object_set_new (je, "backup", json_string (b));
    }
    if (ed->old_link)
      json_object_set_new (je, "old_link", json_string (ed->old_link));
    if (ed->kind == LF_EDIT_SYMLINK)
      json_object_set_new (je, "new_link", json_string (ed->new));
    if (ed->kind == LF_EDIT_WRITE) {
      lf_sha256_hex (ed->new, ed->newlen, nh);
      json_object_set_new (je, "new_sha256", json_string (nh));
    }
    json_object_set_new (je, "state", json_string ("planned"));
    json_array_append_new (entries, je);
    seq++;
  }
  if (p->disk_conv && journal_disk (&j, p->disk_conv, p->disk_gap) == -1)
    goto out;
  if (write_journal (&j) == -1)
    goto out;
  test_kill_point (0);

  /* 2 and 3: backups, then the edits. */
  for (i = 0; i < p->nedits; i++) {
    struct lf_edit *ed = &p->edits[i];
    json_t *je = json_array_get (entries, first + i);
    const char *b = json_string_value (json_object_get (je, "backup"));
    if (b) {
      CLEANUP_FREE char *bp = NULL;
      struct lf_stat st;
      if (jpath (&j, b, &bp) == -1)
        goto out;
      if (j.fs->ops->lstat (j.fs, bp, &st) == -1) {    /* once only */
        lf_error_clear ();
        if (j.fs->ops->write_atomic (j.fs, bp, ed->old, ed->oldlen, 0600) == -1)
          goto out;
      }
    }
    int r = ed->kind == LF_EDIT_WRITE
      ? ed->fs->ops->write_atomic (ed->fs, ed->fspath, ed->new, ed->newlen,
                                   ed->mode)
      : ed->kind == LF_EDIT_REMOVE ? ed->fs->ops->remove (ed->fs, ed->fspath)
      : ed->kind == LF_EDIT_SYMLINK ? ed->fs->ops->symlink (ed->fs, ed->new,
                                                           ed->fspath)
      : ed->fs->ops->mkdir (ed->fs, ed->fspath, ed->mode & 07777);
    if (r == -1) {
      lf_error_prefix ("%s", ed->path);
      goto out;
    }
    test_kill_point (i + 1);
  }

  /* 4. Done. */
  for (i = first; i < json_array_size (entries); i++)
    json_object_set_new (json_array_get (entries, i), "state", json_string ("done"));
  if (write_journal (&j) == -1)
    goto out;
  test_kill_point (p->nedits + 1);
  for (size_t m = 0; m < p->ms->n; m++)
    if (p->ms->m[m].fs->ops->sync && p->ms->m[m].fs->ops->sync (p->ms->m[m].fs) == -1)
      goto out;
  ret = 0;
 out:
  jclose (&j);
  return ret;
}

/* The SHA-256 of PATH now, "" if absent, or -1. */
static int
current_hash (struct lf_mounts *ms, const char *path, char *hex, bool *exists)
{
  char *buf = NULL;
  size_t len;

  *exists = false;
  hex[0] = '\0';
  if (lf_guest_read (ms, path, BACKUP_MAX, &buf, &len) == -1) {
    if (lf_last_errno () == ENOENT) {
      lf_error_clear ();
      return 0;
    }
    return -1;
  }
  *exists = true;
  lf_sha256_hex (buf, len, hex);
  free (buf);
  return 0;
}

int
lf_undo (struct lf_mounts *ms, const char *dir, json_t **report)
{
  struct jctx j;
  json_t *entries, *done = json_array ();
  int ret = -1;

  *report = NULL;
  if (jopen (&j, ms, dir, false) == -1) {
    jclose (&j);
    json_decref (done);
    if (lf_last_errno () == ENOENT)
      lf_error_prefix ("no landfall journal here (nothing to undo)");
    return -1;
  }
  entries = json_object_get (j.journal, "entries");
  for (size_t i = json_array_size (entries); i-- > 0; ) {
    json_t *je = json_array_get (entries, i);
    const char *path = json_string_value (json_object_get (je, "path"));
    const char *kind = json_string_value (json_object_get (je, "kind"));
    const char *oldh = json_string_value (json_object_get (je, "old_sha256"));
    const char *newh = json_string_value (json_object_get (je, "new_sha256"));
    const char *backup = json_string_value (json_object_get (je, "backup"));
    const char *link = json_string_value (json_object_get (je, "old_link"));
    uint32_t mode = (uint32_t) json_integer_value (json_object_get (je, "mode"));
    bool existed = json_is_true (json_object_get (je, "existed"));
    char now[65];
    bool exists;
    struct lf_fs *fs;
    CLEANUP_FREE char *fspath = NULL;
    const char *result = "restored";

    if (!path || !kind || lf_mounts_resolve (ms, path, strcmp (kind, "write") == 0,
                                             &fs, &fspath) == -1)
      goto out;
    if (strcmp (kind, "symlink") == 0) {
      /* Ours only if it still points where we made it point. */
      const char *want = json_string_value (json_object_get (je, "new_link"));
      CLEANUP_FREE char *t = NULL;
      struct lf_stat st;
      if (fs->ops->lstat (fs, fspath, &st) == -1) {
        lf_error_clear ();
        result = "unchanged";
      }
      else if (!S_ISLNK (st.mode) || fs->ops->readlink (fs, fspath, &t) == -1 ||
               !want || strcmp (t, want) != 0) {
        lf_error_clear ();
        result = "skipped: changed since landfall wrote it";
      }
      else if (fs->ops->remove (fs, fspath) == -1)
        goto out;
    }
    else if (strcmp (kind, "mkdir") == 0) {
      if (fs->ops->remove (fs, fspath) == -1) {
        result = "kept (not empty or already gone)";
        lf_error_clear ();
      }
    }
    else if (strcmp (kind, "write") == 0) {
      if (current_hash (ms, path, now, &exists) == -1)
        goto out;
      if (oldh && exists && strcmp (now, oldh) == 0)
        result = "unchanged";
      else if (!existed && !exists)
        result = "unchanged";
      else if (!newh || !exists || strcmp (now, newh) != 0) {
        result = "skipped: changed since landfall wrote it";
      }
      else if (!existed) {
        if (fs->ops->remove (fs, fspath) == -1)
          goto out;
      }
      else if (link) {
        if (fs->ops->remove (fs, fspath) == -1 ||
            fs->ops->symlink (fs, link, fspath) == -1)
          goto out;
      }
      else {
        CLEANUP_FREE char *bp = NULL;
        char *buf = NULL;
        size_t len;
        if (!backup || jpath (&j, backup, &bp) == -1 ||
            j.fs->ops->read (j.fs, bp, BACKUP_MAX, &buf, &len) == -1)
          goto out;
        int r = fs->ops->write_atomic (fs, fspath, buf, len, mode);
        free (buf);
        if (r == -1)
          goto out;
      }
    }
    else {                      /* remove */
      struct lf_stat st;
      if (fs->ops->lstat (fs, fspath, &st) == 0)
        result = "skipped: exists again";
      else if (link) {
        lf_error_clear ();
        if (fs->ops->symlink (fs, link, fspath) == -1)
          goto out;
      }
      else {
        CLEANUP_FREE char *bp = NULL;
        char *buf = NULL;
        size_t len;
        lf_error_clear ();
        if (!backup || jpath (&j, backup, &bp) == -1 ||
            j.fs->ops->read (j.fs, bp, BACKUP_MAX, &buf, &len) == -1)
          goto out;
        int r = fs->ops->write_atomic (fs, fspath, buf, len, mode);
        free (buf);
        if (r == -1)
          goto out;
      }
    }
    json_array_append_new (done, json_pack ("{s:s, s:s, s:s}", "path", path,
                                            "kind", kind, "result", result));
  }

  /* Leave no trace: backups, the journal, the directories we made. */
  {
    CLEANUP_FREE char *bdir = NULL;
    CLEANUP_FREE char *jp = NULL;
    char **names = NULL;
    if (jpath (&j, "backup", &bdir) == -1 || jpath (&j, "journal.json", &jp) == -1)
      goto out;
    if (j.fs->ops->list (j.fs, bdir, &names) == 0) {
      for (char **n = names; *n; n++) {
        CLEANUP_FREE char *f = NULL;
        if (asprintf (&f, "%s/%s", bdir, *n) != -1)
          (void) j.fs->ops->remove (j.fs, f);
      }
      lf_free_names (names);
      (void) j.fs->ops->remove (j.fs, bdir);
    }
    if (j.fs->ops->remove (j.fs, jp) == -1)
      goto out;
    json_t *made = json_object_get (j.journal, "created_dirs");
    for (size_t i = json_array_size (made); i-- > 0; )
      (void) j.fs->ops->remove (j.fs, json_string_value (json_array_get (made, i)));
    lf_error_clear ();
  }
  for (size_t m = 0; m < ms->n; m++)
    if (ms->m[m].fs->ops->sync && ms->m[m].fs->ops->sync (ms->m[m].fs) == -1)
      goto out;
  *report = done;
  done = NULL;
  ret = 0;
 out:
  json_decref (done);
  jclose (&j);
  return ret;
}
