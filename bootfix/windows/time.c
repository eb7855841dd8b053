/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: the clock (reference/windows.md W70-W71), in
 * every control set.
 *
 * Azure's hosts keep the virtual hardware clock in UTC, and the Azure
 * upload guide asks for RealTimeIsUniversal=1 (REG_DWORD) so that Windows
 * reads it as UTC; a VMware guest has read it as local time, so without
 * this its clock is off by the time-zone bias after every boot until the
 * time service corrects it.  Azure's own step does neither.  The
 * TimeZoneInformation key is created if absent (Windows always has it;
 * nothing else in it is touched).  The Windows Time service is made
 * automatic (Start=2) where it is installed, as the guide asks.
 */
#include <stdio.h>

#include "bootfix/windows/winfix.h"

#define CONCERN "time"
#define START_AUTOMATIC 2

static int
fix_control_set (struct lf_whive *w, const char *cs, void *arg)
{
  (void) arg;
  char where[300];
  uint64_t control, tzi, svc;

  snprintf (where, sizeof where, "%s\\Control", cs);
  control = lf_whive_node (w, 0, where);
  if (!control) {
    lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s: key missing: the "
                  "clock cannot be set to UTC in this control set", where);
    return 0;
  }
  tzi = lf_whive_key (w, control, where, "TimeZoneInformation");
  if (!tzi)
    return -1;
  snprintf (where, sizeof where, "%s\\Control\\TimeZoneInformation", cs);
  if (lf_whive_set_dword (w, tzi, where, "RealTimeIsUniversal", 1) == -1)
    return -1;

  snprintf (where, sizeof where, "%s\\Services\\W32Time", cs);
  svc = lf_whive_node (w, 0, where);
  if (!svc) {
    lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s: the Windows Time "
                  "service is not installed: the clock will not be "
                  "synchronised", where);
    return 0;
  }
  return lf_whive_set_dword (w, svc, where, "Start", START_AUTOMATIC) == -1
    ? -1 : 0;
}

int
lf_fix_windows_time (struct lf_winfix *c)
{
  return lf_whive_each_control_set (c->system, fix_control_set, NULL);
}
