/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the OVA (tar) walker and OVF scan.
 *
 * Standalone rather than through fuzz-common.h, which opens one disk of a
 * forced format: here the input is an archive, listed with lf_ova_list,
 * and every disk member found is opened (probed) and read a little.
 * Built with -DFUZZ_TARGET it is a libFuzzer target; otherwise main
 * replays the files named on the command line (make check).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "convert/convert.h"
#include "convert/format.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fuzz_member (const char *path, const struct lf_ova_disk *m)
{
  static char buf[65536];
  struct lf_disk *d = lf_disk_open_ova_member (path, m);
  uint64_t size, len;
  unsigned type;

  if (!d)
    return;
  size = lf_disk_size (d);
  len = size;
  if (size && lf_disk_extent (d, 0, &len, &type) == 0)
    (void) lf_disk_pread (d, buf, (size_t) LF_MIN (size, sizeof buf), 0);
  lf_disk_close (d);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char path[] = "/tmp/landfall-fuzz-ova-XXXXXX";
  int fd = mkstemp (path);
  struct lf_ova_disk *disks = NULL;
  int n;

  if (fd == -1)
    abort ();
  if (size && lf_pwrite_all (fd, data, size, 0) == -1)
    abort ();
  close (fd);
  lf_fuzzing = true;
  (void) lf_ova_probe (path);
  n = lf_ova_list (path, &disks);
  for (int i = 0; i < n; i++)
    fuzz_member (path, &disks[i]);
  if (n > 0)
    lf_ova_free (disks, n);
  unlink (path);
  return 0;
}

#include "tests/fuzz/fuzz-main.h"
