/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: VMware Tools off, the Azure guest agent on
 * (reference/windows.md W60-W63), in every control set.
 *
 * VMware's user-mode services (VMTools and the others Tools installs) get
 * Start=4: "Site Recovery disables the VMware tools during failover".
 * They are not uninstalled, and VMware's drivers are left as they are
 * (harmless on Hyper-V); undo restores all for failback.  Nothing listed
 * as a storage class filter (W10) is ever disabled, whatever its type: a
 * filter that cannot load stops Windows with 0x7B.  A user-mode service is
 * VMware's if it is one of the names below or its ImagePath is under a
 * "\VMware\" directory.  The Azure agent's services become automatic when
 * present; an absent agent is reported (an MSI cannot run offline).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bootfix/windows/winfix.h"

#define CONCERN "agents"
#define SERVICE_USER_MODE 0x30  /* WIN32_OWN_PROCESS | WIN32_SHARE_PROCESS */
#define START_AUTOMATIC 2
#define START_DISABLED  4

static const char *const vmware_services[] = {
  "VMTools", "VGAuthService", "vmvss", "VMUpgradeHelper", "VMUSBArbService",
  "VMwareCAFManagementAgentHost", "VMwareCAFCommAmqpListener", "vmwTimeProvider",
};

static const char *const azure_services[] = {
  "WindowsAzureGuestAgent", "WindowsAzureTelemetryService", "RdAgent",
};

static bool
is_vmware (struct lf_whive *w, uint64_t svc, const char *name)
{
  for (size_t i = 0; i < sizeof vmware_services / sizeof vmware_services[0]; i++)
    if (strcasecmp (name, vmware_services[i]) == 0)
      return true;
  CLEANUP_FREE char *ip = lf_whive_get_sz (w, svc, "ImagePath");
  return ip && strcasestr (ip, "\\VMware\\") != NULL;
}

static bool
listed (char **names, const char *name)
{
  for (; *names; names++)
    if (strcasecmp (*names, name) == 0)
      return true;
  return false;
}

static int
fix_control_set (struct lf_whive *w, const char *cs, void *arg)
{
  (void) arg;
  char where[300];
  uint64_t services;
  char **names, **filters;
  int r = 0;
  size_t agents = 0;

  snprintf (where, sizeof where, "%s\\Services", cs);
  services = lf_whive_node (w, 0, where);
  if (!services)
    return 0;                   /* boot-drivers.c reported it */
  filters = lf_win_class_filters (w, cs);
  if (!filters)
    return -1;
  names = lf_whive_children (w, services);
  if (!names) {
    lf_free_names (filters);
    return -1;
  }
  for (char **n = names; *n && r == 0; n++) {
    char swhere[600];
    uint32_t type, start;
    uint64_t svc = lf_whive_node (w, services, *n);
    if (!svc || lf_whive_get_dword (w, svc, "Type", &type) != LF_MATCH)
      continue;
    snprintf (swhere, sizeof swhere, "%s\\%s", where, *n);
    if (is_vmware (w, svc, *n)) {
      if (listed (filters, *n) &&
          lf_whive_get_dword (w, svc, "Start", &start) == LF_MATCH &&
          start != START_DISABLED)
        lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s: VMware "
                      "service left enabled (Start %u): it is listed as a "
                      "storage class filter (%s\\Control\\Class), and disabling "
                      "it would stop Windows with 0x7B; uninstall VMware Tools "
                      "in Windows after the migration", swhere, start, cs);
      else if (listed (filters, *n))
        ;                       /* boot-drivers.c fails on it */
      else if (type & SERVICE_USER_MODE)
        r = lf_whive_set_dword (w, svc, swhere, "Start", START_DISABLED) == -1
          ? -1 : 0;
      else if (lf_whive_get_dword (w, svc, "Start", &start) == LF_MATCH &&
               start != START_DISABLED)
        lf_plan_note (w->p, CONCERN, LF_SKIPPED, "SYSTEM\\%s: VMware driver "
                      "left as it is (Start %u; harmless on Hyper-V)", swhere,
                      start);
      continue;
    }
    for (size_t i = 0; i < sizeof azure_services / sizeof azure_services[0]; i++)
      if (strcasecmp (*n, azure_services[i]) == 0) {
        agents++;
        r = lf_whive_set_dword (w, svc, swhere, "Start", START_AUTOMATIC) == -1
          ? -1 : 0;
      }
  }
  lf_free_names (names);
  lf_free_names (filters);
  if (r == 0 && agents == 0)
    lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s: the Azure guest "
                  "agent is not installed (WindowsAzureGuestAgent, RdAgent): "
                  "extensions and password reset will not work until it is",
                  where);
  return r == -1 ? -1 : 0;
}

int
lf_fix_windows_agents (struct lf_winfix *c)
{
  /* What the target wants is its profile's: a failback to VMware keeps
   * VMware Tools, and the Azure agent is no use there.
   */
  bool tools = false, waagent = false;
  for (char **a = c->o->profile->agents_disable; a && *a; a++)
    tools |= strcmp (*a, "vmware-tools") == 0;
  for (char **a = c->o->profile->agents_configure; a && *a; a++)
    waagent |= strcmp (*a, "waagent") == 0;
  if (!tools && !waagent) {
    lf_plan_note (c->p, CONCERN, LF_SKIPPED, "VMware Tools and the Azure agent "
                  "left as they are (profile %s): if the Azure agent is "
                  "installed, it has no use there", c->o->profile->name);
    return 0;
  }
  return lf_whive_each_control_set (c->system, fix_control_set, NULL);
}
