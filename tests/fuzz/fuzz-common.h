/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz targets: shared harness.
 *
 * Each tests/fuzz/fuzz-FORMAT.c defines FUZZ_FORMAT and includes this.
 * Built with -DFUZZ_TARGET and -fsanitize=fuzzer (make fuzz) it is a
 * libFuzzer target; built normally it is a replayer whose main runs every
 * file named on the command line, so make check replays the corpus (past
 * crashes included) under ASan and the corpus cannot rot (as util-linux
 * libblkid/src/fuzz.c does).
 *
 * The input is written to a temporary file and opened with the format
 * forced, then every extent is walked and read: that drives the header,
 * table and data paths.  Errors are expected; crashes and sanitizer
 * reports are the bugs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "convert/convert.h"
#include "convert/format.h"

/* Caps so that one input cannot make the harness read for minutes: a
 * header may legitimately claim 32 TiB of zeros.
 */
#define FUZZ_MAX_READ    (64 * 1024 * 1024)
#define FUZZ_MAX_EXTENTS 4096

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fuzz_disk (struct lf_disk *d)
{
  uint64_t off = 0, size = lf_disk_size (d), read_total = 0;
  static char buf[1 << 20];

  for (int i = 0; i < FUZZ_MAX_EXTENTS && off < size; i++) {
    uint64_t len = size - off;
    unsigned type;
    if (lf_disk_extent (d, off, &len, &type) == -1)
      return;
    if (type == LF_EXTENT_DATA && read_total < FUZZ_MAX_READ) {
      size_t n = (size_t) LF_MIN (len, (uint64_t) sizeof buf);
      if (lf_disk_pread (d, buf, n, off) == -1)
        return;
      read_total += n;
    }
    off += len;
  }
  /* An unaligned read across the end of the first block. */
  if (size > 70000)
    (void) lf_disk_pread (d, buf, 4097, 65535);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char path[] = "/tmp/landfall-fuzz-XXXXXX";
  int fd = mkstemp (path);
  struct lf_disk *d;

  if (fd == -1)
    abort ();
  if (size && lf_pwrite_all (fd, data, size, 0) == -1)
    abort ();
  close (fd);
  lf_fuzzing = true;
  d = lf_disk_open (path, FUZZ_FORMAT);
  if (d) {
    fuzz_disk (d);
    lf_disk_close (d);
  }
  unlink (path);
  return 0;
}

#include "tests/fuzz/fuzz-main.h"
