/* landfall bootfix/linux: boot.  NOT WRITTEN YET: records that it was skipped. */
#include "bootfix.h"

int
lf_fix_linux_boot (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                 const struct lf_fix_opts *o)
{
  (void) g; (void) os; (void) o;
  lf_plan_note (p, "boot", LF_SKIPPED, "not implemented yet");
  return 0;
}
