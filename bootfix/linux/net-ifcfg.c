/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: ifcfg files, RHEL network-scripts (ifcfg-rh,
 * read by initscripts and by NetworkManager's ifcfg-rh plugin) and SUSE
 * sysconfig (wicked) (reference/linux.md §6).
 *
 * The primary NIC's file becomes ifcfg-eth0 on DHCP, started at boot;
 * addresses, gateways, DNS servers and MAC bindings are removed and
 * reported; every other line is kept byte for byte.  Every other ifcfg
 * file (but ifcfg-lo) and the static routes files are moved aside.
 *
 * The files are shell assignments, KEY=value, the value bare or quoted.
 * Only whole-line assignments are understood; anything else is copied.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bootfix/linux/netcfg.h"

#define RHEL_DIR "/etc/sysconfig/network-scripts"
#define SUSE_DIR "/etc/sysconfig/network"

/* What happens to a key of the primary NIC's file. */
enum shop { SH_DROP, SH_SET };
struct shrule {
  const char *key;
  bool family;                  /* KEY0, KEY_1 too */
  enum shop op;
  const char *value;            /* SH_SET */
  bool add;                     /* SH_SET: append if missing */
};

static const struct shrule rhel_rules[] = {
  { "DEVICE", false, SH_SET, NETCFG_NIC, true },
  { "NAME", false, SH_SET, NETCFG_NIC, false },
  { "BOOTPROTO", false, SH_SET, "dhcp", true },
  { "ONBOOT", false, SH_SET, "yes", true },
  { "IPADDR", true, SH_DROP, NULL, false },
  { "NETMASK", true, SH_DROP, NULL, false },
  { "PREFIX", true, SH_DROP, NULL, false },
  { "GATEWAY", true, SH_DROP, NULL, false },
  { "DNS", true, SH_DROP, NULL, false },
  { "HWADDR", false, SH_DROP, NULL, false },
  { "MACADDR", false, SH_DROP, NULL, false },
  { "NETWORK", false, SH_DROP, NULL, false },
  { "BROADCAST", false, SH_DROP, NULL, false },
  { "IPV6ADDR", false, SH_DROP, NULL, false },
  { "IPV6ADDR_SECONDARIES", false, SH_DROP, NULL, false },
  { "IPV6_DEFAULTGW", false, SH_DROP, NULL, false },
  { "SUBCHANNELS", false, SH_DROP, NULL, false },
  { "PEERDNS", false, SH_SET, "yes", false },
};
static const struct shrule suse_rules[] = {
  { "BOOTPROTO", false, SH_SET, "dhcp", true },
  { "STARTMODE", false, SH_SET, "auto", true },
  { "IPADDR", true, SH_DROP, NULL, false },
  { "NETMASK", true, SH_DROP, NULL, false },
  { "PREFIXLEN", true, SH_DROP, NULL, false },
  { "BROADCAST", true, SH_DROP, NULL, false },
  { "REMOTE_IPADDR", true, SH_DROP, NULL, false },
  { "LABEL", true, SH_DROP, NULL, false },
  { "NETWORK", false, SH_DROP, NULL, false },
  { "GATEWAY", true, SH_DROP, NULL, false },
  { "LLADDR", false, SH_DROP, NULL, false },
};

static int
shvar_edit (const char *name, const char *in, size_t len,
            const struct shrule *rules, size_t nrules, char default_quote,
            struct lf_netedit *ret)
{
  struct lf_sbuf b = { 0 };
  bool seen[32] = { false };
  size_t pos = 0, n, lineno = 0;
  const char *line;

  memset (ret, 0, sizeof *ret);
  if (lf_net_check_text (name, in, len) == -1)
    return -1;
  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    struct lf_shline l;
    const struct shrule *r = NULL;
    size_t ri = 0;

    lineno++;
    if (lf_net_parse_shline (line, n, &l))
      for (ri = 0; ri < nrules; ri++)
        if (rules[ri].family ? lf_shline_key_family (&l, rules[ri].key)
            : lf_shline_key_is (&l, rules[ri].key)) {
          r = &rules[ri];
          break;
        }
    if (!r) {
      lf_sbuf_add (&b, line, n);
      continue;
    }
    char q[256];
    lf_net_quote (l.val, l.vallen, q, sizeof q);
    if (r->op == SH_DROP) {
      if (l.vallen)
        lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: %.*s=%s removed",
                         name, lineno, (int) l.keylen, l.key, q);
      continue;
    }
    seen[ri] = true;
    if (l.vallen == strlen (r->value) && memcmp (l.val, r->value, l.vallen) == 0) {
      lf_sbuf_add (&b, line, n);
      continue;
    }
    lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: %.*s: %s -> %s", name,
                     lineno, (int) l.keylen, l.key, q, r->value);
    if (l.quote)
      lf_sbuf_printf (&b, "%.*s=%c%s%c\n", (int) l.keylen, l.key, l.quote,
                      r->value, l.quote);
    else
      lf_sbuf_printf (&b, "%.*s=%s\n", (int) l.keylen, l.key, r->value);
  }
  for (size_t ri = 0; ri < nrules; ri++) {
    if (rules[ri].op != SH_SET || !rules[ri].add || seen[ri])
      continue;
    if (b.len && b.s[b.len - 1] != '\n')
      lf_sbuf_puts (&b, "\n");
    if (default_quote)
      lf_sbuf_printf (&b, "%s=%c%s%c\n", rules[ri].key, default_quote,
                      rules[ri].value, default_quote);
    else
      lf_sbuf_printf (&b, "%s=%s\n", rules[ri].key, rules[ri].value);
    lf_netnotes_add (&ret->notes, LF_CHANGED, "%s: %s=%s added", name,
                     rules[ri].key, rules[ri].value);
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

int
lf_net_ifcfg_edit (enum lf_ifcfg_flavour f, const char *name, const char *in,
                   size_t len, struct lf_netedit *ret)
{
  _Static_assert (sizeof rhel_rules / sizeof rhel_rules[0] <= 32, "seen[]");
  _Static_assert (sizeof suse_rules / sizeof suse_rules[0] <= 32, "seen[]");
  if (f == LF_IFCFG_RHEL)
    return shvar_edit (name, in, len, rhel_rules,
                       sizeof rhel_rules / sizeof rhel_rules[0], 0, ret);
  return shvar_edit (name, in, len, suse_rules,
                     sizeof suse_rules / sizeof suse_rules[0], '\'', ret);
}

int
lf_net_sysconfig_network_edit (const char *name, const char *in, size_t len,
                               struct lf_netedit *ret)
{
  static const struct shrule rules[] = {
    { "GATEWAY", false, SH_DROP, NULL, false },
    { "GATEWAYDEV", false, SH_SET, NETCFG_NIC, false },
  };
  return shvar_edit (name, in, len, rules, 2, 0, ret);
}

/* The guest's files, through the plan. */

static bool
keep_ifcfg (const char *name)
{
  return strncmp (name, "ifcfg-", 6) == 0 && !lf_net_is_leftover (name);
}

static bool
is_route_file (const char *name)
{
  return (strncmp (name, "route-", 6) == 0 || strncmp (name, "route6-", 7) == 0 ||
          strncmp (name, "rule-", 5) == 0 || strncmp (name, "rule6-", 6) == 0 ||
          strncmp (name, "ifroute-", 8) == 0 || strcmp (name, "routes") == 0) &&
    !lf_net_is_leftover (name);
}

static int
scan (struct lf_netctx *c, const char *path, const char *in, size_t len,
      void *info, const struct lf_net_nic **nic)
{
  struct lf_ifcfg_info *i = info;
  (void) c;
  /* The directory says the flavour. */
  if (lf_net_ifcfg_scan (strncmp (path, SUSE_DIR "/", strlen (SUSE_DIR) + 1)
                         == 0 ? LF_IFCFG_SUSE : LF_IFCFG_RHEL, path, in, len,
                         i) == -1)
    return -1;
  *nic = &i->nic;
  return 0;
}

static int
fix_dir (struct lf_netctx *c, enum lf_ifcfg_flavour f, const char *dir)
{
  struct lf_netdir d;
  char **routes = NULL;
  char target[4096];
  int ret = -1;

  if (lf_net_dir_read (c, dir, keep_ifcfg, sizeof (struct lf_ifcfg_info),
                       scan, &d) == -1)
    return -1;
  struct lf_ifcfg_info *info = d.info;
  char **bufs = d.bufs;
  size_t *lens = d.lens, primary = d.primary, n = d.n;

  if (primary == SIZE_MAX) {
    ret = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++)
      any |= bufs[i] && !info[i].loopback;
    if (any)
      lf_plan_note (c->p, NETCFG_CONCERN, LF_WARNING, "%s: no plain Ethernet "
                    "NIC among the ifcfg files (bonds, bridges, VLANs?): left "
                    "alone, configure %s by hand", dir, NETCFG_NIC);
    goto out;
  }

  /* Everything else but lo moved aside (bonds, bridges, other NICs). */
  for (size_t i = 0; i < n; i++) {
    const char *path = d.paths[i];
    char ip[NETCFG_MAX_NAME] = "";
    if (i == primary || !bufs[i] || info[i].loopback)
      continue;
    lf_ifcfg_get (bufs[i], lens[i], "IPADDR", ip, sizeof ip);
    if (*ip)
      lf_plan_note (c->p, NETCFG_CONCERN, LF_CHANGED, "%s: %s had static "
                    "address %s", path, info[i].device, ip);
    if (lf_net_aside (c, path, bufs[i], lens[i], "only the primary NIC is "
                      "configured, as " NETCFG_NIC " on DHCP") == -1)
      goto out;
  }
  routes = lf_net_list (c, dir, is_route_file);
  for (size_t i = 0; routes && routes[i]; i++) {
    char path[4096];
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    snprintf (path, sizeof path, "%s/%s", dir, routes[i]);
    int r = lf_net_read (c, path, &buf, &len);
    if (r == -1)
      goto out;
    if (r == 0 && lf_net_aside (c, path, buf, len, "static routes through "
                                "the old network") == -1)
      goto out;
  }

  /* The primary, as ifcfg-eth0. */
  const char *src = d.paths[primary];
  struct lf_netedit e;
  snprintf (target, sizeof target, "%s/ifcfg-%s", dir, NETCFG_NIC);
  if (lf_net_ifcfg_edit (f, src, bufs[primary], lens[primary], &e) == -1) {
    ret = lf_net_failed (c, src);
    goto out;
  }
  c->stacks++;
  if (f == LF_IFCFG_RHEL)
    c->rhel_ifcfg = true;
  if (strcmp (src, target) != 0) {
    const char *out = e.action == LF_NET_REWRITE ? e.out : bufs[primary];
    size_t outlen = e.action == LF_NET_REWRITE ? e.outlen : lens[primary];
    lf_netnotes_flush (&e.notes, c->p, NETCFG_CONCERN);
    if (lf_net_aside (c, src, bufs[primary], lens[primary], "now " NETCFG_NIC)
        == -1 ||
        lf_plan_write (c->p, NETCFG_CONCERN, target, out, outlen, 0644,
                       "primary NIC as " NETCFG_NIC " on DHCP") == -1) {
      lf_netedit_free (&e);
      goto out;
    }
    lf_plan_note (c->p, NETCFG_CONCERN, LF_CHANGED, "%s: %s is now %s on DHCP",
                  target, info[primary].device, NETCFG_NIC);
    lf_netedit_free (&e);
  }
  else {
    if (e.action == LF_NET_KEEP)
      lf_plan_note (c->p, NETCFG_CONCERN, LF_ALREADY_RIGHT, "%s: %s on DHCP",
                    target, NETCFG_NIC);
    if (lf_net_plan (c, target, bufs[primary], lens[primary], &e,
                     "primary NIC (" NETCFG_NIC ") on DHCP") == -1)
      goto out;
  }

  /* RHEL's /etc/sysconfig/network: no global gateway. */
  if (f == LF_IFCFG_RHEL) {
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    const char *sn = "/etc/sysconfig/network";
    int r = lf_net_read (c, sn, &buf, &len);
    if (r == -1)
      goto out;
    if (r == 0) {
      if (lf_net_sysconfig_network_edit (sn, buf, len, &e) == -1) {
        if (lf_net_failed (c, sn) == -1)
          goto out;
      }
      else if (lf_net_plan (c, sn, buf, len, &e, "no static gateway") == -1)
        goto out;
    }
  }
  ret = 0;
 out:
  lf_net_dir_free (&d);
  if (routes)
    lf_free_names (routes);
  return ret;
}

int
lf_fix_net_ifcfg (struct lf_netctx *c)
{
  if (fix_dir (c, LF_IFCFG_RHEL, RHEL_DIR) == -1 ||
      fix_dir (c, LF_IFCFG_SUSE, SUSE_DIR) == -1)
    return -1;
  return 0;
}
