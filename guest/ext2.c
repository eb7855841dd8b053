/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: the libext2fs backend (ext2, ext3, ext4).
 *
 * No root and no kernel mount: libext2fs reads and writes the filesystem
 * through an I/O manager of ours (struct struct_io_manager, as
 * nbdkit filters/ext2/io.c does over nbdkit's next layer) whose block
 * functions call lf_bd_pread/lf_bd_pwrite.  So ext4 in a partition of a
 * VMDK, or on an LVM logical volume, is read without a temporary raw copy.
 *
 * This is the only file that knows libext2fs' conventions: errcode_t
 * values become text with error_message () here, io_channel's
 * negative-count-means-bytes quirk is handled in one function here
 * (channel_range), and com_err output is routed into our debug log.
 *
 * Writing.  libext2fs does not use the journal, so there is no
 * transaction: each change is a sequence of block writes.  Every
 * mutating operation orders its writes with flushes (fdatasync of the
 * image) so that a crash at any point leaves damage that e2fsck -p
 * (preen) repairs by itself without losing a reachable file:
 *   - a new inode is written "born dead" (no links, a deletion time),
 *     its allocation flushed, then its name, and only then is it made
 *     live; an inode losing its last name (removed, or replaced) is
 *     made dead while that name, or a second one of ours, still refers
 *     to it.  A live inode no name refers to ("Unattached inode",
 *     "Unconnected directory") is what e2fsck -p refuses; an entry
 *     naming a dead inode it clears (see set_liveness);
 *   - an allocation is made durable in the bitmaps (ext2fs_flush)
 *     before any durable directory entry refers to it, so nothing
 *     reachable sits on space marked free -- except the blocks
 *     libext2fs takes to grow a live directory, which it maps before
 *     our commit (see link_entry);
 *   - a reference is removed durably before its inode or blocks are
 *     freed;
 *   - a link count may be one off for a while, too high, or too low
 *     while the extra name is one of ours.
 * After a crash, e2fsck -p finds at most: entries naming deleted
 * inodes, link counts one off, leaked bitmap bits, blocks of a grown
 * directory free in the bitmap, a grown directory's size, and group
 * counts and bitmap checksums behind the bitmaps (a commit cut between
 * its writes).  Before its first write a session marks the filesystem
 * not clean (mark_unclean), and marks it clean when it closes: a kill
 * leaves the mark, so the guest's next boot checks the whole filesystem
 * with e2fsck -p, and our next writable open repairs all of the above
 * before it reads or writes anything (recover), removing also every
 * NAME.landfall-tmp and NAME.landfall-old of ours.  (A re-run also
 * removes what it trips over on a filesystem marked clean: an entry
 * naming a dead inode (lookup_child), a leftover of ours
 * (remove_leftover).)  The superblock is written in one write (see
 * bd_io_write_byte).  What is not covered: renaming a directory, or
 * over one (see move_entry), which no landfall operation does; and
 * libext2fs' own order when a directory's extent tree grows a level
 * (the inode's new depth is written before the index block it points
 * to: a crash between the two leaves a tree e2fsck offers to clear,
 * interactively, and which recover refuses to read -- test_dir_growth
 * counts these moments).  It happens only in the instant a directory
 * with more than four extents grows by a block.  See write_atomic and
 * move_entry for the sequence that replaces a file.
 * Each mutating operation ends with ext2fs_flush (superblock, group
 * descriptors, bitmaps, then a flush of the device), so between two
 * operations the filesystem on disk is consistent and e2fsck -fn clean.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "guest/guest.h"

/* Named limits: a hostile image must not make us allocate or loop
 * without bound.
 */
#define LF_EXT2_MAX_DIR_ENTRIES  (1000 * 1000)  /* per directory listed */
#define LF_EXT2_MAX_DEPTH        4096           /* ".." walks (rename) */
#define LF_EXT2_IO_CHUNK         (1024 * 1024)  /* file read/write step */
#define LF_EXT2_TMP_SUFFIX       ".landfall-tmp"  /* new content */
#define LF_EXT2_OLD_SUFFIX       ".landfall-old"  /* what it replaces */

/* --- The I/O manager: libext2fs on top of a struct lf_blockdev. --- */

#define BD_CHANNEL_MAGIC 0x4c466532     /* "LFe2" */

struct bd_registration;

struct bd_channel {
  int magic;
  struct lf_blockdev *bd;
  struct bd_registration *reg;  /* while ext2fs_open2 runs, else NULL */
  struct struct_io_stats stats;
  /* The block device records a precise error ("disk.vmdk: grain table
   * at ... is beyond end of file"); libext2fs only passes an errcode_t
   * up.  Keep the record so the adapter can report the real cause.
   */
  bool failed;
  struct lf_error_record err;
};

/* ext2fs_open2 takes a device name, not a handle.  The name we pass is
 * "landfall-bd:ID"; the registry maps ID to the block device while
 * ext2fs_open2 runs (it calls our open synchronously).  No pointer is
 * ever parsed from a string.
 */
struct bd_registration {
  unsigned long id;
  struct lf_blockdev *bd;
  struct bd_registration *next;
  /* A device error during ext2fs_open2, whose channel is gone if it
   * fails.
   */
  bool failed;
  struct lf_error_record err;
};
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bd_registration *registry;
static unsigned long registry_next_id;

static unsigned long
registry_add (struct bd_registration *r, struct lf_blockdev *bd)
{
  pthread_mutex_lock (&registry_lock);
  r->id = ++registry_next_id;
  r->bd = bd;
  r->failed = false;
  r->next = registry;
  registry = r;
  pthread_mutex_unlock (&registry_lock);
  return r->id;
}

static void
registry_remove (struct bd_registration *r)
{
  pthread_mutex_lock (&registry_lock);
  for (struct bd_registration **pp = &registry; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  pthread_mutex_unlock (&registry_lock);
}

static struct bd_registration *
registry_find (const char *name)
{
  struct bd_registration *found = NULL;
  unsigned long id;
  int n = 0;

  if (sscanf (name, "landfall-bd:%lu%n", &id, &n) != 1 ||
      (size_t) n != strlen (name))
    return NULL;
  pthread_mutex_lock (&registry_lock);
  for (struct bd_registration *r = registry; r; r = r->next)
    if (r->id == id)
      found = r;
  pthread_mutex_unlock (&registry_lock);
  return found;
}

static struct bd_channel *
channel_data (io_channel ch)
{
  struct bd_channel *d;

  if (!ch || ch->magic != EXT2_ET_MAGIC_IO_CHANNEL)
    return NULL;
  d = ch->private_data;
  if (!d || d->magic != BD_CHANNEL_MAGIC)
    return NULL;
  return d;
}

/* The one place that knows io_channel's sign convention (STYLE,
 * anti-pattern 4): COUNT > 0 is a number of blocks of the channel's
 * block size, COUNT < 0 is a number of bytes (openfs.c reads the
 * superblock with -SUPERBLOCK_SIZE).  The offset is BLOCK blocks in
 * both cases.  Everything past this function works in bytes.
 */
static errcode_t
channel_range (io_channel ch, unsigned long long block, int count,
               uint64_t *offset, size_t *len)
{
  uint64_t bytes;

  if (ch->block_size <= 0)
    return EXT2_ET_INVALID_ARGUMENT;
  if (count < 0)
    bytes = (uint64_t) (-(int64_t) count);
  else if (MUL_OVERFLOW ((uint64_t) count, (uint64_t) ch->block_size,
                         &bytes))
    return EXT2_ET_INVALID_ARGUMENT;
  if (MUL_OVERFLOW ((uint64_t) block, (uint64_t) ch->block_size, offset) ||
      bytes > SIZE_MAX)
    return EXT2_ET_INVALID_ARGUMENT;
  *len = (size_t) bytes;
  return 0;
}

/* A block device failure: keep its message, give libext2fs an errno. */
static errcode_t
channel_failed (struct bd_channel *d, errcode_t fallback)
{
  int e = lf_last_errno ();

  lf_error_save (&d->err);
  d->failed = true;
  if (d->reg) {
    d->reg->err = d->err;
    d->reg->failed = true;
  }
  return e > 0 ? (errcode_t) e : fallback;
}

static struct struct_io_manager bd_io_manager;

static errcode_t
bd_io_open (const char *name, int flags, io_channel *ret)
{
  struct bd_registration *reg = registry_find (name);
  struct lf_blockdev *bd = reg ? reg->bd : NULL;
  io_channel ch = NULL;
  struct bd_channel *d = NULL;
  errcode_t err;

  if (!bd)
    return EXT2_ET_BAD_DEVICE_NAME;
  if ((flags & IO_FLAG_RW) && !lf_bd_writable (bd))
    return EXT2_ET_RO_FILSYS;
  err = ext2fs_get_memzero (sizeof *ch, &ch);
  if (err)
    goto error;
  err = ext2fs_get_memzero (sizeof *d, &d);
  if (err)
    goto error;
  err = ext2fs_get_mem (strlen (name) + 1, &ch->name);
  if (err)
    goto error;
  strcpy (ch->name, name);
  ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
  ch->manager = &bd_io_manager;
  ch->block_size = 1024;
  ch->refcount = 1;
  ch->private_data = d;
  d->magic = BD_CHANNEL_MAGIC;
  d->bd = bd;
  d->reg = reg;
  d->stats.num_fields = 2;
  *ret = ch;
  return 0;

 error:
  if (ch)
    ext2fs_free_mem (&ch->name);
  ext2fs_free_mem (&d);
  ext2fs_free_mem (&ch);
  return err;
}

static errcode_t
bd_io_close (io_channel ch)
{
  struct bd_channel *d = channel_data (ch);

  if (!d)
    return EXT2_ET_MAGIC_IO_CHANNEL;
  if (--ch->refcount > 0)
    return 0;
  d->magic = 0;
  ext2fs_free_mem (&ch->private_data);
  ext2fs_free_mem (&ch->name);
  ext2fs_free_mem (&ch);
  return 0;
}

static errcode_t
bd_io_set_blksize (io_channel ch, int blksize)
{
  if (!channel_data (ch))
    return EXT2_ET_MAGIC_IO_CHANNEL;
  if (blksize <= 0)
    return EXT2_ET_INVALID_ARGUMENT;
  ch->block_size = blksize;
  return 0;
}

static errcode_t
bd_io_read_blk64 (io_channel ch, unsigned long long block, int count,
                  void *buf)
{
  struct bd_channel *d = channel_data (ch);
  uint64_t offset;
  size_t len;
  errcode_t err;

  if (!d)
    return EXT2_ET_MAGIC_IO_CHANNEL;
  err = channel_range (ch, block, count, &offset, &len);
  if (err)
    return err;
  if (lf_bd_pread (d->bd, buf, len, offset) == -1)
    return channel_failed (d, EXT2_ET_SHORT_READ);
  d->stats.bytes_read += len;
  return 0;
}

static errcode_t
bd_io_read_blk (io_channel ch, unsigned long block, int count, void *buf)
{
  return bd_io_read_blk64 (ch, block, count, buf);
}

/* A test hook for the crash windows of every mutating operation:
 * LANDFALL_TEST_KILL_EXT2_WRITE=N makes the process kill itself
 * (SIGKILL: no cleanup, as a crash) just before the N-th block write of
 * the process to any ext2/3/4 filesystem, so that what is on disk is
 * exactly the first N - 1 writes.  The count so far is in the debug log
 * at every close ("ext2 writes so far") and, at level 2, at every flush
 * ("ext2 flush after write N"): how a test learns the writes of an
 * uninterrupted run and places its kills just after a step's flush.
 * Unset: nothing happens.  Timers cannot aim at a window a few writes
 * wide on a busy machine.
 */
static unsigned long long test_writes;
static unsigned long long test_kill_write;
static pthread_once_t test_kill_once = PTHREAD_ONCE_INIT;

static void
test_kill_init (void)
{
  const char *e = getenv ("LANDFALL_TEST_KILL_EXT2_WRITE");

  if (e && *e)
    test_kill_write = strtoull (e, NULL, 10);
}

static void
test_kill_before_write (void)
{
  pthread_once (&test_kill_once, test_kill_init);
  if (__atomic_add_fetch (&test_writes, 1, __ATOMIC_RELAXED) ==
      test_kill_write && test_kill_write) {
    LF_DEBUG (1, "LANDFALL_TEST_KILL_EXT2_WRITE=%llu: killing myself",
              test_kill_write);
    raise (SIGKILL);
  }
}

static errcode_t
bd_io_write_blk64 (io_channel ch, unsigned long long block, int count,
                   const void *buf)
{
  struct bd_channel *d = channel_data (ch);
  uint64_t offset;
  size_t len;
  errcode_t err;

  if (!d)
    return EXT2_ET_MAGIC_IO_CHANNEL;
  err = channel_range (ch, block, count, &offset, &len);
  if (err)
    return err;
  test_kill_before_write ();
  if (lf_bd_pwrite (d->bd, buf, len, offset) == -1)
    return channel_failed (d, EXT2_ET_SHORT_WRITE);
  d->stats.bytes_written += len;
  return 0;
}

static errcode_t
bd_io_write_blk (io_channel ch, unsigned long block, int count,
                 const void *buf)
{
  return bd_io_write_blk64 (ch, block, count, buf);
}

/* libext2fs writes the primary superblock with write_byte, one write
 * per run of changed bytes (write_primary_superblock), when the manager
 * has it: a crash between two of them leaves a superblock whose
 * checksum matches neither, which nothing opens any more (e2fsck
 * included, without -b).  Without it, libext2fs writes the superblock
 * whole, in one write.
 */
static errcode_t
bd_io_write_byte (io_channel ch, unsigned long offset, int count,
                  const void *buf)
{
  (void) ch; (void) offset; (void) count; (void) buf;
  return EXT2_ET_UNIMPLEMENTED;
}

static errcode_t
bd_io_flush (io_channel ch)
{
  struct bd_channel *d = channel_data (ch);

  if (!d)
    return EXT2_ET_MAGIC_IO_CHANNEL;
  LF_DEBUG (2, "ext2 flush after write %llu", test_writes);
  if (lf_bd_writable (d->bd) && lf_bd_flush (d->bd) == -1)
    return channel_failed (d, EXT2_ET_SHORT_WRITE);
  return 0;
}

/* No options: a partition offset is a window block device, not an
 * io_channel option.
 */
static errcode_t
bd_io_set_option (io_channel ch, const char *option, const char *arg)
{
  (void) ch; (void) option; (void) arg;
  return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t
bd_io_get_stats (io_channel ch, io_stats *stats)
{
  struct bd_channel *d = channel_data (ch);

  if (!d)
    return EXT2_ET_MAGIC_IO_CHANNEL;
  if (stats)
    *stats = &d->stats;
  return 0;
}

/* discard, zeroout and cache_readahead are left NULL: libext2fs then
 * returns EXT2_ET_UNIMPLEMENTED and falls back to writing zeros.
 */
static struct struct_io_manager bd_io_manager = {
  .magic       = EXT2_ET_MAGIC_IO_MANAGER,
  .name        = "landfall block device I/O manager",
  .open        = bd_io_open,
  .close       = bd_io_close,
  .set_blksize = bd_io_set_blksize,
  .read_blk    = bd_io_read_blk,
  .write_blk   = bd_io_write_blk,
  .flush       = bd_io_flush,
  .write_byte  = bd_io_write_byte,
  .set_option  = bd_io_set_option,
  .get_stats   = bd_io_get_stats,
  .read_blk64  = bd_io_read_blk64,
  .write_blk64 = bd_io_write_blk64,
};

/* --- The adapter. --- */

struct e2 {
  ext2_filsys fs;
  struct lf_blockdev *bd;
  const char *name;             /* the lf_fs's name, for messages */
  bool writable;
  /* We cleared EXT2_VALID_FS (see mark_unclean) and set it again at
   * close unless a libext2fs error happened in between (TROUBLED).
   */
  bool marked_unclean;
  bool troubled;
  bool freed;                   /* an inode freed since the last commit */
};

/* Some libext2fs functions report through com_err (e.g. a bad inode
 * number in ext2fs_inode_alloc_stats2), which prints to stderr by
 * default.  Library code never prints: route it to our debug log.
 */
static void
com_err_to_debug (const char *whoami, errcode_t code, const char *fmt,
                  va_list ap)
{
  char msg[512];

  vsnprintf (msg, sizeof msg, fmt, ap);
  LF_DEBUG (1, "libext2fs: %s: %s %s", whoami ? whoami : "",
            code ? error_message (code) : "", msg);
}

static pthread_once_t e2_init_once = PTHREAD_ONCE_INIT;

static void
e2_init (void)
{
  initialize_ext2_error_table ();
  (void) set_com_err_hook (com_err_to_debug);
}

/* An errno for callers that branch on it. */
static int
errcode_to_errno (errcode_t err)
{
  if (err > 0 && err < 4096)    /* libext2fs passes errnos through */
    return (int) err;
  switch (err) {
  case EXT2_ET_FILE_NOT_FOUND:      return ENOENT;
  case EXT2_ET_NO_DIRECTORY:        return ENOTDIR;
  case EXT2_ET_DIR_EXISTS:
  case EXT2_ET_FILE_EXISTS:         return EEXIST;
  case EXT2_ET_NO_MEMORY:           return ENOMEM;
  case EXT2_ET_RO_FILSYS:           return EROFS;
  case EXT2_ET_DIR_NO_SPACE:
  case EXT2_ET_BLOCK_ALLOC_FAIL:
  case EXT2_ET_INODE_ALLOC_FAIL:
  case EXT2_ET_EA_NO_SPACE:         return ENOSPC;
  case EXT2_ET_FILE_TOO_BIG:        return EFBIG;
  case EXT2_ET_UNIMPLEMENTED:
  case EXT2_ET_OP_NOT_SUPPORTED:    return ENOTSUP;
  default:                          return EIO;
  }
}

/* Record a libext2fs error: "NAME: CONTEXT: message".  If the block
 * device failed underneath, its own message is the cause and is kept.
 */
static void e2_error (struct e2 *p, errcode_t err, const char *fmt, ...)
  LF_PRINTF (3, 4);

static void
e2_error (struct e2 *p, errcode_t err, const char *fmt, ...)
{
  struct bd_channel *d = p->fs ? channel_data (p->fs->io) : NULL;
  char ctx[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (ctx, sizeof ctx, fmt, ap);
  va_end (ap);
  p->troubled = true;
  if (d && d->failed) {
    d->failed = false;
    lf_error_restore (&d->err);
    lf_error_prefix ("%s: %s", p->name, ctx);
    return;
  }
  lf_error (errcode_to_errno (err), "%s: %s: %s", p->name, ctx,
            error_message (err));
}

/* Start of every operation: forget an I/O failure libext2fs absorbed. */
static struct e2 *
e2_begin (struct lf_fs *fs)
{
  struct e2 *p = fs->priv;
  struct bd_channel *d = channel_data (p->fs->io);

  if (d)
    d->failed = false;
  return p;
}

static int commit (struct e2 *p, const char *path);

/* Before the first write of a session, the superblock's state loses
 * EXT2_VALID_FS ("not cleanly unmounted"), durably; close sets it
 * again.  A run killed in between leaves it clear, which says two
 * things: to the next writable open of ours, that a killed run may have
 * left what recover () repairs; to the guest's own boot, that e2fsck -p
 * must check the whole filesystem before it is mounted read-write
 * (everything a kill of ours leaves, e2fsck -p repairs).
 */
static int
mark_unclean (struct e2 *p, const char *path)
{
  if (p->marked_unclean || !(p->fs->super->s_state & EXT2_VALID_FS))
    return 0;
  p->fs->super->s_state &= (uint16_t) ~EXT2_VALID_FS;
  ext2fs_mark_super_dirty (p->fs);
  if (commit (p, path) == -1)
    return -1;
  p->marked_unclean = true;
  return 0;
}

static int
check_writable (struct e2 *p, const char *op, const char *path)
{
  if (!p->writable) {
    lf_error (EROFS, "%s: %s %s: the filesystem is open read-only",
              p->name, op, path);
    return -1;
  }
  return mark_unclean (p, path);
}

static int
mode_to_ftype (uint32_t mode)
{
  switch (mode & LINUX_S_IFMT) {
  case LINUX_S_IFREG:  return EXT2_FT_REG_FILE;
  case LINUX_S_IFDIR:  return EXT2_FT_DIR;
  case LINUX_S_IFLNK:  return EXT2_FT_SYMLINK;
  case LINUX_S_IFCHR:  return EXT2_FT_CHRDEV;
  case LINUX_S_IFBLK:  return EXT2_FT_BLKDEV;
  case LINUX_S_IFIFO:  return EXT2_FT_FIFO;
  case LINUX_S_IFSOCK: return EXT2_FT_SOCK;
  default:             return EXT2_FT_UNKNOWN;
  }
}

static int
read_inode (struct e2 *p, ext2_ino_t ino, struct ext2_inode *inode,
            const char *path)
{
  errcode_t err = ext2fs_read_inode (p->fs, ino, inode);

  if (err) {
    e2_error (p, err, "%s: inode %u", path, ino);
    return -1;
  }
  return 0;
}

static int
write_inode (struct e2 *p, ext2_ino_t ino, struct ext2_inode *inode,
             const char *path)
{
  errcode_t err = ext2fs_write_inode (p->fs, ino, inode);

  if (err) {
    e2_error (p, err, "%s: writing inode %u", path, ino);
    return -1;
  }
  return 0;
}

/* Order the writes made so far before the ones that follow. */
static int
barrier (struct e2 *p, const char *path)
{
  errcode_t err = io_channel_flush (p->fs->io);

  if (err) {
    e2_error (p, err, "%s: flush", path);
    return -1;
  }
  return 0;
}

/* Superblock, group descriptors and bitmaps, then a device flush.
 * ext2fs_flush writes each group's block bitmap, then its inode bitmap,
 * group after group: a kill in between can leave a new inode's blocks
 * marked and the inode not (its group comes later), or a freed inode's
 * bit clear and its blocks still marked -- blocks in use that nothing
 * maps, which recover cannot find again.  So one of the two bitmaps is
 * written first, whole, and flushed: the inode bitmap when the commit
 * allocates (a dead inode allocated, its blocks free, is what recover
 * frees), the block bitmap when it frees (free_inode has cleared the
 * inode's map on disk already).  No commit of ours does both, but for
 * blocks a live directory maps, which recover marks whatever the order.
 */
static int
commit (struct e2 *p, const char *path)
{
  errcode_t err = 0;

  if (p->fs->flags & EXT2_FLAG_IB_DIRTY && p->fs->flags & EXT2_FLAG_BB_DIRTY) {
    err = p->freed ? ext2fs_write_block_bitmap (p->fs)
      : ext2fs_write_inode_bitmap (p->fs);
    if (!err)
      err = io_channel_flush (p->fs->io);
  }
  if (!err)
    err = ext2fs_flush (p->fs);
  if (!err)
    p->freed = false;
  if (err) {
    e2_error (p, err, "%s: writing the superblock, group descriptors and "
              "bitmaps", path);
    return -1;
  }
  return 0;
}

/* Look up PATH without following any symlink: every component but the
 * last must be a directory.  Paths are resolved guest paths (guest.h),
 * so "..", a relative path or a symlink in the middle is refused rather
 * than interpreted.
 */
static int
lookup_opt (struct e2 *p, const char *path, ext2_ino_t *ret)
{
  ext2_ino_t ino = EXT2_ROOT_INO;
  const char *s = path;

  if (path[0] != '/') {
    lf_error (EINVAL, "%s: %s: not an absolute path", p->name, path);
    return -1;
  }
  struct ext2_inode inode;

  if (read_inode (p, ino, &inode, path) == -1)
    return -1;
  for (;;) {
    const char *end;
    size_t len;
    errcode_t err;

    while (*s == '/')
      s++;
    if (!*s)
      break;
    end = strchrnul (s, '/');
    len = (size_t) (end - s);
    if (len == 1 && s[0] == '.') {
      s = end;
      continue;
    }
    if (len == 2 && s[0] == '.' && s[1] == '.') {
      lf_error (EINVAL, "%s: %s: \"..\" in a path that should be resolved",
                p->name, path);
      return -1;
    }
    if (len > EXT2_NAME_LEN) {
      lf_error (ENAMETOOLONG, "%s: %s: a component is longer than %d bytes",
                p->name, path, EXT2_NAME_LEN);
      return -1;
    }
    if (LINUX_S_ISLNK (inode.i_mode)) {
      lf_error (ELOOP, "%s: %s: \"%.*s\" is reached through a symbolic "
                "link, which this layer does not follow", p->name, path,
                (int) (s - path), path);
      return -1;
    }
    if (!LINUX_S_ISDIR (inode.i_mode)) {
      lf_error (ENOTDIR, "%s: %s: \"%.*s\" is not a directory", p->name,
                path, (int) (s - path), path);
      return -1;
    }
    err = ext2fs_lookup (p->fs, ino, s, (int) len, NULL, &ino);
    if (err == EXT2_ET_FILE_NOT_FOUND)
      return 0;
    if (err) {
      e2_error (p, err, "%s: looking up \"%.*s\"", path, (int) len, s);
      return -1;
    }
    if (read_inode (p, ino, &inode, path) == -1)
      return -1;
    /* A killed create's leftover (see lookup_child), which the kernel
     * does not show either (ESTALE).
     */
    if (inode.i_links_count == 0)
      return 0;
    s = end;
  }
  *ret = ino;
  return 1;
}

/* lookup_opt, with absence an error. */
static int
lookup (struct e2 *p, const char *path, ext2_ino_t *ret)
{
  int r = lookup_opt (p, path, ret);

  if (r == 0)
    lf_error (ENOENT, "%s: %s: no such file or directory", p->name, path);
  return r == 1 ? 0 : -1;
}

/* NAME in directory DIR, as it is: 1 and *INO if found, 0 if not, -1
 * on error.
 */
static int
lookup_entry (struct e2 *p, ext2_ino_t dir, const char *name,
              ext2_ino_t *ino, const char *path)
{
  errcode_t err = ext2fs_lookup (p->fs, dir, name, (int) strlen (name),
                                 NULL, ino);

  if (err == EXT2_ET_FILE_NOT_FOUND)
    return 0;
  if (err) {
    e2_error (p, err, "%s: looking up \"%s\"", path, name);
    return -1;
  }
  return 1;
}

/* Split PATH into its parent directory (looked up, which must be a
 * directory) and its last component (a new string).
 */
static int
lookup_parent (struct e2 *p, const char *path, ext2_ino_t *dir,
               char **ret_name)
{
  CLEANUP_FREE char *copy = NULL;
  struct ext2_inode inode;
  char *slash, *name;
  size_t len;

  if (path[0] != '/') {
    lf_error (EINVAL, "%s: %s: not an absolute path", p->name, path);
    return -1;
  }
  copy = strdup (path);
  if (!copy) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  len = strlen (copy);
  while (len > 1 && copy[len - 1] == '/')
    copy[--len] = '\0';
  slash = strrchr (copy, '/');
  name = slash + 1;
  if (!*name || strcmp (name, ".") == 0 || strcmp (name, "..") == 0) {
    lf_error (EINVAL, "%s: %s: the path must name an entry in a directory",
              p->name, path);
    return -1;
  }
  if (strlen (name) > EXT2_NAME_LEN) {
    lf_error (ENAMETOOLONG, "%s: %s: the name is longer than %d bytes",
              p->name, path, EXT2_NAME_LEN);
    return -1;
  }
  *slash = '\0';
  if (lookup (p, slash == copy ? "/" : copy, dir) == -1)
    return -1;
  if (read_inode (p, *dir, &inode, path) == -1)
    return -1;
  if (LINUX_S_ISLNK (inode.i_mode)) {
    lf_error (ELOOP, "%s: %s: the parent is a symbolic link, which this "
              "layer does not follow", p->name, path);
    return -1;
  }
  if (!LINUX_S_ISDIR (inode.i_mode)) {
    lf_error (ENOTDIR, "%s: %s: the parent is not a directory", p->name,
              path);
    return -1;
  }
  *ret_name = strdup (name);
  if (!*ret_name) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  return 0;
}

/* Growing a directory.  DIR is live, and libext2fs maps each block it
 * takes for it (ext2fs_expand_dir's new block, or an indirect block;
 * an htree leaf or index block in ext2fs_link, through ext2fs_fallocate;
 * an extent tree block when a node splits) into DIR's inode or extent
 * tree on disk at once, while the block is marked in use only in the
 * in-memory bitmap until the operation's commit.  Killed in between,
 * the bitmap on disk calls a block of a live directory free.  The kill
 * leaves the filesystem marked unclean (mark_unclean), so the next
 * writable open of ours marks the directory's blocks in use before it
 * allocates anything (recover), and the guest's own boot runs e2fsck,
 * which does the same.  (Making each block durable in the bitmap before
 * libext2fs maps it turns the window into a block marked in use that
 * nothing maps, which nothing short of e2fsck finds again.)
 * A range (ext2fs_new_range, which ext2fs_fallocate uses to grow an
 * htree directory) is zeroed before it is handed out: fallocate maps
 * it before it zeroes it, and a stale directory block from a deleted
 * directory, mapped into a live one by a kill in between, could name
 * live inodes.  Only LEN blocks of a longer free range are returned.
 */
static errcode_t
zeroed_new_range (ext2_filsys fs, int flags, blk64_t goal, blk64_t len,
                  blk64_t *pblk, blk64_t *plen)
{
  errcode_t err = ext2fs_new_range (fs, flags, goal, len, fs->block_map,
                                    pblk, plen);

  if (err)
    return err;
  if (*plen > len)
    *plen = len;
  return ext2fs_zero_blocks2 (fs, *pblk, (int) *plen, NULL, NULL);
}

/* Insert NAME -> INO in DIR, growing the directory when it is full
 * (see above).
 */
static int
link_entry (struct e2 *p, ext2_ino_t dir, const char *name, ext2_ino_t ino,
            int ftype, const char *path)
{
  errcode_t (*old_range) (ext2_filsys, int, blk64_t, blk64_t, blk64_t *,
                          blk64_t *);
  errcode_t err;

  ext2fs_set_new_range_callback (p->fs, zeroed_new_range, &old_range);
  for (int tries = 0;; tries++) {
    err = ext2fs_link (p->fs, dir, name, ino, ftype);
    if (err != EXT2_ET_DIR_NO_SPACE || tries == 2)
      break;
    err = ext2fs_expand_dir (p->fs, dir);
    if (err) {
      ext2fs_set_new_range_callback (p->fs, old_range, NULL);
      e2_error (p, err, "%s: growing the directory", path);
      return -1;
    }
  }
  ext2fs_set_new_range_callback (p->fs, old_range, NULL);
  if (err) {
    e2_error (p, err, "%s: adding \"%s\" to the directory", path, name);
    return -1;
  }
  return 0;
}

/* Point the existing entry NAME in DIR at INO: the entry's inode field
 * is rewritten in place, which changes one directory block.
 */
struct set_dirent_ctx {
  const char *name;
  size_t len;
  ext2_ino_t ino;
  int ftype;                    /* -1: leave the type alone */
  bool done;
};

static int
set_dirent_cb (ext2_ino_t dir, int entry, struct ext2_dir_entry *de,
               int offset, int blocksize, char *buf, void *priv)
{
  struct set_dirent_ctx *c = priv;

  (void) dir; (void) entry; (void) offset; (void) blocksize; (void) buf;
  if ((size_t) ext2fs_dirent_name_len (de) != c->len ||
      memcmp (de->name, c->name, c->len) != 0)
    return 0;
  de->inode = c->ino;
  if (c->ftype >= 0)
    ext2fs_dirent_set_file_type (de, c->ftype);
  c->done = true;
  return DIRENT_CHANGED | DIRENT_ABORT;
}

static int
set_dirent (struct e2 *p, ext2_ino_t dir, const char *name, ext2_ino_t ino,
            int ftype, const char *path)
{
  struct set_dirent_ctx c = {
    .name = name, .len = strlen (name), .ino = ino,
    .ftype = ext2fs_has_feature_filetype (p->fs->super) ? ftype : -1,
  };
  errcode_t err = ext2fs_dir_iterate2 (p->fs, dir, 0, NULL, set_dirent_cb,
                                       &c);

  if (err) {
    e2_error (p, err, "%s: rewriting the entry \"%s\"", path, name);
    return -1;
  }
  if (!c.done) {
    lf_error (EIO, "%s: %s: the entry \"%s\" disappeared from directory "
              "inode %u", p->name, path, name, dir);
    return -1;
  }
  return 0;
}

/* Add DELTA to INO's link count.  Directories follow dir_nlink: a count
 * of 1 means "too many to count" and stays so.
 */
static int
adjust_links (struct e2 *p, ext2_ino_t ino, int delta, const char *path)
{
  struct ext2_inode inode;
  bool dir;

  if (delta == 0)
    return 0;
  if (read_inode (p, ino, &inode, path) == -1)
    return -1;
  dir = LINUX_S_ISDIR (inode.i_mode);
  if (dir && inode.i_links_count == 1)
    return 0;
  if (delta > 0) {
    if (inode.i_links_count >= EXT2_LINK_MAX) {
      if (!dir || !ext2fs_has_feature_dir_nlink (p->fs->super)) {
        lf_error (EMLINK, "%s: %s: inode %u has too many links", p->name,
                  path, ino);
        return -1;
      }
      inode.i_links_count = 1;
    }
    else
      inode.i_links_count++;
  }
  else if (inode.i_links_count > (dir ? 2 : 1))
    inode.i_links_count--;
  else if (!dir)
    inode.i_links_count = 0;
  return write_inode (p, ino, &inode, path);
}

/* The deletion time stamped in i_dtime: fs->now is the fixed clock of a
 * job (lf_fs_set_clock), as libext2fs itself uses it for the inode and
 * superblock times it writes.
 */
static uint32_t
dtime_now (struct e2 *p)
{
  return (uint32_t) (p->fs->now ? p->fs->now : time (NULL));
}

/* Set INO's link count to LINKS and its deletion time to DTIME: the
 * one inode write that makes it live (LINKS > 0, DTIME 0) or dead
 * (LINKS 0, DTIME set).  e2fsck pass 1 skips a dead inode, so a name
 * that still refers to one is an entry "has deleted/unused inode",
 * which e2fsck -p clears, and its bitmap bits are leaked allocations,
 * which e2fsck -p frees; a live inode that no name refers to is an
 * "Unattached inode" or "Unconnected directory", which e2fsck -p
 * refuses to touch.  So a new inode is written dead ("born dead") and
 * made live only once its name is durable, and a replaced inode is made
 * dead while a name still refers to it (move_entry).
 */
static int
set_liveness (struct e2 *p, ext2_ino_t ino, uint16_t links, uint32_t dtime,
              const char *path)
{
  struct ext2_inode inode;

  if (read_inode (p, ino, &inode, path) == -1)
    return -1;
  inode.i_links_count = links;
  inode.i_dtime = dtime;
  return write_inode (p, ino, &inode, path);
}

/* Free INO, which no directory entry refers to any more (durably).
 * Its blocks are freed in memory only, and its map is left as it is on
 * disk: the commit that follows writes their bits clear before the
 * inode's (see commit), so that a kill anywhere leaves either the dead
 * inode allocated with its map, which recover frees again, or nothing.
 * (Emptying the map first, as ext2fs_punch does, would leave the
 * blocks marked with nothing mapping them.)  Safe because every caller
 * has made INO dead durably first (set_liveness or born dead, then a
 * barrier): e2fsck pass 1 skips a dead inode, so the blocks it may
 * still map on disk have no owner, and nothing makes it live again; a
 * new inode in its place is written whole.
 */
static int
unmark_block_cb (ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
                 blk64_t ref_blk, int ref_offset, void *priv)
{
  (void) blockcnt; (void) ref_blk; (void) ref_offset; (void) priv;
  if (*blocknr >= fs->super->s_first_data_block &&
      *blocknr < ext2fs_blocks_count (fs->super) &&
      ext2fs_test_block_bitmap2 (fs->block_map, *blocknr))
    ext2fs_block_alloc_stats2 (fs, *blocknr, -1);
  return 0;
}

static int
free_inode (struct e2 *p, ext2_ino_t ino, const char *path)
{
  struct ext2_inode_large inode;
  errcode_t err;
  bool dir;

  memset (&inode, 0, sizeof inode);
  err = ext2fs_read_inode_full (p->fs, ino, (struct ext2_inode *) &inode,
                                sizeof inode);
  if (err) {
    e2_error (p, err, "%s: inode %u", path, ino);
    return -1;
  }
  dir = LINUX_S_ISDIR (inode.i_mode);
  inode.i_links_count = 0;
  inode.i_dtime = dtime_now (p);
  err = ext2fs_write_inode_full (p->fs, ino, (struct ext2_inode *) &inode,
                                 sizeof inode);
  if (err) {
    e2_error (p, err, "%s: writing inode %u", path, ino);
    return -1;
  }
  if (ext2fs_inode_has_valid_blocks2 (p->fs, (struct ext2_inode *) &inode)) {
    err = ext2fs_block_iterate3 (p->fs, ino, BLOCK_FLAG_READ_ONLY, NULL,
                                 unmark_block_cb, NULL);
    if (err) {
      e2_error (p, err, "%s: freeing the blocks of inode %u", path, ino);
      return -1;
    }
  }
  err = ext2fs_free_ext_attr (p->fs, ino, &inode);
  if (err) {
    e2_error (p, err, "%s: freeing the extended attributes of inode %u",
              path, ino);
    return -1;
  }
  ext2fs_inode_alloc_stats2 (p->fs, ino, -1, dir);
  p->freed = true;
  return 0;
}

/* Remove NAME from DIR, whose inode INO has no links: the leftover of
 * a create killed between linking a born-dead inode and making it live
 * (set_liveness).  The entry goes first, durably, then the inode;
 * a directory's parent had counted its ".." before the entry was
 * written, and gives that link back.  An inode the bitmap calls free
 * (never ours: we commit an allocation before linking it) only loses
 * the entry.
 */
static int
reap_dead_entry (struct e2 *p, ext2_ino_t dir, const char *name,
                 ext2_ino_t ino, const struct ext2_inode *inode,
                 const char *path)
{
  bool ours = ino >= EXT2_FIRST_INO (p->fs->super) &&
    ext2fs_test_inode_bitmap2 (p->fs->inode_map, ino);
  errcode_t err;

  LF_DEBUG (1, "%s: %s: \"%s\" names inode %u, which has no links (left "
            "by an interrupted create): removing it", p->name, path, name,
            ino);
  err = ext2fs_unlink (p->fs, dir, name, ino, 0);
  if (err) {
    e2_error (p, err, "%s: removing the entry \"%s\" of dead inode %u",
              path, name, ino);
    return -1;
  }
  if (barrier (p, path) == -1)
    return -1;
  if (ours) {
    if (LINUX_S_ISDIR (inode->i_mode) &&
        adjust_links (p, dir, -1, path) == -1)
      return -1;
    if (free_inode (p, ino, path) == -1)
      return -1;
  }
  return commit (p, path);
}

/* NAME in directory DIR: 1 and *INO if found, 0 if not, -1 on error.
 * An entry naming an inode without links is not found: a create that
 * was killed left it (see set_liveness), and a writable filesystem
 * loses it here, before anything is written in its place.
 */
static int
lookup_child (struct e2 *p, ext2_ino_t dir, const char *name,
              ext2_ino_t *ino, const char *path)
{
  struct ext2_inode inode;
  int r = lookup_entry (p, dir, name, ino, path);

  if (r != 1 || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return r;
  if (read_inode (p, *ino, &inode, path) == -1)
    return -1;
  if (inode.i_links_count > 0)
    return 1;
  if (p->writable && reap_dead_entry (p, dir, name, *ino, &inode, path) == -1)
    return -1;
  *ino = 0;
  return 0;
}

/* Remove NAME from DIR if it exists: NAME.landfall-tmp (new content) or
 * NAME.landfall-old (the content it replaced), left by a killed run.
 * TARGET is the inode NAME names now, or 0.  A leftover naming TARGET
 * too (killed between move_entry's steps 2 and 5) is normally counted
 * in its link count, and one link goes; but power lost inside step 2
 * or 6 can leave the count without it, so a count of 1 stays.  Any
 * other leftover is its inode's only name, whose count may be one too
 * high (killed after step 1): the inode goes with it.
 */
static int
remove_leftover (struct e2 *p, ext2_ino_t dir, const char *name,
                 ext2_ino_t target, const char *path)
{
  struct ext2_inode inode;
  ext2_ino_t ino;
  errcode_t err;
  bool last;
  int r = lookup_child (p, dir, name, &ino, path);

  if (r <= 0)
    return r;
  if (read_inode (p, ino, &inode, path) == -1)
    return -1;
  if (LINUX_S_ISDIR (inode.i_mode)) {
    lf_error (EEXIST, "%s: %s: \"%s\" exists and is a directory: remove it "
              "first", p->name, path, name);
    return -1;
  }
  LF_DEBUG (1, "%s: removing %s (inode %u), left by an interrupted write",
            p->name, name, ino);
  last = ino != target && inode.i_links_count <= 2;
  /* Its last name: dead first, as in e2_remove. */
  if (last && (set_liveness (p, ino, 0, dtime_now (p), path) == -1 ||
               barrier (p, path) == -1))
    return -1;
  err = ext2fs_unlink (p->fs, dir, name, ino, 0);
  if (err) {
    e2_error (p, err, "%s: removing the leftover \"%s\"", path, name);
    return -1;
  }
  if (barrier (p, path) == -1)
    return -1;
  if (last) {
    if (free_inode (p, ino, path) == -1)
      return -1;
  }
  /* Named elsewhere too (when not TARGET, not ours): one link. */
  else if (inode.i_links_count > 1 && adjust_links (p, ino, -1, path) == -1)
    return -1;
  return commit (p, path);
}

/* DIR is a directory: is it empty apart from "." and ".."? */
static int
count_entries_cb (ext2_ino_t dir, int entry, struct ext2_dir_entry *de,
                  int offset, int blocksize, char *buf, void *priv)
{
  size_t *n = priv;
  int len = ext2fs_dirent_name_len (de);

  (void) dir; (void) entry; (void) offset; (void) blocksize; (void) buf;
  if ((len == 1 && de->name[0] == '.') ||
      (len == 2 && de->name[0] == '.' && de->name[1] == '.'))
    return 0;
  ++*n;
  return DIRENT_ABORT;
}

static int
dir_is_empty (struct e2 *p, ext2_ino_t dir, const char *path)
{
  size_t n = 0;
  errcode_t err = ext2fs_dir_iterate2 (p->fs, dir, 0, NULL, count_entries_cb,
                                       &n);

  if (err) {
    e2_error (p, err, "%s: reading the directory", path);
    return -1;
  }
  return n == 0;
}

/* Make DST_NAME in DST_DIR name SRC_INO, which SRC_NAME in SRC_DIR names
 * now, then remove SRC_NAME: rename(2) without a journal.  DST_INO is
 * what DST_NAME names now, or 0.
 *
 * The atomic step is step 3: when DST_NAME exists, its directory entry's
 * inode number is rewritten in place, a single write within one
 * directory block, so a reader sees either the old inode or the new one,
 * never neither.  (With metadata_csum the block's checksum is in its
 * tail; a write torn between sectors there is detected by e2fsck, as
 * the kernel's own writes would be without the journal.)
 *
 * The replaced inode must not be left live with no name (an
 * "Unattached inode", which e2fsck -p refuses: see set_liveness).  When
 * it is a file with one link, it is "retired": it gets a second name,
 * DST_NAME.landfall-old, before step 3, and is made dead while that
 * name still refers to it.  Each step is flushed before the next, so
 * no reordering by the disk's write cache makes a later step durable
 * before an earlier one.  A crash:
 *   - after steps 1 and 2 (one flush): DST_NAME is untouched;
 *     SRC_NAME's count is one too high and DST_NAME.landfall-old names
 *     the original (e2fsck -p fixes the count; a re-run removes the
 *     leftover name);
 *   - after step 3: DST_NAME names the new inode; the original keeps
 *     DST_NAME.landfall-old with a count one too high, or (after 4) is
 *     dead and that name is an entry naming a deleted inode, which
 *     e2fsck -p clears and a re-run removes; SRC_NAME still names the
 *     new inode, whose count (2) is right, and a re-run removes it;
 *   - after steps 5 and 6 (one flush): only DST_NAME remains; a moved
 *     directory's parents' counts may be one too high and the dead
 *     original's blocks leaked until step 7 (e2fsck -p fixes both).
 * A count one too high on a file without a leftover name to explain it
 * remains possible only with power lost inside steps 1 and 2 (the disk
 * kept the count, not the name): a re-run that replaces that file
 * again takes the extra link for a hard link elsewhere and leaves the
 * inode unattached.
 * What is left: a replaced directory (rename over an empty directory),
 * a replaced file whose name is too long for the suffix, or one with
 * other links, has no retiring name: a directory is unconnected, a file
 * unattached between step 3 and step 4's write, which e2fsck -p refuses
 * (e2fsck -y puts it in lost+found).  And while a directory moves, steps
 * 3 to 5 give it two parents.  No landfall operation renames those.
 */
static int
move_entry (struct e2 *p, ext2_ino_t src_dir, const char *src_name,
            ext2_ino_t src_ino, ext2_ino_t dst_dir, const char *dst_name,
            ext2_ino_t dst_ino, const char *path)
{
  CLEANUP_FREE char *oldname = NULL;
  struct ext2_inode src, dst;
  bool src_is_dir, dst_is_dir = false, retire = false;
  errcode_t err;

  if (asprintf (&oldname, "%s" LF_EXT2_OLD_SUFFIX, dst_name) == -1) {
    oldname = NULL;
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  /* A killed run's retiring name first: it may hold a link of DST_INO. */
  if (strlen (oldname) <= EXT2_NAME_LEN &&
      remove_leftover (p, dst_dir, oldname, dst_ino, path) == -1)
    return -1;
  if (read_inode (p, src_ino, &src, path) == -1)
    return -1;
  src_is_dir = LINUX_S_ISDIR (src.i_mode);
  if (dst_ino) {
    if (read_inode (p, dst_ino, &dst, path) == -1)
      return -1;
    dst_is_dir = LINUX_S_ISDIR (dst.i_mode);
    retire = !dst_is_dir && dst.i_links_count == 1 &&
      strlen (oldname) <= EXT2_NAME_LEN;
  }

  /* 1. The new names' links, counted before they exist.  2. The
   * retiring name, without a flush in between: a count one too high
   * with no leftover name to show for it would make a re-run that
   * replaces the file take the extra link for another name, and leave
   * it unattached.  (Power lost between the two, the disk may keep the
   * name without the count: one too low, the extra name being ours,
   * which remove_leftover removes without a decrement.)
   */
  if (adjust_links (p, src_ino, +1, path) == -1 ||
      (retire && adjust_links (p, dst_ino, +1, path) == -1) ||
      (retire && link_entry (p, dst_dir, oldname, dst_ino,
                             mode_to_ftype (dst.i_mode), path) == -1) ||
      barrier (p, path) == -1)
    return -1;

  /* 3. The atomic step: DST_NAME now names SRC_INO. */
  if (dst_ino) {
    if (set_dirent (p, dst_dir, dst_name, src_ino, mode_to_ftype (src.i_mode),
                    path) == -1)
      return -1;
  }
  else if (link_entry (p, dst_dir, dst_name, src_ino,
                       mode_to_ftype (src.i_mode), path) == -1)
    return -1;
  if (barrier (p, path) == -1)
    return -1;

  /* 4. The replaced inode dies (its retiring name, if any, still refers
   * to it) or, named elsewhere too, loses the link DST_NAME held.
   */
  if (dst_ino) {
    if (retire || dst_is_dir || dst.i_links_count <= 1) {
      if (set_liveness (p, dst_ino, 0, dtime_now (p), path) == -1)
        return -1;
    }
    else if (adjust_links (p, dst_ino, -1, path) == -1)
      return -1;
    if (barrier (p, path) == -1)
      return -1;
  }

  /* 5. The old names go. */
  if (retire) {
    err = ext2fs_unlink (p->fs, dst_dir, oldname, dst_ino, 0);
    if (err) {
      e2_error (p, err, "%s: removing the entry \"%s\"", path, oldname);
      return -1;
    }
  }
  err = ext2fs_unlink (p->fs, src_dir, src_name, src_ino, 0);
  if (err) {
    e2_error (p, err, "%s: removing the entry \"%s\"", path, src_name);
    return -1;
  }
  /* 6. Link counts: SRC_INO lost the old name -- before the flush, as
   * in step 1: with power lost in between, one too low while the extra
   * name is SRC_NAME, a temporary a re-run removes.  A directory that
   * moved changes its ".." and its parents' counts.
   */
  if (adjust_links (p, src_ino, -1, path) == -1 || barrier (p, path) == -1)
    return -1;
  if (src_is_dir) {
    int src_delta = -1, dst_delta = +1 - (dst_is_dir ? 1 : 0);

    if (src_dir != dst_dir &&
        set_dirent (p, src_ino, "..", dst_dir, EXT2_FT_DIR, path) == -1)
      return -1;
    if (src_dir == dst_dir) {
      src_delta += dst_delta;
      dst_delta = 0;
    }
    if (adjust_links (p, src_dir, src_delta, path) == -1 ||
        adjust_links (p, dst_dir, dst_delta, path) == -1)
      return -1;
  }
  else if (dst_is_dir && adjust_links (p, dst_dir, -1, path) == -1)
    return -1;

  /* 7. The dead inode's blocks and bitmap bits, unreferenced since 5. */
  if (dst_ino && (retire || dst_is_dir || dst.i_links_count <= 1) &&
      free_inode (p, dst_ino, path) == -1)
    return -1;
  return commit (p, path);
}

/* --- Recovery after a killed run. --- */

/* A writable open of a filesystem whose state lacks EXT2_VALID_FS (a
 * run of ours killed after mark_unclean, or a guest that crashed)
 * repairs, before anything else reads or writes, what a kill at any
 * write of the operations above can leave, the way e2fsck -p would:
 *   - a group's descriptor behind its bitmaps (a commit cut between its
 *     bitmap and descriptor writes): free block, free inode and
 *     directory counts, the unused inode table mark and the checksums
 *     are recomputed from the bitmaps and the inodes, and the
 *     superblock's totals from the groups;
 *   - a dead inode (no links, a deletion time) still allocated: a new
 *     inode born dead and never made live, or one made dead and not yet
 *     freed.  Entries naming it are removed first, then it is freed;
 *   - our NAME.landfall-tmp and NAME.landfall-old entries, in whatever
 *     directory: removed; an inode they were the only names of is made
 *     dead, then freed;
 *   - link counts too high (a count taken before its name is written)
 *     or too low (an entry of ours written before its count): every
 *     inode some entry names gets the count of entries naming it, as
 *     e2fsck pass 4 does;
 *   - a block a live directory maps but the bitmap calls free (libext2fs
 *     grows a directory on disk before our commit writes the bitmaps):
 *     marked in use, before anything could allocate it again.
 * Every live directory is read once: the cost of a small e2fsck, paid
 * only after a kill.  Its own writes are ordered like the operations'
 * (an inode dies before its last name goes; a name goes, durably,
 * before its inode is freed), so a kill inside it leaves what the next
 * one repairs.  The state stays without EXT2_VALID_FS: what repaired
 * it was not a full check, and the guest's next boot makes one.
 */
struct gone_entry {
  ext2_ino_t dir;
  ext2_ino_t ino;
  bool leftover;                /* NAME.landfall-tmp or NAME.landfall-old */
  char name[EXT2_NAME_LEN + 1];
};

struct recovery {
  struct e2 *p;
  ext2_icount_t links;          /* i_links_count of every live inode */
  ext2_icount_t refs;           /* entries naming it, ours excluded */
  ext2fs_inode_bitmap dead;     /* allocated, no links: to free */
  ext2_ino_t *dirs;             /* every live directory */
  size_t ndirs, adirs;
  struct gone_entry *gone;      /* entries to remove */
  size_t ngone, agone;
  ext2_ino_t cur_dir;
  e2_blkcnt_t last_lblk;        /* cur_dir's last logical block */
  blk64_t marked;               /* directory blocks the bitmap missed */
  errcode_t err;
  const char *what;
};

static bool
has_suffix (const char *name, size_t len, const char *suffix)
{
  size_t n = strlen (suffix);

  return len > n && memcmp (name + len - n, suffix, n) == 0;
}

static bool
live_inode (struct recovery *r, ext2_ino_t ino)
{
  __u16 n = 0;

  return ext2fs_icount_fetch (r->links, ino, &n) == 0 && n > 0;
}

static int
recover_entry_cb (ext2_ino_t dir, int entry, struct ext2_dir_entry *de,
                  int offset, int blocksize, char *buf, void *priv)
{
  struct recovery *r = priv;
  struct ext2_super_block *sb = r->p->fs->super;
  size_t len = (size_t) ext2fs_dirent_name_len (de);
  ext2_ino_t ino = de->inode;
  bool dot = (len == 1 && de->name[0] == '.') ||
    (len == 2 && de->name[0] == '.' && de->name[1] == '.');
  bool ours, dead;

  (void) dir; (void) entry; (void) offset; (void) blocksize; (void) buf;
  if (ino == 0 || ino > sb->s_inodes_count)
    return 0;                   /* not ours to judge: e2fsck's */
  ours = !dot && (has_suffix (de->name, len, LF_EXT2_TMP_SUFFIX) ||
                  has_suffix (de->name, len, LF_EXT2_OLD_SUFFIX));
  dead = !dot && ino >= EXT2_FIRST_INO (sb) && !live_inode (r, ino) &&
    (ext2fs_test_inode_bitmap2 (r->dead, ino) ||
     !ext2fs_test_inode_bitmap2 (r->p->fs->inode_map, ino));
  if (ours && !dead) {
    /* Never a directory: removing its name would disconnect it. */
    struct ext2_inode inode;
    if (ext2fs_read_inode (r->p->fs, ino, &inode) ||
        LINUX_S_ISDIR (inode.i_mode))
      ours = false;
  }
  if (ours || dead) {
    struct gone_entry *g;
    if (r->ngone == r->agone) {
      size_t a = r->agone ? r->agone * 2 : 16;
      struct gone_entry *n = realloc (r->gone, a * sizeof *n);
      if (!n) {
        r->err = EXT2_ET_NO_MEMORY;
        return DIRENT_ABORT;
      }
      r->gone = n;
      r->agone = a;
    }
    g = &r->gone[r->ngone++];
    g->dir = r->cur_dir;
    g->ino = ino;
    g->leftover = ours && !dead;
    memcpy (g->name, de->name, len);
    g->name[len] = '\0';
    return 0;
  }
  r->err = ext2fs_icount_increment (r->refs, ino, NULL);
  return r->err ? DIRENT_ABORT : 0;
}

static int
recover_block_cb (ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
                  blk64_t ref_blk, int ref_offset, void *priv)
{
  struct recovery *r = priv;

  (void) ref_blk; (void) ref_offset;
  if (blockcnt > r->last_lblk)
    r->last_lblk = blockcnt;
  if (*blocknr >= fs->super->s_first_data_block &&
      *blocknr < ext2fs_blocks_count (fs->super) &&
      !ext2fs_test_block_bitmap2 (fs->block_map, *blocknr)) {
    ext2fs_block_alloc_stats2 (fs, *blocknr, +1);
    r->marked++;
  }
  return 0;
}

/* Group descriptors and superblock totals from the bitmaps (and the
 * live directories in R, when given).
 */
static errcode_t
recount_groups (ext2_filsys fs, struct recovery *r)
{
  struct ext2_super_block *sb = fs->super;
  uint32_t ipg = EXT2_INODES_PER_GROUP (sb);
  uint64_t free_blocks = 0, free_inodes = 0;
  uint32_t *dirs = NULL;
  errcode_t err;

  if (r) {
    err = ext2fs_get_arrayzero (fs->group_desc_count, sizeof *dirs, &dirs);
    if (err)
      return err;
    for (size_t i = 0; i < r->ndirs; i++)
      if (ext2fs_test_inode_bitmap2 (fs->inode_map, r->dirs[i]))
        dirs[(r->dirs[i] - 1) / ipg]++;
  }
  for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
    blk64_t first = ext2fs_group_first_block2 (fs, g);
    blk64_t last = ext2fs_group_last_block2 (fs, g);
    blk64_t step = EXT2FS_CLUSTER_RATIO (fs), clusters = 0, used = 0;
    uint32_t iused = 0, highest = 0;

    for (blk64_t b = first; b <= last; b += step) {
      clusters++;
      if (ext2fs_test_block_bitmap2 (fs->block_map, b))
        used++;
    }
    for (uint32_t i = 1; i <= ipg; i++)
      if (ext2fs_test_inode_bitmap2 (fs->inode_map, g * ipg + i)) {
        iused++;
        highest = i;
      }
    ext2fs_bg_free_blocks_count_set (fs, g, (uint32_t) (clusters - used));
    ext2fs_bg_free_inodes_count_set (fs, g, ipg - iused);
    if (r)
      ext2fs_bg_used_dirs_count_set (fs, g, dirs[g]);
    if (ext2fs_has_group_desc_csum (fs)) {
      if (ext2fs_bg_itable_unused (fs, g) > ipg - highest)
        ext2fs_bg_itable_unused_set (fs, g, ipg - highest);
      if (iused)
        ext2fs_bg_flags_clear (fs, g, EXT2_BG_INODE_UNINIT);
    }
    ext2fs_group_desc_csum_set (fs, g);
    free_blocks += clusters - used;
    free_inodes += ipg - iused;
  }
  ext2fs_free_blocks_count_set (sb, EXT2FS_C2B (fs, free_blocks));
  sb->s_free_inodes_count = (uint32_t) free_inodes;
  ext2fs_mark_super_dirty (fs);
  ext2fs_mark_bb_dirty (fs);
  ext2fs_mark_ib_dirty (fs);
  ext2fs_free_mem (&dirs);
  return 0;
}

static int
recover (struct e2 *p)
{
  ext2_filsys fs = p->fs;
  struct ext2_super_block *sb = fs->super;
  struct recovery r = { .p = p };
  ext2_inode_scan scan = NULL;
  struct ext2_inode_large inode;
  ext2_ino_t ino;
  size_t nfreed = 0, nfixed = 0;
  errcode_t err;
  int ret = -1;

  LF_DEBUG (1, "%s: not marked clean: repairing what a killed run may have "
            "left", p->name);
  /* The unused inode marks first: the scan believes them, and a cut
   * commit can leave a new inode beyond its group's.
   */
  err = recount_groups (fs, NULL);
  if (!err)
    err = ext2fs_create_icount2 (fs, 0, 0, NULL, &r.links);
  if (!err)
    err = ext2fs_create_icount2 (fs, EXT2_ICOUNT_OPT_INCREMENT, 0, r.links,
                                 &r.refs);
  if (!err)
    err = ext2fs_allocate_inode_bitmap (fs, "dead inodes", &r.dead);
  if (!err)
    err = ext2fs_open_inode_scan (fs, 0, &scan);
  if (err) {
    e2_error (p, err, "recovery: starting the inode scan");
    goto out;
  }
  /* 1. Every allocated inode: live (its count, and the directories),
   * or dead.  An inode on the orphan list (dtime: the next one) is the
   * kernel's, and left alone.
   */
  for (;;) {
    memset (&inode, 0, sizeof inode);
    err = ext2fs_get_next_inode_full (scan, &ino, (struct ext2_inode *) &inode,
                                      sizeof inode);
    if (err == EXT2_ET_INODE_CSUM_INVALID || err == EXT2_ET_INODE_IS_GARBAGE)
      continue;                 /* e2fsck's business, not ours */
    if (err) {
      e2_error (p, err, "recovery: scanning the inodes");
      goto out;
    }
    if (!ino)
      break;
    if (!ext2fs_test_inode_bitmap2 (fs->inode_map, ino))
      continue;
    if (inode.i_links_count > 0) {
      err = ext2fs_icount_store (r.links, ino, inode.i_links_count);
      if (!err && LINUX_S_ISDIR (inode.i_mode) &&
          !(inode.i_flags & EXT4_EA_INODE_FL)) {
        if (r.ndirs == r.adirs) {
          size_t a = r.adirs ? r.adirs * 2 : 1024;
          ext2_ino_t *n = realloc (r.dirs, a * sizeof *n);
          if (!n)
            err = EXT2_ET_NO_MEMORY;
          else {
            r.dirs = n;
            r.adirs = a;
          }
        }
        if (!err)
          r.dirs[r.ndirs++] = ino;
      }
      if (err) {
        e2_error (p, err, "recovery: inode %u", ino);
        goto out;
      }
    }
    else if (ino >= EXT2_FIRST_INO (sb) && inode.i_dtime >= sb->s_inodes_count)
      ext2fs_mark_inode_bitmap2 (r.dead, ino);
  }
  ext2fs_close_inode_scan (scan);
  scan = NULL;

  /* 2. Every live directory: the entries to remove, the others counted;
   * its blocks in the bitmap.
   */
  for (size_t i = 0; i < r.ndirs; i++) {
    struct ext2_inode dinode;
    r.cur_dir = r.dirs[i];
    err = ext2fs_dir_iterate2 (fs, r.cur_dir, 0, NULL, recover_entry_cb, &r);
    if (!err)
      err = r.err;
    r.last_lblk = -1;
    if (!err && !ext2fs_read_inode (fs, r.cur_dir, &dinode) &&
        ext2fs_inode_has_valid_blocks2 (fs, &dinode))
      err = ext2fs_block_iterate3 (fs, r.cur_dir, BLOCK_FLAG_READ_ONLY, NULL,
                                   recover_block_cb, &r);
    if (err) {
      e2_error (p, err, "recovery: reading directory inode %u", r.cur_dir);
      goto out;
    }
    /* An indexed directory grown by ext2fs_link: mapped, not sized. */
    if (r.last_lblk >= 0 &&
        EXT2_I_SIZE (&dinode) < (uint64_t) (r.last_lblk + 1) * fs->blocksize) {
      LF_DEBUG (1, "%s: recovery: directory inode %u maps %lld blocks, its "
                "size says %llu bytes", p->name, r.cur_dir,
                (long long) r.last_lblk + 1,
                (unsigned long long) EXT2_I_SIZE (&dinode));
      err = ext2fs_inode_size_set (fs, &dinode,
                                   (uint64_t) (r.last_lblk + 1) *
                                   fs->blocksize);
      if (err || write_inode (p, r.cur_dir, &dinode, "recovery") == -1) {
        if (err)
          e2_error (p, err, "recovery: directory inode %u", r.cur_dir);
        goto out;
      }
    }
  }

  /* 3. An inode whose only names are ours dies while they name it. */
  for (size_t i = 0; i < r.ngone; i++) {
    __u16 n = 0;
    struct gone_entry *g = &r.gone[i];
    if (!g->leftover || ext2fs_test_inode_bitmap2 (r.dead, g->ino) ||
        ext2fs_icount_fetch (r.refs, g->ino, &n) || n > 0 ||
        g->ino < EXT2_FIRST_INO (sb))
      continue;
    LF_DEBUG (1, "%s: recovery: %s (inode %u) was left by an interrupted "
              "write", p->name, g->name, g->ino);
    if (set_liveness (p, g->ino, 0, dtime_now (p), "recovery") == -1)
      goto out;
    ext2fs_mark_inode_bitmap2 (r.dead, g->ino);
    (void) ext2fs_icount_store (r.links, g->ino, 0);
  }
  if (barrier (p, "recovery") == -1)
    goto out;

  /* 4. The names go, durably. */
  for (size_t i = 0; i < r.ngone; i++) {
    struct gone_entry *g = &r.gone[i];
    LF_DEBUG (1, "%s: recovery: removing \"%s\" (inode %u) from directory "
              "inode %u", p->name, g->name, g->ino, g->dir);
    err = ext2fs_unlink (fs, g->dir, g->name, g->ino, 0);
    if (err && err != EXT2_ET_FILE_NOT_FOUND) {
      e2_error (p, err, "recovery: removing \"%s\" from directory inode %u",
                g->name, g->dir);
      goto out;
    }
  }
  if (barrier (p, "recovery") == -1)
    goto out;

  /* 5. The dead inodes, unnamed now.  One whose blocks do not read (a
   * free cut in the middle of rewriting its extent tree) gives back
   * its number only: its blocks stay marked, leaked, which e2fsck -p
   * frees; it is dead, and nothing reads it any more.
   */
  for (ino = EXT2_FIRST_INO (sb); ino <= sb->s_inodes_count; ino++)
    if (ext2fs_test_inode_bitmap2 (r.dead, ino) &&
        ext2fs_test_inode_bitmap2 (fs->inode_map, ino)) {
      if (free_inode (p, ino, "recovery") == -1) {
        struct ext2_inode in;
        LF_DEBUG (1, "%s: recovery: dead inode %u: %s; its blocks stay "
                  "allocated", p->name, ino, lf_last_error ());
        lf_error_clear ();
        if (read_inode (p, ino, &in, "recovery") == -1)
          goto out;
        ext2fs_inode_alloc_stats2 (fs, ino, -1, LINUX_S_ISDIR (in.i_mode));
        p->freed = true;
      }
      nfreed++;
    }

  /* 6. Link counts: the entries naming each inode. */
  for (ino = 1; ino <= sb->s_inodes_count; ino++) {
    __u16 links = 0, n = 0;
    struct ext2_inode in;
    if ((ino < EXT2_FIRST_INO (sb) && ino != EXT2_ROOT_INO) ||
        ext2fs_icount_fetch (r.links, ino, &links) || links == 0 ||
        ext2fs_icount_fetch (r.refs, ino, &n) || n == 0 || n == links)
      continue;
    if (read_inode (p, ino, &in, "recovery") == -1)
      goto out;
    if (LINUX_S_ISDIR (in.i_mode) && (links == 1 || n >= EXT2_LINK_MAX))
      continue;                 /* dir_nlink: "too many to count" */
    LF_DEBUG (1, "%s: recovery: inode %u has %u links, %u entries name it",
              p->name, ino, links, n);
    in.i_links_count = n;
    if (write_inode (p, ino, &in, "recovery") == -1)
      goto out;
    nfixed++;
  }

  /* 7. The groups and the superblock, from the bitmaps. */
  err = recount_groups (fs, &r);
  if (err) {
    e2_error (p, err, "recovery: counting the groups");
    goto out;
  }
  if (commit (p, "recovery") == -1)
    goto out;
  LF_DEBUG (1, "%s: recovery: %zu entries removed, %zu inodes freed, %zu "
            "link counts set, %llu directory blocks marked in use", p->name,
            r.ngone, nfreed, nfixed, (unsigned long long) r.marked);
  ret = 0;
 out:
  if (scan)
    ext2fs_close_inode_scan (scan);
  if (r.links)
    ext2fs_free_icount (r.links);
  if (r.refs)
    ext2fs_free_icount (r.refs);
  if (r.dead)
    ext2fs_free_inode_bitmap (r.dead);
  free (r.dirs);
  free (r.gone);
  return ret;
}

/* --- Operations. --- */

static int
e2_lookup (struct lf_fs *fs, const char *path, struct lf_stat *st)
{
  struct e2 *p = e2_begin (fs);
  struct ext2_inode_large inode;
  ext2_ino_t ino;
  errcode_t err;
  int64_t mtime;
  int r = lookup_opt (p, path, &ino);

  if (r <= 0)
    return r;
  memset (&inode, 0, sizeof inode);
  err = ext2fs_read_inode_full (p->fs, ino, (struct ext2_inode *) &inode,
                                sizeof inode);
  if (err) {
    e2_error (p, err, "%s: inode %u", path, ino);
    return -1;
  }
  mtime = (int32_t) inode.i_mtime;
  /* ext4 large inodes extend the seconds with two epoch bits. */
  if (EXT2_INODE_SIZE (p->fs->super) > EXT2_GOOD_OLD_INODE_SIZE &&
      (size_t) (EXT2_GOOD_OLD_INODE_SIZE + inode.i_extra_isize) >=
      offsetof (struct ext2_inode_large, i_mtime_extra) + 4)
    mtime += (int64_t) (inode.i_mtime_extra & EXT4_EPOCH_MASK) << 32;
  memset (st, 0, sizeof *st);
  st->mode = inode.i_mode;
  st->size = EXT2_I_SIZE (&inode);
  st->ino = ino;
  st->nlink = inode.i_links_count;
  st->uid = inode_uid (inode);
  st->gid = inode_gid (inode);
  st->mtime = mtime;
  return 1;
}

/* Read the whole of INO (SIZE bytes per its inode) into BUF. */
static int
read_contents (struct e2 *p, ext2_ino_t ino, struct ext2_inode *inode,
               char *buf, size_t size, const char *path)
{
  ext2_file_t file = NULL;
  size_t done = 0;
  errcode_t err;

  err = ext2fs_file_open2 (p->fs, ino, inode, 0, &file);
  if (err) {
    e2_error (p, err, "%s: opening inode %u", path, ino);
    return -1;
  }
  while (done < size) {
    unsigned int want = (unsigned int) LF_MIN (size - done,
                                               (size_t) LF_EXT2_IO_CHUNK);
    unsigned int got = 0;
    err = ext2fs_file_read (file, buf + done, want, &got);
    if (err) {
      e2_error (p, err, "%s: reading at offset %zu", path, done);
      goto error;
    }
    if (got == 0) {
      lf_error (EIO, "%s: %s: inode %u ends at %zu bytes, its size says "
                "%zu", p->name, path, ino, done, size);
      goto error;
    }
    done += got;
  }
  err = ext2fs_file_close (file);
  if (err) {
    e2_error (p, err, "%s: closing inode %u", path, ino);
    return -1;
  }
  return 0;

 error:
  (void) ext2fs_file_close (file);
  return -1;
}

static int
e2_readlink (struct lf_fs *fs, const char *path, char **target)
{
  struct e2 *p = e2_begin (fs);
  CLEANUP_FREE char *buf = NULL;
  struct ext2_inode inode;
  ext2_ino_t ino;
  uint64_t size;

  if (lookup (p, path, &ino) == -1 || read_inode (p, ino, &inode, path) == -1)
    return -1;
  if (!LINUX_S_ISLNK (inode.i_mode)) {
    lf_error (EINVAL, "%s: %s: not a symbolic link", p->name, path);
    return -1;
  }
  if (inode.i_flags & EXT4_ENCRYPT_FL) {
    lf_error (ENOTSUP, "%s: %s: the symbolic link is encrypted (fscrypt)",
              p->name, path);
    return -1;
  }
  size = EXT2_I_SIZE (&inode);
  /* The kernel refuses targets longer than a block. */
  if (size == 0 || size >= p->fs->blocksize) {
    lf_error (EIO, "%s: %s: symbolic link inode %u has size %" PRIu64
              " (expected 1 to %u): damaged filesystem", p->name, path, ino,
              size, p->fs->blocksize - 1);
    return -1;
  }
  buf = malloc ((size_t) size + 1);
  if (!buf) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (ext2fs_is_fast_symlink (&inode))
    /* Fast symlink: the target is in i_block itself (as is the start of
     * an inline-data one shorter than i_block).
     */
    memcpy (buf, inode.i_block, (size_t) size);
  /* Slow symlink (a data block) or inline data: the file API reads both. */
  else if (read_contents (p, ino, &inode, buf, (size_t) size, path) == -1)
    return -1;
  buf[size] = '\0';
  if (strlen (buf) != size) {
    lf_error (EIO, "%s: %s: symbolic link target contains a NUL byte: "
              "damaged filesystem", p->name, path);
    return -1;
  }
  *target = buf;
  buf = NULL;
  return 0;
}

static int
e2_read (struct lf_fs *fs, const char *path, size_t max, char **ret,
         size_t *len)
{
  struct e2 *p = e2_begin (fs);
  CLEANUP_FREE char *buf = NULL;
  struct ext2_inode inode;
  ext2_ino_t ino;
  uint64_t size;

  if (lookup (p, path, &ino) == -1 || read_inode (p, ino, &inode, path) == -1)
    return -1;
  if (LINUX_S_ISDIR (inode.i_mode)) {
    lf_error (EISDIR, "%s: %s: is a directory, not a regular file",
              p->name, path);
    return -1;
  }
  if (!LINUX_S_ISREG (inode.i_mode)) {
    lf_error (EINVAL, "%s: %s: not a regular file (mode 0%o)", p->name,
              path, inode.i_mode);
    return -1;
  }
  if (inode.i_flags & EXT4_ENCRYPT_FL) {
    lf_error (ENOTSUP, "%s: %s: the file is encrypted (fscrypt)", p->name,
              path);
    return -1;
  }
  size = EXT2_I_SIZE (&inode);
  if (size > max || size >= SIZE_MAX) {
    lf_error (EFBIG, "%s: %s: the file is %" PRIu64 " bytes, more than the "
              "%zu allowed", p->name, path, size, max);
    return -1;
  }
  buf = malloc ((size_t) size + 1);
  if (!buf) {
    lf_error (ENOMEM, "%s: %s: out of memory for %" PRIu64 " bytes",
              p->name, path, size);
    return -1;
  }
  if (read_contents (p, ino, &inode, buf, (size_t) size, path) == -1)
    return -1;
  buf[size] = '\0';             /* a convenience for text files */
  *ret = buf;
  *len = (size_t) size;
  buf = NULL;
  return 0;
}

struct list_ctx {
  struct e2 *p;
  const char *path;
  char **names;
  size_t n, alloc;
  int failed;                   /* 0, or the errno recorded */
};

static int
list_cb (ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
         int blocksize, char *buf, void *priv)
{
  struct list_ctx *c = priv;
  size_t len = (size_t) ext2fs_dirent_name_len (de);

  (void) dir; (void) entry; (void) offset; (void) blocksize; (void) buf;
  if ((len == 1 && de->name[0] == '.') ||
      (len == 2 && de->name[0] == '.' && de->name[1] == '.'))
    return 0;
  if (len == 0 || memchr (de->name, '/', len) || memchr (de->name, 0, len)) {
    lf_error (EIO, "%s: %s: directory entry %zu (inode %u) has an invalid "
              "name: damaged filesystem", c->p->name, c->path, c->n,
              de->inode);
    c->failed = EIO;
    return DIRENT_ABORT;
  }
  if (c->n >= LF_EXT2_MAX_DIR_ENTRIES) {
    lf_error (EFBIG, "%s: %s: more than %d directory entries", c->p->name,
              c->path, LF_EXT2_MAX_DIR_ENTRIES);
    c->failed = EFBIG;
    return DIRENT_ABORT;
  }
  if (c->n + 1 >= c->alloc) {
    size_t alloc = c->alloc ? c->alloc * 2 : 64;
    char **names = realloc (c->names, alloc * sizeof *names);
    if (!names)
      goto enomem;
    c->names = names;
    c->alloc = alloc;
  }
  c->names[c->n] = strndup (de->name, len);
  if (!c->names[c->n])
    goto enomem;
  c->n++;
  return 0;

 enomem:
  lf_error (ENOMEM, "out of memory");
  c->failed = ENOMEM;
  return DIRENT_ABORT;
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
e2_list (struct lf_fs *fs, const char *path, char ***ret)
{
  struct e2 *p = e2_begin (fs);
  struct list_ctx c = { .p = p, .path = path };
  struct ext2_inode inode;
  ext2_ino_t ino;
  errcode_t err;

  if (lookup (p, path, &ino) == -1 || read_inode (p, ino, &inode, path) == -1)
    return -1;
  if (!LINUX_S_ISDIR (inode.i_mode)) {
    lf_error (ENOTDIR, "%s: %s: not a directory", p->name, path);
    return -1;
  }
  err = ext2fs_dir_iterate2 (p->fs, ino, 0, NULL, list_cb, &c);
  if (err && !c.failed)
    e2_error (p, err, "%s: reading the directory", path);
  if (err || c.failed)
    goto error;
  if (!c.names && !(c.names = calloc (1, sizeof *c.names))) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  qsort (c.names, c.n, sizeof *c.names, compare_names);
  c.names[c.n] = NULL;
  *ret = c.names;
  return 0;

 error:
  for (size_t i = 0; i < c.n; i++)
    free (c.names[i]);
  free (c.names);
  return -1;
}

/* Copy the extended attributes of SRC to DST (a new inode), verbatim:
 * SELinux labels and ACLs must survive a replaced file.  "system.data"
 * belongs to inline data, which the new inode does not use.
 */
struct xattr_copy_ctx {
  struct ext2_xattr_handle *dst;
  errcode_t err;
};

static int
xattr_copy_cb (char *name, char *value, size_t value_len, void *priv)
{
  struct xattr_copy_ctx *c = priv;

  if (strcmp (name, "system.data") == 0)
    return 0;
  c->err = ext2fs_xattr_set (c->dst, name, value, value_len);
  return c->err ? XATTR_ABORT : 0;
}

static int
copy_xattrs (struct e2 *p, ext2_ino_t src, ext2_ino_t dst, const char *path)
{
  struct ext2_xattr_handle *hs = NULL, *hd = NULL;
  struct xattr_copy_ctx c = { 0 };
  unsigned int raw = XATTR_HANDLE_FLAG_RAW;
  errcode_t err;
  int r = -1;

  if (!ext2fs_has_feature_xattr (p->fs->super))
    return 0;
  if ((err = ext2fs_xattrs_open (p->fs, src, &hs)) ||
      (err = ext2fs_xattrs_flags (hs, &raw, NULL)) ||
      (err = ext2fs_xattrs_read (hs)) ||
      (err = ext2fs_xattrs_open (p->fs, dst, &hd)) ||
      (err = ext2fs_xattrs_flags (hd, &raw, NULL)) ||
      (err = ext2fs_xattrs_read (hd))) {
    e2_error (p, err, "%s: reading extended attributes", path);
    goto out;
  }
  c.dst = hd;
  err = ext2fs_xattrs_iterate (hs, xattr_copy_cb, &c);
  if (err || c.err) {
    e2_error (p, err ? err : c.err, "%s: copying extended attributes", path);
    goto out;
  }
  r = 0;
 out:
  if (hd && (err = ext2fs_xattrs_close (&hd)) && r == 0) {
    e2_error (p, err, "%s: writing extended attributes", path);
    r = -1;
  }
  if (hs)
    (void) ext2fs_xattrs_close (&hs);
  return r;
}

/* Give back INO, allocated for PATH and referred to by no name,
 * keeping the error that made us give it up.
 */
static void
give_back_inode (struct e2 *p, ext2_ino_t ino, const char *path)
{
  struct lf_error_record first;

  lf_error_save (&first);
  if (free_inode (p, ino, path) == 0)
    (void) commit (p, path);
  lf_error_restore (&first);
}

/* Allocate a block for new inode INO; counted in the in-memory bitmap at
 * once so that nothing else takes it before the inode is written.
 */
static int
new_block (struct e2 *p, ext2_ino_t ino, blk64_t *blk, const char *path)
{
  struct ext2_inode empty;
  errcode_t err;

  memset (&empty, 0, sizeof empty);
  err = ext2fs_new_block2 (p->fs, ext2fs_find_inode_goal (p->fs, ino, &empty,
                                                          0), NULL, blk);
  if (err) {
    e2_error (p, err, "%s: allocating a block", path);
    return -1;
  }
  ext2fs_block_alloc_stats2 (p->fs, *blk, +1);
  return 0;
}

/* Write INODE, a new born-dead inode INO whose one data block is BLK
 * (0: none), and count it.  The block is mapped before anything is
 * written into it, so that free_inode finds it from here on; the
 * caller writes the block.  ext2fs_mkdir and ext2fs_symlink would write
 * the inode live: this is their first half, by hand.
 */
static int
write_new_dead_inode (struct e2 *p, ext2_ino_t ino, struct ext2_inode *inode,
                      blk64_t blk, const char *path)
{
  bool extents = blk && ext2fs_has_feature_extents (p->fs->super);
  errcode_t err;

  inode->i_links_count = 0;
  inode->i_dtime = dtime_now (p);
  if (blk) {
    ext2fs_iblk_set (p->fs, inode, 1);
    if (!extents)
      inode->i_block[0] = (uint32_t) blk;
    else {
      ext2_extent_handle_t h;
      /* As in create_file: the empty tree's header, EXT4_EXTENTS_FL. */
      err = ext2fs_extent_open2 (p->fs, ino, inode, &h);
      if (err) {
        e2_error (p, err, "%s: initialising the extent tree", path);
        goto error;
      }
      ext2fs_extent_free (h);
    }
  }
  err = ext2fs_write_new_inode (p->fs, ino, inode);
  if (err) {
    e2_error (p, err, "%s: writing new inode %u", path, ino);
    goto error;
  }
  ext2fs_inode_alloc_stats2 (p->fs, ino, +1, LINUX_S_ISDIR (inode->i_mode));
  if (extents) {
    err = ext2fs_bmap2 (p->fs, ino, inode, NULL, BMAP_SET, 0, NULL, &blk);
    if (err) {
      e2_error (p, err, "%s: mapping the block of new inode %u", path, ino);
      ext2fs_block_alloc_stats2 (p->fs, blk, -1);
      give_back_inode (p, ino, path);
      return -1;
    }
  }
  return 0;

 error:
  if (blk)
    ext2fs_block_alloc_stats2 (p->fs, blk, -1);
  return -1;
}

/* A new, unlinked, born-dead (set_liveness) regular file holding BUF;
 * *INO is set as soon as the inode is allocated so that the caller can
 * free it on failure.
 */
static int
create_file (struct e2 *p, ext2_ino_t dir, uint32_t mode, uint32_t uid,
             uint32_t gid, ext2_ino_t copy_from, const void *buf, size_t len,
             ext2_ino_t *ret, const char *path)
{
  struct ext2_inode inode;
  ext2_file_t file = NULL;
  ext2_ino_t ino;
  size_t done = 0;
  errcode_t err;

  err = ext2fs_new_inode (p->fs, dir, (int) mode, NULL, &ino);
  if (err) {
    e2_error (p, err, "%s: allocating an inode", path);
    return -1;
  }
  memset (&inode, 0, sizeof inode);
  inode.i_mode = (uint16_t) mode;
  inode.i_uid = (uint16_t) uid;
  inode.osd2.linux2.l_i_uid_high = (uint16_t) (uid >> 16);
  inode.i_gid = (uint16_t) gid;
  inode.osd2.linux2.l_i_gid_high = (uint16_t) (gid >> 16);
  inode.i_links_count = 0;
  inode.i_dtime = dtime_now (p);
  if (ext2fs_has_feature_extents (p->fs->super)) {
    ext2_extent_handle_t h;
    /* Opening an extent handle on an empty inode writes the header into
     * i_block and sets EXT4_EXTENTS_FL.
     */
    err = ext2fs_extent_open2 (p->fs, ino, &inode, &h);
    if (err) {
      e2_error (p, err, "%s: initialising the extent tree", path);
      return -1;
    }
    ext2fs_extent_free (h);
  }
  err = ext2fs_write_new_inode (p->fs, ino, &inode);  /* sets the times */
  if (err) {
    e2_error (p, err, "%s: writing new inode %u", path, ino);
    return -1;
  }
  ext2fs_inode_alloc_stats2 (p->fs, ino, +1, 0);
  *ret = ino;

  if (copy_from && copy_xattrs (p, copy_from, ino, path) == -1)
    return -1;

  err = ext2fs_file_open (p->fs, ino, EXT2_FILE_WRITE, &file);
  if (err) {
    e2_error (p, err, "%s: opening new inode %u", path, ino);
    return -1;
  }
  while (done < len) {
    unsigned int want = (unsigned int) LF_MIN (len - done,
                                               (size_t) LF_EXT2_IO_CHUNK);
    unsigned int got = 0;
    err = ext2fs_file_write (file, (const char *) buf + done, want, &got);
    if (err || got == 0) {
      e2_error (p, err ? err : EXT2_ET_SHORT_WRITE, "%s: writing at offset "
                "%zu", path, done);
      (void) ext2fs_file_close (file);
      return -1;
    }
    done += got;
  }
  err = ext2fs_file_close (file);       /* flushes the file's buffer */
  if (err) {
    e2_error (p, err, "%s: closing new inode %u", path, ino);
    return -1;
  }
  return 0;
}

/* Replace or create PATH: the shape of rename(2) without a journal.
 *   1. a new inode with the content (and the old file's mode, owner and
 *      extended attributes) is written born dead (set_liveness),
 *      unreferenced, and its allocation flushed: a crash leaves leaked
 *      bitmap bits, which e2fsck -p frees;
 *   2. it is linked as "NAME.landfall-tmp" in the same directory,
 *      flushed, then made live and flushed: a crash in between leaves an
 *      entry naming a deleted inode (e2fsck -p clears it), after it a
 *      live temporary beside the untouched original; the next run
 *      removes either before it starts again;
 *   3. move_entry renames the temporary over NAME, whose atomic step is
 *      rewriting NAME's directory entry to the new inode, and frees the
 *      old inode if no other name refers to it (see there).
 * Whatever the crash, NAME names the old content or the new, and e2fsck
 * -p repairs the rest.
 */
static int
e2_write_atomic (struct lf_fs *fs, const char *path, const void *buf,
                 size_t len, uint32_t mode)
{
  struct e2 *p = e2_begin (fs);
  CLEANUP_FREE char *name = NULL;
  CLEANUP_FREE char *tmpname = NULL;
  struct ext2_inode old;
  ext2_ino_t dir, old_ino = 0, ino = 0;
  uint32_t uid = 0, gid = 0;
  bool linked = false;
  int r;

  if (check_writable (p, "write", path) == -1 ||
      lookup_parent (p, path, &dir, &name) == -1)
    return -1;
  if (asprintf (&tmpname, "%s" LF_EXT2_TMP_SUFFIX, name) == -1) {
    tmpname = NULL;
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  if (strlen (tmpname) > EXT2_NAME_LEN) {
    lf_error (ENAMETOOLONG, "%s: %s: the temporary name \"%s\" would be "
              "longer than %d bytes", p->name, path, tmpname, EXT2_NAME_LEN);
    return -1;
  }
  r = lookup_child (p, dir, name, &old_ino, path);
  if (r == -1)
    return -1;
  if (r == 1) {
    if (read_inode (p, old_ino, &old, path) == -1)
      return -1;
    if (!LINUX_S_ISREG (old.i_mode)) {
      lf_error (LINUX_S_ISDIR (old.i_mode) ? EISDIR : EINVAL,
                "%s: %s: exists and is not a regular file (mode 0%o): not "
                "replaced", p->name, path, old.i_mode);
      return -1;
    }
    mode = old.i_mode;
    uid = inode_uid (old);
    gid = inode_gid (old);
  }
  else
    mode = LINUX_S_IFREG | (mode & 07777);
  if (remove_leftover (p, dir, tmpname, old_ino, path) == -1)
    return -1;

  /* 1. */
  if (create_file (p, dir, mode, uid, gid, old_ino, buf, len, &ino,
                   path) == -1 ||
      commit (p, path) == -1)
    goto error;
  /* 2. */
  if (link_entry (p, dir, tmpname, ino, EXT2_FT_REG_FILE, path) == -1)
    goto error;
  linked = true;
  if (barrier (p, path) == -1 ||
      set_liveness (p, ino, 1, 0, path) == -1 ||
      commit (p, path) == -1)
    return -1;
  /* 3. */
  return move_entry (p, dir, tmpname, ino, dir, name, old_ino, path);

 error:
  /* An inode no name refers to: give it back. */
  if (ino && !linked)
    give_back_inode (p, ino, path);
  return -1;
}

static int
e2_mkdir (struct lf_fs *fs, const char *path, uint32_t mode)
{
  struct e2 *p = e2_begin (fs);
  CLEANUP_FREE char *name = NULL;
  struct ext2_inode inode;
  char *block = NULL;
  ext2_ino_t dir, ino;
  blk64_t blk;
  errcode_t err;
  int r;

  if (check_writable (p, "mkdir", path) == -1 ||
      lookup_parent (p, path, &dir, &name) == -1)
    return -1;
  r = lookup_child (p, dir, name, &ino, path);
  if (r == -1)
    return -1;
  if (r == 1) {
    lf_error (EEXIST, "%s: %s: already exists", p->name, path);
    return -1;
  }
  /* 1. The directory, born dead, with its block of "." and "..", and
   * its allocation flushed.  Always a block: an inline-data directory
   * (which ext2fs_mkdir would make on such a filesystem) is optional.
   */
  mode = LINUX_S_IFDIR | (mode & 07777);
  err = ext2fs_new_inode (p->fs, dir, (int) mode, NULL, &ino);
  if (err) {
    e2_error (p, err, "%s: allocating an inode", path);
    return -1;
  }
  if (new_block (p, ino, &blk, path) == -1)
    return -1;
  err = ext2fs_new_dir_block (p->fs, ino, dir, &block);
  if (err) {
    e2_error (p, err, "%s: making the directory block", path);
    ext2fs_block_alloc_stats2 (p->fs, blk, -1);
    return -1;
  }
  memset (&inode, 0, sizeof inode);
  inode.i_mode = (uint16_t) mode;
  inode.i_size = p->fs->blocksize;
  if (write_new_dead_inode (p, ino, &inode, blk, path) == -1) {
    ext2fs_free_mem (&block);
    return -1;
  }
  /* After the inode: the block's checksum covers its generation. */
  err = ext2fs_write_dir_block4 (p->fs, blk, block, 0, ino);
  ext2fs_free_mem (&block);
  if (err) {
    e2_error (p, err, "%s: writing the directory block", path);
    give_back_inode (p, ino, path);
    return -1;
  }
  if (commit (p, path) == -1) {
    give_back_inode (p, ino, path);
    return -1;
  }
  /* 2. The parent counts the new "..", before the entry exists. */
  if (adjust_links (p, dir, +1, path) == -1 || barrier (p, path) == -1) {
    give_back_inode (p, ino, path);
    return -1;
  }
  /* 3. The entry; then the directory lives. */
  if (link_entry (p, dir, name, ino, EXT2_FT_DIR, path) == -1) {
    struct lf_error_record first;
    lf_error_save (&first);
    (void) adjust_links (p, dir, -1, path);
    lf_error_restore (&first);
    give_back_inode (p, ino, path);
    return -1;
  }
  if (barrier (p, path) == -1 ||
      set_liveness (p, ino, 2, 0, path) == -1)
    return -1;
  return commit (p, path);
}

static int
e2_symlink (struct lf_fs *fs, const char *target, const char *path)
{
  struct e2 *p = e2_begin (fs);
  CLEANUP_FREE char *name = NULL;
  CLEANUP_FREE char *block = NULL;
  struct ext2_inode inode;
  size_t tlen = strlen (target);
  ext2_ino_t dir, ino;
  blk64_t blk = 0;
  errcode_t err;
  int r;

  if (check_writable (p, "symlink", path) == -1)
    return -1;
  if (tlen == 0 || tlen >= p->fs->blocksize) {
    lf_error (ENAMETOOLONG, "%s: %s: a symbolic link target must be 1 to %u "
              "bytes, not %zu", p->name, path, p->fs->blocksize - 1, tlen);
    return -1;
  }
  if (lookup_parent (p, path, &dir, &name) == -1)
    return -1;
  r = lookup_child (p, dir, name, &ino, path);
  if (r == -1)
    return -1;
  if (r == 1) {
    lf_error (EEXIST, "%s: %s: already exists", p->name, path);
    return -1;
  }
  /* As for mkdir: born dead, allocation flushed, linked, then live.  A
   * target shorter than i_block is stored in it (a fast symlink, no
   * extent flag), a longer one in a block: libext2fs' test
   * (ext2fs_is_fast_symlink), and the kernel's.  Never inline data,
   * which is optional where the feature is on.
   */
  memset (&inode, 0, sizeof inode);
  err = ext2fs_new_inode (p->fs, dir, LINUX_S_IFLNK | 0777, NULL, &ino);
  if (err) {
    e2_error (p, err, "%s: allocating an inode", path);
    return -1;
  }
  inode.i_mode = LINUX_S_IFLNK | 0777;
  inode.i_size = (uint32_t) tlen;
  if (tlen < sizeof inode.i_block)
    memcpy (inode.i_block, target, tlen);       /* NUL-padded: memset */
  else {
    block = calloc (1, p->fs->blocksize);
    if (!block) {
      lf_error (ENOMEM, "out of memory");
      return -1;
    }
    memcpy (block, target, tlen);
    if (new_block (p, ino, &blk, path) == -1)
      return -1;
  }
  if (write_new_dead_inode (p, ino, &inode, blk, path) == -1)
    return -1;
  if (blk) {
    err = io_channel_write_blk64 (p->fs->io, blk, 1, block);
    if (err) {
      e2_error (p, err, "%s: writing the link target", path);
      give_back_inode (p, ino, path);
      return -1;
    }
  }
  if (commit (p, path) == -1 ||
      link_entry (p, dir, name, ino, EXT2_FT_SYMLINK, path) == -1) {
    give_back_inode (p, ino, path);
    return -1;
  }
  if (barrier (p, path) == -1 ||
      set_liveness (p, ino, 1, 0, path) == -1)
    return -1;
  return commit (p, path);
}

static int
e2_remove (struct lf_fs *fs, const char *path)
{
  struct e2 *p = e2_begin (fs);
  CLEANUP_FREE char *name = NULL;
  struct ext2_inode inode;
  ext2_ino_t dir, ino;
  errcode_t err;
  bool is_dir, last;
  int r;

  if (check_writable (p, "remove", path) == -1 ||
      lookup_parent (p, path, &dir, &name) == -1)
    return -1;
  r = lookup_child (p, dir, name, &ino, path);
  if (r == -1)
    return -1;
  if (r == 0) {
    lf_error (ENOENT, "%s: %s: no such file or directory", p->name, path);
    return -1;
  }
  if (read_inode (p, ino, &inode, path) == -1)
    return -1;
  is_dir = LINUX_S_ISDIR (inode.i_mode);
  if (is_dir) {
    r = dir_is_empty (p, ino, path);
    if (r == -1)
      return -1;
    if (r == 0) {
      lf_error (ENOTEMPTY, "%s: %s: the directory is not empty", p->name,
                path);
      return -1;
    }
  }
  /* An inode losing its last name dies while the name still refers to
   * it (see set_liveness), then the entry goes, durably, then the
   * blocks.  One with other names loses a link together with the
   * entry (no flush between: see move_entry's step 6).
   */
  last = is_dir || inode.i_links_count <= 1;
  if (last && (set_liveness (p, ino, 0, dtime_now (p), path) == -1 ||
               barrier (p, path) == -1))
    return -1;
  err = ext2fs_unlink (p->fs, dir, name, ino, 0);
  if (err) {
    e2_error (p, err, "%s: removing the entry", path);
    return -1;
  }
  if (!last && adjust_links (p, ino, -1, path) == -1)
    return -1;
  if (barrier (p, path) == -1)
    return -1;
  if (last && free_inode (p, ino, path) == -1)
    return -1;
  if (is_dir && adjust_links (p, dir, -1, path) == -1)
    return -1;
  return commit (p, path);
}

/* Is ANCESTOR on the ".." chain from DIR up to the root? */
static int
is_ancestor (struct e2 *p, ext2_ino_t ancestor, ext2_ino_t dir,
             const char *path)
{
  for (int i = 0; i < LF_EXT2_MAX_DEPTH; i++) {
    if (dir == ancestor)
      return 1;
    if (dir == EXT2_ROOT_INO)
      return 0;
    ext2_ino_t up;
    int r = lookup_entry (p, dir, "..", &up, path);
    if (r == -1)
      return -1;
    if (r == 0) {
      lf_error (EIO, "%s: %s: directory inode %u has no \"..\": damaged "
                "filesystem", p->name, path, dir);
      return -1;
    }
    dir = up;
  }
  lf_error (ELOOP, "%s: %s: more than %d levels of directories above the "
            "destination: damaged filesystem", p->name, path,
            LF_EXT2_MAX_DEPTH);
  return -1;
}

static int
e2_rename (struct lf_fs *fs, const char *from, const char *to)
{
  struct e2 *p = e2_begin (fs);
  CLEANUP_FREE char *sname = NULL;
  CLEANUP_FREE char *dname = NULL;
  struct ext2_inode src, dst;
  ext2_ino_t sdir, ddir, sino, dino = 0;
  int r;

  if (check_writable (p, "rename", from) == -1 ||
      lookup_parent (p, from, &sdir, &sname) == -1 ||
      lookup_parent (p, to, &ddir, &dname) == -1)
    return -1;
  r = lookup_child (p, sdir, sname, &sino, from);
  if (r == -1)
    return -1;
  if (r == 0) {
    lf_error (ENOENT, "%s: %s: no such file or directory", p->name, from);
    return -1;
  }
  r = lookup_child (p, ddir, dname, &dino, to);
  if (r == -1)
    return -1;
  if (r == 0)
    dino = 0;
  if (dino == sino)             /* the same name, or two links of one file */
    return 0;
  if (read_inode (p, sino, &src, from) == -1)
    return -1;
  if (dino) {
    if (read_inode (p, dino, &dst, to) == -1)
      return -1;
    if (LINUX_S_ISDIR (dst.i_mode) && !LINUX_S_ISDIR (src.i_mode)) {
      lf_error (EISDIR, "%s: rename %s to %s: the destination is a "
                "directory", p->name, from, to);
      return -1;
    }
    if (!LINUX_S_ISDIR (dst.i_mode) && LINUX_S_ISDIR (src.i_mode)) {
      lf_error (ENOTDIR, "%s: rename %s to %s: the destination is not a "
                "directory", p->name, from, to);
      return -1;
    }
    if (LINUX_S_ISDIR (dst.i_mode)) {
      r = dir_is_empty (p, dino, to);
      if (r == -1)
        return -1;
      if (r == 0) {
        lf_error (ENOTEMPTY, "%s: rename %s to %s: the destination is a "
                  "directory that is not empty", p->name, from, to);
        return -1;
      }
    }
  }
  if (LINUX_S_ISDIR (src.i_mode)) {
    r = is_ancestor (p, sino, ddir, to);
    if (r == -1)
      return -1;
    if (r == 1) {
      lf_error (EINVAL, "%s: rename %s to %s: a directory cannot move into "
                "itself", p->name, from, to);
      return -1;
    }
  }
  return move_entry (p, sdir, sname, sino, ddir, dname, dino, to);
}

static int
e2_sync (struct lf_fs *fs)
{
  struct e2 *p = e2_begin (fs);

  if (!p->writable)
    return 0;
  return commit (p, "sync");
}

/* A destructor: never records an error (STYLE).  Every mutating
 * operation has already flushed, so there is nothing left to lose here;
 * a caller that wants to see a final flush error calls sync first.
 */
static void
e2_close (struct lf_fs *fs)
{
  struct e2 *p;

  if (!fs)
    return;
  p = fs->priv;
  /* Every operation ended with a commit: the filesystem is clean again
   * (a failure here only leaves it marked unclean).
   */
  if (p && p->fs && p->marked_unclean && !p->troubled) {
    struct lf_error_record saved;
    lf_error_save (&saved);
    p->fs->super->s_state |= EXT2_VALID_FS;
    ext2fs_mark_super_dirty (p->fs);
    (void) commit (p, "close");
    lf_error_restore (&saved);
  }
  LF_DEBUG (1, "%s: ext2 writes so far: %llu", fs->name, test_writes);
  if (p && p->fs) {
    errcode_t err = ext2fs_close2 (p->fs, 0);
    if (err) {
      LF_DEBUG (1, "%s: close: %s", fs->name, error_message (err));
      ext2fs_free (p->fs);      /* ext2fs_close2 keeps it on failure */
    }
  }
  free (p);
  free (fs->name);
  free (fs);
}

static const struct lf_fs_ops ext2_ops = {
  .name         = "ext2fs",
  .lstat        = lf_fs_lstat_by_lookup,
  .lookup       = e2_lookup,
  .readlink     = e2_readlink,
  .read         = e2_read,
  .list         = e2_list,
  .write_atomic = e2_write_atomic,
  .mkdir        = e2_mkdir,
  .rename       = e2_rename,
  .remove       = e2_remove,
  .symlink      = e2_symlink,
  .sync         = e2_sync,
  .close        = e2_close,
};

/* "ext4" if any feature beyond ext3's is on, as libblkid decides. */
static const char *
fs_type (ext2_filsys fs)
{
  struct ext2_super_block *sb = fs->super;

  if ((sb->s_feature_incompat & ~(uint32_t) (EXT2_FEATURE_INCOMPAT_FILETYPE |
                                             EXT3_FEATURE_INCOMPAT_RECOVER |
                                             EXT2_FEATURE_INCOMPAT_META_BG)) ||
      (sb->s_feature_ro_compat &
       ~(uint32_t) (EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER |
                    EXT2_FEATURE_RO_COMPAT_LARGE_FILE |
                    0x0004 /* btree_dir, never used */)))
    return "ext4";
  if (ext2fs_has_feature_journal (sb))
    return "ext3";
  return "ext2";
}

struct lf_fs *
lf_fs_open_ext2 (struct lf_blockdev *bd, bool writable)
{
  struct bd_registration reg;
  struct lf_fs *fs = NULL;
  struct e2 *p = NULL;
  char devname[64];
  int flags = EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP;
  errcode_t err;

  pthread_once (&e2_init_once, e2_init);
  if (writable && !lf_bd_writable (bd)) {
    lf_error (EROFS, "%s: cannot open the filesystem for writing: the "
              "device is read-only", lf_bd_name (bd));
    return NULL;
  }
  fs = calloc (1, sizeof *fs);
  p = calloc (1, sizeof *p);
  if (!fs || !p) {
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  fs->ops = &ext2_ops;
  fs->priv = p;
  p->bd = bd;
  p->name = lf_bd_name (bd);    /* until fs->name exists */
  if (writable)
    flags |= EXT2_FLAG_RW;

  snprintf (devname, sizeof devname, "landfall-bd:%lu",
            registry_add (&reg, bd));
  err = ext2fs_open2 (devname, NULL, flags, 0, 0, &bd_io_manager, &p->fs);
  registry_remove (&reg);
  if (err) {
    p->fs = NULL;
    if (reg.failed) {           /* the device's own message is the cause */
      lf_error_restore (&reg.err);
      lf_error_prefix ("%s: opening the ext2/3/4 filesystem", lf_bd_name (bd));
    }
    else
      lf_error (errcode_to_errno (err), "%s: ext2/3/4 superblock: %s",
                lf_bd_name (bd), error_message (err));
    goto error;
  }
  if (channel_data (p->fs->io))
    channel_data (p->fs->io)->reg = NULL;
  /* libext2fs (1.47) stamps new inodes and the superblock with fs->now
   * when it is set, else time (): a job's fixed clock makes the writes
   * reproducible.
   */
  if (lf_fs_clock () > 0)
    p->fs->now = (time_t) lf_fs_clock ();

  /* libext2fs trusts the superblock's size; a filesystem larger than its
   * device (a truncated image, a wrong partition size) would fail later,
   * at some random read.  Say so now, as e2fsck does.
   */
  {
    uint64_t fs_bytes;
    if (MUL_OVERFLOW ((uint64_t) ext2fs_blocks_count (p->fs->super),
                      (uint64_t) p->fs->blocksize, &fs_bytes) ||
        fs_bytes > lf_bd_size (bd)) {
      lf_error (EINVAL, "%s: ext2/3/4 superblock: the filesystem is %llu "
                "blocks of %u bytes, larger than its device (%llu bytes): "
                "truncated image or wrong partition size", lf_bd_name (bd),
                (unsigned long long) ext2fs_blocks_count (p->fs->super),
                p->fs->blocksize, (unsigned long long) lf_bd_size (bd));
      goto error;
    }
  }

  if (asprintf (&fs->name, "%s (%s)", lf_bd_name (bd), fs_type (p->fs))
      == -1) {
    fs->name = NULL;
    lf_error (ENOMEM, "out of memory");
    goto error;
  }
  p->name = fs->name;
  LF_DEBUG (1, "%s: block size %u, %u inodes, %llu blocks, state 0x%x%s",
            fs->name, p->fs->blocksize, p->fs->super->s_inodes_count,
            (unsigned long long) ext2fs_blocks_count (p->fs->super),
            p->fs->super->s_state,
            ext2fs_has_feature_journal_needs_recovery (p->fs->super)
            ? " (journal needs recovery: reading what is on disk)" : "");

  if (writable) {
    if (ext2fs_has_feature_journal_needs_recovery (p->fs->super)) {
      lf_error (EUCLEAN, "%s: journal needs recovery: the guest was not "
                "shut down cleanly (it can be read, not written)", fs->name);
      goto error;
    }
    if (p->fs->super->s_state & EXT2_ERROR_FS) {
      lf_error (EUCLEAN, "%s: the kernel recorded errors in this "
                "filesystem: run e2fsck before writing to it", fs->name);
      goto error;
    }
    if (ext2fs_has_feature_mmp (p->fs->super)) {
      lf_error (ENOTSUP, "%s: multiple-mount protection (mmp) is on: "
                "writing is not supported", fs->name);
      goto error;
    }
    /* A commit cut between the bitmaps and the descriptors that hold
     * their checksums: recover () writes both again.
     */
    if (!(p->fs->super->s_state & EXT2_VALID_FS))
      p->fs->flags |= EXT2_FLAG_IGNORE_CSUM_ERRORS;
    err = ext2fs_read_bitmaps (p->fs);
    p->fs->flags &= ~EXT2_FLAG_IGNORE_CSUM_ERRORS;
    if (err) {
      e2_error (p, err, "reading the allocation bitmaps");
      goto error;
    }
    p->writable = true;
    if (!(p->fs->super->s_state & EXT2_VALID_FS) && recover (p) == -1) {
      lf_error_prefix ("%s: repairing what a killed run left", fs->name);
      goto error;
    }
  }
  p->writable = writable;
  fs->writable = writable;
  return fs;

 error:
  if (p && p->fs) {
    ext2fs_free (p->fs);        /* nothing was written: no flush */
    p->fs = NULL;
  }
  if (fs) {
    free (fs->name);
    fs->name = NULL;
  }
  free (p);
  free (fs);
  return NULL;
}
