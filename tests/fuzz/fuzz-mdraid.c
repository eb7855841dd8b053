/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: md RAID member superblocks (guest/mdraid.c).
 *
 * The first byte of the input picks where the rest goes in a 1 MiB
 * device of zeros: even, at its start (metadata 1.1 and 1.2); odd, at its
 * end (1.0 and 0.90: the rest ends at the device's end).  Then
 * lf_md_probe reads it.  Errors are expected; crashes and sanitizer
 * reports are the bugs.  Built with -DFUZZ_TARGET it is a libFuzzer
 * target, otherwise a replayer of the files named on its command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "convert/convert.h"
#include "guest/guest.h"

#define DISK_SIZE (1024 * 1024)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char path[] = "/tmp/landfall-fuzz-mdraid-XXXXXX";
  static uint8_t disk[DISK_SIZE];
  struct lf_md_member m;
  int fd;

  if (size < 1)
    return 0;
  memset (disk, 0, sizeof disk);
  size_t n = LF_MIN (size - 1, (size_t) DISK_SIZE);
  if (data[0] & 1)
    memcpy (disk + DISK_SIZE - n, data + 1, n);
  else
    memcpy (disk, data + 1, n);
  fd = mkstemp (path);
  if (fd == -1 || lf_pwrite_all (fd, disk, sizeof disk, 0) == -1)
    abort ();
  close (fd);
  struct lf_disk *d = lf_disk_open (path, "raw");
  if (d) {
    struct lf_blockdev *bd = lf_bd_new_disk (d, false, "fuzz");
    if (bd && lf_md_probe (bd, &m) == 1) {
      char lvl[32];
      /* Every string the callers print must be terminated. */
      if (strlen (m.name) >= sizeof m.name || strlen (m.uuid) != 36 ||
          strlen (lf_md_level_name (&m, lvl, sizeof lvl)) >= sizeof lvl ||
          m.raid_disks == 0 || m.raid_disks > LF_MD_MAX_DISKS ||
          m.role >= (int) m.raid_disks)
        abort ();
    }
    lf_error_clear ();
    lf_bd_free (bd);
    lf_disk_close (d);
  }
  unlink (path);
  return 0;
}

#include "tests/fuzz/fuzz-main.h"
