/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the libext2fs backend (guest/ext2.c).
 *
 * Self-contained like fuzz-common.h: built with -DFUZZ_TARGET and
 * -fsanitize=fuzzer it is a libFuzzer target; built normally it is a
 * replayer whose main runs every file named on the command line, so
 * make check replays the corpus under ASan.
 *
 * The input is written to a temporary file, opened as a raw disk, a
 * block device and an ext2/3/4 filesystem read-only, then walked from
 * "/": every entry is lstat'ed, links are read, small files are read and
 * directories listed, within caps.  Then it is opened for writing (its
 * temporary copy): a superblock that says "not clean" makes the open
 * repair what a killed run of ours would leave (recover in
 * guest/ext2.c: every inode and directory read), and a write and a
 * mkdir follow.  Errors are expected; crashes and
 * sanitizer reports are the bugs.  libext2fs itself is not built with
 * the sanitizers, so this mostly exercises our adapter and I/O manager.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "convert/convert.h"
#include "guest/guest.h"

/* Caps so that one input cannot make the harness run for minutes. */
#define FUZZ_MAX_DEPTH   8
#define FUZZ_MAX_VISITS  512
#define FUZZ_MAX_READ    (1024 * 1024)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
walk (struct lf_fs *fs, const char *path, int depth, int *visits)
{
  char **names = NULL;

  if (depth > FUZZ_MAX_DEPTH || fs->ops->list (fs, path, &names) == -1)
    return;
  for (size_t i = 0; names[i] && *visits < FUZZ_MAX_VISITS; i++) {
    struct lf_stat st;
    char *child = NULL, *buf = NULL;
    size_t len;

    ++*visits;
    if (asprintf (&child, "%s%s%s", path, strcmp (path, "/") ? "/" : "",
                  names[i]) == -1)
      break;
    if (fs->ops->lstat (fs, child, &st) == 0) {
      if (S_ISDIR (st.mode))
        walk (fs, child, depth + 1, visits);
      else if (S_ISLNK (st.mode)) {
        if (fs->ops->readlink (fs, child, &buf) == 0)
          free (buf);
      }
      else if (fs->ops->read (fs, child, FUZZ_MAX_READ, &buf, &len) == 0)
        free (buf);
    }
    free (child);
  }
  for (size_t i = 0; names[i]; i++)
    free (names[i]);
  free (names);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char path[] = "/tmp/landfall-fuzz-ext2-XXXXXX";
  int fd = mkstemp (path);
  struct lf_disk *d;

  if (fd == -1)
    abort ();
  if (size && lf_pwrite_all (fd, data, size, 0) == -1)
    abort ();
  close (fd);
  d = lf_disk_open (path, "raw");
  if (d) {
    struct lf_blockdev *bd = lf_bd_new_disk (d, false, "fuzz.img");
    struct lf_fs *fs = bd ? lf_fs_open_ext2 (bd, false) : NULL;
    if (fs) {
      struct lf_stat st;
      char *buf = NULL;
      size_t len;
      int visits = 0;

      (void) fs->ops->lstat (fs, "/", &st);
      walk (fs, "/", 0, &visits);
      /* Paths that need not exist, and refusals. */
      if (fs->ops->read (fs, "/etc/fstab", FUZZ_MAX_READ, &buf, &len) == 0)
        free (buf);
      (void) fs->ops->lstat (fs, "/lost+found/x", &st);
      (void) fs->ops->write_atomic (fs, "/x", "x", 1, 0644);
      fs->ops->close (fs);
    }
    lf_bd_free (bd);
    bd = lf_bd_new_disk (d, true, "fuzz.img");
    fs = bd ? lf_fs_open_ext2 (bd, true) : NULL;
    if (fs) {
      (void) fs->ops->write_atomic (fs, "/etc/fstab", "y", 1, 0644);
      (void) fs->ops->mkdir (fs, "/newdir", 0755);
      fs->ops->close (fs);
    }
    lf_error_clear ();
    lf_bd_free (bd);
    lf_disk_close (d);
  }
  unlink (path);
  return 0;
}

#include "tests/fuzz/fuzz-main.h"
