/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz targets: the corpus replayer, shared by every target.
 *
 * Include this after LLVMFuzzerTestOneInput is defined.  Built with
 * -DFUZZ_TARGET (make fuzz) libFuzzer provides main; otherwise this main
 * runs each file named on the command line through the target, so that
 * make check replays every seed and past crash under ASan (as util-linux
 * libblkid/src/fuzz.c does).
 *
 * Debug output is on at its highest level, written to /dev/null: the
 * LF_DEBUG lines format what hostile input put in names and fields, and
 * that formatting is code the fuzzer must reach too.
 */
#include <stdio.h>

#include "common/common.h"

__attribute__ ((constructor)) static void
fuzz_debug_on (void)
{
  lf_debug_fp = fopen ("/dev/null", "w");
  if (lf_debug_fp)
    lf_debug_level = 9;
}

#ifndef FUZZ_TARGET
#include <stdio.h>
#include <stdlib.h>

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
