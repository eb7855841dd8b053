/* landfall bootfix/linux: the Linux fix, every concern in order.
 *
 * The order matters where concerns read each other's planned content:
 * fstab before boot (root= follows fstab's root), network before agents.
 */
#include "bootfix.h"

int
lf_fix_linux (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
              const struct lf_fix_opts *o)
{
  static int (*const concerns[]) (struct lf_guest *, struct lf_os *,
                                  struct lf_plan *,
                                  const struct lf_fix_opts *) = {
    lf_fix_linux_fstab,
    lf_fix_linux_boot,
    lf_fix_linux_initramfs,
    lf_fix_linux_network,
    lf_fix_linux_agents,
    lf_fix_linux_readiness,
  };

  for (size_t i = 0; i < sizeof concerns / sizeof concerns[0]; i++)
    if (concerns[i] (g, os, p, o) == -1)
      return -1;
  return 0;
}
