/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the NTFS backend (guest/ntfs.c over libntfs-3g).
 *
 * Self-contained (fuzz-common.h drives convert/'s formats): the input is
 * written to a temporary file, opened as a raw disk, and the NTFS volume
 * on it is opened read-only; the root is listed and the first few
 * entries, and those of the first few directories, are stat'ed, read
 * (with a cap) and, for links, readlink'ed.  Errors are expected; crashes
 * and sanitizer reports are the bugs.  Built with -DFUZZ_TARGET it is a
 * libFuzzer target (make fuzz); otherwise main replays the files named on
 * its command line (make check replays tests/fuzz/corpus/ntfs/).
 *
 * Seeds: minimal.ntfs is mkntfs -Q -c 512 on 1100 KiB plus a file copied
 * in with ntfscp; dir-hiberfil.ntfs adds a directory and a file written by
 * this backend and a hiberfil.sys starting "HIBR".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/guest.h"

#define FUZZ_MAX_ENTRIES 16             /* per directory visited */
#define FUZZ_MAX_DIRS    4              /* directories below the root */
#define FUZZ_MAX_READ    (4 * 1024 * 1024)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
visit (struct lf_fs *fs, const char *dir, int *dirs_left)
{
  char **names = NULL;

  if (fs->ops->list (fs, dir, &names) == -1)
    return;
  for (size_t i = 0; names[i] && i < FUZZ_MAX_ENTRIES; i++) {
    char path[4096];
    struct lf_stat st;
    char *buf = NULL;
    size_t len;

    snprintf (path, sizeof path, "%s/%s", strcmp (dir, "/") ? dir : "",
              names[i]);
    if (fs->ops->lstat (fs, path, &st) == -1)
      continue;
    if (S_ISLNK (st.mode)) {
      if (fs->ops->readlink (fs, path, &buf) == 0)
        free (buf);
    }
    else if (S_ISDIR (st.mode)) {
      if (*dirs_left > 0) {
        (*dirs_left)--;
        visit (fs, path, dirs_left);
      }
    }
    else if (fs->ops->read (fs, path, FUZZ_MAX_READ, &buf, &len) == 0)
      free (buf);
  }
  for (size_t i = 0; names[i]; i++)
    free (names[i]);
  free (names);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char path[] = "/tmp/landfall-fuzz-ntfs-XXXXXX";
  int fd = mkstemp (path);
  struct lf_disk *d;
  struct lf_blockdev *bd = NULL;
  struct lf_fs *fs = NULL;
  int dirs_left = FUZZ_MAX_DIRS;
  bool dirty, hib;

  if (fd == -1)
    abort ();
  if (size && lf_pwrite_all (fd, data, size, 0) == -1)
    abort ();
  close (fd);
  d = lf_disk_open (path, "raw");
  if (d)
    bd = lf_bd_new_disk (d, false, "fuzz.img");
  if (bd)
    fs = lf_fs_open_ntfs (bd, false);
  if (fs) {
    (void) lf_ntfs_state (fs, &dirty, &hib);
    visit (fs, "/", &dirs_left);
    fs->ops->close (fs);
  }
  lf_bd_free (bd);
  lf_disk_close (d);
  unlink (path);
  return 0;
}

#include "tests/fuzz/fuzz-main.h"
