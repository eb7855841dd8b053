/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz targets for parsers of in-memory text (fstab, grub...):
 * the file defines fuzz_one (data, size) and includes this for the
 * libFuzzer entry point and, without FUZZ_TARGET, a corpus replayer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void fuzz_one (const char *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* A copy, so reads past the end are caught by ASan. */
  char *copy = malloc (size ? size : 1);
  if (!copy)
    abort ();
  for (size_t i = 0; i < size; i++)
    copy[i] = (char) data[i];
  fuzz_one (copy, size);
  free (copy);
  return 0;
}

#include "tests/fuzz/fuzz-main.h"
