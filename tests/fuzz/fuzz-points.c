/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the recovery-point manifest parser and selection
 * (supervisor/points.c).  Opens no file: chains are checked elsewhere.
 */
#include <stdlib.h>

#include "supervisor/job.h"
#include "tests/fuzz/fuzz-buffer.h"

static void
fuzz_one (const char *data, size_t size)
{
  struct lf_points *m = lf_points_parse (data, size, "fuzz.json", "/mf");
  if (m) {
    for (size_t i = 0; lf_point_options[i]; i++)
      (void) lf_points_select (&m, 1, 0, lf_point_options[i], NULL);
    if (m->npoints > 0)
      (void) lf_points_select (&m, 1, 0, m->points[0].id, NULL);
    lf_points_free (m);
  }
}
