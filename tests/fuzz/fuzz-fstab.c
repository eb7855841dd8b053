/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the fstab parser (guest/fstab.c). */
#include "guest/guest.h"
#include "tests/fuzz/fuzz-buffer.h"

static void
fuzz_one (const char *data, size_t size)
{
  struct lf_fstab t;
  if (lf_fstab_parse (data, size, "fstab", &t) == 0) {
    for (size_t i = 0; i < t.n; i++)
      (void) lf_fstab_has_option (&t.e[i], "nofail");
    lf_fstab_free (&t);
  }
}
