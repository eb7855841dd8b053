/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: growable arrays (after nbdkit's common/utils/vector.h).
 *
 * Appending one element at a time with realloc (n + 1) is quadratic and
 * each site got its own overflow check (or none).  Here the capacity
 * doubles, and size * count is checked once, in one place.
 *
 * Two ways to use it:
 * - LF_VECTOR (name, type) declares struct name { type *ptr; size_t len,
 *   cap; } with name_reserve, name_append and name_reset, for new code;
 * - lf_grow on an array an existing struct already exposes as a pointer
 *   and a count (plus a capacity kept beside them).
 */
#ifndef LF_VECTOR_H
#define LF_VECTOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* The smallest capacity lf_grow allocates: most lists here are short. */
#define LF_VECTOR_MIN_CAP 8

/* *PTRP points to an array of ELEM-byte elements with room for *CAP.
 * Make room for at least N (the capacity doubles until it fits; nothing
 * moves when it already does).  Elements past the old capacity are left
 * uninitialised.  -1 with EOVERFLOW or ENOMEM recorded, leaving *PTRP and
 * *CAP as they were.  PTRP is a T ** passed as void *.
 */
extern int lf_grow (void *ptrp, size_t *cap, size_t n, size_t elem);

#define LF_VECTOR(name, type)                                           \
  struct name { type *ptr; size_t len, cap; };                          \
  static inline __attribute__ ((unused)) int                            \
  name##_reserve (struct name *v, size_t n)                             \
  {                                                                     \
    if (n > SIZE_MAX - v->len)                                          \
      return lf_grow (&v->ptr, &v->cap, SIZE_MAX, sizeof (type));       \
    return lf_grow (&v->ptr, &v->cap, v->len + n, sizeof (type));       \
  }                                                                     \
  static inline __attribute__ ((unused)) int                            \
  name##_append (struct name *v, type x)                                \
  {                                                                     \
    if (name##_reserve (v, 1) == -1)                                    \
      return -1;                                                        \
    v->ptr[v->len++] = x;                                               \
    return 0;                                                           \
  }                                                                     \
  /* Frees the array, not what its elements point to. */               \
  static inline __attribute__ ((unused)) void                           \
  name##_reset (struct name *v)                                         \
  {                                                                     \
    free (v->ptr);                                                      \
    v->ptr = NULL;                                                      \
    v->len = v->cap = 0;                                                \
  }

#endif /* LF_VECTOR_H */
