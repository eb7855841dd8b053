/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the libext2fs backend (guest/ext2.c).
 *
 * Fixtures are made here by the real tools: mkfs.ext4/ext3/ext2 -d over
 * a small tree, most at a 1 MiB partition offset (so every access goes
 * through a window block device), and the results are checked from the
 * outside with e2fsck -fn and debugfs (which take "IMAGE?offset=N").
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ext2fs/ext2fs.h>

#include "guest/guest.h"

#define OFFSET   (1024 * 1024)
#define BIG_SIZE (5 * 1024 * 1024)
#define NMANY    500
#define SLOW_TARGET \
  "/a/rather/long/symlink/target/that/does/not/fit/in/the/sixty/bytes/" \
  "of/i_block/so/it/needs/a/data/block"

static char tmp[64];

/* Run a shell command built from FMT; returns its exit status. */
static int run (const char *fmt, ...) LF_PRINTF (1, 2);
static int
run (const char *fmt, ...)
{
  char cmd[4096];
  va_list ap;
  int r;

  va_start (ap, fmt);
  vsnprintf (cmd, sizeof cmd, fmt, ap);
  va_end (ap);
  r = system (cmd);
  return r == -1 ? -1 : WEXITSTATUS (r);
}

/* Output of a shell command (at most 64 KiB) as a new string. */
static char *
capture (const char *cmd)
{
  FILE *fp = popen (cmd, "r");
  char *buf = calloc (1, 65536);
  size_t n;

  ck_assert (fp && buf);
  n = fread (buf, 1, 65535, fp);
  buf[n] = '\0';
  pclose (fp);
  return buf;
}

static void
setup (void)
{
  strcpy (tmp, "/tmp/lf-test-ext2-XXXXXX");
  ck_assert (mkdtemp (tmp) != NULL);
  lf_error_clear ();
}

static void
teardown (void)
{
  run ("rm -rf %s", tmp);
}

static void
make_tree (void)
{
  ck_assert_int_eq (run (
    "set -e; cd %s; mkdir -p src/etc/many src/usr/bin src/emptydir src/sub/d;"
    "printf 'UUID=1234 / ext4 defaults 0 1\\n' > src/etc/fstab;"
    "chmod 600 src/etc/fstab;"
    "echo myhost > src/etc/hostname;"
    "i=1; while [ $i -le %d ]; do echo $i > src/etc/many/file-$i; "
    "  i=$((i+1)); done;"
    "head -c %d /dev/urandom > src/big;"
    "ln -s /usr/share/zoneinfo/UTC src/etc/localtime;"
    "ln -s %s src/etc/slowlink;"
    "ln -s usr/bin src/bin;"
    "echo hi > src/usr/bin/ls;"
    "echo x > src/sub/d/f",
    tmp, NMANY, BIG_SIZE, SLOW_TARGET), 0);
}

/* An image "NAME" holding the tree, the filesystem at OFF. */
static void
make_image (const char *mkfs, const char *name, unsigned off)
{
  make_tree ();
  ck_assert_int_eq (run ("cd %s && %s -q -F -d src %s%u %s 60M >/dev/null", tmp, mkfs,
                         off ? "-E offset=" : "-E lazy_itable_init=",
                         off ? off : 0, name), 0);
}

/* debugfs / e2fsck name for an image with its offset. */
static const char *
dev (const char *name, unsigned off)
{
  static char buf[256];
  snprintf (buf, sizeof buf, "%s/%s?offset=%u", tmp, name, off);
  return buf;
}

struct opened {
  struct lf_disk *disk;
  struct lf_blockdev *bd, *win;
  struct lf_fs *fs;
};

static struct lf_fs *
open_fs (struct opened *o, const char *name, unsigned off, bool writable)
{
  char path[256];

  snprintf (path, sizeof path, "%s/%s", tmp, name);
  memset (o, 0, sizeof *o);
  o->disk = lf_disk_open (path, "raw");
  ck_assert_msg (o->disk, "%s", lf_last_error ());
  o->bd = lf_bd_new_disk (o->disk, writable, "disk.img");
  ck_assert_msg (o->bd, "%s", lf_last_error ());
  o->win = lf_bd_new_window (o->bd, off, lf_bd_size (o->bd) - off,
                             "disk.img:p1");
  ck_assert_msg (o->win, "%s", lf_last_error ());
  o->fs = lf_fs_open_ext2 (o->win, writable);
  return o->fs;
}

static void
close_fs (struct opened *o)
{
  if (o->fs)
    o->fs->ops->close (o->fs);
  lf_bd_free (o->win);
  lf_bd_free (o->bd);
  lf_disk_close (o->disk);
}

static void
free_names (char **names)
{
  for (size_t i = 0; names && names[i]; i++)
    free (names[i]);
  free (names);
}

static size_t
count_names (char **names)
{
  size_t n = 0;
  while (names[n])
    n++;
  return n;
}

static void
check_fsck (const char *name, unsigned off)
{
  char cmd[512];
  snprintf (cmd, sizeof cmd, "e2fsck -fn '%s' 2>&1", dev (name, off));
  char *out = capture (cmd);
  int r = run ("e2fsck -fn '%s' >/dev/null 2>&1", dev (name, off));
  ck_assert_msg (r == 0, "e2fsck -fn failed (%d):\n%s", r, out);
  free (out);
}

static char *
debugfs (const char *name, unsigned off, const char *request)
{
  char cmd[1024];
  snprintf (cmd, sizeof cmd, "debugfs -R '%s' '%s' 2>/dev/null", request,
            dev (name, off));
  return capture (cmd);
}

static void
check_content (struct lf_fs *fs, const char *path, const void *want,
               size_t wantlen)
{
  char *buf = NULL;
  size_t len = 0;

  ck_assert_msg (fs->ops->read (fs, path, 64 * LF_MiB, &buf, &len) == 0,
                 "%s", lf_last_error ());
  ck_assert_uint_eq (len, wantlen);
  ck_assert (memcmp (buf, want, len) == 0);
  free (buf);
}

START_TEST (test_read_ops)
{
  struct opened o;
  struct lf_fs *fs;
  struct lf_stat st;
  char **names = NULL, *buf = NULL, *target = NULL;
  size_t len;

  make_image ("mkfs.ext4", "disk.img", OFFSET);
  fs = open_fs (&o, "disk.img", OFFSET, false);
  ck_assert_msg (fs, "%s", lf_last_error ());
  ck_assert_str_eq (fs->name, "disk.img:p1 (ext4)");
  ck_assert (!fs->writable);

  /* lstat */
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/fstab", &st), 0);
  ck_assert_uint_eq (st.mode, S_IFREG | 0600);
  ck_assert_uint_eq (st.size, strlen ("UUID=1234 / ext4 defaults 0 1\n"));
  ck_assert_uint_eq (st.nlink, 1);
  ck_assert (st.mtime > 1600000000);
  ck_assert_int_eq (fs->ops->lstat (fs, "/", &st), 0);
  ck_assert_uint_eq (st.ino, 2);
  ck_assert (S_ISDIR (st.mode));
  ck_assert_int_eq (fs->ops->lstat (fs, "/bin", &st), 0);
  ck_assert (S_ISLNK (st.mode));        /* not followed */

  /* read */
  check_content (fs, "/etc/fstab", "UUID=1234 / ext4 defaults 0 1\n", 30);
  {
    char path[256];
    FILE *fp;
    char *want = malloc (BIG_SIZE);
    snprintf (path, sizeof path, "%s/src/big", tmp);
    fp = fopen (path, "rb");
    ck_assert (fp && want);
    ck_assert_uint_eq (fread (want, 1, BIG_SIZE, fp), BIG_SIZE);
    fclose (fp);
    check_content (fs, "/big", want, BIG_SIZE);
    free (want);
  }
  ck_assert_int_eq (fs->ops->read (fs, "/big", 1000, &buf, &len), -1);
  ck_assert_int_eq (lf_last_errno (), EFBIG);
  ck_assert_int_eq (fs->ops->read (fs, "/etc", LF_MiB, &buf, &len), -1);
  ck_assert_int_eq (lf_last_errno (), EISDIR);
  ck_assert_msg (strstr (lf_last_error (), "/etc: is a directory"), "%s",
                 lf_last_error ());
  ck_assert_int_eq (fs->ops->read (fs, "/bin", LF_MiB, &buf, &len), -1);
  ck_assert_msg (strstr (lf_last_error (), "not a regular file"), "%s",
                 lf_last_error ());

  /* missing paths, and a symlink in the middle of a path */
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/nope/x", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_msg (strstr (lf_last_error (), "disk.img:p1 (ext4): /etc/nope/x"),
                 "%s", lf_last_error ());
  ck_assert_int_eq (fs->ops->lstat (fs, "/bin/ls", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ELOOP);
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/fstab/x", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTDIR);
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/../etc", &st), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  /* lookup: absence is a result, with nothing recorded; errors stay. */
  lf_error_clear ();
  ck_assert_int_eq (fs->ops->lookup (fs, "/etc/nope/x", &st), 0);
  ck_assert_int_eq (fs->ops->lookup (fs, "/etc/nope", &st), 0);
  ck_assert_int_eq (lf_last_errno (), 0);
  ck_assert_int_eq (fs->ops->lookup (fs, "/etc/fstab", &st), 1);
  ck_assert (S_ISREG (st.mode));
  ck_assert_int_eq (fs->ops->lookup (fs, "/etc/fstab/x", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTDIR);

  /* readlink: fast, slow, and not a link */
  ck_assert_int_eq (fs->ops->readlink (fs, "/etc/localtime", &target), 0);
  ck_assert_str_eq (target, "/usr/share/zoneinfo/UTC");
  free (target);
  ck_assert_int_eq (fs->ops->readlink (fs, "/etc/slowlink", &target), 0);
  ck_assert_str_eq (target, SLOW_TARGET);
  free (target);
  ck_assert_int_eq (fs->ops->readlink (fs, "/bin", &target), 0);
  ck_assert_str_eq (target, "usr/bin");
  free (target);
  ck_assert_int_eq (fs->ops->readlink (fs, "/etc/fstab", &target), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);

  /* list */
  ck_assert_int_eq (fs->ops->list (fs, "/", &names), 0);
  {
    const char *want[] = { "big", "bin", "emptydir", "etc", "lost+found",
                           "sub", "usr", NULL };
    for (size_t i = 0; want[i]; i++) {
      ck_assert_ptr_nonnull (names[i]);
      ck_assert_str_eq (names[i], want[i]);
    }
    ck_assert_ptr_null (names[7]);
  }
  free_names (names);
  ck_assert_int_eq (fs->ops->list (fs, "/etc/many", &names), 0);
  ck_assert_uint_eq (count_names (names), NMANY);
  for (size_t i = 1; names[i]; i++)
    ck_assert (strcmp (names[i - 1], names[i]) < 0);
  free_names (names);
  ck_assert_int_eq (fs->ops->list (fs, "/emptydir", &names), 0);
  ck_assert_ptr_null (names[0]);
  free_names (names);
  ck_assert_int_eq (fs->ops->list (fs, "/etc/fstab", &names), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTDIR);

  close_fs (&o);
}
END_TEST

START_TEST (test_read_only_refuses_writes)
{
  struct opened o;
  struct lf_fs *fs;

  make_image ("mkfs.ext4", "disk.img", OFFSET);
  fs = open_fs (&o, "disk.img", OFFSET, false);
  ck_assert_msg (fs, "%s", lf_last_error ());
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/fstab", "x", 1, 0644),
                    -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_msg (strstr (lf_last_error (), "/etc/fstab"), "%s",
                 lf_last_error ());
  ck_assert_int_eq (fs->ops->mkdir (fs, "/d", 0755), -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_int_eq (fs->ops->remove (fs, "/etc/fstab"), -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_int_eq (fs->ops->rename (fs, "/etc/fstab", "/x"), -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_int_eq (fs->ops->symlink (fs, "t", "/l"), -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_int_eq (fs->ops->sync (fs), 0);
  close_fs (&o);

  /* A writable open of a read-only device is refused up front. */
  {
    char path[256];
    struct lf_disk *d;
    struct lf_blockdev *bd;
    snprintf (path, sizeof path, "%s/disk.img", tmp);
    d = lf_disk_open (path, "raw");
    bd = lf_bd_new_disk (d, false, "disk.img");
    struct lf_blockdev *w = lf_bd_new_window (bd, OFFSET,
                                              lf_bd_size (bd) - OFFSET, "p1");
    ck_assert_ptr_null (lf_fs_open_ext2 (w, true));
    ck_assert_int_eq (lf_last_errno (), EROFS);
    lf_bd_free (w);
    lf_bd_free (bd);
    lf_disk_close (d);
  }
  check_fsck ("disk.img", OFFSET);
}
END_TEST

START_TEST (test_write_atomic)
{
  struct opened o;
  struct lf_fs *fs;
  struct lf_stat st, before;
  const char *fstab = "UUID=abcd / ext4 defaults 0 1\n/dev/sdb1 /data xfs 0 0\n";
  char **names = NULL, *out;
  char *big = malloc (BIG_SIZE);

  ck_assert_ptr_nonnull (big);
  for (size_t i = 0; i < BIG_SIZE; i++)
    big[i] = (char) (i * 7 + i / 4096);
  make_image ("mkfs.ext4", "disk.img", OFFSET);
  /* An owner with high 16 bits, and an extended attribute. */
  ck_assert_int_eq (run ("debugfs -w -R 'set_inode_field /etc/fstab uid "
                         "100000' '%s' >/dev/null 2>&1",
                         dev ("disk.img", OFFSET)), 0);
  ck_assert_int_eq (run ("debugfs -w -R 'set_inode_field /etc/fstab gid "
                         "70001' '%s' >/dev/null 2>&1",
                         dev ("disk.img", OFFSET)), 0);
  ck_assert_int_eq (run ("debugfs -w -R 'ea_set /etc/fstab user.landfall "
                         "kept' '%s' >/dev/null 2>&1",
                         dev ("disk.img", OFFSET)), 0);

  fs = open_fs (&o, "disk.img", OFFSET, true);
  ck_assert_msg (fs, "%s", lf_last_error ());
  ck_assert (fs->writable);
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/fstab", &before), 0);
  ck_assert_uint_eq (before.uid, 100000);
  ck_assert_uint_eq (before.gid, 70001);

  /* Replace: mode, owner and xattrs kept, new inode in place. */
  ck_assert_msg (fs->ops->write_atomic (fs, "/etc/fstab", fstab,
                                        strlen (fstab), 0644) == 0,
                 "%s", lf_last_error ());
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/fstab", &st), 0);
  ck_assert_uint_eq (st.mode, S_IFREG | 0600);
  ck_assert_uint_eq (st.uid, 100000);
  ck_assert_uint_eq (st.gid, 70001);
  ck_assert_uint_eq (st.nlink, 1);
  ck_assert_uint_eq (st.size, strlen (fstab));
  ck_assert_uint_ne (st.ino, before.ino);
  check_content (fs, "/etc/fstab", fstab, strlen (fstab));

  /* Create: MODE applies. */
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/new.conf", "a=1\n", 4,
                                           0640), 0);
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/new.conf", &st), 0);
  ck_assert_uint_eq (st.mode, S_IFREG | 0640);
  ck_assert_uint_eq (st.uid, 0);
  /* Empty file. */
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/empty", "", 0, 0644), 0);
  check_content (fs, "/etc/empty", "", 0);
  /* A large file, then replace the 5 MiB random one by a small one. */
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/big2", big, BIG_SIZE, 0644),
                    0);
  check_content (fs, "/big2", big, BIG_SIZE);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/big", "small\n", 6, 0644),
                    0);
  check_content (fs, "/big", "small\n", 6);
  /* A directory with many entries (an htree). */
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/many/file-250", "new\n",
                                           4, 0644), 0);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/many/zz-added", "z\n",
                                           2, 0644), 0);
  ck_assert_int_eq (fs->ops->list (fs, "/etc/many", &names), 0);
  ck_assert_uint_eq (count_names (names), NMANY + 1);
  free_names (names);
  /* Rewriting twice is fine (no stale temporary left). */
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/fstab", fstab,
                                           strlen (fstab), 0644), 0);
  ck_assert_int_eq (fs->ops->list (fs, "/etc", &names), 0);
  for (size_t i = 0; names[i]; i++)
    ck_assert_msg (!strstr (names[i], ".landfall-tmp"), "%s", names[i]);
  free_names (names);

  /* Refusals. */
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc", "x", 1, 0644), -1);
  ck_assert_int_eq (lf_last_errno (), EISDIR);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/localtime", "x", 1,
                                           0644), -1);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/nodir/f", "x", 1, 0644), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/bin/f", "x", 1, 0644), -1);
  ck_assert_int_eq (lf_last_errno (), ELOOP);

  ck_assert_int_eq (fs->ops->sync (fs), 0);
  close_fs (&o);

  check_fsck ("disk.img", OFFSET);
  out = debugfs ("disk.img", OFFSET, "cat /etc/fstab");
  ck_assert_str_eq (out, fstab);
  free (out);
  out = debugfs ("disk.img", OFFSET, "cat /etc/many/file-250");
  ck_assert_str_eq (out, "new\n");
  free (out);
  out = debugfs ("disk.img", OFFSET, "ea_get /etc/fstab user.landfall");
  ck_assert_msg (strstr (out, "kept"), "%s", out);
  free (out);
  {
    char cmd[512];
    snprintf (cmd, sizeof cmd, "debugfs -R 'dump /big2 %s/big2.out' '%s' "
              "2>/dev/null", tmp, dev ("disk.img", OFFSET));
    ck_assert_int_eq (run ("%s", cmd), 0);
    snprintf (cmd, sizeof cmd, "%s/big2.out", tmp);
    FILE *fp = fopen (cmd, "rb");
    char *got = malloc (BIG_SIZE + 1);
    ck_assert (fp && got);
    ck_assert_uint_eq (fread (got, 1, BIG_SIZE + 1, fp), BIG_SIZE);
    ck_assert (memcmp (got, big, BIG_SIZE) == 0);
    fclose (fp);
    free (got);
  }
  free (big);
}
END_TEST

/* A temporary left by a crashed run is removed by the next write. */
START_TEST (test_stale_temporary)
{
  struct opened o;
  struct lf_fs *fs;
  char **names = NULL;

  make_image ("mkfs.ext4", "disk.img", OFFSET);
  fs = open_fs (&o, "disk.img", OFFSET, true);
  ck_assert_msg (fs, "%s", lf_last_error ());
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/hostname.landfall-tmp",
                                           "half", 4, 0644), 0);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/hostname", "new\n", 4,
                                           0644), 0);
  check_content (fs, "/etc/hostname", "new\n", 4);
  ck_assert_int_eq (fs->ops->list (fs, "/etc", &names), 0);
  for (size_t i = 0; names[i]; i++)
    ck_assert_msg (!strstr (names[i], ".landfall-tmp"), "%s", names[i]);
  free_names (names);
  close_fs (&o);
  check_fsck ("disk.img", OFFSET);
}
END_TEST

START_TEST (test_namespace_ops)
{
  struct opened o;
  struct lf_fs *fs;
  struct lf_stat st, st2;
  char *target = NULL, *out;

  make_image ("mkfs.ext4", "disk.img", OFFSET);
  fs = open_fs (&o, "disk.img", OFFSET, true);
  ck_assert_msg (fs, "%s", lf_last_error ());

  /* mkdir */
  ck_assert_msg (fs->ops->mkdir (fs, "/newdir", 0700) == 0, "%s",
                 lf_last_error ());
  ck_assert_int_eq (fs->ops->lstat (fs, "/newdir", &st), 0);
  ck_assert_uint_eq (st.mode, S_IFDIR | 0700);
  ck_assert_uint_eq (st.nlink, 2);
  ck_assert_int_eq (fs->ops->mkdir (fs, "/newdir", 0700), -1);
  ck_assert_int_eq (lf_last_errno (), EEXIST);
  ck_assert_int_eq (fs->ops->mkdir (fs, "/etc/many/sub", 0755), 0);

  /* symlink, fast and slow */
  ck_assert_int_eq (fs->ops->symlink (fs, "../etc/fstab", "/newdir/fast"), 0);
  ck_assert_int_eq (fs->ops->symlink (fs, SLOW_TARGET, "/newdir/slow"), 0);
  ck_assert_int_eq (fs->ops->readlink (fs, "/newdir/fast", &target), 0);
  ck_assert_str_eq (target, "../etc/fstab");
  free (target);
  ck_assert_int_eq (fs->ops->readlink (fs, "/newdir/slow", &target), 0);
  ck_assert_str_eq (target, SLOW_TARGET);
  free (target);
  ck_assert_int_eq (fs->ops->lstat (fs, "/newdir/slow", &st), 0);
  ck_assert (S_ISLNK (st.mode));
  ck_assert_int_eq (fs->ops->symlink (fs, "x", "/newdir/fast"), -1);
  ck_assert_int_eq (lf_last_errno (), EEXIST);

  /* rename: a file into another directory */
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/hostname", &st), 0);
  ck_assert_msg (fs->ops->rename (fs, "/etc/hostname", "/newdir/hostname")
                 == 0, "%s", lf_last_error ());
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/hostname", &st2), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (fs->ops->lstat (fs, "/newdir/hostname", &st2), 0);
  ck_assert_uint_eq (st.ino, st2.ino);
  ck_assert_uint_eq (st2.nlink, 1);
  /* over an existing file: the replaced one is freed */
  ck_assert_int_eq (fs->ops->rename (fs, "/newdir/hostname", "/etc/fstab"),
                    0);
  check_content (fs, "/etc/fstab", "myhost\n", 7);
  /* a directory across parents, then back under another name */
  ck_assert_int_eq (fs->ops->rename (fs, "/sub/d", "/newdir/d2"), 0);
  ck_assert_int_eq (fs->ops->lstat (fs, "/sub", &st), 0);
  ck_assert_uint_eq (st.nlink, 2);
  ck_assert_int_eq (fs->ops->lstat (fs, "/newdir", &st), 0);
  ck_assert_uint_eq (st.nlink, 3);
  check_content (fs, "/newdir/d2/f", "x\n", 2);
  /* over an empty directory */
  ck_assert_int_eq (fs->ops->rename (fs, "/newdir/d2", "/emptydir"), 0);
  check_content (fs, "/emptydir/f", "x\n", 2);
  /* refusals */
  ck_assert_int_eq (fs->ops->rename (fs, "/newdir", "/newdir/slowdir"), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_int_eq (fs->ops->rename (fs, "/etc/fstab", "/etc"), -1);
  ck_assert_int_eq (lf_last_errno (), EISDIR);
  ck_assert_int_eq (fs->ops->rename (fs, "/emptydir", "/etc/fstab"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTDIR);
  ck_assert_int_eq (fs->ops->rename (fs, "/usr", "/etc"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTEMPTY);
  ck_assert_int_eq (fs->ops->rename (fs, "/nothere", "/x"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (fs->ops->rename (fs, "/etc/fstab", "/etc/fstab"), 0);

  /* remove */
  ck_assert_int_eq (fs->ops->remove (fs, "/newdir/fast"), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/newdir/slow"), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/etc/slowlink"), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/bin"), 0);   /* the link only */
  ck_assert_int_eq (fs->ops->lstat (fs, "/usr/bin/ls", &st), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/emptydir"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTEMPTY);
  ck_assert_int_eq (fs->ops->remove (fs, "/emptydir/f"), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/emptydir"), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/etc/many/file-1"), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/big"), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/nothere"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (fs->ops->remove (fs, "/"), -1);
  ck_assert_int_eq (fs->ops->lstat (fs, "/", &st), 0);
  close_fs (&o);

  check_fsck ("disk.img", OFFSET);
  out = debugfs ("disk.img", OFFSET, "cat /etc/fstab");
  ck_assert_str_eq (out, "myhost\n");
  free (out);
  out = debugfs ("disk.img", OFFSET, "ls -l /newdir");
  ck_assert_msg (strstr (out, "hostname") == NULL, "%s", out);
  free (out);
}
END_TEST

/* e2fsck -fp on a copy of NAME: its exit status (0 or 1: repaired by
 * itself), and -fn clean afterwards.
 */
static int
preen_copy (const char *name, unsigned off)
{
  char cmd[512];
  int r;

  ck_assert_int_eq (run ("cp --sparse=always %s/%s %s/preen.img", tmp, name,
                         tmp), 0);
  r = run ("e2fsck -fp '%s' >/dev/null 2>&1", dev ("preen.img", off));
  if (r < 4) {
    snprintf (cmd, sizeof cmd, "e2fsck -fn '%s' 2>&1", dev ("preen.img", off));
    char *out = capture (cmd);
    ck_assert_msg (run ("e2fsck -fn '%s' >/dev/null 2>&1",
                        dev ("preen.img", off)) == 0,
                   "not clean after e2fsck -p:\n%s", out);
    free (out);
  }
  run ("rm -f %s/preen.img", tmp);
  return r;
}

/* The states a killed write leaves, made with debugfs: born-dead inodes
 * already named (a create killed before the inode was made live), and
 * our temporary names left at each step of move_entry.  e2fsck -p
 * repairs each by itself; reading treats a dead inode as absent; the
 * next write reaps what is in its way and leaves a clean filesystem.
 */
START_TEST (test_killed_leftovers)
{
  struct opened o;
  struct lf_fs *fs;
  struct lf_stat st;
  char **names = NULL, *out, *target = NULL;
  FILE *fp;
  char path[256];

  make_image ("mkfs.ext4", "disk.img", OFFSET);
  snprintf (path, sizeof path, "%s/content", tmp);
  fp = fopen (path, "w");
  ck_assert_ptr_nonnull (fp);
  fputs ("some content\n", fp);
  fclose (fp);
  snprintf (path, sizeof path, "%s/cmds", tmp);
  fp = fopen (path, "w");
  ck_assert_ptr_nonnull (fp);
  fprintf (fp,
           /* born dead, named: a directory (its parent counted it), a
            * file, a symlink, a temporary, one to remove */
           "mkdir /etc/deaddir\n"
           "sif /etc/deaddir links_count 0\n"
           "sif /etc/deaddir dtime 1700000000\n"
           "cd /etc\n"
           "write %s/content deadfile\n"
           "sif /etc/deadfile links_count 0\n"
           "sif /etc/deadfile dtime 1700000000\n"
           "symlink /etc/deadlink /usr/share/zoneinfo/UTC\n"
           "sif /etc/deadlink links_count 0\n"
           "sif /etc/deadlink dtime 1700000000\n"
           "write %s/content hostname.landfall-tmp\n"
           "sif /etc/hostname.landfall-tmp links_count 0\n"
           "sif /etc/hostname.landfall-tmp dtime 1700000000\n"
           "write %s/content deadrm\n"
           "sif /etc/deadrm links_count 0\n"
           "sif /etc/deadrm dtime 1700000000\n"
           /* a live temporary counted for NAME too (killed after step 1) */
           "write %s/content fstab.landfall-tmp\n"
           "sif /etc/fstab.landfall-tmp links_count 2\n"
           /* the retiring name of the file in place (after step 2) */
           "ln /etc/many/file-1 /etc/many/file-1.landfall-old\n"
           "sif /etc/many/file-1 links_count 2\n"
           /* the retiring name of a replaced file (after step 3) */
           "cd /etc/many\n"
           "write %s/content file-2.landfall-old\n"
           "sif /etc/many/file-2.landfall-old links_count 2\n"
           /* ... and once it is dead (after step 4) */
           "write %s/content file-3.landfall-old\n"
           "sif /etc/many/file-3.landfall-old links_count 0\n"
           "sif /etc/many/file-3.landfall-old dtime 1700000000\n",
           tmp, tmp, tmp, tmp, tmp, tmp);
  fclose (fp);
  ck_assert_int_eq (run ("debugfs -w -f %s/cmds '%s' >/dev/null 2>&1", tmp,
                         dev ("disk.img", OFFSET)), 0);
  ck_assert_int_ne (run ("e2fsck -fn '%s' >/dev/null 2>&1",
                         dev ("disk.img", OFFSET)), 0);
  ck_assert_int_lt (preen_copy ("disk.img", OFFSET), 4);

  /* Read-only: dead inodes are absent, nothing is written. */
  fs = open_fs (&o, "disk.img", OFFSET, false);
  ck_assert_msg (fs, "%s", lf_last_error ());
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/deaddir", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/deaddir/x", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/deadfile", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (fs->ops->readlink (fs, "/etc/deadlink", &target), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  close_fs (&o);
  out = debugfs ("disk.img", OFFSET, "ls /etc");
  ck_assert_msg (strstr (out, "deaddir"), "%s", out);
  free (out);

  /* Writable: each write reaps what is in its way. */
  fs = open_fs (&o, "disk.img", OFFSET, true);
  ck_assert_msg (fs, "%s", lf_last_error ());
  ck_assert_msg (fs->ops->mkdir (fs, "/etc/deaddir", 0755) == 0, "%s",
                 lf_last_error ());
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/deaddir", &st), 0);
  ck_assert_uint_eq (st.nlink, 2);
  ck_assert_msg (fs->ops->write_atomic (fs, "/etc/deadfile", "new\n", 4,
                                        0644) == 0, "%s", lf_last_error ());
  check_content (fs, "/etc/deadfile", "new\n", 4);
  ck_assert_int_eq (fs->ops->symlink (fs, "../x", "/etc/deadlink"), 0);
  ck_assert_int_eq (fs->ops->readlink (fs, "/etc/deadlink", &target), 0);
  ck_assert_str_eq (target, "../x");
  free (target);
  ck_assert_int_eq (fs->ops->remove (fs, "/etc/deadrm"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/hostname", "h\n", 2,
                                           0644), 0);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/fstab", "f\n", 2, 0644),
                    0);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/many/file-1", "1\n", 2,
                                           0644), 0);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/many/file-2", "2\n", 2,
                                           0644), 0);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/many/file-3", "3\n", 2,
                                           0644), 0);
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/many/file-1", &st), 0);
  ck_assert_uint_eq (st.nlink, 1);
  ck_assert_int_eq (fs->ops->list (fs, "/etc", &names), 0);
  for (size_t i = 0; names[i]; i++)
    ck_assert_msg (!strstr (names[i], ".landfall-") &&
                   strcmp (names[i], "deadrm") != 0, "%s", names[i]);
  free_names (names);
  ck_assert_int_eq (fs->ops->list (fs, "/etc/many", &names), 0);
  ck_assert_uint_eq (count_names (names), NMANY);
  free_names (names);
  close_fs (&o);
  check_fsck ("disk.img", OFFSET);
}
END_TEST

/* Watching the image's writes: a SIGKILL leaves the image as it is
 * before some pwrite of ours, so while WATCH is armed every write first
 * checks that state from the outside (a second, read-only libext2fs
 * handle on the image file): each block directory WATCH.DIR maps (data,
 * htree index, extent tree) must be in use in the on-disk bitmap, or
 * the superblock on disk must say the filesystem is not clean: then the
 * next writable open marks it in use before it allocates anything
 * (test_recovery shows it), and a re-run cannot allocate it again.
 * Ours is the only pwrite64 in this process: the image's
 * (common/util.c lf_pwrite_all) reaches it.
 */
static struct {
  bool armed;
  char path[256];
  unsigned off;
  ext2_ino_t dir;
  unsigned checks, unreadable, unclean_free;
  blk64_t most_blocks;          /* most blocks DIR was seen mapping */
} watch;

struct mapped_ctx {
  blk64_t blocks, free_blk;
};

static int
mapped_cb (ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
           blk64_t ref_blk, int ref_offset, void *priv)
{
  struct mapped_ctx *c = priv;

  (void) blockcnt; (void) ref_blk; (void) ref_offset;
  c->blocks++;
  if (!c->free_blk && !ext2fs_test_block_bitmap2 (fs->block_map, *blocknr))
    c->free_blk = *blocknr;
  return 0;
}

static void
check_dir_durable (void)
{
  struct mapped_ctx c = { 0, 0 };
  ext2_filsys fs;
  char opts[64];
  errcode_t err;

  snprintf (opts, sizeof opts, "offset=%u", watch.off);
  /* Between a flush's writes the checksums may not match yet. */
  err = ext2fs_open2 (watch.path, opts,
                      EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS, 0, 0,
                      unix_io_manager, &fs);
  ck_assert_msg (err == 0, "ext2fs_open2: %s", error_message (err));
  err = ext2fs_read_block_bitmap (fs);
  ck_assert_msg (err == 0, "ext2fs_read_block_bitmap: %s",
                 error_message (err));
  err = ext2fs_block_iterate3 (fs, watch.dir, BLOCK_FLAG_READ_ONLY, NULL,
                               mapped_cb, &c);
  /* libext2fs splitting the extent root writes the inode with the new
   * depth before the index entry (ext2fs_extent_node_split, then
   * ext2fs_extent_replace): between the two the tree does not read.
   * Not a bitmap question; counted, and the next write completes it.
   */
  if (err) {
    watch.unreadable++;
    ext2fs_close_free (&fs);
    return;
  }
  if (c.free_blk && !(fs->super->s_state & EXT2_VALID_FS)) {
    watch.unclean_free++;
    c.free_blk = 0;
  }
  ext2fs_close_free (&fs);
  ck_assert_msg (c.free_blk == 0, "after %u checks: directory inode %u maps "
                 "block %llu, which the on-disk bitmap calls free, and the "
                 "filesystem is marked clean", watch.checks, watch.dir,
                 (unsigned long long) c.free_blk);
  watch.checks++;
  if (c.blocks > watch.most_blocks)
    watch.most_blocks = c.blocks;
}

ssize_t
pwrite64 (int fd, const void *buf, size_t count, off64_t offset)
{
  if (watch.armed) {
    watch.armed = false;
    check_dir_durable ();
    watch.armed = true;
  }
  return syscall (SYS_pwrite64, fd, buf, count, offset);
}

/* Add files with long names to DIR (at most three entries fit in a
 * 1 KiB block) under the watch until it maps GROW more blocks.
 */
static void
grow_watched (struct lf_fs *fs, const char *dir, blk64_t grow, int *serial)
{
  blk64_t start = watch.most_blocks;
  char path[512];

  watch.armed = true;
  while (watch.most_blocks < start + grow) {
    ck_assert_int_lt (*serial, 200);
    snprintf (path, sizeof path, "%s/%0240d", dir, (*serial)++);
    ck_assert_msg (fs->ops->write_atomic (fs, path, "x\n", 2, 0644) == 0,
                   "%s", lf_last_error ());
  }
  watch.armed = false;
  check_dir_durable ();
}

/* Growing a live directory, plain (ext2fs_expand_dir) then indexed
 * (ext2fs_link's htree split, through ext2fs_fallocate): at no write is
 * one of its blocks free in the on-disk bitmap.
 */
START_TEST (test_dir_growth)
{
  struct opened o;
  struct lf_fs *fs;
  struct lf_stat st;
  char *out;
  int serial = 0;

  make_image ("mkfs.ext4", "disk.img", OFFSET);
  memset (&watch, 0, sizeof watch);
  snprintf (watch.path, sizeof watch.path, "%s/disk.img", tmp);
  watch.off = OFFSET;

  fs = open_fs (&o, "disk.img", OFFSET, true);
  ck_assert_msg (fs, "%s", lf_last_error ());
  ck_assert_msg (fs->ops->mkdir (fs, "/grow", 0755) == 0, "%s",
                 lf_last_error ());
  ck_assert_int_eq (fs->ops->lstat (fs, "/grow", &st), 0);
  watch.dir = (ext2_ino_t) st.ino;
  check_dir_durable ();
  ck_assert_uint_eq (watch.most_blocks, 1);
  grow_watched (fs, "/grow", 3, &serial);
  close_fs (&o);
  check_fsck ("disk.img", OFFSET);

  /* e2fsck -D indexes it; then a full leaf splits. */
  ck_assert_int_lt (run ("e2fsck -fyD '%s' >/dev/null 2>&1",
                         dev ("disk.img", OFFSET)), 4);
  out = debugfs ("disk.img", OFFSET, "htree_dump /grow");
  ck_assert_msg (strstr (out, "Root node dump"), "not indexed:\n%s", out);
  free (out);
  watch.most_blocks = 0;
  check_dir_durable ();
  fs = open_fs (&o, "disk.img", OFFSET, true);
  ck_assert_msg (fs, "%s", lf_last_error ());
  grow_watched (fs, "/grow", 3, &serial);
  close_fs (&o);
  check_fsck ("disk.img", OFFSET);
  out = debugfs ("disk.img", OFFSET, "htree_dump /grow");
  ck_assert_msg (strstr (out, "Root node dump"), "no longer indexed:\n%s",
                 out);
  free (out);
}
END_TEST

/* What a kill can leave, made by hand with debugfs on a filesystem
 * marked not clean: the next writable open repairs all of it, and
 * e2fsck -fn then finds nothing.  A clean-marked filesystem is not
 * touched by an open; a session marks it unclean while it writes and
 * clean again at close.
 */
static ext2_ino_t
ino_of (const char *name, unsigned off, const char *path)
{
  char req[300];
  char *out;
  unsigned long ino = 0;

  snprintf (req, sizeof req, "stat %s", path);
  out = debugfs (name, off, req);
  ck_assert_msg (sscanf (out, "Inode: %lu", &ino) == 1, "%s: %s", path, out);
  free (out);
  return (ext2_ino_t) ino;
}

START_TEST (test_recovery)
{
  struct opened o;
  struct lf_fs *fs;
  struct lf_stat st;
  ext2_ino_t dead, tmpf, hosts, etc;
  char *out;
  char req[4096];

  make_image ("mkfs.ext4", "disk.img", OFFSET);
  /* A session marks the state unclean while it writes, clean after. */
  fs = open_fs (&o, "disk.img", OFFSET, true);
  ck_assert_msg (fs, "%s", lf_last_error ());
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/dead", "d\n", 2, 0644),
                    0);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/tmpf", "t\n", 2, 0644),
                    0);
  ck_assert_int_eq (fs->ops->mkdir (fs, "/etc/sub", 0755), 0);
  out = debugfs ("disk.img", OFFSET, "stats");
  ck_assert_msg (strstr (out, "Filesystem state:         not clean"), "%s",
                 out);
  free (out);
  close_fs (&o);
  out = debugfs ("disk.img", OFFSET, "stats");
  ck_assert_msg (strstr (out, "Filesystem state:         clean"), "%s", out);
  free (out);
  check_fsck ("disk.img", OFFSET);

  dead = ino_of ("disk.img", OFFSET, "/etc/dead");
  tmpf = ino_of ("disk.img", OFFSET, "/etc/tmpf");
  hosts = ino_of ("disk.img", OFFSET, "/etc/hostname");
  etc = ino_of ("disk.img", OFFSET, "/etc");
  /* A dead inode with its name, one without (its name gone, the inode
   * still allocated), our temporary naming a live inode as its only
   * name, a retired name beside the real one with the count it took, a
   * directory's count one too high, a block of /etc free in the bitmap,
   * a group's counts behind its bitmap; and the state not clean.
   */
  snprintf (req, sizeof req,
            "sif <%u> links_count 0\n"
            "sif <%u> dtime 1700000000\n"
            "unlink /etc/tmpf\n"
            "ln <%u> /etc/tmpf.landfall-tmp\n"
            "ln <%u> /etc/hostname.landfall-old\n"
            "sif <%u> links_count 2\n"
            "sif <%u> links_count 4\n"
            "set_bg 0 free_blocks_count 7\n"
            "set_bg 0 checksum calc\n"
            "ssv state 0\n",
            dead, dead, tmpf, hosts, hosts, etc);
  {
    char cmdf[128];
    FILE *f;
    snprintf (cmdf, sizeof cmdf, "%s/cmds", tmp);
    f = fopen (cmdf, "w");
    ck_assert_ptr_nonnull (f);
    fputs (req, f);
    fclose (f);
    ck_assert_int_eq (run ("debugfs -w -f '%s' '%s' >/dev/null 2>&1", cmdf,
                           dev ("disk.img", OFFSET)), 0);
  }
  /* /etc's first block free in the bitmap. */
  out = debugfs ("disk.img", OFFSET, "blocks /etc");
  {
    unsigned long blk = strtoul (out, NULL, 10);
    ck_assert_uint_gt (blk, 0);
    snprintf (req, sizeof req, "debugfs -w -R 'freeb %lu' '%s' >/dev/null "
              "2>&1", blk, dev ("disk.img", OFFSET));
    free (out);
    ck_assert_int_eq (run ("%s", req), 0);
  }
  ck_assert_int_ne (run ("e2fsck -fn '%s' >/dev/null 2>&1",
                         dev ("disk.img", OFFSET)), 0);

  /* A read-only open repairs nothing. */
  fs = open_fs (&o, "disk.img", OFFSET, false);
  ck_assert_msg (fs, "%s", lf_last_error ());
  close_fs (&o);
  ck_assert_int_ne (run ("e2fsck -fn '%s' >/dev/null 2>&1",
                         dev ("disk.img", OFFSET)), 0);

  fs = open_fs (&o, "disk.img", OFFSET, true);
  ck_assert_msg (fs, "%s", lf_last_error ());
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/dead", &st), -1);
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/tmpf.landfall-tmp", &st), -1);
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/hostname.landfall-old", &st), -1);
  ck_assert_int_eq (fs->ops->lstat (fs, "/etc/hostname", &st), 0);
  ck_assert_uint_eq (st.nlink, 1);
  close_fs (&o);
  check_fsck ("disk.img", OFFSET);
  /* Not marked clean by us: the guest's boot checks it once. */
  out = debugfs ("disk.img", OFFSET, "stats");
  ck_assert_msg (strstr (out, "Filesystem state:         not clean"), "%s",
                 out);
  free (out);
}
END_TEST

/* inline_data: mkdir and symlinks still use blocks (or i_block). */
START_TEST (test_inline_data)
{
  struct opened o;
  struct lf_fs *fs;
  char *target = NULL;

  make_image ("mkfs.ext4 -O inline_data", "disk.img", OFFSET);
  fs = open_fs (&o, "disk.img", OFFSET, true);
  ck_assert_msg (fs, "%s", lf_last_error ());
  ck_assert_msg (fs->ops->mkdir (fs, "/d", 0700) == 0, "%s",
                 lf_last_error ());
  ck_assert_int_eq (fs->ops->symlink (fs, "t", "/d/fast"), 0);
  ck_assert_int_eq (fs->ops->symlink (fs, SLOW_TARGET, "/d/slow"), 0);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/d/f", "x\n", 2, 0644), 0);
  ck_assert_int_eq (fs->ops->readlink (fs, "/d/slow", &target), 0);
  ck_assert_str_eq (target, SLOW_TARGET);
  free (target);
  close_fs (&o);
  check_fsck ("disk.img", OFFSET);
}
END_TEST

/* ext2 (block maps, no journal) and ext3, at offset 0. */
static void
exercise_old_format (const char *mkfs, const char *type)
{
  struct opened o;
  struct lf_fs *fs;
  char want[64], *target = NULL, *out;
  char *data = malloc (300000);

  ck_assert_ptr_nonnull (data);
  memset (data, 'q', 300000);
  make_image (mkfs, "fs.img", 0);
  fs = open_fs (&o, "fs.img", 0, true);
  ck_assert_msg (fs, "%s", lf_last_error ());
  snprintf (want, sizeof want, "disk.img:p1 (%s)", type);
  ck_assert_str_eq (fs->name, want);
  check_content (fs, "/etc/hostname", "myhost\n", 7);
  ck_assert_int_eq (fs->ops->write_atomic (fs, "/etc/hostname", data, 300000,
                                           0644), 0);
  ck_assert_int_eq (fs->ops->mkdir (fs, "/d", 0755), 0);
  ck_assert_int_eq (fs->ops->symlink (fs, SLOW_TARGET, "/d/slow"), 0);
  ck_assert_int_eq (fs->ops->readlink (fs, "/d/slow", &target), 0);
  ck_assert_str_eq (target, SLOW_TARGET);
  free (target);
  ck_assert_int_eq (fs->ops->rename (fs, "/etc/fstab", "/d/fstab"), 0);
  ck_assert_int_eq (fs->ops->remove (fs, "/big"), 0);
  close_fs (&o);
  check_fsck ("fs.img", 0);
  out = debugfs ("fs.img", 0, "cat /d/fstab");
  ck_assert_str_eq (out, "UUID=1234 / ext4 defaults 0 1\n");
  free (out);
  free (data);
}

START_TEST (test_ext2) { exercise_old_format ("mkfs.ext2", "ext2"); }
END_TEST

START_TEST (test_ext3) { exercise_old_format ("mkfs.ext3", "ext3"); }
END_TEST

START_TEST (test_needs_recovery)
{
  struct opened o;
  struct lf_fs *fs;

  make_image ("mkfs.ext4", "disk.img", OFFSET);
  ck_assert_int_eq (run ("debugfs -w -R 'feature needs_recovery' '%s' "
                         ">/dev/null 2>&1", dev ("disk.img", OFFSET)), 0);
  fs = open_fs (&o, "disk.img", OFFSET, true);
  ck_assert_ptr_null (fs);
  ck_assert_msg (strstr (lf_last_error (), "journal needs recovery: the guest "
                         "was not shut down cleanly"), "%s", lf_last_error ());
  ck_assert_msg (strstr (lf_last_error (), "disk.img:p1"), "%s",
                 lf_last_error ());
  close_fs (&o);
  /* Reading is allowed. */
  fs = open_fs (&o, "disk.img", OFFSET, false);
  ck_assert_msg (fs, "%s", lf_last_error ());
  check_content (fs, "/etc/hostname", "myhost\n", 7);
  close_fs (&o);
}
END_TEST

START_TEST (test_bad_magic)
{
  struct opened o;
  char path[256];
  int fd;

  make_image ("mkfs.ext4", "disk.img", OFFSET);
  snprintf (path, sizeof path, "%s/disk.img", tmp);
  fd = open (path, O_WRONLY);
  ck_assert (fd >= 0);
  /* s_magic is at 0x38 in the superblock, which is at 1024. */
  ck_assert_int_eq (pwrite (fd, "\0\0", 2, OFFSET + 1024 + 0x38), 2);
  close (fd);
  ck_assert_ptr_null (open_fs (&o, "disk.img", OFFSET, false));
  ck_assert_msg (strstr (lf_last_error (), "disk.img:p1: ext2/3/4 superblock: "
                         "Bad magic number in super-block"), "%s",
                 lf_last_error ());
  close_fs (&o);
}
END_TEST

/* A window too small for the filesystem: the device's own error. */
START_TEST (test_truncated_device)
{
  char path[256];
  struct lf_disk *d;
  struct lf_blockdev *bd, *w;

  make_image ("mkfs.ext4", "disk.img", OFFSET);
  snprintf (path, sizeof path, "%s/disk.img", tmp);
  d = lf_disk_open (path, "raw");
  ck_assert_ptr_nonnull (d);
  bd = lf_bd_new_disk (d, false, "disk.img");
  w = lf_bd_new_window (bd, OFFSET, 1536, "disk.img:p1");
  ck_assert_ptr_null (lf_fs_open_ext2 (w, false));
  ck_assert_msg (strstr (lf_last_error (), "disk.img:p1"), "%s",
                 lf_last_error ());
  lf_bd_free (w);
  lf_bd_free (bd);
  lf_disk_close (d);
}
END_TEST

static Suite *
ext2_suite (void)
{
  Suite *s = suite_create ("ext2");
  TCase *tc = tcase_create ("ext2");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_read_ops);
  tcase_add_test (tc, test_read_only_refuses_writes);
  tcase_add_test (tc, test_write_atomic);
  tcase_add_test (tc, test_stale_temporary);
  tcase_add_test (tc, test_namespace_ops);
  tcase_add_test (tc, test_killed_leftovers);
  tcase_add_test (tc, test_dir_growth);
  tcase_add_test (tc, test_recovery);
  tcase_add_test (tc, test_inline_data);
  tcase_add_test (tc, test_ext2);
  tcase_add_test (tc, test_ext3);
  tcase_add_test (tc, test_needs_recovery);
  tcase_add_test (tc, test_bad_magic);
  tcase_add_test (tc, test_truncated_device);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  const char *old = getenv ("PATH");
  char *path = NULL;
  SRunner *sr;
  int failed;

  /* The tools live in sbin, which a user's PATH may lack. */
  if (asprintf (&path, "%s:/usr/sbin:/sbin", old ? old : "/usr/bin:/bin")
      == -1)
    return EXIT_FAILURE;
  setenv ("PATH", path, 1);
  free (path);
  if (system ("(command -v mkfs.ext4 && command -v mkfs.ext3 && "
              "command -v mkfs.ext2 && command -v debugfs && "
              "command -v e2fsck) >/dev/null 2>&1") != 0) {
    printf ("SKIP: mkfs.ext2/3/4, debugfs or e2fsck not found\n");
    return 77;
  }
  sr = srunner_create (ext2_suite ());
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
