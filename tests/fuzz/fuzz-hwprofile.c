/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the hardware profile parser (hw/profile.c). */
#include "hw/hw.h"
#include "tests/fuzz/fuzz-buffer.h"

static void
fuzz_one (const char *data, size_t size)
{
  struct lf_hw_profile *p = lf_hw_profile_parse (data, size, "hw/azure-gen1.json");
  if (p) {
    json_t *j = lf_hw_profile_json (p);
    json_decref (j);
    lf_hw_profile_free (p);
  }
}
