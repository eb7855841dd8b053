/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: a kernel's modules.dep (guest/modules-dep.c) and its closure,
 * and the same bytes as a kmod binary index (bootfix/linux/kmod-index.c).
 */
#include <stdlib.h>

#include "bootfix/bootfix.h"
#include "tests/fuzz/fuzz-buffer.h"

static void
fuzz_one (const char *data, size_t size)
{
  struct lf_moddep d;
  char *value = NULL;

  if (lf_moddep_parse (data, size, "modules.dep", &d) == 0) {
    for (size_t i = 0; i < d.n; i++) {
      const struct lf_moddep_entry *e = lf_moddep_find (&d, d.e[i].name);
      if (!e)
        abort ();               /* every parsed name must be found */
      for (size_t j = 0; j < e->ndeps; j++)
        if (e->deps[j] >= d.n)
          abort ();
    }
    (void) lf_moddep_find (&d, "hv_vmbus");
    /* The closure: each member once, the root first, within bounds. */
    bool *seen = calloc (d.n + 1, sizeof *seen);
    size_t *queue = calloc (d.n + 1, sizeof *queue);
    if (seen && queue && d.n) {
      size_t qn = lf_moddep_closure (&d, 0, seen, queue, 0);
      if (qn == 0 || qn > d.n || queue[0] != 0)
        abort ();
      if (lf_moddep_closure (&d, 0, seen, queue, qn) != qn)
        abort ();               /* a member is not added twice */
    }
    free (seen);
    free (queue);
    lf_moddep_free (&d);
  }
  lf_error_clear ();
  (void) lf_modules_builtin_has (data, size, "hv_storvsc");
  /* The index reader takes untrusted images' modules.dep.bin too. */
  if (lf_kmod_index_lookup (data, size, "modules.dep.bin", "hv_vmbus",
                            &value) == LF_MATCH)
    free (value);
  if (lf_kmod_index_lookup (data, size, "modules.dep.bin", "a",
                            &value) == LF_MATCH)
    free (value);
  lf_error_clear ();
}
