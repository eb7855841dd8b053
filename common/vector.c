/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: growable arrays (see vector.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

int
lf_grow (void *ptrp, size_t *cap, size_t n, size_t elem)
{
  void *p;
  size_t ncap = *cap, bytes;

  if (n <= *cap)
    return 0;
  if (ncap < LF_VECTOR_MIN_CAP)
    ncap = LF_VECTOR_MIN_CAP;
  while (ncap < n) {
    if (ncap > SIZE_MAX / 2) {
      ncap = n;
      break;
    }
    ncap *= 2;
  }
  /* No object may be larger than PTRDIFF_MAX (pointer differences in it
   * would overflow); malloc refuses such sizes, sanitizers abort on them.
   */
  if (MUL_OVERFLOW (ncap, elem, &bytes) || bytes > PTRDIFF_MAX) {
    lf_error (EOVERFLOW, "array of %zu elements of %zu bytes: too large",
              n, elem);
    return -1;
  }
  /* The pointer is copied in and out rather than cast to void **, which
   * T ** is not compatible with.
   */
  memcpy (&p, ptrp, sizeof p);
  p = realloc (p, bytes);
  if (!p) {
    lf_error (ENOMEM, "out of memory");
    return -1;
  }
  memcpy (ptrp, &p, sizeof p);
  *cap = ncap;
  return 0;
}
