/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/windows: Remote Desktop on, with its firewall rules
 * (reference/windows.md W40-W48), in every control set.
 *
 * fDenyTSConnections=0 (and the same in the SOFTWARE policy key when a
 * policy denies it), TermService not disabled, the inbound Remote
 * Desktop firewall rules active.  NLA (UserAuthentication) and TLS
 * (SecurityLayer) are left as they are: Azure's own step turns both off,
 * which weakens the guest; landfall turns NLA off only with --rdp-no-nla
 * and never touches TLS.  The port and the firewall profiles are
 * reported.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bootfix/windows/winfix.h"

#define CONCERN "rdp"
#define RDP_PORT 3389

/* The inbound Remote Desktop rules: Windows 8 and later name them
 * UserMode; Windows 7 has RemoteDesktop-In-TCP and per-profile copies
 * named with a "_N" suffix.
 */
static const char *const rules[] = {
  "RemoteDesktop-UserMode-In-TCP", "RemoteDesktop-UserMode-In-UDP",
  "RemoteDesktop-In-TCP",
};

static bool
is_rdp_rule (const char *name)
{
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
    size_t l = strlen (rules[i]);
    if (strncasecmp (name, rules[i], l) != 0)
      continue;
    if (name[l] == '\0')
      return true;
    if (name[l] == '_' && name[l + 1] &&
        strspn (name + l + 1, "0123456789") == strlen (name + l + 1))
      return true;
  }
  return false;
}

static int
fix_firewall (struct lf_whive *w, const char *cs)
{
  char where[300];
  uint64_t fr;
  size_t n = 0;
  int r = 0, found = 0;

  snprintf (where, sizeof where, "%s\\Services\\SharedAccess\\Parameters\\"
            "FirewallPolicy\\FirewallRules", cs);
  fr = lf_whive_node (w, 0, where);
  if (!fr) {
    lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s: key missing: no "
                  "firewall rule to enable", where);
    return 0;
  }
  char **names = lf_hive_value_names (w->hv, fr);
  if (!names) {
    lf_error_prefix ("%s", where);
    return -1;
  }
  while (names[n])
    n++;
  for (size_t i = 0; r == 0 && i < n; i++) {
    if (!names[i] || !is_rdp_rule (names[i]))
      continue;
    found++;
    CLEANUP_FREE char *rule = lf_whive_get_sz (w, fr, names[i]);
    char *a;
    if (!rule || strncmp (rule, "v2.", 3) != 0) {
      lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s\\%s: not a rule "
                    "string this version knows: left alone", where, names[i]);
      continue;
    }
    if ((a = strcasestr (rule, "|Active=FALSE|")) != NULL) {
      /* "|Active=TRUE|" is one byte shorter. */
      memcpy (a, "|Active=TRUE|", 13);
      memmove (a + 13, a + 14, strlen (a + 14) + 1);
    }
    if (lf_whive_set_sz (w, fr, where, names[i], rule, false) == -1)
      r = -1;
  }
  for (size_t i = 0; i < n; i++)
    free (names[i]);
  free (names);
  if (r == 0 && !found)
    lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s: no Remote Desktop "
                  "rule: allow TCP %d inbound in Windows Firewall", where,
                  RDP_PORT);
  return r;
}

static int
fix_control_set (struct lf_whive *w, const char *cs, void *arg)
{
  const struct lf_fix_opts *o = arg;
  char where[300];
  uint32_t v;
  uint64_t ts, rdp, svc;

  snprintf (where, sizeof where, "%s\\Control\\Terminal Server", cs);
  ts = lf_whive_node (w, 0, where);
  if (!ts) {
    lf_plan_note (w->p, CONCERN, LF_FAILED, "SYSTEM\\%s: key missing: "
                  "Remote Desktop is not installed", where);
    return 0;
  }
  if (lf_whive_set_dword (w, ts, where, "fDenyTSConnections", 0) == -1)
    return -1;

  snprintf (where, sizeof where,
            "%s\\Control\\Terminal Server\\WinStations\\RDP-Tcp", cs);
  rdp = lf_whive_node (w, 0, where);
  if (rdp) {
    if (lf_whive_get_dword (w, rdp, "PortNumber", &v) == LF_MATCH &&
        v != RDP_PORT)
      lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s\\PortNumber is %u, "
                    "not %d: the firewall rule and the Azure NSG must allow "
                    "it", where, v, RDP_PORT);
    if (o->rdp_no_nla) {
      if (lf_whive_set_dword (w, rdp, where, "UserAuthentication", 0) == -1)
        return -1;
    }
    else if (lf_whive_get_dword (w, rdp, "UserAuthentication", &v) == LF_MATCH &&
             v == 0)
      lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s\\UserAuthentication"
                    " is 0: Network Level Authentication is off in the guest "
                    "(left as it is)", where);
    else
      lf_plan_note (w->p, CONCERN, LF_ALREADY_RIGHT, "SYSTEM\\%s: Network "
                    "Level Authentication kept on", where);
    if (lf_whive_get_dword (w, rdp, "SecurityLayer", &v) == LF_MATCH && v == 0)
      lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s\\SecurityLayer is "
                    "0 (no TLS): left as it is", where);
  }
  else
    lf_plan_note (w->p, CONCERN, LF_WARNING, "SYSTEM\\%s: key missing", where);

  snprintf (where, sizeof where, "%s\\Services\\TermService", cs);
  svc = lf_whive_node (w, 0, where);
  if (svc && lf_whive_get_dword (w, svc, "Start", &v) == LF_MATCH && v == 4 &&
      lf_whive_set_dword (w, svc, where, "Start", 3) == -1)
    return -1;
  return fix_firewall (w, cs);
}

/* W41: a policy that denies RDP (SOFTWARE) wins over the setting. */
static int
fix_policy (struct lf_winfix *c)
{
  char path[512];
  static const char where[] =
    "Policies\\Microsoft\\Windows NT\\Terminal Services";
  struct lf_whive *w = c->software;
  struct lf_plan *p = c->p;
  uint32_t v;

  if (!w) {
    if (lf_win_hive_path (c->os, "SOFTWARE", path, sizeof path) == -1)
      return -1;
    lf_plan_note (p, CONCERN, LF_WARNING, "%s: no SOFTWARE hive: Remote "
                  "Desktop policies not checked", path);
    return 0;
  }
  uint64_t pol = lf_whive_node (w, 0, where);
  if (pol && lf_whive_get_dword (w, pol, "fDenyTSConnections", &v) == LF_MATCH) {
    lf_plan_note (p, CONCERN, LF_WARNING, "SOFTWARE\\%s: Remote Desktop is "
                  "managed by group policy (a domain GPO may deny it again at "
                  "boot)", where);
    if (v != 0 && lf_whive_set_dword (w, pol, where, "fDenyTSConnections",
                                      0) == -1)
      return -1;
  }
  return 0;
}

int
lf_fix_windows_rdp (struct lf_winfix *c)
{
  if (lf_whive_each_control_set (c->system, fix_control_set,
                                 (void *) c->o) == -1)
    return -1;
  return fix_policy (c);
}
