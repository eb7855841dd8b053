/* landfall bootfix/linux: fstab.  NOT WRITTEN YET: records that it was skipped. */
#include "bootfix.h"

int
lf_fix_linux_fstab (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                 const struct lf_fix_opts *o)
{
  (void) g; (void) os; (void) o;
  lf_plan_note (p, "fstab", LF_SKIPPED, "not implemented yet");
  return 0;
}
