/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: the filesystem interface, a guest's mounts, and the one
 * place where guest paths are resolved.
 *
 * Symlinks are followed here, component by component, as the guest's
 * kernel would in a chroot: ".." stops at "/", an absolute target starts
 * again at the guest's "/", and at most LF_MAX_SYMLINKS links are followed.
 * So a guest symlink can never lead to a host file, whatever the backend;
 * the mounted-tree backend checks the same again with RESOLVE_IN_ROOT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guest/guest.h"

/* Caps on guest-controlled input: path length and depth. */
#define LF_MAX_PATH       4096
#define LF_MAX_COMPONENTS 256

/* Set once by the main program before opening guests (not thread-safe by
 * design: no worker opens a filesystem).
 */
static int64_t fs_clock;

void
lf_fs_set_clock (int64_t t)
{
  fs_clock = t;
}

int64_t
lf_fs_clock (void)
{
  return fs_clock;
}

struct lf_fs *
lf_fs_open (struct lf_blockdev *bd, const struct lf_fsinfo *info,
            bool writable)
{
  const char *t = info->type;

  if (strcmp (t, "ext2") == 0 || strcmp (t, "ext3") == 0 ||
      strcmp (t, "ext4") == 0 || strcmp (t, "jbd") == 0)
    return lf_fs_open_ext2 (bd, writable);
  if (strcmp (t, "ntfs") == 0)
    return lf_fs_open_ntfs (bd, writable);
  if (strcmp (t, "BitLocker") == 0) {
    lf_error (EACCES, "%s: BitLocker-encrypted volume: decrypt it (or "
              "suspend protection and decrypt) before failover",
              lf_bd_name (bd));
    return NULL;
  }
  if (strcmp (t, "crypto_LUKS") == 0) {
    lf_error (EACCES, "%s: LUKS-encrypted volume: it needs its key and "
              "the libguestfs backend", lf_bd_name (bd));
    return NULL;
  }
  lf_error (ENOTSUP, "%s: no native backend reads %s filesystems%s",
            lf_bd_name (bd), *t ? t : "unknown",
            *t ? " (the libguestfs backend does, on a workstation)" : "");
  return NULL;
}

int
lf_fs_lstat_by_lookup (struct lf_fs *fs, const char *path, struct lf_stat *st)
{
  int r = fs->ops->lookup (fs, path, st);

  if (r == 0)
    lf_error (ENOENT, "%s: %s: no such file or directory", fs->name, path);
  return r == 1 ? 0 : -1;
}

void
lf_fs_close (struct lf_fs *fs)
{
  if (!fs)
    return;
  if (fs->ops && fs->ops->close)
    fs->ops->close (fs);
  else {
    free (fs->name);
    free (fs);
  }
}

void
lf_free_names (char **names)
{
  if (!names)
    return;
  for (char **p = names; *p; p++)
    free (*p);
  free (names);
}

int
lf_mounts_add (struct lf_mounts *ms, const char *mountpoint, struct lf_fs *fs)
{
  struct lf_mount *m;
  size_t i;

  if (mountpoint[0] != '/' ) {
    lf_error (EINVAL, "mount point '%s' is not absolute", mountpoint);
    return -1;
  }
  if (lf_grow (&ms->m, &ms->cap, ms->n + 1, sizeof *ms->m) == -1)
    return -1;
  m = ms->m;
  /* Keep the longest mount point first: the first match wins. */
  for (i = 0; i < ms->n && strlen (ms->m[i].mountpoint) >= strlen (mountpoint); i++)
    ;
  memmove (&ms->m[i + 1], &ms->m[i], (ms->n - i) * sizeof *m);
  ms->m[i].mountpoint = strdup (mountpoint);
  ms->m[i].fs = fs;
  ms->n++;
  if (!ms->m[i].mountpoint) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  return 0;
}

void
lf_mounts_free (struct lf_mounts *ms)
{
  for (size_t i = 0; i < ms->n; i++)
    free (ms->m[i].mountpoint);
  free (ms->m);
  ms->m = NULL;
  ms->n = ms->cap = 0;
}

/* The filesystem holding the absolute, normalised PATH, and the path
 * inside it (pointing into PATH, or "/").
 */
static struct lf_fs *
mount_for (struct lf_mounts *ms, const char *path, const char **rel)
{
  for (size_t i = 0; i < ms->n; i++) {
    const char *mp = ms->m[i].mountpoint;
    size_t n = strlen (mp);
    if (strcmp (mp, "/") == 0) {
      *rel = path;
      return ms->m[i].fs;
    }
    if (strncmp (path, mp, n) == 0 && (path[n] == '/' || path[n] == '\0')) {
      *rel = path[n] ? path + n : "/";
      return ms->m[i].fs;
    }
  }
  return NULL;
}

/* A stack of path components (the resolved prefix) and a queue of those
 * still to walk, both bounded.
 */
struct comps {
  char *c[LF_MAX_COMPONENTS];
  size_t n;
};

static void
comps_clear (struct comps *s)
{
  for (size_t i = 0; i < s->n; i++)
    free (s->c[i]);
  s->n = 0;
}

/* Push the components of PATH onto the front of the queue Q (stored
 * reversed, so the next component is the last element).
 */
static int
queue_path (struct comps *q, const char *path)
{
  struct comps tmp = { .n = 0 };
  const char *p = path;

  while (*p) {
    while (*p == '/')
      p++;
    if (!*p)
      break;
    size_t len = strcspn (p, "/");
    if (tmp.n == LF_MAX_COMPONENTS || q->n + tmp.n >= LF_MAX_COMPONENTS) {
      comps_clear (&tmp);
      lf_error (ENAMETOOLONG, "path '%s' has more than %d components",
                path, LF_MAX_COMPONENTS);
      return -1;
    }
    tmp.c[tmp.n] = strndup (p, len);
    if (!tmp.c[tmp.n]) {
      comps_clear (&tmp);
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    tmp.n++;
    p += len;
  }
  for (size_t i = tmp.n; i-- > 0; )
    q->c[q->n++] = tmp.c[i];
  return 0;
}

/* "/" + the resolved components joined, into a new string. */
static char *
join (const struct comps *r, const char *extra)
{
  size_t len = 2 + (extra ? strlen (extra) + 1 : 0);
  for (size_t i = 0; i < r->n; i++)
    len += strlen (r->c[i]) + 1;
  char *s = malloc (len), *p = s;
  if (!s)
    return NULL;
  *p = '\0';
  for (size_t i = 0; i < r->n; i++)
    p += sprintf (p, "/%s", r->c[i]);
  if (extra)
    p += sprintf (p, "/%s", extra);
  if (p == s)
    strcpy (s, "/");
  return s;
}

/* lf_mounts_resolve, and whether the path exists.  1: resolved, and
 * *LAST_EXISTS says whether the last component exists (if FOLLOW_LAST;
 * otherwise it is not looked at, and true).  0 (only if QUIET): a
 * directory on the way does not exist, nothing recorded.  -1 on error
 * (one on the way that is not a directory is ENOTDIR).
 */
static int
resolve (struct lf_mounts *ms, const char *path, bool follow_last, bool quiet,
         struct lf_fs **fsp, char **fspath, bool *last_exists)
{
  struct comps res = { .n = 0 }, q = { .n = 0 };
  unsigned links = 0;
  int ret = -1;

  *last_exists = true;
  if (!path || path[0] != '/' || strlen (path) > LF_MAX_PATH) {
    lf_error (EINVAL, "guest path '%s' is not absolute or is too long",
              path ? path : "(null)");
    return -1;
  }
  if (queue_path (&q, path) == -1)
    return -1;

  while (q.n > 0) {
    char *c = q.c[--q.n];
    bool last = q.n == 0;
    struct lf_stat st;
    const char *rel;
    struct lf_fs *fs;
    CLEANUP_FREE char *cand = NULL;

    if (strcmp (c, ".") == 0) {
      free (c);
      continue;
    }
    if (strcmp (c, "..") == 0) {
      free (c);
      if (res.n > 0)
        free (res.c[--res.n]);
      continue;
    }
    cand = join (&res, c);
    if (!cand) {
      free (c);
      lf_error (ENOMEM, "out of memory");
      goto out;
    }
    if (last && !follow_last) {
      res.c[res.n++] = c;
      break;
    }
    fs = mount_for (ms, cand, &rel);
    if (!fs) {
      free (c);
      lf_error (ENOENT, "%s: no filesystem is mounted there", cand);
      goto out;
    }
    int found = fs->ops->lookup (fs, rel, &st);
    if (found == -1) {
      free (c);
      goto out;
    }
    if (found == 0) {
      /* A missing last component is fine: the caller may create it. */
      if (last) {
        *last_exists = false;
        res.c[res.n++] = c;
        break;
      }
      free (c);
      if (quiet) {
        ret = 0;
        goto out;
      }
      lf_error (ENOENT, "%s: %s: no such file or directory", fs->name, rel);
      goto out;
    }
    if (S_ISLNK (st.mode)) {
      CLEANUP_FREE char *target = NULL;
      free (c);
      if (++links > LF_MAX_SYMLINKS) {
        lf_error (ELOOP, "%s: more than %d symbolic links", path,
                  LF_MAX_SYMLINKS);
        goto out;
      }
      if (fs->ops->readlink (fs, rel, &target) == -1)
        goto out;
      if (target[0] == '/')
        comps_clear (&res);
      if (queue_path (&q, target) == -1)
        goto out;
      continue;
    }
    if (!last && !S_ISDIR (st.mode)) {
      free (c);
      lf_error (ENOTDIR, "%s: %s is not a directory", path, cand);
      goto out;
    }
    if (res.n == LF_MAX_COMPONENTS) {
      free (c);
      lf_error (ENAMETOOLONG, "%s: too many components", path);
      goto out;
    }
    res.c[res.n++] = c;
  }

  {
    CLEANUP_FREE char *full = join (&res, NULL);
    const char *rel;
    if (!full) {
      lf_error (ENOMEM, "out of memory");
      goto out;
    }
    *fsp = mount_for (ms, full, &rel);
    if (!*fsp) {
      lf_error (ENOENT, "%s: no filesystem is mounted there", full);
      goto out;
    }
    *fspath = strdup (rel);
    if (!*fspath) {
      lf_error (ENOMEM, "out of memory");
      goto out;
    }
  }
  ret = 1;
 out:
  comps_clear (&res);
  comps_clear (&q);
  return ret;
}

int
lf_mounts_resolve (struct lf_mounts *ms, const char *path, bool follow_last,
                   struct lf_fs **fsp, char **fspath)
{
  bool last_exists;

  return resolve (ms, path, follow_last, false, fsp, fspath,
                  &last_exists) == 1 ? 0 : -1;
}

int
lf_mounts_resolve_opt (struct lf_mounts *ms, const char *path,
                       bool follow_last, struct lf_fs **fsp, char **fspath)
{
  bool last_exists;

  return resolve (ms, path, follow_last, true, fsp, fspath, &last_exists);
}

/* For the _opt readers: 1 and *FSP, *FSPATH if PATH exists, 0 if not. */
static int
resolve_opt (struct lf_mounts *ms, const char *path, bool follow_last,
             struct lf_fs **fsp, char **fspath)
{
  bool last_exists;
  int r = resolve (ms, path, follow_last, true, fsp, fspath, &last_exists);

  if (r == 1 && !last_exists) {
    free (*fspath);
    *fspath = NULL;
    return 0;
  }
  return r;
}

int
lf_guest_lstat (struct lf_mounts *ms, const char *path, struct lf_stat *st)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *p = NULL;
  if (lf_mounts_resolve (ms, path, false, &fs, &p) == -1)
    return -1;
  return fs->ops->lstat (fs, p, st);
}

int
lf_guest_stat (struct lf_mounts *ms, const char *path, struct lf_stat *st)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *p = NULL;
  if (lf_mounts_resolve (ms, path, true, &fs, &p) == -1)
    return -1;
  return fs->ops->lstat (fs, p, st);
}

bool
lf_guest_exists (struct lf_mounts *ms, const char *path)
{
  struct lf_stat st;
  return lf_guest_stat_opt (ms, path, &st) == 1;
}

int
lf_guest_stat_opt (struct lf_mounts *ms, const char *path, struct lf_stat *st)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *p = NULL;
  int r = resolve_opt (ms, path, true, &fs, &p);

  return r <= 0 ? r : fs->ops->lookup (fs, p, st);
}

int
lf_guest_lstat_opt (struct lf_mounts *ms, const char *path,
                    struct lf_stat *st)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *p = NULL;
  int r = resolve_opt (ms, path, false, &fs, &p);

  return r <= 0 ? r : fs->ops->lookup (fs, p, st);
}

int
lf_guest_read_opt (struct lf_mounts *ms, const char *path, size_t max,
                   char **buf, size_t *len)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *p = NULL;
  int r = resolve_opt (ms, path, true, &fs, &p);

  if (r <= 0)
    return r;
  return fs->ops->read (fs, p, max, buf, len) == -1 ? -1 : 1;
}

int
lf_guest_readlink_opt (struct lf_mounts *ms, const char *path, char **target)
{
  struct lf_fs *fs;
  struct lf_stat st;
  CLEANUP_FREE char *p = NULL;
  int r = resolve_opt (ms, path, false, &fs, &p);

  if (r == 1)
    r = fs->ops->lookup (fs, p, &st);
  if (r <= 0)
    return r;
  return fs->ops->readlink (fs, p, target) == -1 ? -1 : 1;
}

int
lf_guest_list_opt (struct lf_mounts *ms, const char *path, char ***names)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *p = NULL;
  int r = resolve_opt (ms, path, true, &fs, &p);

  if (r <= 0)
    return r;
  return fs->ops->list (fs, p, names) == -1 ? -1 : 1;
}

int
lf_guest_read (struct lf_mounts *ms, const char *path, size_t max,
               char **buf, size_t *len)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *p = NULL;
  if (lf_mounts_resolve (ms, path, true, &fs, &p) == -1)
    return -1;
  return fs->ops->read (fs, p, max, buf, len);
}

int
lf_guest_readlink (struct lf_mounts *ms, const char *path, char **target)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *p = NULL;
  if (lf_mounts_resolve (ms, path, false, &fs, &p) == -1)
    return -1;
  return fs->ops->readlink (fs, p, target);
}

int
lf_guest_list (struct lf_mounts *ms, const char *path, char ***names)
{
  struct lf_fs *fs;
  CLEANUP_FREE char *p = NULL;
  if (lf_mounts_resolve (ms, path, true, &fs, &p) == -1)
    return -1;
  return fs->ops->list (fs, p, names);
}
