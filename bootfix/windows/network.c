/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: DHCP everywhere (reference/windows.md
 * W30-W34), in every control set.
 *
 * Azure hands out addresses only by DHCP.  The Dhcp service becomes
 * automatic; every IPv4 interface with EnableDHCP=0 gets EnableDHCP=1 and
 * loses its static IPAddress, SubnetMask, DefaultGateway,
 * DefaultGatewayMetric and NameServer (each old value in the report: the
 * new adapter gets its own interface GUID, and the old one's static data
 * must not come back if it reappears).  Persistent routes are removed
 * (the Azure guide does so).  IPv6 static data is reported only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix/windows/winfix.h"

#define CONCERN "network"
#define DHCP_AUTOMATIC 2

static const char *const static_values[] = {
  "IPAddress", "SubnetMask", "DefaultGateway", "DefaultGatewayMetric",
  "NameServer",
};

static int
fix_interfaces (struct lf_whive *w, const char *cs)
{
  char where[300];
  uint64_t ifs;
  char **names;
  int r = 0;

  snprintf (where, sizeof where, "%s\\Services\\Tcpip\\Parameters\\Interfaces",
            cs);
  ifs = lf_whive_node (w, 0, where);
  if (!ifs) {
    lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s: key missing (no "
                  "TCP/IP configuration)", where);
    return 0;
  }
  names = lf_whive_children (w, ifs);
  if (!names)
    return -1;
  for (char **n = names; *n && r == 0; n++) {
    char ifwhere[600];
    uint32_t dhcp;
    uint64_t i = lf_whive_node (w, ifs, *n);
    snprintf (ifwhere, sizeof ifwhere, "%s\\%s", where, *n);
    if (!i || lf_whive_get_dword (w, i, "EnableDHCP", &dhcp) != LF_MATCH)
      continue;                 /* not an interface with IPv4 settings */
    if (dhcp != 0) {
      lf_plan_note (w->p, CONCERN, LF_ALREADY_RIGHT, "SYSTEM\\%s: on DHCP",
                    ifwhere);
      continue;
    }
    if (lf_whive_set_dword (w, i, ifwhere, "EnableDHCP", 1) == -1)
      r = -1;
    for (size_t k = 0; r == 0 && k < sizeof static_values / sizeof static_values[0]; k++)
      if (lf_whive_delete (w, i, ifwhere, static_values[k]) == -1)
        r = -1;
  }
  lf_free_names (names);
  return r;
}

static int
remove_routes (struct lf_whive *w, const char *cs)
{
  char where[300];
  uint64_t routes;
  size_t n = 0;
  int r = 0;

  snprintf (where, sizeof where,
            "%s\\Services\\Tcpip\\Parameters\\PersistentRoutes", cs);
  routes = lf_whive_node (w, 0, where);
  if (!routes)
    return 0;
  /* Names first: deleting changes the handles. */
  char **names = lf_hive_value_names (w->hv, routes);
  if (!names) {
    lf_error_prefix ("%s", where);
    return -1;
  }
  while (names[n])
    n++;
  for (size_t i = 0; r == 0 && i < n; i++)
    if (names[i] && lf_whive_delete (w, routes, where, names[i]) == -1)
      r = -1;
  for (size_t i = 0; i < n; i++)
    free (names[i]);
  free (names);
  return r;
}

/* W33: static IPv6 addresses are reported, not changed. */
static void
report_ipv6 (struct lf_whive *w, const char *cs)
{
  char where[300];
  uint64_t ifs;
  char **names;

  snprintf (where, sizeof where,
            "%s\\Services\\Tcpip6\\Parameters\\Interfaces", cs);
  ifs = lf_whive_node (w, 0, where);
  if (!ifs || !(names = lf_whive_children (w, ifs))) {
    lf_error_clear ();
    return;
  }
  for (char **n = names; *n; n++) {
    uint64_t i = lf_whive_node (w, ifs, *n);
    CLEANUP_FREE char *dns = i ? lf_whive_get_sz (w, i, "NameServer") : NULL;
    if (dns && *dns)
      lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s\\%s: static IPv6 "
                    "DNS servers \"%s\" kept", where, *n, dns);
  }
  lf_free_names (names);
}

static int
fix_control_set (struct lf_whive *w, const char *cs, void *arg)
{
  struct lf_plan *p = arg;
  char where[300];

  snprintf (where, sizeof where, "%s\\Services\\Dhcp", cs);
  uint64_t dhcp = lf_whive_node (w, 0, where);
  if (!dhcp)
    lf_plan_note (p, CONCERN, LF_FAILED, "SYSTEM\\%s: the DHCP client "
                  "service is missing: the machine would get no address on "
                  "Azure", where);
  else if (lf_whive_set_dword (w, dhcp, where, "Start", DHCP_AUTOMATIC) == -1)
    return -1;
  if (fix_interfaces (w, cs) == -1 || remove_routes (w, cs) == -1)
    return -1;
  report_ipv6 (w, cs);
  return 0;
}

int
lf_fix_windows_network (struct lf_winfix *c)
{
  return lf_whive_each_control_set (c->system, fix_control_set, c->p);
}
