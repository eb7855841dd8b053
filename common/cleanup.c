/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: cleanup attribute helpers (see common.h). */
#include <stdlib.h>
#include <unistd.h>

#include "common/common.h"

void
lf_cleanup_free (void *ptr)
{
  free (*(void **) ptr);
}

void
lf_cleanup_close (int *fd)
{
  if (*fd >= 0)
    (void) close (*fd);
}
