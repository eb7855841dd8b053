/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the recovery plan parser (supervisor/
 * recovery-plan-file.c).  Opens no file: job files are loaded by the run.
 */
#include <stdlib.h>

#include "supervisor/job.h"
#include "tests/fuzz/fuzz-buffer.h"

static void
fuzz_one (const char *data, size_t size)
{
  lf_rplan_free (lf_rplan_parse (data, size, "fuzz.plan", "/pl"));
}
