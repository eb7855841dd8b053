/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: partition tables and superblocks through libblkid
 * (guest/partition.c, guest/probe.c).
 *
 * The input is a raw disk.  It is probed twice: as a raw image (libblkid
 * reads the file at an offset) and wrapped in a one-segment linear device,
 * which takes the sparse-memfd path (probe.c) with its own walks of the
 * EBR chain, GPT entries and BitLocker pointers.  Every partition found is
 * probed for a filesystem.  Errors are expected; crashes and sanitizer
 * reports are the bugs.  Built with -DFUZZ_TARGET it is a libFuzzer
 * target, otherwise a replayer of the files named on its command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "convert/convert.h"
#include "guest/guest.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
probe_all (struct lf_blockdev *bd)
{
  struct lf_partition_table t;
  struct lf_fsinfo fi;

  (void) lf_fs_probe (bd, &fi);
  if (lf_partitions_probe (bd, &t) == -1)
    return;
  for (size_t i = 0; i < t.n && i < 16; i++) {
    struct lf_blockdev *w;
    if (t.parts[i].extended)
      continue;
    w = lf_bd_new_window (bd, t.parts[i].offset, t.parts[i].size, "p");
    if (!w)
      abort ();                 /* checked against the device already */
    (void) lf_fs_probe (w, &fi);
    lf_bd_free (w);
  }
  lf_partitions_free (&t);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char path[] = "/tmp/landfall-fuzz-part-XXXXXX";
  int fd = mkstemp (path);
  struct lf_disk *d;
  struct lf_blockdev *bd, *lin;

  if (fd == -1)
    abort ();
  if (size && lf_pwrite_all (fd, data, size, 0) == -1)
    abort ();
  close (fd);
  d = lf_disk_open (path, "raw");
  if (d) {
    bd = lf_bd_new_disk (d, false, "fuzz");
    if (bd) {
      struct lf_bd_segment seg = { bd, 0, lf_bd_size (bd) };
      probe_all (bd);
      lin = lf_bd_new_linear (&seg, 1, "fuzz-linear");
      if (lin) {
        probe_all (lin);
        lf_bd_free (lin);
      }
      lf_bd_free (bd);
    }
    lf_disk_close (d);
  }
  unlink (path);
  return 0;
}

#include "tests/fuzz/fuzz-main.h"
