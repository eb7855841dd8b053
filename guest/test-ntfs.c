/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the NTFS backend (guest/ntfs.c).
 *
 * Fixtures are made here with real tools: mkntfs makes a 64 MiB volume,
 * the backend makes the Windows directories, ntfscp copies in the real
 * VMware Windows 7 SYSTEM hive (11 MiB), and the volume is put at 1 MiB
 * inside a raw disk image, so every test goes through a window block
 * device.  What the backend writes is checked from outside with ntfscat,
 * ntfsls and ntfsfix -n on a copy of the volume.  ntfsck is not used: the
 * Debian version reports "Unsupported cases" even for a fresh mkntfs.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/volume.h>

#include "guest/guest.h"

#define FS_OFFSET LF_MiB
#define FS_SIZE   (64 * LF_MiB)
#define HIVE      "/Windows/System32/config/SYSTEM"

static char workdir[] = "/tmp/landfall-test-ntfs-XXXXXX";
static char *hive;                      /* the hive's bytes */
static size_t hive_len;

static int sh (const char *fmt, ...) LF_PRINTF (1, 2);
static int
sh (const char *fmt, ...)
{
  char *cmd = NULL;
  va_list ap;
  int r;

  va_start (ap, fmt);
  if (vasprintf (&cmd, fmt, ap) == -1)
    abort ();
  va_end (ap);
  r = system (cmd);
  free (cmd);
  return r == -1 ? -1 : WIFEXITED (r) ? WEXITSTATUS (r) : 128;
}

/* Output of a command (at most 1 MiB), NUL-terminated. */
static char *sh_out (const char *fmt, ...) LF_PRINTF (1, 2);
static char *
sh_out (const char *fmt, ...)
{
  char *cmd = NULL, *buf = calloc (1, LF_MiB + 1);
  va_list ap;
  FILE *fp;
  size_t n;

  va_start (ap, fmt);
  if (vasprintf (&cmd, fmt, ap) == -1 || !buf)
    abort ();
  va_end (ap);
  fp = popen (cmd, "r");
  ck_assert_msg (fp != NULL, "popen %s", cmd);
  n = fread (buf, 1, LF_MiB, fp);
  buf[n] = '\0';
  pclose (fp);
  free (cmd);
  return buf;
}

struct fx {
  char img[256];
  struct lf_disk *disk;
  struct lf_blockdev *whole, *part;
  struct lf_fs *fs;
};

/* A fresh copy of the base image for one test. */
static void
fx_copy (struct fx *f, const char *name)
{
  snprintf (f->img, sizeof f->img, "%s/%s.img", workdir, name);
  ck_assert_int_eq (sh ("cp --sparse=always %s/base.img %s", workdir,
                        f->img), 0);
}

/* Open the volume in F->img; NULL fs (error recorded) is allowed. */
static struct lf_fs *
fx_open (struct fx *f, bool writable)
{
  f->disk = lf_disk_open (f->img, "raw");
  ck_assert_msg (f->disk != NULL, "%s", lf_last_error ());
  f->whole = lf_bd_new_disk (f->disk, writable, "disk.img");
  ck_assert_msg (f->whole != NULL, "%s", lf_last_error ());
  f->part = lf_bd_new_window (f->whole, FS_OFFSET, FS_SIZE, "disk.img:p1");
  ck_assert_msg (f->part != NULL, "%s", lf_last_error ());
  f->fs = lf_fs_open_ntfs (f->part, writable);
  return f->fs;
}

static void
fx_close (struct fx *f)
{
  if (f->fs)
    f->fs->ops->close (f->fs);
  lf_bd_free (f->part);
  lf_bd_free (f->whole);
  lf_disk_close (f->disk);
  f->fs = NULL;
  f->part = f->whole = NULL;
  f->disk = NULL;
}

/* The volume of F->img alone, for the ntfs-3g tools. */
static const char *
fx_extract (struct fx *f)
{
  static char out[300];

  snprintf (out, sizeof out, "%s.vol", f->img);
  ck_assert_int_eq (sh ("dd if=%s of=%s bs=1M skip=1 count=64 status=none",
                        f->img, out), 0);
  return out;
}

static void
fx_put_back (struct fx *f, const char *vol)
{
  ck_assert_int_eq (sh ("dd if=%s of=%s bs=1M seek=1 conv=notrunc "
                        "status=none", vol, f->img), 0);
}

static void
free_names (char **names)
{
  for (size_t i = 0; names && names[i]; i++)
    free (names[i]);
  free (names);
}

static bool
has_name (char **names, const char *name)
{
  for (size_t i = 0; names[i]; i++)
    if (strcmp (names[i], name) == 0)
      return true;
  return false;
}

START_TEST (test_read_hive)
{
  struct fx f = { .img = "" };
  struct lf_stat st;
  char *buf = NULL;
  size_t len;

  fx_copy (&f, "read");
  ck_assert_msg (fx_open (&f, false), "%s", lf_last_error ());
  ck_assert_str_eq (f.fs->name, "disk.img:p1 (ntfs)");
  ck_assert_int_eq (f.fs->ops->lstat (f.fs, HIVE, &st), 0);
  ck_assert (S_ISREG (st.mode));
  ck_assert_uint_eq (st.size, hive_len);
  ck_assert_uint_ge (st.ino, 16);
  ck_assert_int_gt (st.mtime, 1600000000);
  ck_assert_int_eq (f.fs->ops->read (f.fs, HIVE, 64 * LF_MiB, &buf, &len),
                    0);
  ck_assert_uint_eq (len, hive_len);
  ck_assert (memcmp (buf, hive, len) == 0);
  ck_assert (memcmp (buf, "regf", 4) == 0);
  free (buf);
  /* Over the caller's limit. */
  ck_assert_int_eq (f.fs->ops->read (f.fs, HIVE, LF_MiB, &buf, &len), -1);
  ck_assert_int_eq (lf_last_errno (), EFBIG);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "SYSTEM"));
  fx_close (&f);
}
END_TEST

START_TEST (test_case_insensitive)
{
  struct fx f = { .img = "" };
  struct lf_stat a, b;
  char *buf = NULL;
  size_t len;

  fx_copy (&f, "case");
  ck_assert_msg (fx_open (&f, false), "%s", lf_last_error ());
  ck_assert_int_eq (f.fs->ops->lstat (f.fs, HIVE, &a), 0);
  ck_assert_int_eq (f.fs->ops->lstat (f.fs, "/windows/system32/CONFIG/system",
                                      &b), 0);
  ck_assert_uint_eq (a.ino, b.ino);
  ck_assert_int_eq (f.fs->ops->read (f.fs, "/WINDOWS/System32/config/SyStEm",
                                     64 * LF_MiB, &buf, &len), 0);
  ck_assert_uint_eq (len, hive_len);
  free (buf);
  fx_close (&f);
}
END_TEST

START_TEST (test_list)
{
  struct fx f = { .img = "" };
  char **names = NULL;
  struct lf_stat st;

  fx_copy (&f, "list");
  ck_assert_msg (fx_open (&f, false), "%s", lf_last_error ());
  ck_assert_int_eq (f.fs->ops->list (f.fs, "/", &names), 0);
  ck_assert (has_name (names, "Windows"));
  ck_assert (!has_name (names, "$MFT"));
  ck_assert (!has_name (names, "$Extend"));
  ck_assert (!has_name (names, "."));
  for (size_t i = 0; names[i] && names[i + 1]; i++)
    ck_assert (strcmp (names[i], names[i + 1]) < 0);
  free_names (names);
  ck_assert_int_eq (f.fs->ops->list (f.fs, "/Windows/System32/config",
                                     &names), 0);
  ck_assert_str_eq (names[0], "SYSTEM");
  ck_assert_ptr_null (names[1]);
  free_names (names);
  ck_assert_int_eq (f.fs->ops->lstat (f.fs, "/Windows", &st), 0);
  ck_assert (S_ISDIR (st.mode));
  /* Errors. */
  ck_assert_int_eq (f.fs->ops->list (f.fs, HIVE, &names), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTDIR);
  ck_assert_int_eq (f.fs->ops->lstat (f.fs, "/Windows/nope", &st), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "/Windows/nope"));
  ck_assert_int_eq (f.fs->ops->read (f.fs, "/Windows", 100, NULL, NULL), -1);
  ck_assert_int_eq (lf_last_errno (), EISDIR);
  ck_assert_int_eq (f.fs->ops->readlink (f.fs, HIVE, &names[0]), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  fx_close (&f);
}
END_TEST

START_TEST (test_write_atomic)
{
  struct fx f = { .img = "" };
  const char *vol;
  char *out, *buf = NULL;
  size_t len;
  bool dirty, hib;

  fx_copy (&f, "write");
  ck_assert_msg (fx_open (&f, true), "%s", lf_last_error ());
  ck_assert (f.fs->writable);
  /* Replace the hive (spelt in another case), create a new file. */
  ck_assert_msg (f.fs->ops->write_atomic (f.fs, "/windows/system32/config/"
                                          "system", "new hive\n", 9, 0644)
                 == 0, "%s", lf_last_error ());
  ck_assert_msg (f.fs->ops->write_atomic (f.fs, "/Windows/new.txt",
                                          "brand new\n", 10, 0644) == 0,
                 "%s", lf_last_error ());
  ck_assert_int_eq (f.fs->ops->read (f.fs, HIVE, 100, &buf, &len), 0);
  ck_assert_uint_eq (len, 9);
  ck_assert_str_eq (buf, "new hive\n");
  free (buf);
  /* Replace a file again with something big (non-resident data). */
  ck_assert_msg (f.fs->ops->write_atomic (f.fs, "/Windows/new.txt", hive,
                                          hive_len, 0644) == 0,
                 "%s", lf_last_error ());
  ck_assert_int_eq (lf_ntfs_state (f.fs, &dirty, &hib), 0);
  ck_assert (!dirty && !hib);
  fx_close (&f);

  /* From outside: the original name, the new content, no leftovers. */
  vol = fx_extract (&f);
  out = sh_out ("ntfscat %s /Windows/System32/config/SYSTEM", vol);
  ck_assert_str_eq (out, "new hive\n");
  free (out);
  ck_assert_int_eq (sh ("ntfscat %s /Windows/new.txt | cmp -s - %s/SYSTEM",
                        vol, workdir), 0);
  out = sh_out ("ntfsls -p /Windows/System32/config %s | grep -vxE '[.]{1,2}'",
                vol);
  ck_assert_str_eq (out, "SYSTEM\n");
  free (out);
  out = sh_out ("ntfsls -p /Windows %s | grep -vxE '[.]{1,2}'", vol);
  ck_assert_str_eq (out, "new.txt\nSystem32\n");
  free (out);
  ck_assert_int_eq (sh ("ntfsfix -n %s >/dev/null", vol), 0);
  out = sh_out ("ntfsinfo -m %s | grep 'Volume Flags'", vol);
  ck_assert_ptr_nonnull (strstr (out, "0x0000"));
  free (out);
}
END_TEST

/* A leftover of an interrupted write is cleaned up by the next one. */
START_TEST (test_write_atomic_leftover)
{
  struct fx f = { .img = "" };
  const char *vol;
  char *out;

  fx_copy (&f, "leftover");
  ck_assert_msg (fx_open (&f, true), "%s", lf_last_error ());
  ck_assert_int_eq (f.fs->ops->write_atomic (f.fs, "/Windows/a.landfall-tmp",
                                             "junk", 4, 0644), 0);
  ck_assert_int_eq (f.fs->ops->write_atomic (f.fs, "/Windows/a", "good", 4,
                                             0644), 0);
  fx_close (&f);
  vol = fx_extract (&f);
  out = sh_out ("ntfsls -p /Windows %s | grep -vxE '[.]{1,2}'", vol);
  ck_assert_str_eq (out, "a\nSystem32\n");
  free (out);
}
END_TEST

/* sync, without closing: everything is on the disk image already. */
START_TEST (test_sync)
{
  struct fx f = { .img = "" };
  char *out;

  fx_copy (&f, "sync");
  ck_assert_msg (fx_open (&f, true), "%s", lf_last_error ());
  ck_assert_int_eq (f.fs->ops->write_atomic (f.fs, "/s.txt", "synced", 6,
                                             0644), 0);
  ck_assert_int_eq (f.fs->ops->sync (f.fs), 0);
  out = sh_out ("ntfscat %s /s.txt", fx_extract (&f));
  ck_assert_str_eq (out, "synced");
  free (out);
  fx_close (&f);
}
END_TEST

START_TEST (test_mkdir_rename_remove)
{
  struct fx f = { .img = "" };
  const char *vol;
  struct lf_stat st;
  char *out;

  fx_copy (&f, "dirs");
  ck_assert_msg (fx_open (&f, true), "%s", lf_last_error ());
  /* A failed lookup must not be remembered past a create. */
  ck_assert_int_eq (f.fs->ops->lstat (f.fs, "/DIR", &st), -1);
  ck_assert_int_eq (f.fs->ops->mkdir (f.fs, "/Dir", 0755), 0);
  ck_assert_int_eq (f.fs->ops->lstat (f.fs, "/DIR", &st), 0);
  /* The first entry of an empty directory made in this session. */
  ck_assert_msg (f.fs->ops->write_atomic (f.fs, "/Dir/first", "1", 1, 0644)
                 == 0, "%s", lf_last_error ());
  ck_assert_int_eq (f.fs->ops->remove (f.fs, "/dir/FIRST"), 0);
  ck_assert_int_eq (f.fs->ops->mkdir (f.fs, "/dir", 0755), -1);
  ck_assert_int_eq (lf_last_errno (), EEXIST);
  ck_assert_int_eq (f.fs->ops->mkdir (f.fs, "/Dir/Sub", 0755), 0);
  ck_assert_int_eq (f.fs->ops->write_atomic (f.fs, "/Dir/a", "A", 1, 0644),
                    0);
  ck_assert_int_eq (f.fs->ops->write_atomic (f.fs, "/Dir/b", "B", 1, 0644),
                    0);
  /* File renames: plain, across directories, over an existing file. */
  ck_assert_msg (f.fs->ops->rename (f.fs, "/Dir/a", "/Dir/c") == 0, "%s",
                 lf_last_error ());
  ck_assert_int_eq (f.fs->ops->rename (f.fs, "/Dir/c", "/Dir/Sub/d"), 0);
  ck_assert_int_eq (f.fs->ops->rename (f.fs, "/Dir/b", "/Dir/Sub/d"), 0);
  ck_assert_int_eq (f.fs->ops->lstat (f.fs, "/Dir/Sub/d", &st), 0);
  ck_assert_uint_eq (st.size, 1);
  ck_assert_uint_eq (st.nlink, 1);
  /* Directory renames, and the errors. */
  ck_assert_int_eq (f.fs->ops->rename (f.fs, "/Dir", "/Dir/Sub/x"), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_msg (f.fs->ops->rename (f.fs, "/Dir", "/Dir2") == 0, "%s",
                 lf_last_error ());
  ck_assert_int_eq (f.fs->ops->remove (f.fs, "/Dir2/Sub"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTEMPTY);
  ck_assert_int_eq (f.fs->ops->remove (f.fs, "/Dir2/Sub/d"), 0);
  ck_assert_int_eq (f.fs->ops->remove (f.fs, "/Dir2/Sub/d"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOENT);
  ck_assert_int_eq (f.fs->ops->rename (f.fs, "/Dir2/Sub", "/Sub"), 0);
  ck_assert_int_eq (f.fs->ops->remove (f.fs, "/Dir2"), 0);
  ck_assert_int_eq (f.fs->ops->lstat (f.fs, "/Sub", &st), 0);
  ck_assert (S_ISDIR (st.mode));
  ck_assert_int_eq (f.fs->ops->mkdir (f.fs, "/bad:name", 0755), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_int_eq (f.fs->ops->symlink (f.fs, "x", "/link"), -1);
  ck_assert_int_eq (lf_last_errno (), ENOTSUP);
  fx_close (&f);

  vol = fx_extract (&f);
  out = sh_out ("ntfsls %s", vol);
  ck_assert_str_eq (out, "Sub\nWindows\n");
  free (out);
  out = sh_out ("ntfsls -p /Sub %s | grep -vxE '[.]{1,2}'", vol);
  ck_assert_str_eq (out, "");
  free (out);
  ck_assert_int_eq (sh ("ntfsfix -n %s >/dev/null", vol), 0);
}
END_TEST

START_TEST (test_readonly)
{
  struct fx f = { .img = "" };

  fx_copy (&f, "ro");
  ck_assert_msg (fx_open (&f, false), "%s", lf_last_error ());
  ck_assert (!f.fs->writable);
  ck_assert_int_eq (f.fs->ops->write_atomic (f.fs, HIVE, "x", 1, 0644), -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_int_eq (f.fs->ops->mkdir (f.fs, "/x", 0755), -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_int_eq (f.fs->ops->rename (f.fs, HIVE, "/x"), -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  ck_assert_int_eq (f.fs->ops->remove (f.fs, HIVE), -1);
  ck_assert_int_eq (lf_last_errno (), EROFS);
  fx_close (&f);
  /* The image is untouched. */
  ck_assert_int_eq (sh ("cmp -s %s %s/base.img", f.img, workdir), 0);
  /* Writable NTFS on a read-only device. */
  f.disk = lf_disk_open (f.img, "raw");
  f.whole = lf_bd_new_disk (f.disk, false, "disk.img");
  f.part = lf_bd_new_window (f.whole, FS_OFFSET, FS_SIZE, "disk.img:p1");
  ck_assert_ptr_null (lf_fs_open_ntfs (f.part, true));
  ck_assert_int_eq (lf_last_errno (), EROFS);
  fx_close (&f);
}
END_TEST

START_TEST (test_bitlocker)
{
  struct fx f = { .img = "" };

  fx_copy (&f, "bitlocker");
  ck_assert_int_eq (sh ("printf -- '-FVE-FS-' | dd of=%s bs=1 seek=%llu "
                        "conv=notrunc status=none", f.img,
                        (unsigned long long) FS_OFFSET + 3), 0);
  ck_assert_ptr_null (fx_open (&f, false));
  ck_assert_int_eq (lf_last_errno (), EACCES);
  ck_assert_ptr_nonnull (strstr (lf_last_error (),
                                 "BitLocker-encrypted volume"));
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "disk.img:p1"));
  fx_close (&f);
}
END_TEST

/* Set the dirty flag with libntfs-3g itself (no tool does). */
START_TEST (test_dirty)
{
  struct fx f = { .img = "" };
  const char *vol;
  ntfs_volume *v;
  bool dirty, hib;

  fx_copy (&f, "dirty");
  vol = fx_extract (&f);
  v = ntfs_mount (vol, NTFS_MNT_NONE);
  ck_assert_ptr_nonnull (v);
  ck_assert_int_eq (ntfs_volume_write_flags (v, v->flags | VOLUME_IS_DIRTY),
                    0);
  ck_assert_int_eq (ntfs_umount (v, FALSE), 0);
  fx_put_back (&f, vol);

  ck_assert_msg (fx_open (&f, false), "%s", lf_last_error ());
  ck_assert_int_eq (lf_ntfs_state (f.fs, &dirty, &hib), 0);
  ck_assert (dirty);
  ck_assert (!hib);
  fx_close (&f);
  ck_assert_ptr_null (fx_open (&f, true));
  ck_assert_int_eq (lf_last_errno (), EUCLEAN);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "marked dirty"));
  fx_close (&f);
}
END_TEST

START_TEST (test_hibernated)
{
  struct fx f = { .img = "" };
  const char *vol;
  bool dirty, hib;

  fx_copy (&f, "hibernated");
  vol = fx_extract (&f);
  ck_assert_int_eq (sh ("cd %s && { printf HIBR; head -c 65532 /dev/zero; } "
                        "> hib.bin && ntfscp -q %s hib.bin /hiberfil.sys",
                        workdir, vol), 0);
  fx_put_back (&f, vol);
  ck_assert_msg (fx_open (&f, false), "%s", lf_last_error ());
  ck_assert_int_eq (lf_ntfs_state (f.fs, &dirty, &hib), 0);
  ck_assert (hib);
  ck_assert (!dirty);
  fx_close (&f);
  ck_assert_ptr_null (fx_open (&f, true));
  ck_assert_int_eq (lf_last_errno (), EPERM);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "volume is hibernated "
                                 "(Windows fast startup)"));
  fx_close (&f);
}
END_TEST

static void
patch (struct fx *f, uint64_t off, const char *printf_bytes)
{
  ck_assert_int_eq (sh ("printf '%s' | dd of=%s bs=1 seek=%llu conv=notrunc "
                        "status=none", printf_bytes, f->img,
                        (unsigned long long) (FS_OFFSET + off)), 0);
}

START_TEST (test_corrupt_boot_sector)
{
  struct fx f = { .img = "" };

  fx_copy (&f, "corrupt");
  /* Bytes per sector 0. */
  patch (&f, 0x0b, "\\000\\000");
  ck_assert_ptr_null (fx_open (&f, false));
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "bytes per sector 0"));
  fx_close (&f);
  /* A volume larger than its partition (truncated image). */
  fx_copy (&f, "corrupt");
  patch (&f, 0x28, "\\377\\377\\377\\000");
  ck_assert_ptr_null (fx_open (&f, false));
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "larger than the device"));
  fx_close (&f);
  /* Not NTFS at all. */
  fx_copy (&f, "corrupt");
  patch (&f, 0x03, "XXXXXXXX");
  ck_assert_ptr_null (fx_open (&f, false));
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "not an NTFS volume"));
  fx_close (&f);
  /* $MFT pointing elsewhere: libntfs-3g's error, translated. */
  fx_copy (&f, "corrupt");
  patch (&f, 0x30, "\\001\\001");
  ck_assert_ptr_null (fx_open (&f, false));
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "disk.img:p1 (ntfs): "));
  fx_close (&f);
}
END_TEST

static Suite *
ntfs_suite (void)
{
  Suite *s = suite_create ("ntfs");
  TCase *tc = tcase_create ("ntfs");

  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_read_hive);
  tcase_add_test (tc, test_case_insensitive);
  tcase_add_test (tc, test_list);
  tcase_add_test (tc, test_write_atomic);
  tcase_add_test (tc, test_write_atomic_leftover);
  tcase_add_test (tc, test_sync);
  tcase_add_test (tc, test_mkdir_rename_remove);
  tcase_add_test (tc, test_readonly);
  tcase_add_test (tc, test_bitlocker);
  tcase_add_test (tc, test_dirty);
  tcase_add_test (tc, test_hibernated);
  tcase_add_test (tc, test_corrupt_boot_sector);
  suite_add_tcase (s, tc);
  return s;
}

/* The base image: mkntfs, directories made by the backend, the hive
 * copied in by ntfscp, the volume put at 1 MiB in a raw disk.
 */
static int
make_base (void)
{
  struct fx f = { .img = "" };
  FILE *fp;
  long n;

  if (sh ("cd %s && xz -dc /work/shared/testdata/windows/SYSTEM-vmware-"
          "win7.xz > SYSTEM && truncate -s %llu fs.img && "
          "mkntfs -Q -F -q -p 2048 -L landfall fs.img >mkntfs.log 2>&1",
          workdir, (unsigned long long) FS_SIZE) != 0)
    return -1;
  snprintf (f.img, sizeof f.img, "%s/fs.img", workdir);
  f.disk = lf_disk_open (f.img, "raw");
  f.whole = lf_bd_new_disk (f.disk, true, "fs.img");
  f.fs = f.whole ? lf_fs_open_ntfs (f.whole, true) : NULL;
  if (!f.fs ||
      f.fs->ops->mkdir (f.fs, "/Windows", 0755) == -1 ||
      f.fs->ops->mkdir (f.fs, "/Windows/System32", 0755) == -1 ||
      f.fs->ops->mkdir (f.fs, "/Windows/System32/config", 0755) == -1) {
    fprintf (stderr, "test-ntfs: making the fixture: %s\n", lf_last_error ());
    return -1;
  }
  f.fs->ops->close (f.fs);
  lf_bd_free (f.whole);
  lf_disk_close (f.disk);
  if (sh ("cd %s && ntfscp -q fs.img SYSTEM /Windows/System32/config/SYSTEM "
          "&& truncate -s %llu base.img && dd if=fs.img of=base.img bs=1M "
          "seek=1 conv=notrunc status=none", workdir,
          (unsigned long long) (FS_SIZE + 2 * LF_MiB)) != 0)
    return -1;
  snprintf (f.img, sizeof f.img, "%s/SYSTEM", workdir);
  fp = fopen (f.img, "rb");
  if (!fp || fseek (fp, 0, SEEK_END) == -1 || (n = ftell (fp)) <= 0)
    return -1;
  rewind (fp);
  hive_len = (size_t) n;
  hive = malloc (hive_len + 1);
  if (!hive || fread (hive, 1, hive_len, fp) != hive_len)
    return -1;
  fclose (fp);
  return 0;
}

int
main (void)
{
  SRunner *sr;
  int failed;

  lf_debug_init ();
  if (sh ("command -v mkntfs ntfscp ntfscat ntfsls ntfsfix ntfsinfo xz "
          ">/dev/null") != 0) {
    printf ("SKIP: needs mkntfs, ntfscp, ntfscat, ntfsls, ntfsfix, ntfsinfo "
            "(package ntfs-3g) and xz\n");
    return 77;
  }
  if (!mkdtemp (workdir) || make_base () == -1) {
    fprintf (stderr, "test-ntfs: cannot make the fixture in %s\n", workdir);
    return 1;
  }
  sr = srunner_create (ntfs_suite ());
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  free (hive);
  sh ("rm -rf %s", workdir);
  return failed ? 1 : 0;
}
