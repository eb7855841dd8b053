/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: NetworkManager keyfiles,
 * /etc/NetworkManager/system-connections (nm-settings-keyfile(5);
 * reference/linux.md §6).
 *
 * The primary Ethernet profile is put on DHCP: [ipv4] method=auto (and a
 * manual [ipv6] to auto) without addresses, gateway, routes or DNS
 * servers; its interface-name and MAC bindings go, so it applies to
 * whatever the NIC is called on Azure.  Other Ethernet profiles that are
 * static or bound to a MAC are moved aside.  Lines are key=value in
 * [sections]; everything not named here is copied byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix/linux/netcfg.h"

#define NM_DIR "/etc/NetworkManager/system-connections"

static bool
starts (const char *s, size_t n, const char *lit)
{
  return n >= strlen (lit) && memcmp (s, lit, strlen (lit)) == 0;
}


/* Keys that pin the profile to VMware: the name, the MAC, static IP. */
static bool
drop_key (enum lf_nm_sect sec, const struct lf_iniline *l)
{
  switch (sec) {
  case LF_NM_CONNECTION:
    return lf_net_is (l->name, l->namelen, "interface-name") ||
      (lf_net_is (l->name, l->namelen, "autoconnect") &&
       (lf_net_is (l->val, l->vallen, "false") || lf_net_is (l->val, l->vallen, "0")));
  case LF_NM_ETHERNET:
    return lf_net_is (l->name, l->namelen, "mac-address") ||
      lf_net_is (l->name, l->namelen, "cloned-mac-address");
  case LF_NM_IPV4:
  case LF_NM_IPV6:
    return starts (l->name, l->namelen, "address") ||
      starts (l->name, l->namelen, "route") ||
      lf_net_is (l->name, l->namelen, "gateway") || lf_net_is (l->name, l->namelen, "dns") ||
      lf_net_is (l->name, l->namelen, "ignore-auto-dns") ||
      lf_net_is (l->name, l->namelen, "ignore-auto-routes") ||
      lf_net_is (l->name, l->namelen, "never-default");
  case LF_NM_OTHER:
    break;
  }
  return false;
}

int
lf_net_nm_edit (const char *name, const char *in, size_t len,
                struct lf_netedit *ret)
{
  struct lf_sbuf b = { 0 };
  enum lf_nm_sect sec = LF_NM_OTHER;
  bool v4 = false, v4_method = false;
  size_t pos = 0, n, lineno = 0;
  const char *line;

  memset (ret, 0, sizeof *ret);
  if (lf_net_check_text (name, in, len) == -1)
    return -1;
  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    struct lf_iniline l;
    char q[256];

    lineno++;
    if (!lf_net_parse_ini (line, n, &l)) {
      lf_sbuf_add (&b, line, n);
      continue;
    }
    if (l.section) {
      if (sec == LF_NM_IPV4 && !v4_method) {
        lf_sbuf_section_end (&b, "method=auto\n");
        lf_netnotes_add (&ret->notes, LF_CHANGED, "%s: [ipv4] method=auto "
                         "added", name);
      }
      sec = lf_nm_section_of (&l);
      if (sec == LF_NM_IPV4)
        v4 = true;
      lf_sbuf_add (&b, line, n);
      continue;
    }
    lf_net_quote (l.val, l.vallen, q, sizeof q);
    if (drop_key (sec, &l)) {
      lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: %.*s=%s removed",
                       name, lineno, (int) l.namelen, l.name, q);
      continue;
    }
    if ((sec == LF_NM_IPV4 || sec == LF_NM_IPV6) && lf_net_is (l.name, l.namelen, "method")) {
      if (sec == LF_NM_IPV4)
        v4_method = true;
      bool to_auto = sec == LF_NM_IPV4 ? !lf_net_is (l.val, l.vallen, "auto")
        : lf_net_is (l.val, l.vallen, "manual");
      if (to_auto) {
        lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: [%s] method: %s -> "
                         "auto", name, lineno, sec == LF_NM_IPV4 ? "ipv4" : "ipv6",
                         q);
        lf_sbuf_add (&b, line, (size_t) (l.name - line));
        lf_sbuf_puts (&b, "method=auto\n");
        continue;
      }
    }
    lf_sbuf_add (&b, line, n);
  }
  if (sec == LF_NM_IPV4 && !v4_method) {
    lf_sbuf_section_end (&b, "method=auto\n");
    lf_netnotes_add (&ret->notes, LF_CHANGED, "%s: [ipv4] method=auto added",
                     name);
  }
  if (!v4) {
    if (b.len && b.s[b.len - 1] != '\n')
      lf_sbuf_puts (&b, "\n");
    lf_sbuf_puts (&b, "\n[ipv4]\nmethod=auto\n");
    lf_netnotes_add (&ret->notes, LF_CHANGED, "%s: [ipv4] method=auto added",
                     name);
  }
  if (lf_sbuf_finish (&b, &ret->out, &ret->outlen) == -1) {
    lf_netedit_free (ret);
    return -1;
  }
  if (ret->outlen == len && memcmp (ret->out, in, len) == 0) {
    free (ret->out);
    ret->out = NULL;
    ret->outlen = 0;
    ret->action = LF_NET_KEEP;
  }
  else
    ret->action = LF_NET_REWRITE;
  return 0;
}

/* The guest's files, through the plan. */

static bool
keep_nm (const char *name)
{
  return !lf_net_is_leftover (name);
}

/* With ifcfg-eth0 in place NetworkManager has its profile (ifcfg-rh):
 * keyfiles are then only for other NICs.
 */
static int
scan (struct lf_netctx *c, const char *path, const char *in, size_t len,
      void *info, const struct lf_net_nic **nic)
{
  struct lf_nm_info *i = info;
  if (lf_net_nm_scan (path, in, len, i) == -1)
    return -1;
  *nic = c->rhel_ifcfg ? NULL : &i->nic;
  return 0;
}

int
lf_fix_net_nm (struct lf_netctx *c)
{
  struct lf_netdir d;
  int ret = -1;

  if (lf_net_dir_read (c, NM_DIR, keep_nm, sizeof (struct lf_nm_info), scan,
                       &d) == -1)
    return -1;
  struct lf_nm_info *info = d.info;
  char **bufs = d.bufs;
  size_t *lens = d.lens, primary = d.primary, n = d.n;
  for (size_t i = 0; i < n; i++) {
    const char *path = d.paths[i];
    if (!bufs[i])
      continue;
    if (i == primary) {
      struct lf_netedit e;
      if (lf_net_nm_edit (path, bufs[i], lens[i], &e) == -1) {
        if (lf_net_failed (c, path) == -1)
          goto out;
        continue;
      }
      c->stacks++;
      if (e.action == LF_NET_KEEP)
        lf_plan_note (c->p, NETCFG_CONCERN, LF_ALREADY_RIGHT, "%s: on DHCP, "
                      "bound to no name or MAC", path);
      if (lf_net_plan (c, path, bufs[i], lens[i], &e, "primary NIC on DHCP, "
                       "bound to no name or MAC") == -1)
        goto out;
    }
    else if (info[i].ethernet && (info[i].is_static || info[i].mac_bound)) {
      if (lf_net_aside (c, path, bufs[i], lens[i], info[i].is_static
                        ? "a static profile of another NIC"
                        : "a profile bound to a VMware MAC") == -1)
        goto out;
    }
    else if (!info[i].ethernet && (strcmp (info[i].type, "bond") == 0 ||
                                   strcmp (info[i].type, "bridge") == 0 ||
                                   strcmp (info[i].type, "team") == 0 ||
                                   strcmp (info[i].type, "vlan") == 0))
      lf_plan_note (c->p, NETCFG_CONCERN, LF_WARNING, "%s: a %s profile, left "
                    "alone: Azure gives one plain NIC per network", path,
                    info[i].type);
  }
  ret = 0;
 out:
  lf_net_dir_free (&d);
  return ret;
}
