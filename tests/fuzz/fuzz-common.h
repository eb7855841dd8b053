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

#include "common.h"
#include "convert.h"
#include "format.h"

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

#ifndef FUZZ_TARGET
int
main (int argc, char *argv[])
{
  int bad = 0;

  for (int i = 1; i < argc; i++) {
    FILE *fp = fopen (argv[i], "rb");
    char *buf = NULL;
    long n;
    if (!fp || fseek (fp, 0, SEEK_END) == -1 || (n = ftell (fp)) < 0) {
      perror (argv[i]);
      bad = 1;
      if (fp)
        fclose (fp);
      continue;
    }
    rewind (fp);
    buf = malloc ((size_t) n + 1);
    if (!buf || fread (buf, 1, (size_t) n, fp) != (size_t) n) {
      perror (argv[i]);
      bad = 1;
    }
    else
      LLVMFuzzerTestOneInput ((const uint8_t *) buf, (size_t) n);
    free (buf);
    fclose (fp);
  }
  return bad;
}
#endif
