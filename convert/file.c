/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall convert/: bounded reads from an image file.
 *
 * Parsers never call read(2) themselves: every read names the structure it
 * is for and is checked against the file (or OVA member) first, so an
 * offset from a hostile header becomes a clear error, not a wild read.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/openat2.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "convert/format.h"

/* What a disk's metadata names (backing files, parents, extents) may come
 * from its own directory and from these, each a resolved directory the
 * user allowed (--allow-backing, a job's or manifest's allow-backing).
 * Set while the command line and the job are read, before any thread.
 */
static char **allowed;
static size_t nallowed, allowed_cap;

int
lf_allow_backing (const char *dir)
{
  char *real = realpath (dir, NULL);
  struct stat st;

  if (!real || stat (real, &st) == -1) {
    lf_error (errno, "%s: allowed backing directory: %m", dir);
    free (real);
    return -1;
  }
  if (!S_ISDIR (st.st_mode)) {
    lf_error (ENOTDIR, "%s: allowed backing directory: not a directory", dir);
    free (real);
    return -1;
  }
  for (size_t i = 0; i < nallowed; i++)
    if (strcmp (allowed[i], real) == 0) {
      free (real);
      return 0;
    }
  if (lf_grow (&allowed, &allowed_cap, nallowed + 1, sizeof *allowed) == -1) {
    free (real);
    return -1;
  }
  allowed[nallowed++] = real;
  return 0;
}

void
lf_allow_backing_reset (void)
{
  for (size_t i = 0; i < nallowed; i++)
    free (allowed[i]);
  free (allowed);
  allowed = NULL;
  nallowed = 0;
}

static const char *
file_type (mode_t m)
{
  return S_ISFIFO (m) ? "a FIFO (named pipe)" : S_ISSOCK (m) ? "a socket"
    : S_ISCHR (m) ? "a character device" : S_ISBLK (m) ? "a block device"
    : S_ISDIR (m) ? "a directory" : "not a regular file";
}

/* O_NONBLOCK: opening a FIFO would otherwise wait for a writer, forever;
 * with it the open returns and fstat refuses it.  Reads of regular files
 * and block devices ignore the flag.
 */
#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

/* Fill F from its open fd: only a regular file, or a block device when
 * the user named it (ALLOW_BLOCK).  NAMER, WHAT and NAME, if set, say who
 * named it and how, for the error.
 */
static int
file_setup (struct lf_file *f, bool allow_block, bool window, uint64_t base,
            uint64_t size, const char *namer, const char *what,
            const char *name)
{
  const char *path = f->path;
  struct stat st;

  if (fstat (f->fd, &st) == -1) {
    lf_error (errno, "%s: stat: %m", path);
    return -1;
  }
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  if (S_ISBLK (st.st_mode) && allow_block) {
    off_t end = lseek (f->fd, 0, SEEK_END);
    if (end == -1) {
      lf_error (errno, "%s: cannot find the size of the block device: %m", path);
      return -1;
    }
    st.st_size = end;
  }
  else if (!S_ISREG (st.st_mode)) {
    if (namer)
      lf_error (EINVAL, "%s: %s \"%s\": is %s, not a regular file%s",
                namer, what, name, file_type (st.st_mode),
                S_ISBLK (st.st_mode) ? " (only a disk named on the command "
                "line or in a job may be a block device)" : "");
    else
      lf_error (EINVAL, "%s: is %s, not a regular file or block device",
                path, file_type (st.st_mode));
    return -1;
  }
  if (window) {
    uint64_t end;
    if (ADD_OVERFLOW (base, size, &end) || end > (uint64_t) st.st_size) {
      lf_error (EINVAL, "%s: member at 0x%" PRIx64 " (%" PRIu64
                " bytes) is beyond end of file (0x%" PRIx64 ")",
                path, base, size, (uint64_t) st.st_size);
      return -1;
    }
    f->base = base;
    f->size = size;
    f->member = true;
  }
  else
    f->size = (uint64_t) st.st_size;
  /* EINVAL or similar: the filesystem cannot tell holes; all is data. */
  f->seek_data = lseek (f->fd, (off_t) f->base, SEEK_DATA) != -1 ||
    errno == ENXIO;
  return 0;
}

static struct lf_file *
file_new (const char *path)
{
  struct lf_file *f = calloc (1, sizeof *f);

  if (!f) {
    lf_error (errno, "out of memory");
    return NULL;
  }
  f->fd = -1;
  f->path = strdup (path);
  if (!f->path) {
    lf_error (errno, "out of memory");
    lf_file_close (f);
    return NULL;
  }
  return f;
}

static struct lf_file *
file_open (const char *path, bool window, uint64_t base, uint64_t size)
{
  struct lf_file *f;

  /* After SIGINT/SIGTERM, start no new open: one interrupted by the
   * signal must not be followed by the next candidate's.
   */
  if (lf_cancel) {
    lf_error (EINTR, "%s: interrupted", path);
    return NULL;
  }
  f = file_new (path);
  if (!f)
    return NULL;
  f->fd = open (path, OPEN_FLAGS);
  if (f->fd == -1) {
    struct stat st;
    int e = errno;
    /* open(2) of a socket says ENXIO, which names no file type. */
    if (e == ENXIO && stat (path, &st) == 0 && S_ISSOCK (st.st_mode))
      lf_error (EINVAL, "%s: is a socket, not a regular file or block "
                "device", path);
    else
      lf_error (e, "%s: %s", path, strerror (e));
    goto error;
  }
  if (file_setup (f, true, window, base, size, NULL, NULL, NULL) == -1)
    goto error;
  return f;

 error:
  lf_file_close (f);
  return NULL;
}

struct lf_file *
lf_file_open (const char *path)
{
  return file_open (path, false, 0, 0);
}

struct lf_file *
lf_file_open_window (const char *path, uint64_t base, uint64_t size)
{
  return file_open (path, true, base, size);
}

static bool
is_beneath (const char *real, const char *root)
{
  size_t n = strlen (root);
  if (strcmp (root, "/") == 0)
    return real[0] == '/' && real[1];
  return strncmp (real, root, n) == 0 && real[n] == '/' && real[n + 1];
}

/* openat2 with RESOLVE_BENEATH: no absolute path, no "..", no symlink may
 * lead out of DIRFD, and the check is the kernel's, on the very lookup
 * that opens the file (no window between a check and the open).
 */
static int
open_beneath (int dirfd, const char *rel)
{
  struct open_how how = {
    .flags = OPEN_FLAGS,
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
  };
  long r = syscall (SYS_openat2, dirfd, rel, &how, sizeof how);
  char lnk[64], dirpath[PATH_MAX], got[PATH_MAX];
  ssize_t dn, gn;
  int fd;

  if (r != -1 || errno != ENOSYS)
    return (int) r;
  /* Before Linux 5.6: open, then check where the fd really is (the same
   * check, made on the opened file rather than during the lookup).
   */
  fd = openat (dirfd, rel, OPEN_FLAGS);
  if (fd == -1)
    return -1;
  snprintf (lnk, sizeof lnk, "/proc/self/fd/%d", dirfd);
  dn = readlink (lnk, dirpath, sizeof dirpath - 1);
  snprintf (lnk, sizeof lnk, "/proc/self/fd/%d", fd);
  gn = readlink (lnk, got, sizeof got - 1);
  if (dn <= 0 || gn <= 0 || (size_t) dn >= sizeof dirpath - 1 ||
      (size_t) gn >= sizeof got - 1) {
    close (fd);
    errno = EXDEV;
    return -1;
  }
  dirpath[dn] = got[gn] = '\0';
  if (!is_beneath (got, dirpath)) {
    close (fd);
    errno = EXDEV;
    return -1;
  }
  return fd;
}

/* Open REAL (a resolved absolute path) if it lies beneath ROOT. */
static int
open_under (const char *root, const char *real)
{
  CLEANUP_CLOSE int dfd = -1;
  size_t n = strcmp (root, "/") == 0 ? 0 : strlen (root);

  dfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd == -1)
    return -1;
  return open_beneath (dfd, real + n + 1);
}

struct lf_file *
lf_file_open_named (const struct lf_file *namer, const char *name,
                    const char *what)
{
  CLEANUP_FREE char *copy = NULL, *full = NULL, *real = NULL;
  CLEANUP_FREE char *realdir = NULL;
  CLEANUP_CLOSE int dfd = -1;
  const char *dir;
  struct lf_file *f = NULL;
  int fd = -1;

  if (namer->member) {
    lf_error (EPERM, "%s: %s \"%s\": an OVA is self-contained, and this "
              "member names a file outside the archive: refused",
              namer->path, what, name);
    return NULL;
  }
  if (lf_cancel) {
    lf_error (EINTR, "%s: %s \"%s\": interrupted", namer->path, what, name);
    return NULL;
  }
  if (name[0] == '\0') {
    lf_error (EINVAL, "%s: %s: the name is empty", namer->path, what);
    return NULL;
  }
  copy = strdup (namer->path);
  full = lf_path_beside (namer->path, name);
  if (!copy || !full) {
    lf_error (ENOMEM, "out of memory");
    return NULL;
  }
  dir = dirname (copy);
  dfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd == -1) {
    lf_error (errno, "%s: %s \"%s\": its directory %s: %m", namer->path,
              what, name, dir);
    return NULL;
  }
  if (name[0] != '/') {
    fd = open_beneath (dfd, name);
    if (fd == -1 && errno != EXDEV) {
      lf_error (errno, "%s: %s \"%s\": %s: %m", namer->path, what, name, full);
      return NULL;
    }
  }
  if (fd == -1) {
    /* Absolute, or leads out of the directory: only where allowed.  The
     * name resolved here is opened again beneath the allowed directory,
     * so a symlink swapped in between cannot lead out of it.
     */
    real = realpath (full, NULL);
    realdir = realpath (dir, NULL);
    if (!real || !realdir) {
      lf_error (errno, "%s: %s \"%s\": %s: %m", namer->path, what, name,
                full);
      return NULL;
    }
    const char *root = is_beneath (real, realdir) ? realdir : NULL;
    for (size_t i = 0; !root && i < nallowed; i++)
      if (is_beneath (real, allowed[i]))
        root = allowed[i];
    if (root)
      fd = open_under (root, real);
    if (fd == -1) {
      if (!root)
        lf_error (EXDEV, "%s: %s \"%s\": resolves to %s, outside the "
                  "image's directory %s: refused (a chain spread over "
                  "directories needs --allow-backing DIR, or allow-backing "
                  "in the job or manifest)", namer->path, what, name, real,
                  realdir);
      else
        lf_error (errno, "%s: %s \"%s\": %s: %m", namer->path, what, name,
                  real);
      return NULL;
    }
  }
  f = file_new (real ? real : full);
  if (!f) {
    close (fd);
    return NULL;
  }
  f->fd = fd;
  if (file_setup (f, false, false, 0, 0, namer->path, what, name) == -1) {
    lf_file_close (f);
    return NULL;
  }
  return f;
}

void
lf_file_close (struct lf_file *f)
{
  if (!f)
    return;
  if (f->fd >= 0)
    close (f->fd);
  free (f->path);
  free (f);
}

bool
lf_file_contains (const struct lf_file *f, uint64_t off, uint64_t len)
{
  uint64_t end;
  return !ADD_OVERFLOW (off, len, &end) && end <= f->size;
}

int
lf_file_read (struct lf_file *f, void *buf, size_t len, uint64_t off,
              const char *what)
{
  if (!lf_file_contains (f, off, len)) {
    lf_error (EINVAL, "%s: %s at 0x%" PRIx64 " (%zu bytes) is beyond end of "
              "file (0x%" PRIx64 ")", f->path, what, off, len, f->size);
    return -1;
  }
  if (lf_pread_all (f->fd, buf, len, f->base + off) == -1) {
    lf_error_prefix ("%s: %s", f->path, what);
    return -1;
  }
  return 0;
}

void *
lf_file_read_alloc (struct lf_file *f, uint64_t len, uint64_t off,
                    uint64_t max, const char *what)
{
  void *buf;

  if (len > max) {
    lf_error (EINVAL, "%s: %s is %" PRIu64 " bytes, larger than the limit "
              "of %" PRIu64, f->path, what, len, max);
    return NULL;
  }
  if (!lf_file_contains (f, off, len)) {
    lf_error (EINVAL, "%s: %s at 0x%" PRIx64 " (%" PRIu64 " bytes) is beyond "
              "end of file (0x%" PRIx64 ")", f->path, what, off, len, f->size);
    return NULL;
  }
  buf = malloc (len ? len : 1);
  if (!buf) {
    lf_error (errno, "%s: %s: out of memory", f->path, what);
    return NULL;
  }
  if (lf_file_read (f, buf, len, off, what) == -1) {
    free (buf);
    return NULL;
  }
  return buf;
}

int
lf_file_extent (struct lf_file *f, uint64_t offset, uint64_t *len,
                unsigned *type)
{
  off_t data, hole;

  *type = LF_EXTENT_DATA;
  if (!f->seek_data)
    return 0;
  /* The file may be a window (an OVA member): offsets are relative. */
  data = lseek (f->fd, (off_t) (f->base + offset), SEEK_DATA);
  if (data == -1 && errno == ENXIO) {  /* only a hole up to the end */
    *type = LF_EXTENT_ZERO;
    return 0;
  }
  if (data == -1) {
    lf_error (errno, "%s: SEEK_DATA at 0x%" PRIx64 ": %m", f->path, offset);
    return -1;
  }
  data -= (off_t) f->base;
  if ((uint64_t) data > offset) {
    *type = LF_EXTENT_ZERO;
    *len = LF_MIN (*len, (uint64_t) data - offset);
    return 0;
  }
  hole = lseek (f->fd, (off_t) (f->base + offset), SEEK_HOLE);
  if (hole == -1) {
    lf_error (errno, "%s: SEEK_HOLE at 0x%" PRIx64 ": %m", f->path, offset);
    return -1;
  }
  hole -= (off_t) f->base;
  if ((uint64_t) hole > offset)
    *len = LF_MIN (*len, (uint64_t) hole - offset);
  return 0;
}
