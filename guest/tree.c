/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: a guest filesystem that is a directory on this host (a
 * kernel mount in the appliance, or a test fixture).
 *
 * Paths arrive resolved by fs.c, but the directory is live and a guest
 * symlink could be swapped in between: every open therefore goes through
 * openat2 with RESOLVE_IN_ROOT (".." and absolute links stay beneath the
 * root) and RESOLVE_NO_SYMLINKS where the path must have none, and the
 * last component is handled with *at calls on its parent directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sys/mount.h>

#include "guest/guest.h"

struct tree {
  int rootfd;
  char *root;
  bool mounted;                 /* ROOT is our kernel mount: unmount it */
};

/* open_in_root without recording: -1 with errno set. */
static int
open_in_root_quiet (struct lf_fs *fs, const char *path, int flags,
                    mode_t mode)
{
  struct tree *t = fs->priv;
  struct open_how how = {
    .flags = (uint64_t) (flags | O_CLOEXEC),
    .mode = (flags & O_CREAT) ? mode : 0,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS,
  };
  const char *rel = path;

  while (*rel == '/')
    rel++;
  if (!*rel)
    rel = ".";
  return (int) syscall (SYS_openat2, t->rootfd, rel, &how, sizeof how);
}

static int
open_in_root (struct lf_fs *fs, const char *path, int flags, mode_t mode)
{
  int fd = open_in_root_quiet (fs, path, flags, mode);

  if (fd == -1)
    lf_error (errno, "%s: %s: %m", fs->name, path);
  return fd;
}

/* Open PATH's parent directory and point *NAME at its last component. */
static int
open_parent (struct lf_fs *fs, const char *path, const char **name)
{
  CLEANUP_FREE char *dir = strdup (path);
  char *slash;

  if (!dir) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  slash = strrchr (dir, '/');
  *name = strrchr (path, '/') ? strrchr (path, '/') + 1 : path;
  if (!**name || strcmp (*name, "..") == 0 || strcmp (*name, ".") == 0) {
    lf_error (EINVAL, "%s: %s: no file name", fs->name, path);
    return -1;
  }
  if (slash)
    *slash = '\0';
  return open_in_root (fs, slash ? dir : ".", O_RDONLY | O_DIRECTORY, 0);
}

static int
tree_lookup (struct lf_fs *fs, const char *path, struct lf_stat *st)
{
  CLEANUP_CLOSE int dfd = -1;
  CLEANUP_FREE char *dir = NULL;
  const char *name = path;
  struct stat s;
  int r;

  if (strcmp (path, "/") == 0) {
    dfd = open_in_root (fs, "/", O_RDONLY | O_DIRECTORY, 0);
    r = dfd == -1 ? -1 : fstat (dfd, &s);
  }
  else {
    /* The parent as open_parent finds it, but a missing one is absence. */
    const char *slash = strrchr (path, '/');
    if (slash) {
      name = slash + 1;
      dir = strndup (path, (size_t) (slash - path));
      if (!dir) {
        lf_error (ENOMEM, "out of memory");
        return -1;
      }
    }
    if (!*name || strcmp (name, "..") == 0 || strcmp (name, ".") == 0) {
      lf_error (EINVAL, "%s: %s: no file name", fs->name, path);
      return -1;
    }
    dfd = open_in_root_quiet (fs, dir && *dir ? dir : ".",
                              O_RDONLY | O_DIRECTORY, 0);
    r = dfd == -1 ? -1 : fstatat (dfd, name, &s, AT_SYMLINK_NOFOLLOW);
  }
  if (r == -1 && (errno == ENOENT || errno == ENOTDIR))
    return 0;
  if (r == -1) {
    lf_error (errno, "%s: %s: %m", fs->name, path);
    return -1;
  }
  *st = (struct lf_stat) { .mode = s.st_mode, .size = (uint64_t) s.st_size,
                           .ino = s.st_ino, .nlink = (uint32_t) s.st_nlink,
                           .uid = s.st_uid, .gid = s.st_gid,
                           .mtime = s.st_mtime };
  return 1;
}

static int
tree_readlink (struct lf_fs *fs, const char *path, char **target)
{
  CLEANUP_CLOSE int dfd = -1;
  const char *name;
  char buf[4096];                /* PATH_MAX, the kernel's own limit */
  ssize_t n;

  dfd = open_parent (fs, path, &name);
  if (dfd == -1)
    return -1;
  n = readlinkat (dfd, name, buf, sizeof buf - 1);
  if (n == -1) {
    lf_error (errno, "%s: readlink %s: %m", fs->name, path);
    return -1;
  }
  buf[n] = '\0';
  *target = strdup (buf);
  if (!*target) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  return 0;
}

static int
tree_read (struct lf_fs *fs, const char *path, size_t max, char **bufp,
           size_t *lenp)
{
  CLEANUP_CLOSE int fd = open_in_root (fs, path, O_RDONLY | O_NOCTTY, 0);
  struct stat s;
  char *buf = NULL;
  size_t len = 0;

  if (fd == -1)
    return -1;
  if (fstat (fd, &s) == -1 || !S_ISREG (s.st_mode)) {
    lf_error (errno ? errno : EISDIR, "%s: %s: not a regular file", fs->name,
              path);
    return -1;
  }
  if ((uint64_t) s.st_size > max) {
    lf_error (EFBIG, "%s: %s is %lld bytes, over the limit of %zu", fs->name,
              path, (long long) s.st_size, max);
    return -1;
  }
  buf = malloc ((size_t) s.st_size + 1);
  if (!buf) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  /* Read to EOF rather than trust st_size: the file may change. */
  for (;;) {
    ssize_t r = read (fd, buf + len, (size_t) s.st_size - len);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      lf_error (errno, "%s: read %s: %m", fs->name, path);
      free (buf);
      return -1;
    }
    if (r == 0 || (len += (size_t) r) == (size_t) s.st_size)
      break;
  }
  buf[len] = '\0';
  *bufp = buf;
  *lenp = len;
  return 0;
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
tree_list (struct lf_fs *fs, const char *path, char ***namesp)
{
  int fd = open_in_root (fs, path, O_RDONLY | O_DIRECTORY, 0);
  DIR *d;
  struct dirent *e;
  char **names = NULL;
  size_t n = 0, cap = 0;

  if (fd == -1)
    return -1;
  d = fdopendir (fd);
  if (!d) {
    lf_error (errno, "%s: %s: %m", fs->name, path);
    close (fd);
    return -1;
  }
  while ((e = readdir (d)) != NULL) {
    if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
      continue;
    if (lf_grow (&names, &cap, n + 2, sizeof *names) == -1 ||
        !(names[n] = strdup (e->d_name))) {
      if (names)
        names[n] = NULL;
      lf_free_names (names);
      closedir (d);
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    names[++n] = NULL;
  }
  closedir (d);
  if (!names && !(names = calloc (1, sizeof *names))) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  qsort (names, n, sizeof *names, cmp_names);
  *namesp = names;
  return 0;
}

/* Like the native backends, a read-only tree has every operation, so a
 * plan (a dry run, verify's re-plan) can be made against it; the writes
 * themselves are refused here.
 */
static int
refuse_ro (struct lf_fs *fs, const char *what, const char *path)
{
  if (fs->writable)
    return 0;
  lf_error (EROFS, "%s: %s %s: opened read-only", fs->name, what, path);
  return -1;
}

static int
tree_write_atomic (struct lf_fs *fs, const char *path, const void *buf,
                   size_t len, uint32_t mode)
{
  CLEANUP_CLOSE int dfd = -1;
  CLEANUP_CLOSE int fd = -1;
  CLEANUP_FREE char *tmp = NULL;
  const char *name;
  struct stat old;
  bool have_old;
  if (refuse_ro (fs, "write", path) == -1)
    return -1;

  dfd = open_parent (fs, path, &name);
  if (dfd == -1)
    return -1;
  have_old = fstatat (dfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0;
  if (have_old && !S_ISREG (old.st_mode)) {
    lf_error (EINVAL, "%s: %s exists and is not a regular file", fs->name,
              path);
    return -1;
  }
  if (asprintf (&tmp, ".%s.landfall-tmp", name) == -1) {
    tmp = NULL;
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  (void) unlinkat (dfd, tmp, 0);        /* a leftover of a crashed run */
  fd = openat (dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
               have_old ? old.st_mode & 07777 : mode & 07777);
  if (fd == -1) {
    lf_error (errno, "%s: create %s beside %s: %m", fs->name, tmp, path);
    return -1;
  }
  if (lf_pwrite_all (fd, buf, len, 0) == -1) {
    lf_error_prefix ("%s: %s", fs->name, path);
    goto error;
  }
  if (have_old && (fchown (fd, old.st_uid, old.st_gid) == -1 ||
                   fchmod (fd, old.st_mode & 07777) == -1)) {
    lf_error (errno, "%s: %s: keeping owner and mode: %m", fs->name, path);
    goto error;
  }
  if (fsync (fd) == -1) {
    lf_error (errno, "%s: fsync %s: %m", fs->name, path);
    goto error;
  }
  /* The rename is the atomic step: readers see the old or the new file. */
  if (renameat (dfd, tmp, dfd, name) == -1) {
    lf_error (errno, "%s: rename to %s: %m", fs->name, path);
    goto error;
  }
  if (fsync (dfd) == -1) {
    lf_error (errno, "%s: fsync of the directory of %s: %m", fs->name, path);
    return -1;
  }
  return 0;
 error:
  (void) unlinkat (dfd, tmp, 0);
  return -1;
}

static int
tree_mkdir (struct lf_fs *fs, const char *path, uint32_t mode)
{
  CLEANUP_CLOSE int dfd = -1;
  const char *name;
  if (refuse_ro (fs, "mkdir", path) == -1)
    return -1;

  dfd = open_parent (fs, path, &name);
  if (dfd == -1)
    return -1;
  if (mkdirat (dfd, name, mode & 07777) == -1) {
    lf_error (errno, "%s: mkdir %s: %m", fs->name, path);
    return -1;
  }
  return 0;
}

static int
tree_rename (struct lf_fs *fs, const char *from, const char *to)
{
  CLEANUP_CLOSE int fdfd = -1;
  CLEANUP_CLOSE int tdfd = -1;
  const char *fname, *tname;
  if (refuse_ro (fs, "rename", from) == -1)
    return -1;

  fdfd = open_parent (fs, from, &fname);
  if (fdfd == -1)
    return -1;
  tdfd = open_parent (fs, to, &tname);
  if (tdfd == -1)
    return -1;
  if (renameat (fdfd, fname, tdfd, tname) == -1 || fsync (tdfd) == -1 ||
      fsync (fdfd) == -1) {
    lf_error (errno, "%s: rename %s to %s: %m", fs->name, from, to);
    return -1;
  }
  return 0;
}

static int
tree_remove (struct lf_fs *fs, const char *path)
{
  CLEANUP_CLOSE int dfd = -1;
  const char *name;
  struct stat s;
  if (refuse_ro (fs, "remove", path) == -1)
    return -1;

  dfd = open_parent (fs, path, &name);
  if (dfd == -1)
    return -1;
  if (fstatat (dfd, name, &s, AT_SYMLINK_NOFOLLOW) == -1 ||
      unlinkat (dfd, name, S_ISDIR (s.st_mode) ? AT_REMOVEDIR : 0) == -1 ||
      fsync (dfd) == -1) {
    lf_error (errno, "%s: remove %s: %m", fs->name, path);
    return -1;
  }
  return 0;
}

static int
tree_symlink (struct lf_fs *fs, const char *target, const char *path)
{
  CLEANUP_CLOSE int dfd = -1;
  const char *name;
  if (refuse_ro (fs, "symlink", path) == -1)
    return -1;

  dfd = open_parent (fs, path, &name);
  if (dfd == -1)
    return -1;
  if (symlinkat (target, dfd, name) == -1 || fsync (dfd) == -1) {
    lf_error (errno, "%s: symlink %s -> %s: %m", fs->name, path, target);
    return -1;
  }
  return 0;
}

static int
tree_sync (struct lf_fs *fs)
{
  struct tree *t = fs->priv;
  if (!fs->writable)
    return 0;
  if (syncfs (t->rootfd) == -1) {
    lf_error (errno, "%s: syncfs: %m", fs->name);
    return -1;
  }
  return 0;
}

/* The mount points this process made (lf_fs_open_kernel), so that the
 * in-use check (inuse.c) tells them from everyone else's.  By path as
 * mountinfo shows it (resolved), never by prefix: another process can
 * mount under LANDFALL_MOUNT_DIR as well.
 */
#define OWN_MOUNTS_MAX 64
static pthread_mutex_t own_lock = PTHREAD_MUTEX_INITIALIZER;
static char *own_mounts[OWN_MOUNTS_MAX];

static void
own_mount_set (const char *dir, bool add)
{
  char *real = realpath (dir, NULL);
  const char *key = real ? real : dir;

  pthread_mutex_lock (&own_lock);
  for (size_t i = 0; i < OWN_MOUNTS_MAX; i++) {
    if (add && !own_mounts[i]) {
      own_mounts[i] = strdup (key);
      break;
    }
    if (!add && own_mounts[i] && strcmp (own_mounts[i], key) == 0) {
      free (own_mounts[i]);
      own_mounts[i] = NULL;
      break;
    }
  }
  pthread_mutex_unlock (&own_lock);
  free (real);
}

bool
lf_kernel_mount_is_ours (const char *mountpoint)
{
  bool r = false;

  pthread_mutex_lock (&own_lock);
  for (size_t i = 0; i < OWN_MOUNTS_MAX && !r; i++)
    r = own_mounts[i] && strcmp (own_mounts[i], mountpoint) == 0;
  pthread_mutex_unlock (&own_lock);
  return r;
}

static void
tree_close (struct lf_fs *fs)
{
  struct tree *t = fs->priv;
  if (t) {
    if (t->rootfd >= 0)
      close (t->rootfd);
    if (t->mounted) {
      own_mount_set (t->root, false);
      /* Every write was synced by the caller (sync op); a busy mount is
       * detached rather than left in the way of the next open.
       */
      if (umount2 (t->root, 0) == -1)
        (void) umount2 (t->root, MNT_DETACH);
      (void) rmdir (t->root);
    }
    free (t->root);
    free (t);
  }
  free (fs->name);
  free (fs);
}

static const struct lf_fs_ops tree_ops = {
  .name = "tree",
  .lstat = lf_fs_lstat_by_lookup, .lookup = tree_lookup,
  .readlink = tree_readlink, .read = tree_read,
  .list = tree_list, .write_atomic = tree_write_atomic, .mkdir = tree_mkdir,
  .rename = tree_rename, .remove = tree_remove, .symlink = tree_symlink,
  .sync = tree_sync, .close = tree_close,
};

struct lf_fs *
lf_fs_open_tree (const char *root, bool writable)
{
  struct lf_fs *fs = calloc (1, sizeof *fs);
  struct tree *t = calloc (1, sizeof *t);

  if (!fs || !t) {
    free (fs);
    free (t);
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  t->rootfd = -1;
  fs->priv = t;
  fs->ops = &tree_ops;
  fs->writable = writable;
  t->root = strdup (root);
  if (!t->root || asprintf (&fs->name, "%s (tree)", root) == -1) {
    fs->name = NULL;
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  t->rootfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (t->rootfd == -1) {
    lf_error (errno, "%s: %m", root);
    goto error;
  }
  return fs;
 error:
  tree_close (fs);
  return NULL;
}

/* mkdir -p, for the private mount points. */
static int
mkdir_p (const char *path, mode_t mode)
{
  char buf[256];
  if (snprintf (buf, sizeof buf, "%s", path) >= (int) sizeof buf) {
    lf_error (ENAMETOOLONG, "%s: name too long", path);
    return -1;
  }
  for (char *s = buf + 1; ; s++) {
    if (*s == '/' || *s == '\0') {
      char c = *s;
      *s = '\0';
      if (mkdir (buf, mode) == -1 && errno != EEXIST) {
        lf_error (errno, "%s: %m", buf);
        return -1;
      }
      if (!c)
        return 0;
      *s = c;
    }
  }
}

struct lf_fs *
lf_fs_open_kernel (const char *device, const char *fstype, bool writable)
{
  static unsigned seq;
  char dir[128];
  const char *base = getenv ("LANDFALL_MOUNT_DIR");
  struct lf_fs *fs;

  snprintf (dir, sizeof dir, "%s/%u-%u", base ? base : "/run/landfall/mnt",
            (unsigned) getpid (), __atomic_fetch_add (&seq, 1, __ATOMIC_RELAXED));
  if (mkdir_p (dir, 0700) == -1)
    return NULL;
  /* nodev/nosuid/noexec: nothing on a guest filesystem is ever used as a
   * device or run (DESIGN.md); the fix only reads and writes files.
   */
  unsigned long flags = MS_NODEV | MS_NOSUID | MS_NOEXEC |
    (writable ? 0 : MS_RDONLY);
  if (mount (device, dir, fstype, flags, NULL) == -1) {
    lf_error (errno, "%s: mounting it as %s with the kernel: %m", device,
              fstype);
    (void) rmdir (dir);
    return NULL;
  }
  own_mount_set (dir, true);
  fs = lf_fs_open_tree (dir, writable);
  if (!fs) {
    own_mount_set (dir, false);
    (void) umount2 (dir, MNT_DETACH);
    (void) rmdir (dir);
    return NULL;
  }
  ((struct tree *) fs->priv)->mounted = true;
  free (fs->name);
  if (asprintf (&fs->name, "%s (%s, kernel)", device, fstype) == -1)
    fs->name = NULL;
  return fs;
}
