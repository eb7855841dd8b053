/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: systemd-networkd, /etc/systemd/network
 * (systemd.network(5), systemd.link(5); reference/linux.md §5-§6).
 *
 * The primary NIC's .network file matches Name=eth0 instead of a MAC,
 * path or old name, and has DHCP=yes without Address=, Gateway=, DNS=,
 * [Address] or [Route] sections.  Other NIC .network files with static
 * data or MAC matches, and .link files that name a NIC by its MAC, are
 * moved aside.  Other lines are copied byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix/linux/netcfg.h"

#define NETWORKD_DIR "/etc/systemd/network"


int
lf_net_networkd_edit (const char *name, const char *in, size_t len,
                      struct lf_netedit *ret)
{
  struct lf_sbuf b = { 0 };
  enum lf_networkd_sect sec = LF_ND_OTHER;
  bool have_name = false, network = false, dhcp = false;
  size_t pos = 0, n, lineno = 0;
  const char *line;

  memset (ret, 0, sizeof *ret);
  if (lf_net_check_text (name, in, len) == -1)
    return -1;
  /* Does [Match] already say Name=eth0? */
  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    struct lf_iniline l;
    if (!lf_net_parse_ini (line, n, &l))
      continue;
    if (l.section)
      sec = lf_networkd_section_of (&l);
    else if (sec == LF_ND_MATCH && lf_net_is (l.name, l.namelen, "Name") &&
             lf_net_is (l.val, l.vallen, NETCFG_NIC))
      have_name = true;
  }
  pos = 0;
  sec = LF_ND_OTHER;
  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    struct lf_iniline l;
    char q[256];
    bool parsed = lf_net_parse_ini (line, n, &l);

    lineno++;
    if (parsed && l.section) {
      if (sec == LF_ND_NETWORK && !dhcp) {
        lf_sbuf_section_end (&b, "DHCP=yes\n");
        lf_netnotes_add (&ret->notes, LF_CHANGED, "%s: DHCP=yes added", name);
        dhcp = true;
      }
      sec = lf_networkd_section_of (&l);
      if (sec == LF_ND_STATIC) {
        lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: [%.*s] section "
                         "removed", name, lineno, (int) l.namelen, l.name);
        continue;
      }
      lf_sbuf_add (&b, line, n);
      if (sec == LF_ND_MATCH && !have_name) {
        lf_sbuf_printf (&b, "Name=%s\n", NETCFG_NIC);
        have_name = true;
      }
      if (sec == LF_ND_NETWORK)
        network = true;
      continue;
    }
    if (sec == LF_ND_STATIC) {      /* the whole section goes */
      if (parsed) {
        lf_net_quote (l.val, l.vallen, q, sizeof q);
        lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: %.*s=%s removed",
                         name, lineno, (int) l.namelen, l.name, q);
      }
      continue;
    }
    if (!parsed) {
      lf_sbuf_add (&b, line, n);
      continue;
    }
    lf_net_quote (l.val, l.vallen, q, sizeof q);
    if ((sec == LF_ND_MATCH && lf_networkd_is_match_binding (&l) &&
         !(lf_net_is (l.name, l.namelen, "Name") && lf_net_is (l.val, l.vallen, NETCFG_NIC))) ||
        (sec == LF_ND_NETWORK && (lf_net_is (l.name, l.namelen, "Address") ||
                              lf_net_is (l.name, l.namelen, "Gateway") ||
                              lf_net_is (l.name, l.namelen, "DNS"))) ||
        (sec == LF_ND_LINK && lf_net_is (l.name, l.namelen, "MACAddress"))) {
      lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: %.*s=%s removed",
                       name, lineno, (int) l.namelen, l.name, q);
      continue;
    }
    if (sec == LF_ND_NETWORK && lf_net_is (l.name, l.namelen, "DHCP")) {
      dhcp = true;
      if (!lf_net_is (l.val, l.vallen, "yes") && !lf_net_is (l.val, l.vallen, "ipv4") &&
          !lf_net_is (l.val, l.vallen, "true")) {
        lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: DHCP: %s -> yes",
                         name, lineno, q);
        lf_sbuf_add (&b, line, (size_t) (l.name - line));
        lf_sbuf_puts (&b, "DHCP=yes\n");
        continue;
      }
    }
    lf_sbuf_add (&b, line, n);
  }
  if (sec == LF_ND_NETWORK && !dhcp) {
    lf_sbuf_section_end (&b, "DHCP=yes\n");
    lf_netnotes_add (&ret->notes, LF_CHANGED, "%s: DHCP=yes added", name);
  }
  if (!network) {
    if (b.len && b.s[b.len - 1] != '\n')
      lf_sbuf_puts (&b, "\n");
    lf_sbuf_puts (&b, "\n[Network]\nDHCP=yes\n");
    lf_netnotes_add (&ret->notes, LF_CHANGED, "%s: [Network] DHCP=yes added",
                     name);
  }
  if (!have_name) {
    /* No [Match] section: it matched every link; now only eth0. */
    struct lf_sbuf m = { 0 };
    lf_sbuf_printf (&m, "[Match]\nName=%s\n\n", NETCFG_NIC);
    if (b.s)
      lf_sbuf_add (&m, b.s, b.len);
    m.oom |= b.oom;
    free (b.s);
    b = m;
    lf_netnotes_add (&ret->notes, LF_CHANGED, "%s: [Match] Name=%s added",
                     name, NETCFG_NIC);
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
keep_network (const char *name)
{
  return lf_net_has_suffix (name, ".network") || lf_net_has_suffix (name, ".link");
}

static int
scan (struct lf_netctx *c, const char *path, const char *in, size_t len,
      void *info, const struct lf_net_nic **nic)
{
  struct lf_networkd_info *i = info;
  (void) c;
  if (lf_net_networkd_scan (path, in, len, i) == -1)
    return -1;
  *nic = &i->nic;
  return 0;
}

int
lf_fix_net_networkd (struct lf_netctx *c)
{
  struct lf_netdir d;
  int ret = -1;

  if (lf_net_dir_read (c, NETWORKD_DIR, keep_network, sizeof (struct lf_networkd_info),
                       scan, &d) == -1)
    return -1;
  struct lf_networkd_info *info = d.info;
  char **bufs = d.bufs, **names = d.names;
  size_t *lens = d.lens, primary = d.primary, n = d.n;
  for (size_t i = 0; i < n; i++) {
    const char *path = d.paths[i];
    if (!bufs[i])
      continue;
    if (i == primary) {
      struct lf_netedit e;
      if (lf_net_networkd_edit (path, bufs[i], lens[i], &e) == -1) {
        if (lf_net_failed (c, path) == -1)
          goto out;
        continue;
      }
      c->stacks++;
      if (e.action == LF_NET_KEEP)
        lf_plan_note (c->p, NETCFG_CONCERN, LF_ALREADY_RIGHT, "%s: %s on DHCP",
                      path, NETCFG_NIC);
      if (lf_net_plan (c, path, bufs[i], lens[i], &e, "primary NIC (" NETCFG_NIC
                       ") on DHCP") == -1)
        goto out;
    }
    else if (lf_net_has_suffix (names[i], ".link") ? info[i].link_rename
             : (info[i].matches_nic && (info[i].is_static || info[i].mac_bound))) {
      if (lf_net_aside (c, path, bufs[i], lens[i],
                        lf_net_has_suffix (names[i], ".link")
                        ? "names a NIC by its VMware MAC"
                        : "static configuration of another NIC") == -1)
        goto out;
    }
  }
  ret = 0;
 out:
  lf_net_dir_free (&d);
  return ret;
}
