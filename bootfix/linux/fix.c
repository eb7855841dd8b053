/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: the Linux fix, every concern in order.
 *
 * The order matters where concerns read each other's planned content:
 * fstab before boot (root= follows fstab's root), uefi after fstab (it
 * adds /boot/efi to fstab's planned text), network before agents.
 */
#include <errno.h>
#include <string.h>

#include "bootfix/bootfix.h"

int
lf_fix_linux (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
              const struct lf_fix_opts *o)
{
  static int (*const concerns[]) (struct lf_guest *, struct lf_os *,
                                  struct lf_plan *,
                                  const struct lf_fix_opts *) = {
    lf_fix_linux_fstab,
    lf_fix_linux_uefi,
    lf_fix_linux_boot,
    lf_fix_linux_initramfs,
    lf_fix_linux_network,
    lf_fix_linux_agents,
    lf_fix_linux_readiness,
  };

  /* An fstab entry that must mount, on a btrfs subvolume the inspection
   * could not open (a snapshot, or none by that name): the fix would write
   * under its mount point, into the wrong subvolume.  Refused before
   * anything is planned.
   */
  json_t *fstab = json_object_get (os->facts, "fstab"), *e;
  size_t k;
  json_array_foreach (fstab, k, e) {
    const char *why = json_string_value (json_object_get (e, "unhandled"));
    const char *opts = json_string_value (json_object_get (e, "options"));
    if (why && !json_is_true (json_object_get (e, "nofail")) &&
        !(opts && strstr (opts, "noauto"))) {
      lf_error (ENOTSUP, "/etc/fstab line %d (%s): %s: landfall does not "
                "fix this layout",
                (int) json_integer_value (json_object_get (e, "line")),
                json_string_value (json_object_get (e, "mountpoint")), why);
      return -1;
    }
  }
  for (size_t i = 0; i < sizeof concerns / sizeof concerns[0]; i++)
    if (concerns[i] (g, os, p, o) == -1)
      return -1;
  return 0;
}
