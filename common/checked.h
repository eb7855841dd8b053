/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall: overflow-checked arithmetic for offsets read from disk.
 *
 * Every "table + index * size" computed from on-disk values goes through
 * these.  They take unsigned operands only: a signed offset from a file is
 * a bug waiting for a negative value.  Each returns true on overflow and
 * stores the (wrapped) result in *r.
 */
#ifndef LF_CHECKED_H
#define LF_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

#define LF_IS_UNSIGNED(x) ((__typeof__ (x)) -1 > 0)

#define ADD_OVERFLOW(a, b, r)                                           \
  ({                                                                    \
    _Static_assert (LF_IS_UNSIGNED (a) && LF_IS_UNSIGNED (b) &&         \
                    LF_IS_UNSIGNED (*(r)),                              \
                    "ADD_OVERFLOW needs unsigned operands");            \
    __builtin_add_overflow ((a), (b), (r));                             \
  })

#define MUL_OVERFLOW(a, b, r)                                           \
  ({                                                                    \
    _Static_assert (LF_IS_UNSIGNED (a) && LF_IS_UNSIGNED (b) &&         \
                    LF_IS_UNSIGNED (*(r)),                              \
                    "MUL_OVERFLOW needs unsigned operands");            \
    __builtin_mul_overflow ((a), (b), (r));                             \
  })

/* Round X up to a multiple of ALIGN (a power of two); true on overflow. */
static inline bool
lf_round_up_overflow (uint64_t x, uint64_t align, uint64_t *r)
{
  uint64_t t;
  if (__builtin_add_overflow (x, align - 1, &t))
    return true;
  *r = t & ~(align - 1);
  return false;
}

static inline bool
lf_is_power_of_2 (uint64_t x)
{
  return x != 0 && (x & (x - 1)) == 0;
}

#define LF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LF_MAX(a, b) ((a) > (b) ? (a) : (b))
#define LF_DIV_ROUND_UP(a, b) (((a) + (b) - 1) / (b))

#endif /* LF_CHECKED_H */
