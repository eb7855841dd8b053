/* landfall bootfix/linux: VMware tools off, Azure agents reported
 * (reference/linux.md §7).  Services are disabled by removing their
 * enablement symlinks (journalled, restored by undo); vendor files under
 * /lib and /usr/lib are never touched.
 */
#include <stdio.h>
#include <string.h>

#include "bootfix.h"

int
lf_fix_linux_agents (struct lf_guest *g, struct lf_os *os, struct lf_plan *p,
                     const struct lf_fix_opts *o)
{
  static const char *const units[] = {
    "open-vm-tools.service", "vmtoolsd.service", "vgauth.service",
    "run-vmblock\\x2dfuse.mount",
  };
  static const char *const wants[] = {
    "/etc/systemd/system/multi-user.target.wants",
    "/etc/systemd/system/vmtoolsd.service.requires",
    "/etc/systemd/system/open-vm-tools.service.requires",
  };
  unsigned removed = 0;

  (void) g;
  (void) o;
  for (size_t w = 0; w < sizeof wants / sizeof wants[0]; w++)
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
      char path[512];
      struct lf_stat st;
      snprintf (path, sizeof path, "%s/%s", wants[w], units[u]);
      if (lf_guest_lstat (&os->mounts, path, &st) == -1) {
        lf_error_clear ();
        continue;
      }
      if (lf_plan_remove (p, "agents", path, "VMware tools disabled") == -1)
        return -1;
      lf_plan_note (p, "agents", LF_CHANGED, "%s disabled (%s)", units[u], path);
      removed++;
    }
  if (removed == 0)
    lf_plan_note (p, "agents", LF_ALREADY_RIGHT, "no VMware tools service enabled");
  if (!json_is_true (json_object_get (os->facts, "waagent")))
    lf_plan_note (p, "agents", LF_WARNING, "waagent is not installed: install "
                  "WALinuxAgent (or cloud-init) for provisioning and the "
                  "Azure portal's VM agent features");
  return 0;
}
