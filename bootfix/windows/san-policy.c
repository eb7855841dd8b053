/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: SAN policy OnlineAll in every control set
 * (reference/windows.md W20-W22).
 *
 * Azure's data disks sit on storvsc, a shared bus: under OfflineShared
 * (Server 2016's default) they come up offline, without volumes or
 * letters.  partmgr\Parameters\SanPolicy is set to 1 (OnlineAll), the key
 * and value created when absent (Azure's own step only updates an
 * existing value); the old value goes to the report.
 */
#include <stdio.h>

#include "bootfix/windows/winfix.h"

#define CONCERN "san-policy"
#define SAN_ONLINE_ALL 1

static int
fix_control_set (struct lf_whive *w, const char *cs, void *arg)
{
  struct lf_plan *p = arg;
  char where[300];

  snprintf (where, sizeof where, "%s\\Services\\partmgr", cs);
  uint64_t partmgr = lf_whive_node (w, 0, where);
  if (!partmgr) {
    /* Windows before 2000 (NT 4) has no partition manager. */
    lf_plan_note (p, CONCERN, LF_SKIPPED, "SYSTEM\\%s: no partmgr service "
                  "(Windows older than 2000?): no SAN policy to set", where);
    return 0;
  }
  uint64_t params = lf_whive_key (w, partmgr, where, "Parameters");
  if (!params)
    return -1;
  snprintf (where, sizeof where, "%s\\Services\\partmgr\\Parameters", cs);
  return lf_whive_set_dword (w, params, where, "SanPolicy", SAN_ONLINE_ALL);
}

int
lf_fix_windows_san_policy (struct lf_winfix *c)
{
  return lf_whive_each_control_set (c->system, fix_control_set, c->p);
}
