/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: the NTFS backend, over libntfs-3g.
 *
 * No root, no kernel, no FUSE: libntfs-3g does all its I/O through a
 * device of ours (struct ntfs_device_operations, as the library's own
 * unix_io.c does for files) that forwards to an lf_blockdev, so NTFS in a
 * partition of a VMDK needs no raw copy.
 *
 * Conventions of the library, translated here and nowhere else:
 *  - errors are errno values; each failure becomes one lf_error naming the
 *    filesystem, the path and what was wrong.  An error of the block
 *    device underneath is remembered by the device callbacks and added to
 *    the message, since libntfs-3g only passes errno up;
 *  - its log goes to our debug output (silent unless -v / LANDFALL_DEBUG);
 *  - ntfs_delete closes the inodes it is given, and libntfs-3g caches
 *    inodes, so no inode is ever open twice here: each step opens what it
 *    needs and closes it before the next.
 *
 * Lookups are case-insensitive, as on Windows (ntfs_set_ignore_case), and
 * never follow a reparse point: a junction in the middle of a path is a
 * directory with an empty index, so the lookup fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/ntfstime.h>
#include <ntfs-3g/reparse.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

#include "guest/guest.h"

/* Caps on what a (possibly hostile) volume can make us allocate. */
#define NTFS_MAX_DIR_ENTRIES 1000000    /* names in one directory */
#define NTFS_MAX_DEPTH       1024       /* parents walked in rename */
#define NTFS_MAX_NAME        255        /* UTF-16 units in one name */

#define TMP_SUFFIX ".landfall-tmp"      /* new content, before the swap */
#define OLD_SUFFIX ".landfall-old"      /* original, during the swap */

/* The boot sector fields checked before libntfs-3g sees the volume.
 * NB. All fields are little-endian.
 */
struct ntfs_boot_sector {
  uint8_t  jump[3];                     /* 0x00 */
  char     oem_id[8];                   /* 0x03 "NTFS    " / "-FVE-FS-" */
  uint16_t bytes_per_sector;            /* 0x0b */
  uint8_t  sectors_per_cluster;         /* 0x0d */
  uint8_t  unused1[0x28 - 0x0e];        /* 0x0e */
  uint64_t total_sectors;               /* 0x28 */
  uint64_t mft_lcn;                     /* 0x30 */
  uint64_t mftmirr_lcn;                 /* 0x38 */
  uint8_t  unused2[0x1fe - 0x40];       /* 0x40 */
  uint16_t end_marker;                  /* 0x1fe 0xaa55 */
} __attribute__ ((packed));
_Static_assert (sizeof (struct ntfs_boot_sector) == 512,
                "NTFS boot sector is 512 bytes");
_Static_assert (offsetof (struct ntfs_boot_sector, total_sectors) == 0x28,
                "NTFS total_sectors at 0x28");

/* d_private of our ntfs_device: the block device and a file position for
 * the seek/read/write callbacks.
 */
struct ntfs_io {
  struct lf_blockdev *bd;
  uint64_t pos;
  bool failed;                          /* rec holds the device's error */
  struct lf_error_record rec;
};

struct ntfs_fs {
  ntfs_volume *vol;
  struct ntfs_io io;
  bool dirty, hibernated;
};

static const struct lf_fs_ops ntfs_ops;

/* ---- libntfs-3g's log, into our debug output ---- */

static int ntfs_log_to_debug (const char *function, const char *file,
                              int line, u32 level, void *data,
                              const char *format, va_list args)
  __attribute__ ((format (printf, 6, 0)));

static int
ntfs_log_to_debug (const char *function, const char *file, int line,
                   u32 level, void *data, const char *format, va_list args)
{
  int saved_errno = errno;    /* the library logs, then returns errno */
  char msg[1024];
  size_t n;

  (void) file; (void) line; (void) data;
  if (lf_debug_level < 1) {
    errno = saved_errno;
    return 0;
  }
  vsnprintf (msg, sizeof msg, format, args);
  n = strlen (msg);
  while (n > 0 && msg[n - 1] == '\n')
    msg[--n] = '\0';
  if (level & NTFS_LOG_LEVEL_PERROR)
    LF_DEBUG (1, "libntfs-3g: %s: %s: %s", function, msg,
              strerror (saved_errno));
  else
    LF_DEBUG (1, "libntfs-3g: %s: %s", function, msg);
  errno = saved_errno;
  return (int) n;
}

static void
ntfs_log_setup (void)
{
  const u32 normal = NTFS_LOG_LEVEL_QUIET | NTFS_LOG_LEVEL_INFO |
    NTFS_LOG_LEVEL_VERBOSE | NTFS_LOG_LEVEL_WARNING | NTFS_LOG_LEVEL_ERROR |
    NTFS_LOG_LEVEL_PERROR | NTFS_LOG_LEVEL_CRITICAL;

  ntfs_log_set_handler (ntfs_log_to_debug);
  ntfs_log_clear_levels (UINT32_MAX);
  if (lf_debug_level >= 1)
    ntfs_log_set_levels (normal);
  if (lf_debug_level >= 2)
    ntfs_log_set_levels (NTFS_LOG_LEVEL_DEBUG);
}

/* ---- the device: libntfs-3g's I/O through our block device ---- */

static struct ntfs_io *
dev_io (struct ntfs_device *dev)
{
  return dev->d_private;
}

/* Remember the block device's error for the message, return its errno. */
static int
dev_failed (struct ntfs_io *io)
{
  io->failed = true;
  lf_error_save (&io->rec);
  return lf_last_errno () ? lf_last_errno () : EIO;
}

static int
dev_open (struct ntfs_device *dev, int flags)
{
  if (NDevOpen (dev)) {
    errno = EBUSY;
    return -1;
  }
  if ((flags & O_ACCMODE) == O_RDONLY)
    NDevSetReadOnly (dev);
  else if (!lf_bd_writable (dev_io (dev)->bd)) {
    errno = EROFS;
    return -1;
  }
  dev_io (dev)->pos = 0;
  NDevSetOpen (dev);
  return 0;
}

static int
dev_sync (struct ntfs_device *dev)
{
  struct ntfs_io *io = dev_io (dev);

  if (NDevReadOnly (dev))
    return 0;
  if (lf_bd_flush (io->bd) == -1) {
    errno = dev_failed (io);
    return -1;
  }
  NDevClearDirty (dev);
  return 0;
}

static int
dev_close (struct ntfs_device *dev)
{
  if (!NDevOpen (dev)) {
    errno = EBADF;
    return -1;
  }
  if (NDevDirty (dev) && dev_sync (dev) == -1)
    return -1;
  NDevClearOpen (dev);
  return 0;
}

static s64
dev_seek (struct ntfs_device *dev, s64 offset, int whence)
{
  struct ntfs_io *io = dev_io (dev);
  int64_t base;

  switch (whence) {
  case SEEK_SET: base = 0; break;
  case SEEK_CUR: base = (int64_t) io->pos; break;
  case SEEK_END: base = (int64_t) lf_bd_size (io->bd); break;
  default: errno = EINVAL; return -1;
  }
  if ((offset < 0 && base + offset < 0) ||
      (offset > 0 && base > INT64_MAX - offset)) {
    errno = EINVAL;
    return -1;
  }
  io->pos = (uint64_t) (base + offset);
  return (s64) io->pos;
}

/* Like pread(2) on a file: a read at or past the end is short, not an
 * error (libntfs-3g probes the end of the device that way).
 */
static s64
dev_pread (struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
  struct ntfs_io *io = dev_io (dev);
  uint64_t size = lf_bd_size (io->bd);
  size_t n;

  if (count < 0 || offset < 0) {
    errno = EINVAL;
    return -1;
  }
  if ((uint64_t) offset >= size || count == 0)
    return 0;
  n = (size_t) LF_MIN ((uint64_t) count, size - (uint64_t) offset);
  if (lf_bd_pread (io->bd, buf, n, (uint64_t) offset) == -1) {
    errno = dev_failed (io);
    return -1;
  }
  return (s64) n;
}

static s64
dev_pwrite (struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
  struct ntfs_io *io = dev_io (dev);
  uint64_t size = lf_bd_size (io->bd);
  size_t n;

  if (NDevReadOnly (dev)) {
    errno = EROFS;
    return -1;
  }
  if (count < 0 || offset < 0) {
    errno = EINVAL;
    return -1;
  }
  if ((uint64_t) offset >= size) {
    errno = ENOSPC;
    return -1;
  }
  if (count == 0)
    return 0;
  n = (size_t) LF_MIN ((uint64_t) count, size - (uint64_t) offset);
  NDevSetDirty (dev);
  if (lf_bd_pwrite (io->bd, buf, n, (uint64_t) offset) == -1) {
    errno = dev_failed (io);
    return -1;
  }
  return (s64) n;
}

static s64
dev_read (struct ntfs_device *dev, void *buf, s64 count)
{
  s64 r = dev_pread (dev, buf, count, (s64) dev_io (dev)->pos);

  if (r > 0)
    dev_io (dev)->pos += (uint64_t) r;
  return r;
}

static s64
dev_write (struct ntfs_device *dev, const void *buf, s64 count)
{
  s64 r = dev_pwrite (dev, buf, count, (s64) dev_io (dev)->pos);

  if (r > 0)
    dev_io (dev)->pos += (uint64_t) r;
  return r;
}

static int
dev_stat (struct ntfs_device *dev, struct stat *st)
{
  memset (st, 0, sizeof *st);
  st->st_mode = S_IFREG | (NDevReadOnly (dev) ? 0400 : 0600);
  st->st_size = (off_t) lf_bd_size (dev_io (dev)->bd);
  st->st_blksize = 4096;
  return 0;
}

static int
dev_ioctl (struct ntfs_device *dev, unsigned long request, void *argp)
{
  switch (request) {
  case BLKGETSIZE64:
    *(uint64_t *) argp = lf_bd_size (dev_io (dev)->bd);
    return 0;
  case BLKSSZGET:
    *(int *) argp = 512;
    return 0;
  case BLKBSZSET:
    return 0;                   /* no kernel cache to tune */
  default:
    errno = ENOTTY;
    return -1;
  }
}

static struct ntfs_device_operations lf_ntfs_dev_ops = {
  .open   = dev_open,
  .close  = dev_close,
  .seek   = dev_seek,
  .read   = dev_read,
  .write  = dev_write,
  .pread  = dev_pread,
  .pwrite = dev_pwrite,
  .sync   = dev_sync,
  .stat   = dev_stat,
  .ioctl  = dev_ioctl,
};

/* ---- errors ---- */

/* Record "FS: what: reason", with the block device's own message when a
 * device callback failed since the operation began.
 */
static void ntfs_fail (struct lf_fs *fs, int err, const char *fmt, ...)
  LF_PRINTF (3, 4);

static void
ntfs_fail (struct lf_fs *fs, int err, const char *fmt, ...)
{
  struct ntfs_fs *nf = fs->priv;
  char what[1024];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  if (nf->io.failed)
    lf_error (nf->io.rec.errnum ? nf->io.rec.errnum : EIO,
              "%s: %s: I/O error: %s", fs->name, what, nf->io.rec.msg);
  else
    lf_error (err ? err : EIO, "%s: %s", fs->name, what);
}

/* Called at the start of each operation. */
static struct ntfs_fs *
op_begin (struct lf_fs *fs)
{
  struct ntfs_fs *nf = fs->priv;

  nf->io.failed = false;
  return nf;
}

static int
need_writable (struct lf_fs *fs, const char *op, const char *path)
{
  if (!fs->writable) {
    lf_error (EROFS, "%s: %s %s: the filesystem is open read-only",
              fs->name, op, path);
    return -1;
  }
  return 0;
}

/* ---- paths and names ---- */

/* Split absolute PATH into its directory and last component (new
 * strings).  The name must be one Windows can open.
 */
static int
split_path (struct lf_fs *fs, const char *path, char **dir, char **name)
{
  const char *slash;
  size_t len = strlen (path);

  while (len > 1 && path[len - 1] == '/')
    len--;
  if (path[0] != '/' || len <= 1) {
    lf_error (EINVAL, "%s: %s: need an absolute path below /", fs->name,
              path);
    return -1;
  }
  slash = path + len - 1;
  while (*slash != '/')
    slash--;
  *name = strndup (slash + 1, (size_t) (path + len - slash - 1));
  *dir = slash == path ? strdup ("/") : strndup (path, (size_t) (slash - path));
  if (!*name || !*dir) {
    free (*name); free (*dir);
    *name = *dir = NULL;
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (strcmp (*name, ".") == 0 || strcmp (*name, "..") == 0 ||
      strpbrk (*name, "\\:*?\"<>|") != NULL) {
    lf_error (EINVAL, "%s: %s: \"%s\" is not a valid NTFS file name",
              fs->name, path, *name);
    goto error;
  }
  for (const char *p = *name; *p; p++)
    if ((unsigned char) *p < 0x20) {
      lf_error (EINVAL, "%s: %s: control character in file name",
                fs->name, path);
      goto error;
    }
  return 0;

 error:
  free (*name); free (*dir);
  *name = *dir = NULL;
  return -1;
}

/* UTF-8 NAME to NTFS' UTF-16; returns the length in units or -1. */
static int
to_ucs (struct lf_fs *fs, const char *name, ntfschar **ucs)
{
  int len;

  *ucs = NULL;
  len = ntfs_mbstoucs (name, ucs);
  if (len < 0) {
    lf_error (errno, "%s: \"%s\": cannot convert the name to UTF-16: %m",
              fs->name, name);
    return -1;
  }
  if (len == 0 || len > NTFS_MAX_NAME) {
    free (*ucs);
    *ucs = NULL;
    lf_error (ENAMETOOLONG, "%s: \"%s\": an NTFS name is 1 to %d UTF-16 "
              "units, this one is %d", fs->name, name, NTFS_MAX_NAME, len);
    return -1;
  }
  return len;
}

static char *
join (const char *dir, const char *name)
{
  char *p = NULL;

  if (asprintf (&p, "%s%s%s", dir, strcmp (dir, "/") == 0 ? "" : "/",
                name) == -1)
    return NULL;
  return p;
}

/* PATH's inode: 1 and *RET, 0 if there is no such file (nothing
 * recorded), -1 on error.
 */
static int
open_path_opt (struct lf_fs *fs, const char *path, ntfs_inode **ret)
{
  struct ntfs_fs *nf = fs->priv;
  ntfs_inode *ni;

  if (path[0] != '/') {
    lf_error (EINVAL, "%s: %s: need an absolute path", fs->name, path);
    return -1;
  }
  errno = 0;
  NVolClearCaseSensitive (nf->vol);     /* see lf_fs_open_ntfs */
  ni = ntfs_pathname_to_inode (nf->vol, NULL, path);
  NVolSetCaseSensitive (nf->vol);
  if (!ni) {
    int e = errno ? errno : EIO;
    /* ntfs-3g says ENOENT for a missing name, an I/O error aside. */
    if ((e == ENOENT || e == ENOTDIR) && !nf->io.failed)
      return 0;
    ntfs_fail (fs, e, "%s: %s", path, strerror (e));
    return -1;
  }
  *ret = ni;
  return 1;
}

static ntfs_inode *
open_path (struct lf_fs *fs, const char *path)
{
  ntfs_inode *ni = NULL;
  int r = open_path_opt (fs, path, &ni);

  if (r == 0)
    ntfs_fail (fs, ENOENT, "%s: %s", path, strerror (ENOENT));
  return r == 1 ? ni : NULL;
}

static bool
is_dir (ntfs_inode *ni)
{
  return (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) != 0;
}

/* The reparse tag of NI, or 0 if it has none. */
static uint32_t
reparse_tag (ntfs_inode *ni)
{
  REPARSE_POINT *rp;
  uint32_t tag;

  if (!(ni->flags & FILE_ATTR_REPARSE_POINT))
    return 0;
  rp = ntfs_get_reparse_point (ni);
  if (!rp)
    return UINT32_MAX;          /* damaged: treat as unknown */
  tag = le32_to_cpu (rp->reparse_tag);
  free (rp);
  return tag;
}

/* Symlinks and junctions, which libntfs-3g can translate. */
static bool
is_symlink (ntfs_inode *ni)
{
  return (ni->flags & FILE_ATTR_REPARSE_POINT) && ntfs_possible_symlink (ni);
}

/* Look NAME up in directory DIR_NO: 1 found (*mref set), 0 not, -1 error. */
static int
lookup_in (struct lf_fs *fs, u64 dir_no, const char *dirpath,
           const char *name, u64 *mref)
{
  struct ntfs_fs *nf = fs->priv;
  CLEANUP_FREE ntfschar *ucs = NULL;
  ntfs_inode *dir_ni;
  int len, e;
  u64 r;

  len = to_ucs (fs, name, &ucs);
  if (len == -1)
    return -1;
  dir_ni = ntfs_inode_open (nf->vol, dir_no);
  if (!dir_ni) {
    e = errno;
    ntfs_fail (fs, e, "%s: cannot open the directory: %s", dirpath,
               strerror (e));
    return -1;
  }
  NVolClearCaseSensitive (nf->vol);     /* see lf_fs_open_ntfs */
  r = ntfs_inode_lookup_by_name (dir_ni, ucs, len);
  e = errno;
  NVolSetCaseSensitive (nf->vol);
  ntfs_inode_close (dir_ni);
  if (r == (u64) -1) {
    if (e == ENOENT)
      return 0;
    ntfs_fail (fs, e, "%s: looking up \"%s\": %s", dirpath, name,
               strerror (e));
    return -1;
  }
  *mref = MREF (r);
  return 1;
}

static char *stored_name (struct lf_fs *fs, u64 ino, u64 dir_no,
                          const char *name);

/* Remove the entry NAME (a file, or an empty directory unless the
 * directory has OTHER_NAME, as in a rename) from DIR_NO.
 */
static int
unlink_in (struct lf_fs *fs, u64 dir_no, const char *dirpath,
           const char *name, bool other_name)
{
  struct ntfs_fs *nf = fs->priv;
  CLEANUP_FREE ntfschar *ucs = NULL;
  CLEANUP_FREE char *path = NULL;
  CLEANUP_FREE char *stored = NULL;
  ntfs_inode *dir_ni = NULL, *ni = NULL;
  u64 mref;
  int len, r, e;

  r = lookup_in (fs, dir_no, dirpath, name, &mref);
  if (r <= 0) {
    if (r == 0)
      lf_error (ENOENT, "%s: %s/%s: no such file or directory", fs->name,
                dirpath, name);
    return -1;
  }
  /* ntfs_delete matches POSIX names case-sensitively: give it the name
   * as stored.
   */
  stored = stored_name (fs, mref, dir_no, name);
  if (!stored)
    return -1;
  len = to_ucs (fs, stored, &ucs);
  path = join (dirpath, stored);
  if (len == -1 || !path) {
    if (!path)
      lf_error (ENOMEM, "out of memory");
    return -1;
  }
  ni = ntfs_inode_open (nf->vol, mref);
  dir_ni = ni ? ntfs_inode_open (nf->vol, dir_no) : NULL;
  if (!ni || !dir_ni) {
    e = errno;
    if (ni)
      ntfs_inode_close (ni);
    ntfs_fail (fs, e, "%s: %s", path, strerror (e));
    return -1;
  }
  if (!other_name && is_dir (ni) && ntfs_check_empty_dir (ni) == -1) {
    e = errno;
    ntfs_inode_close (ni);
    ntfs_inode_close (dir_ni);
    ntfs_fail (fs, e, "%s: %s", path,
               e == ENOTEMPTY ? "directory not empty" : strerror (e));
    return -1;
  }
  /* ntfs_delete closes both inodes, whatever happens. */
  if (ntfs_delete (nf->vol, path, ni, dir_ni, ucs, (u8) len) == -1) {
    e = errno;
    ntfs_fail (fs, e, "%s: cannot remove: %s", path, strerror (e));
    return -1;
  }
  return 0;
}

/* Add the name NAME in DIR_NO for inode INO (a hard link). */
static int
link_in (struct lf_fs *fs, u64 ino, u64 dir_no, const char *dirpath,
         const char *name)
{
  struct ntfs_fs *nf = fs->priv;
  CLEANUP_FREE ntfschar *ucs = NULL;
  ntfs_inode *dir_ni = NULL, *ni = NULL;
  int len, e, r = -1;

  len = to_ucs (fs, name, &ucs);
  if (len == -1)
    return -1;
  ni = ntfs_inode_open (nf->vol, ino);
  dir_ni = ni ? ntfs_inode_open (nf->vol, dir_no) : NULL;
  if (!ni || !dir_ni) {
    e = errno;
    ntfs_fail (fs, e, "%s/%s: %s", dirpath, name, strerror (e));
    goto out;
  }
  if (ntfs_link (ni, dir_ni, ucs, (u8) len) == -1) {
    e = errno;
    ntfs_fail (fs, e, "%s/%s: cannot add the name: %s", dirpath, name,
               strerror (e));
    goto out;
  }
  r = 0;
 out:
  /* Closing writes the MFT records (the index root lives in the
   * directory's), so a failure here is a failure of the step.  The file
   * is closed "in dir": updating its index entry must not open a second,
   * stale copy of the directory's inode.
   */
  if (ni && (dir_ni ? ntfs_inode_close_in_dir (ni, dir_ni)
             : ntfs_inode_close (ni)) == -1 && r == 0) {
    ntfs_fail (fs, errno, "%s/%s: writing the file's MFT record: %m",
               dirpath, name);
    r = -1;
  }
  if (dir_ni && ntfs_inode_close (dir_ni) == -1 && r == 0) {
    ntfs_fail (fs, errno, "%s: writing the directory's MFT record: %m",
               dirpath);
    r = -1;
  }
  return r;
}

static int
flush (struct lf_fs *fs)
{
  struct ntfs_fs *nf = fs->priv;

  if (!fs->writable)
    return 0;
  if (ntfs_device_sync (nf->vol->dev) == -1) {
    ntfs_fail (fs, errno, "flush: %m");
    return -1;
  }
  return 0;
}

/* The inode number of directory DIRPATH. */
static int
dir_number (struct lf_fs *fs, const char *dirpath, u64 *dir_no)
{
  ntfs_inode *ni = open_path (fs, dirpath);
  bool dir;

  if (!ni)
    return -1;
  dir = is_dir (ni) && !is_symlink (ni);
  *dir_no = ni->mft_no;
  ntfs_inode_close (ni);
  if (!dir) {
    lf_error (ENOTDIR, "%s: %s: not a directory", fs->name, dirpath);
    return -1;
  }
  return 0;
}

/* ---- read operations ---- */

static int
ntfs_lookup (struct lf_fs *fs, const char *path, struct lf_stat *st)
{
  ntfs_inode *ni = NULL;
  ntfs_attr *na;
  int r;

  op_begin (fs);
  r = open_path_opt (fs, path, &ni);
  if (r <= 0)
    return r;
  memset (st, 0, sizeof *st);
  st->ino = ni->mft_no;
  st->nlink = LF_MAX (le16_to_cpu (ni->mrec->link_count), 1);
  st->mtime = ntfs2timespec (ni->last_data_change_time).tv_sec;
  if (is_symlink (ni)) {
    char *target = ntfs_make_symlink (ni, "");
    st->mode = S_IFLNK | 0777;
    st->size = target ? strlen (target) : 0;
    free (target);
  }
  else if (is_dir (ni))
    st->mode = S_IFDIR | 0755;
  else {
    st->mode = S_IFREG | (ni->flags & FILE_ATTR_READONLY ? 0444 : 0644);
    na = ntfs_attr_open (ni, AT_DATA, AT_UNNAMED, 0);
    if (na) {
      st->size = (uint64_t) LF_MAX (na->data_size, 0);
      ntfs_attr_close (na);
    }
  }
  ntfs_inode_close (ni);
  return 1;
}

static int
ntfs_readlink_op (struct lf_fs *fs, const char *path, char **target)
{
  ntfs_inode *ni;
  uint32_t tag;
  char *t;
  int e;

  op_begin (fs);
  ni = open_path (fs, path);
  if (!ni)
    return -1;
  tag = reparse_tag (ni);
  if (!is_symlink (ni)) {
    if (tag)
      lf_error (ENOTSUP, "%s: %s: reparse point with tag 0x%08" PRIx32
                " is not a symlink or junction", fs->name, path, tag);
    else
      lf_error (EINVAL, "%s: %s: not a symbolic link", fs->name, path);
    ntfs_inode_close (ni);
    return -1;
  }
  /* Targets on this volume become paths from its root; others point
   * into /.NTFS-3G/ (libntfs-3g's convention for other drive letters).
   */
  t = ntfs_make_symlink (ni, "");
  e = errno;
  ntfs_inode_close (ni);
  if (!t) {
    lf_error (e == EOPNOTSUPP ? ENOTSUP : e, "%s: %s: cannot translate the "
              "target of reparse point (tag 0x%08" PRIx32 "): %s", fs->name,
              path, tag, strerror (e));
    return -1;
  }
  *target = t;
  return 0;
}

static int
ntfs_read_op (struct lf_fs *fs, const char *path, size_t max, char **bufp,
              size_t *lenp)
{
  ntfs_inode *ni;
  ntfs_attr *na = NULL;
  CLEANUP_FREE char *buf = NULL;
  uint64_t size = 0, done = 0;
  uint32_t tag;
  int r = -1;

  op_begin (fs);
  ni = open_path (fs, path);
  if (!ni)
    return -1;
  if (is_dir (ni) && !is_symlink (ni)) {
    lf_error (EISDIR, "%s: %s: is a directory", fs->name, path);
    goto out;
  }
  tag = reparse_tag (ni);
  if (tag) {
    /* A WOF-compressed system file (Windows 10 CompactOS), a dedup or
     * cloud placeholder: its unnamed $DATA is not the content.
     */
    lf_error (is_symlink (ni) ? EINVAL : ENOTSUP, "%s: %s: %s (reparse tag "
              "0x%08" PRIx32 "): its data cannot be read here", fs->name,
              path, is_symlink (ni) ? "is a symbolic link or junction"
              : "is a reparse point", tag);
    goto out;
  }
  if (ni->flags & FILE_ATTR_ENCRYPTED) {
    lf_error (EACCES, "%s: %s: file is encrypted (EFS)", fs->name, path);
    goto out;
  }
  na = ntfs_attr_open (ni, AT_DATA, AT_UNNAMED, 0);
  if (!na && errno != ENOENT) {
    ntfs_fail (fs, errno, "%s: opening $DATA: %m", path);
    goto out;
  }
  if (na)
    size = (uint64_t) LF_MAX (na->data_size, 0);
  if (size > max) {
    lf_error (EFBIG, "%s: %s: file is %" PRIu64 " bytes, more than the "
              "limit of %zu", fs->name, path, size, max);
    goto out;
  }
  buf = malloc ((size_t) size + 1);
  if (!buf) {
    lf_error (ENOMEM, "%s: %s: out of memory for %" PRIu64 " bytes",
              fs->name, path, size);
    goto out;
  }
  while (done < size) {
    s64 n = ntfs_attr_pread (na, (s64) done, (s64) (size - done),
                             buf + done);
    if (n <= 0) {
      ntfs_fail (fs, n == 0 ? EIO : errno, "%s: reading $DATA at 0x%"
                 PRIx64 ": %s", path, done,
                 n == 0 ? "unexpected end of data" : strerror (errno));
      goto out;
    }
    done += (uint64_t) n;
  }
  buf[size] = '\0';
  *bufp = buf;
  buf = NULL;
  *lenp = (size_t) size;
  r = 0;
 out:
  if (na)
    ntfs_attr_close (na);
  ntfs_inode_close (ni);
  return r;
}

struct list_ctx {
  struct lf_fs *fs;
  bool root;
  char **names;
  size_t n, cap;
  int err;
};

static int
list_filler (void *priv, const ntfschar *name, const int name_len,
             const int name_type, const s64 pos, const MFT_REF mref,
             const unsigned dt_type)
{
  struct list_ctx *c = priv;
  char *s = NULL;

  (void) pos; (void) dt_type;
  if (name_type == FILE_NAME_DOS)
    return 0;                   /* the 8.3 alias of a long name */
  if (c->root && MREF (mref) < FILE_first_user)
    return 0;                   /* $MFT, $Bitmap... and "." */
  if (ntfs_ucstombs (name, name_len, &s, 0) < 0) {
    /* Unpaired surrogates: show the name, with U+FFFD. */
    s = lf_utf16_to_utf8 (name, (size_t) name_len * 2, false);
    if (!s) {
      c->err = ENOMEM;
      return -1;
    }
  }
  if (strcmp (s, ".") == 0 || strcmp (s, "..") == 0) {
    free (s);
    return 0;
  }
  if (c->n + 1 >= c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    char **p;
    if (c->n >= NTFS_MAX_DIR_ENTRIES) {
      free (s);
      c->err = EFBIG;
      return -1;
    }
    p = realloc (c->names, cap * sizeof *p);
    if (!p) {
      free (s);
      c->err = ENOMEM;
      return -1;
    }
    c->names = p;
    c->cap = cap;
  }
  c->names[c->n++] = s;
  return 0;
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
ntfs_list_op (struct lf_fs *fs, const char *path, char ***namesp)
{
  struct list_ctx c = { .fs = fs };
  ntfs_inode *ni;
  s64 pos = 0;
  int r, e;

  op_begin (fs);
  ni = open_path (fs, path);
  if (!ni)
    return -1;
  if (!is_dir (ni) || is_symlink (ni)) {
    lf_error (ENOTDIR, "%s: %s: not a directory", fs->name, path);
    ntfs_inode_close (ni);
    return -1;
  }
  c.root = ni->mft_no == FILE_root;
  r = ntfs_readdir (ni, &pos, &c, list_filler);
  e = errno;
  ntfs_inode_close (ni);
  if (c.err || r == -1) {
    if (c.err == EFBIG)
      lf_error (EFBIG, "%s: %s: more than %d entries in one directory",
                fs->name, path, NTFS_MAX_DIR_ENTRIES);
    else if (c.err)
      lf_error (c.err, "%s: %s: out of memory", fs->name, path);
    else
      ntfs_fail (fs, e, "%s: reading the directory index: %s", path,
                 strerror (e));
    for (size_t i = 0; i < c.n; i++)
      free (c.names[i]);
    free (c.names);
    return -1;
  }
  if (!c.names && !(c.names = calloc (1, sizeof *c.names))) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  qsort (c.names, c.n, sizeof *c.names, cmp_names);
  c.names[c.n] = NULL;
  *namesp = c.names;
  return 0;
}

/* ---- write operations ---- */

/* What an existing file passes on to its replacement. */
struct file_attrs {
  le32 securid;                 /* its security descriptor (ACL) */
  le32 flags;                   /* hidden, system, read-only, archive */
};

#define KEPT_FLAGS (FILE_ATTR_READONLY | FILE_ATTR_HIDDEN | \
                    FILE_ATTR_SYSTEM | FILE_ATTR_ARCHIVE | \
                    FILE_ATTR_NOT_CONTENT_INDEXED)

/* The attributes of regular file INO; -1 if it is not one we replace. */
static int
file_attrs (struct lf_fs *fs, u64 ino, const char *path,
            struct file_attrs *fa)
{
  struct ntfs_fs *nf = fs->priv;
  ntfs_inode *ni = ntfs_inode_open (nf->vol, ino);
  int r = -1;

  if (!ni) {
    ntfs_fail (fs, errno, "%s: %m", path);
    return -1;
  }
  if (is_dir (ni))
    lf_error (EISDIR, "%s: %s: is a directory", fs->name, path);
  else if (ni->flags & FILE_ATTR_REPARSE_POINT)
    lf_error (ENOTSUP, "%s: %s: is a reparse point (tag 0x%08" PRIx32
              "): not replacing it", fs->name, path, reparse_tag (ni));
  else if (ni->flags & FILE_ATTR_ENCRYPTED)
    lf_error (ENOTSUP, "%s: %s: is encrypted (EFS): not replacing it",
              fs->name, path);
  else {
    fa->securid = ni->security_id;
    fa->flags = ni->flags & KEPT_FLAGS;
    r = 0;
  }
  ntfs_inode_close (ni);
  return r;
}

/* The name of INO in DIR_NO as stored, spelt NAME but for case, so that
 * a replaced file keeps its spelling ("SYSTEM" written as "system").
 * NAME itself if there is none (new string, NULL on ENOMEM).
 */
static char *
stored_name (struct lf_fs *fs, u64 ino, u64 dir_no, const char *name)
{
  struct ntfs_fs *nf = fs->priv;
  CLEANUP_FREE ntfschar *ucs = NULL;
  ntfs_attr_search_ctx *ctx = NULL;
  ntfs_inode *ni = NULL;
  char *r = NULL;
  int len = to_ucs (fs, name, &ucs);

  if (len > 0 && (ni = ntfs_inode_open (nf->vol, ino)) != NULL &&
      (ctx = ntfs_attr_get_search_ctx (ni, NULL)) != NULL) {
    while (!r && ntfs_attr_lookup (AT_FILE_NAME, AT_UNNAMED, 0,
                                   CASE_SENSITIVE, 0, NULL, 0, ctx) == 0) {
      const ATTR_RECORD *a = ctx->attr;
      const FILE_NAME_ATTR *fn;
      if (a->non_resident ||
          le32_to_cpu (a->value_length) < sizeof *fn ||
          le16_to_cpu (a->value_offset) + (uint64_t) le32_to_cpu
          (a->value_length) > le32_to_cpu (a->length))
        continue;
      fn = (const FILE_NAME_ATTR *) ((const char *) a +
                                     le16_to_cpu (a->value_offset));
      /* The name follows the packed header, 2-byte aligned. */
      const ntfschar *fname = (const ntfschar *) (const void *)
        ((const char *) fn + offsetof (FILE_NAME_ATTR, file_name));
      if (MREF_LE (fn->parent_directory) != dir_no ||
          fn->file_name_type == FILE_NAME_DOS ||
          sizeof *fn + fn->file_name_length * sizeof (ntfschar) >
          le32_to_cpu (a->value_length) ||
          !ntfs_names_are_equal (fname, fn->file_name_length, ucs,
                                 (size_t) len, IGNORE_CASE, nf->vol->upcase,
                                 nf->vol->upcase_len))
        continue;
      if (ntfs_ucstombs (fname, fn->file_name_length, &r, 0) < 0)
        r = NULL;
    }
  }
  if (ctx)
    ntfs_attr_put_search_ctx (ctx);
  if (ni)
    ntfs_inode_close (ni);
  if (!r)
    r = strdup (name);
  if (!r)
    lf_error (ENOMEM, "out of memory");
  return r;
}

/* Create NAME in DIR_NO holding BUF; its inode number in *INO. */
static int
create_file (struct lf_fs *fs, u64 dir_no, const char *dirpath,
             const char *name, const struct file_attrs *fa,
             const void *buf, size_t len, u64 *ino)
{
  struct ntfs_fs *nf = fs->priv;
  CLEANUP_FREE ntfschar *ucs = NULL;
  ntfs_inode *dir_ni = NULL, *ni = NULL;
  ntfs_attr *na = NULL;
  size_t done = 0;
  int ulen, r = -1;

  ulen = to_ucs (fs, name, &ucs);
  if (ulen == -1)
    return -1;
  dir_ni = ntfs_inode_open (nf->vol, dir_no);
  if (!dir_ni) {
    ntfs_fail (fs, errno, "%s: %m", dirpath);
    return -1;
  }
  /* securid 0: libntfs-3g gives the file a descriptor granting Everyone
   * full access.  An existing file's own descriptor is reused.
   */
  ni = ntfs_create (dir_ni, fa->securid, ucs, (u8) ulen, S_IFREG);
  if (!ni) {
    ntfs_fail (fs, errno, "%s/%s: cannot create: %m", dirpath, name);
    goto out;
  }
  *ino = ni->mft_no;
  na = ntfs_attr_open (ni, AT_DATA, AT_UNNAMED, 0);
  if (!na) {
    ntfs_fail (fs, errno, "%s/%s: opening $DATA: %m", dirpath, name);
    goto out;
  }
  while (done < len) {
    s64 n = ntfs_attr_pwrite (na, (s64) done, (s64) (len - done),
                              (const char *) buf + done);
    if (n <= 0) {
      ntfs_fail (fs, n == 0 ? ENOSPC : errno, "%s/%s: writing %zu bytes at "
                 "0x%zx: %s", dirpath, name, len - done, done,
                 n == 0 ? "no progress (volume full?)" : strerror (errno));
      goto out;
    }
    done += (size_t) n;
  }
  ni->flags = (ni->flags & ~KEPT_FLAGS) | fa->flags;
  ntfs_inode_mark_dirty (ni);
  NInoFileNameSetDirty (ni);
  r = 0;
 out:
  if (na)
    ntfs_attr_close (na);
  if (ni && ntfs_inode_close_in_dir (ni, dir_ni) == -1 && r == 0) {
    ntfs_fail (fs, errno, "%s/%s: writing the MFT record: %m", dirpath,
               name);
    r = -1;
  }
  if (ntfs_inode_close (dir_ni) == -1 && r == 0) {
    ntfs_fail (fs, errno, "%s: writing the directory's MFT record: %m",
               dirpath);
    r = -1;
  }
  return r;
}

/* Remove NAME from DIR_NO if it exists and is a regular file (the
 * leftover of an interrupted write_atomic).
 */
static int
remove_leftover (struct lf_fs *fs, u64 dir_no, const char *dirpath,
                 const char *name)
{
  CLEANUP_FREE char *path = join (dirpath, name);
  struct file_attrs fa;
  u64 ino;
  int r;

  if (!path) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  r = lookup_in (fs, dir_no, dirpath, name, &ino);
  if (r <= 0)
    return r;
  if (file_attrs (fs, ino, path, &fa) == -1) {
    lf_error_prefix ("%s is in the way", path);
    return -1;
  }
  LF_DEBUG (1, "%s: removing %s, left by an interrupted write", fs->name,
            path);
  return unlink_in (fs, dir_no, dirpath, name, false);
}

/* write_atomic.  NTFS has no atomic rename, and libntfs-3g no rename at
 * all (its FUSE driver links the new name, then unlinks the old, as
 * here).  The content is complete and flushed before any name changes,
 * and the original keeps a name at every moment:
 *
 *   1. NAME.landfall-tmp is created with the new content; flush.
 *   2. The original gets a second name, NAME.landfall-old; flush.
 *   3. NAME is unlinked (the original lives on as NAME.landfall-old).
 *   4. NAME is linked to the new file; flush.
 *   5. NAME.landfall-tmp and NAME.landfall-old are unlinked; flush.
 *
 * What is atomic: each step is one libntfs-3g operation (an index entry
 * and an MFT record), flushed, so a crash between steps leaves a
 * consistent volume.  Between 3 and 4 NAME is missing, with the new
 * content under NAME.landfall-tmp and the old under NAME.landfall-old;
 * a re-run removes both leftovers and starts again (bootfix/ keeps its
 * own backup and journal).  libntfs-3g keeps no $LogFile, so a crash
 * inside one step is chkdsk's to repair, as with any ntfs-3g write.
 *
 * The replacement takes the original's security descriptor and its
 * hidden/system/read-only/archive flags; alternate data streams, extended
 * attributes, object id and short (8.3) name are not carried over.
 */
static int
ntfs_write_atomic (struct lf_fs *fs, const char *path, const void *buf,
                   size_t len, uint32_t mode)
{
  CLEANUP_FREE char *dir = NULL;
  CLEANUP_FREE char *name = NULL;
  CLEANUP_FREE char *tmpname = NULL;
  CLEANUP_FREE char *oldname = NULL;
  struct file_attrs fa = { .securid = 0, .flags = 0 };
  u64 dir_no, old_ino = 0, new_ino;
  bool exists;
  int r;

  op_begin (fs);
  if (need_writable (fs, "write", path) == -1 ||
      split_path (fs, path, &dir, &name) == -1 ||
      dir_number (fs, dir, &dir_no) == -1)
    return -1;
  r = lookup_in (fs, dir_no, dir, name, &old_ino);
  if (r == -1)
    return -1;
  exists = r == 1;
  if (exists) {
    char *stored;
    if (file_attrs (fs, old_ino, path, &fa) == -1 ||
        !(stored = stored_name (fs, old_ino, dir_no, name)))
      return -1;
    free (name);
    name = stored;
  }
  if (asprintf (&tmpname, "%s" TMP_SUFFIX, name) == -1 ||
      asprintf (&oldname, "%s" OLD_SUFFIX, name) == -1) {
    tmpname = oldname = NULL;
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (!exists) {
    /* An interrupted swap left the original as NAME.landfall-old: its
     * descriptor and flags are the ones to keep.
     */
    u64 ino;
    if (lookup_in (fs, dir_no, dir, oldname, &ino) == 1)
      (void) file_attrs (fs, ino, path, &fa);
    if (!(mode & 0222))
      fa.flags |= FILE_ATTR_READONLY;
  }
  if (remove_leftover (fs, dir_no, dir, tmpname) == -1 ||
      remove_leftover (fs, dir_no, dir, oldname) == -1)
    return -1;

  /* 1. */
  if (create_file (fs, dir_no, dir, tmpname, &fa, buf, len, &new_ino) == -1) {
    struct lf_error_record rec;
    lf_error_save (&rec);
    (void) remove_leftover (fs, dir_no, dir, tmpname);
    lf_error_restore (&rec);
    return -1;
  }
  if (flush (fs) == -1)
    return -1;
  if (exists) {
    /* 2, 3. */
    if (link_in (fs, old_ino, dir_no, dir, oldname) == -1 ||
        flush (fs) == -1 ||
        unlink_in (fs, dir_no, dir, name, true) == -1)
      return -1;
  }
  /* 4, 5. */
  if (link_in (fs, new_ino, dir_no, dir, name) == -1 ||
      flush (fs) == -1 ||
      unlink_in (fs, dir_no, dir, tmpname, true) == -1 ||
      (exists && unlink_in (fs, dir_no, dir, oldname, false) == -1) ||
      flush (fs) == -1)
    return -1;
  LF_DEBUG (1, "%s: wrote %s (%zu bytes, inode %" PRIu64 "%s)", fs->name,
            path, len, (uint64_t) new_ino, exists ? ", replaced" : "");
  return 0;
}

static int
ntfs_mkdir_op (struct lf_fs *fs, const char *path, uint32_t mode)
{
  struct ntfs_fs *nf = fs->priv;
  CLEANUP_FREE char *dir = NULL;
  CLEANUP_FREE char *name = NULL;
  CLEANUP_FREE ntfschar *ucs = NULL;
  ntfs_inode *dir_ni, *ni;
  u64 dir_no, ino;
  int ulen, r;

  (void) mode;                  /* NTFS has no mode bits */
  op_begin (fs);
  if (need_writable (fs, "mkdir", path) == -1 ||
      split_path (fs, path, &dir, &name) == -1 ||
      dir_number (fs, dir, &dir_no) == -1)
    return -1;
  r = lookup_in (fs, dir_no, dir, name, &ino);
  if (r != 0) {
    if (r == 1)
      lf_error (EEXIST, "%s: mkdir %s: already exists", fs->name, path);
    return -1;
  }
  ulen = to_ucs (fs, name, &ucs);
  if (ulen == -1)
    return -1;
  dir_ni = ntfs_inode_open (nf->vol, dir_no);
  if (!dir_ni) {
    ntfs_fail (fs, errno, "%s: %m", dir);
    return -1;
  }
  ni = ntfs_create (dir_ni, 0, ucs, (u8) ulen, S_IFDIR);
  r = ni ? 0 : -1;
  if (!ni)
    ntfs_fail (fs, errno, "mkdir %s: %m", path);
  if (ni && ntfs_inode_close_in_dir (ni, dir_ni) == -1 && r == 0) {
    ntfs_fail (fs, errno, "mkdir %s: writing the MFT record: %m", path);
    r = -1;
  }
  if (ntfs_inode_close (dir_ni) == -1 && r == 0) {
    ntfs_fail (fs, errno, "mkdir %s: writing the parent's MFT record: %m",
               path);
    r = -1;
  }
  if (r == 0)
    r = flush (fs);
  return r;
}

/* Is directory DIR_NO inside (or equal to) directory ANC? */
static int
dir_is_within (struct lf_fs *fs, u64 dir_no, u64 anc, bool *within)
{
  struct ntfs_fs *nf = fs->priv;
  u64 cur = dir_no;

  *within = false;
  for (int depth = 0; depth < NTFS_MAX_DEPTH; depth++) {
    ntfs_inode *ni, *parent;
    if (cur == anc) {
      *within = true;
      return 0;
    }
    if (cur == FILE_root)
      return 0;
    ni = ntfs_inode_open (nf->vol, cur);
    if (!ni) {
      ntfs_fail (fs, errno, "directory inode %" PRIu64 ": %m",
                 (uint64_t) cur);
      return -1;
    }
    parent = ntfs_dir_parent_inode (ni);
    ntfs_inode_close (ni);
    if (!parent) {
      ntfs_fail (fs, errno ? errno : EIO, "directory inode %" PRIu64
                 ": no parent: %m", (uint64_t) cur);
      return -1;
    }
    cur = parent->mft_no;
    ntfs_inode_close (parent);
  }
  lf_error (ELOOP, "%s: directories nested more than %d deep (a loop?)",
            fs->name, NTFS_MAX_DEPTH);
  return -1;
}

/* rename: link the new name, then unlink the old (as ntfs-3g's FUSE
 * driver does).  Between the two the object has both names; an existing
 * TO (a file) is unlinked first, so a crash there leaves TO missing and
 * FROM intact.
 */
static int
ntfs_rename_op (struct lf_fs *fs, const char *from, const char *to)
{
  CLEANUP_FREE char *fdir = NULL;
  CLEANUP_FREE char *fname = NULL;
  CLEANUP_FREE char *tdir = NULL;
  CLEANUP_FREE char *tname = NULL;
  u64 fdir_no, tdir_no, ino, to_ino;
  ntfs_inode *ni;
  bool from_dir, within;
  int r;

  op_begin (fs);
  if (need_writable (fs, "rename", from) == -1 ||
      split_path (fs, from, &fdir, &fname) == -1 ||
      split_path (fs, to, &tdir, &tname) == -1 ||
      dir_number (fs, fdir, &fdir_no) == -1 ||
      dir_number (fs, tdir, &tdir_no) == -1)
    return -1;
  r = lookup_in (fs, fdir_no, fdir, fname, &ino);
  if (r != 1) {
    if (r == 0)
      lf_error (ENOENT, "%s: rename %s: no such file or directory",
                fs->name, from);
    return -1;
  }
  ni = ntfs_inode_open (((struct ntfs_fs *) fs->priv)->vol, ino);
  if (!ni) {
    ntfs_fail (fs, errno, "rename %s: %m", from);
    return -1;
  }
  from_dir = is_dir (ni) && !is_symlink (ni);
  ntfs_inode_close (ni);
  if (from_dir) {
    if (dir_is_within (fs, tdir_no, ino, &within) == -1)
      return -1;
    if (within) {
      lf_error (EINVAL, "%s: rename %s to %s: a directory cannot move into "
                "itself", fs->name, from, to);
      return -1;
    }
  }
  r = lookup_in (fs, tdir_no, tdir, tname, &to_ino);
  if (r == -1)
    return -1;
  if (r == 1) {
    struct file_attrs fa;
    if (to_ino == ino) {
      if (strcmp (from, to) == 0)
        return 0;
      lf_error (ENOTSUP, "%s: rename %s to %s: both names are one file "
                "(a case-only rename, or a hard link): not supported",
                fs->name, from, to);
      return -1;
    }
    if (from_dir) {
      lf_error (EEXIST, "%s: rename %s to %s: the target exists", fs->name,
                from, to);
      return -1;
    }
    if (file_attrs (fs, to_ino, to, &fa) == -1 ||
        unlink_in (fs, tdir_no, tdir, tname, false) == -1 ||
        flush (fs) == -1)
      return -1;
  }
  if (link_in (fs, ino, tdir_no, tdir, tname) == -1 ||
      flush (fs) == -1 ||
      unlink_in (fs, fdir_no, fdir, fname, true) == -1)
    return -1;
  return flush (fs);
}

static int
ntfs_remove_op (struct lf_fs *fs, const char *path)
{
  CLEANUP_FREE char *dir = NULL;
  CLEANUP_FREE char *name = NULL;
  u64 dir_no;

  op_begin (fs);
  if (need_writable (fs, "remove", path) == -1 ||
      split_path (fs, path, &dir, &name) == -1 ||
      dir_number (fs, dir, &dir_no) == -1 ||
      unlink_in (fs, dir_no, dir, name, false) == -1)
    return -1;
  return flush (fs);
}

static int
ntfs_symlink_op (struct lf_fs *fs, const char *target, const char *path)
{
  (void) target;
  lf_error (ENOTSUP, "%s: symlink %s: creating symbolic links on NTFS is "
            "not supported", fs->name, path);
  return -1;
}

/* Every operation closes its inodes, so everything is on the device;
 * this flushes the device.
 */
static int
ntfs_sync_op (struct lf_fs *fs)
{
  op_begin (fs);
  return flush (fs);
}

static void
ntfs_close_op (struct lf_fs *fs)
{
  struct ntfs_fs *nf;

  if (!fs)
    return;
  nf = fs->priv;
  if (nf) {
    if (nf->vol)
      (void) ntfs_umount (nf->vol, FALSE);  /* destructors record nothing */
    free (nf);
  }
  free (fs->name);
  free (fs);
}

/* ---- open ---- */

/* Checks libntfs-3g leaves to chance or reports only as EINVAL. */
static int
check_boot_sector (struct lf_blockdev *bd)
{
  const char *name = lf_bd_name (bd);
  struct ntfs_boot_sector bs;
  uint64_t size = lf_bd_size (bd), total, bytes;
  unsigned bps, spc;

  if (size < sizeof bs) {
    lf_error (EINVAL, "%s: %" PRIu64 " bytes is too small for an NTFS "
              "volume", name, size);
    return -1;
  }
  if (lf_bd_pread (bd, &bs, sizeof bs, 0) == -1)
    return -1;
  if (memcmp (bs.oem_id, "-FVE-FS-", 8) == 0) {
    lf_error (EACCES, "%s: BitLocker-encrypted volume (boot sector OEM id "
              "\"-FVE-FS-\"): decrypt it in Windows (manage-bde -off) "
              "before failover", name);
    return -1;
  }
  if (memcmp (bs.oem_id, "NTFS    ", 8) != 0) {
    lf_error (EINVAL, "%s: boot sector: OEM id is not \"NTFS    \": not an "
              "NTFS volume", name);
    return -1;
  }
  bps = lf_le16 (&bs.bytes_per_sector);
  spc = bs.sectors_per_cluster;
  total = lf_le64 (&bs.total_sectors);
  if (bps < 256 || bps > 4096 || !lf_is_power_of_2 (bps)) {
    lf_error (EINVAL, "%s: boot sector: bytes per sector %u is not a power "
              "of 2 from 256 to 4096", name, bps);
    return -1;
  }
  if (spc == 0) {
    lf_error (EINVAL, "%s: boot sector: sectors per cluster is 0", name);
    return -1;
  }
  if (lf_le16 (&bs.end_marker) != 0xaa55) {
    lf_error (EINVAL, "%s: boot sector: end marker is 0x%04x, not 0xaa55",
              name, lf_le16 (&bs.end_marker));
    return -1;
  }
  if (MUL_OVERFLOW (total, (uint64_t) bps, &bytes) || bytes > size) {
    lf_error (EINVAL, "%s: boot sector: the volume is %" PRIu64 " sectors "
              "of %u bytes, larger than the device (%" PRIu64 " bytes): "
              "truncated image or wrong partition size", name, total, bps,
              size);
    return -1;
  }
  return 0;
}

static ntfs_volume *
mount_dev (struct ntfs_fs *nf, const char *name, bool rw)
{
  struct ntfs_device *dev;
  ntfs_volume *vol;
  int e;

  dev = ntfs_device_alloc (name, 0, &lf_ntfs_dev_ops, &nf->io);
  if (!dev)
    return NULL;
  vol = ntfs_device_mount (dev, rw ? NTFS_MNT_NONE : NTFS_MNT_RDONLY);
  if (!vol) {
    e = errno;
    if (NDevOpen (dev))
      dev->d_ops->close (dev);
    ntfs_device_free (dev);
    errno = e;
  }
  return vol;
}

static void
mount_failed (struct lf_fs *fs, int e)
{
  switch (e) {
  case EPERM:
    ntfs_fail (fs, EPERM, "hiberfil.sys is not empty: Windows may be "
               "hibernated (fast startup): shut Windows down fully and try "
               "again");
    break;
  case EOPNOTSUPP:
    ntfs_fail (fs, EUCLEAN, "the NTFS journal ($LogFile) holds unreplayed "
               "changes: Windows was not shut down cleanly; boot it and "
               "shut it down fully");
    break;
  case EINVAL:
    ntfs_fail (fs, EINVAL, "not a valid NTFS volume (boot sector or $MFT "
               "damaged)");
    break;
  case EIO:
    ntfs_fail (fs, EIO, "the volume is damaged ($MFT, $MFTMirr or a "
               "system file is unreadable); run chkdsk in Windows");
    break;
  default:
    ntfs_fail (fs, e, "cannot open the volume: %s", strerror (e));
  }
}

/* Is there a hibernation image in /hiberfil.sys?  Its header starts
 * "hibr" (Windows 7) or "HIBR" (8 and later, also fast startup), "RSTR"
 * while being resumed; zeroes or "wake" once Windows is running again.
 */
static bool
check_hibernated (struct lf_fs *fs)
{
  struct ntfs_fs *nf = fs->priv;
  ntfs_inode *ni = NULL;
  ntfs_attr *na = NULL;
  char sig[4];
  bool r = false;
  u64 mref;

  if (lookup_in (fs, FILE_root, "/", "hiberfil.sys", &mref) != 1)
    return false;
  ni = ntfs_inode_open (nf->vol, mref);
  if (ni)
    na = ntfs_attr_open (ni, AT_DATA, AT_UNNAMED, 0);
  if (na && na->data_size >= 4 && ntfs_attr_pread (na, 0, 4, sig) == 4)
    r = strncasecmp (sig, "hibr", 4) == 0 || strncasecmp (sig, "rstr", 4) == 0;
  else
    LF_DEBUG (1, "%s: hiberfil.sys: cannot read its header", fs->name);
  if (na)
    ntfs_attr_close (na);
  if (ni)
    ntfs_inode_close (ni);
  return r;
}

struct lf_fs *
lf_fs_open_ntfs (struct lf_blockdev *bd, bool writable)
{
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  struct lf_fs *fs = NULL;
  struct ntfs_fs *nf = NULL;

  /* The library's log handler and levels are process-wide. */
  pthread_mutex_lock (&lock);
  ntfs_log_setup ();
  pthread_mutex_unlock (&lock);

  if (check_boot_sector (bd) == -1)
    return NULL;
  if (writable && !lf_bd_writable (bd)) {
    lf_error (EROFS, "%s: cannot open NTFS for writing: the device is "
              "read-only", lf_bd_name (bd));
    return NULL;
  }
  fs = calloc (1, sizeof *fs);
  nf = calloc (1, sizeof *nf);
  if (!fs || !nf || asprintf (&fs->name, "%s (ntfs)", lf_bd_name (bd)) == -1) {
    if (fs)
      fs->name = NULL;
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  fs->ops = &ntfs_ops;
  fs->priv = nf;
  nf->io.bd = bd;

  /* Read-only first, always: the state is a finding even when only
   * reading, and a writable mount must not be tried on a hibernated
   * volume.
   */
  nf->vol = mount_dev (nf, lf_bd_name (bd), false);
  if (!nf->vol) {
    mount_failed (fs, errno);
    goto error;
  }
  nf->dirty = (nf->vol->flags & VOLUME_IS_DIRTY) != 0;
  nf->hibernated = check_hibernated (fs);
  LF_DEBUG (1, "%s: NTFS %u.%u, label \"%s\", cluster %u bytes, %s%s",
            fs->name, nf->vol->major_ver, nf->vol->minor_ver,
            nf->vol->vol_name ? nf->vol->vol_name : "",
            (unsigned) nf->vol->cluster_size,
            nf->dirty ? "dirty" : "clean",
            nf->hibernated ? ", hibernated" : "");
  if (writable) {
    if (nf->hibernated) {
      lf_error (EPERM, "%s: volume is hibernated (Windows fast startup): "
                "shut Windows down fully (shutdown /s /t 0, or disable fast "
                "startup) and try again", fs->name);
      goto error;
    }
    if (nf->dirty) {
      lf_error (EUCLEAN, "%s: volume is marked dirty (not shut down "
                "cleanly, or chkdsk is pending): run chkdsk in Windows and "
                "shut it down fully", fs->name);
      goto error;
    }
    (void) ntfs_umount (nf->vol, FALSE);
    nf->vol = mount_dev (nf, lf_bd_name (bd), true);
    if (!nf->vol) {
      mount_failed (fs, errno);
      goto error;
    }
    fs->writable = true;
  }
  /* Windows semantics: a name matches whatever its case (an exact match
   * first).  ntfs_set_ignore_case builds the tables for that, but in its
   * mode readdir lists every name in lower case and index updates fail
   * to find entries (ntfs_inode_sync_file_name: "Index lookup failed")
   * in a directory holding only the new name.  So the volume stays case
   * sensitive and only name lookups run case-insensitively (ci_lookup).
   */
  if (ntfs_set_ignore_case (nf->vol) == -1) {
    ntfs_fail (fs, errno, "cannot set up case-insensitive lookups: %m");
    goto error;
  }
  NVolSetCaseSensitive (nf->vol);
  return fs;

 error:
  if (!fs || !fs->priv)
    free (nf);
  ntfs_close_op (fs);
  return NULL;
}

int
lf_ntfs_state (struct lf_fs *fs, bool *dirty, bool *hibernated)
{
  struct ntfs_fs *nf;

  if (!fs || fs->ops != &ntfs_ops) {
    lf_error (EINVAL, "%s: not an NTFS filesystem",
              fs && fs->name ? fs->name : "(null)");
    return -1;
  }
  nf = fs->priv;
  *dirty = nf->dirty;
  *hibernated = nf->hibernated;
  return 0;
}

static const struct lf_fs_ops ntfs_ops = {
  .name         = "ntfs-3g",
  .lstat        = lf_fs_lstat_by_lookup,
  .lookup       = ntfs_lookup,
  .readlink     = ntfs_readlink_op,
  .read         = ntfs_read_op,
  .list         = ntfs_list_op,
  .write_atomic = ntfs_write_atomic,
  .mkdir        = ntfs_mkdir_op,
  .rename       = ntfs_rename_op,
  .remove       = ntfs_remove_op,
  .symlink      = ntfs_symlink_op,
  .sync         = ntfs_sync_op,
  .close        = ntfs_close_op,
};
