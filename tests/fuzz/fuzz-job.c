/* landfall fuzz target: the job file parser (supervisor/job.c). */
#include <stdlib.h>

#include "job.h"
#include "fuzz-buffer.h"

static void
fuzz_one (const char *data, size_t size)
{
  struct lf_job *j = lf_job_parse (data, size, "fuzz.job", "/jobs");
  if (j) {
    for (size_t i = 0; i < j->ndisks; i++)
      free (lf_job_output_path (j, i));
    free (lf_job_state_path (j, "/jobs"));
    lf_job_free (j);
  }
}
