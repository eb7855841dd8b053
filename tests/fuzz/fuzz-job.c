/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the job file parser (supervisor/job.c). */
#include <stdlib.h>

#include "supervisor/job.h"
#include "tests/fuzz/fuzz-buffer.h"

/* Disk names (lun:N, serial:S...) are resolved against a fixed set of
 * disks: resolution is a pure function of the scan (disks.c).
 */
static struct lf_blockdev fake[] = {
  { .name = "sda", .host = 0, .lun = 0, .nvme_ctrl = -1, .size = 1 << 25 },
  { .name = "sdb", .host = 2, .lun = 1, .nvme_ctrl = -1, .serial = "S1" },
  { .name = "sdc", .host = 3, .lun = 1, .nvme_ctrl = -1 },
  { .name = "nvme0n2", .host = -1, .nvme_ctrl = 0, .nsid = 2, .serial = "N" },
};

static void
fuzz_one (const char *data, size_t size)
{
  struct lf_job *j = lf_job_parse (data, size, "fuzz.job", "/jobs");
  struct lf_blockdevs devs = { sizeof fake / sizeof fake[0], fake };
  if (j) {
    for (size_t i = 0; i < j->ndisks; i++) {
      char node[128];
      if (j->disks[i].spec)
        (void) lf_disk_spec_resolve (&devs, j->disks[i].path, 0, node, sizeof node);
      free (lf_job_output_path (j, i));
    }
    free (lf_job_state_path (j, "/jobs"));
    lf_job_free (j);
  }
}
