/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: ifupdown, /etc/network/interfaces (interfaces(5))
 * and the files it sources (reference/linux.md §6).
 *
 * A stanza starts with a keyword at the start of a line (iface, mapping,
 * auto, allow-*, source, source-directory, no-auto-down, no-scripts,
 * rename); every other non-comment line is an option of the stanza above
 * it.  A line ending in a backslash continues on the next.  Only the
 * stanzas of interfaces other than lo are touched; every other byte is
 * copied as it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootfix/linux/netcfg.h"

#define MAX_WORDS 64

/* Options that pin the NIC to VMware: static addressing, DNS, the MAC. */
static bool
is_static_option (const char *w, size_t wl)
{
  static const char *const opts[] = {
    "address", "netmask", "gateway", "broadcast", "network", "pointopoint",
    "hwaddress", "dns-nameservers", "dns-nameserver", "dns-search",
    "dns-domain", "metric", "scope",
  };
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    if (lf_net_is (w, wl, opts[i]))
      return true;
  return false;
}

enum stanza { ST_NONE, ST_KEEP, ST_REMOVE, ST_NIC };

int
lf_net_ifupdown_edit (const char *name, const char *in, size_t len,
                      bool add_nic, struct lf_netedit *ret, bool *has_nic,
                      bool *had_ifaces)
{
  struct lf_sbuf b = { 0 };
  char cur[NETCFG_MAX_NAME + 32] = "";
  enum stanza st = ST_NONE;
  bool continued = false, nic_auto = false;
  size_t pos = 0, lineno = 0, n;
  const char *line;

  memset (ret, 0, sizeof *ret);
  *has_nic = false;
  *had_ifaces = false;
  if (lf_net_check_text (name, in, len) == -1)
    return -1;

  /* Is eth0 brought up by an auto or allow-* line already? */
  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    const char *w[MAX_WORDS];
    size_t wl[MAX_WORDS];
    size_t k = lf_net_split_words (line, n - (line[n - 1] == '\n'), w, wl, MAX_WORDS);
    if (k >= 2 && (lf_net_is (w[0], wl[0], "auto") ||
                   (wl[0] > 6 && memcmp (w[0], "allow-", 6) == 0)))
      for (size_t i = 1; i < k; i++)
        if (lf_net_is (w[i], wl[i], NETCFG_NIC))
          nic_auto = true;
  }

  pos = 0;
  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    const char *s, *w[MAX_WORDS];
    size_t sn, wl[MAX_WORDS], k;
    bool was_continued = continued;

    lineno++;
    lf_net_trim (line, n, &s, &sn);
    continued = sn > 0 && s[sn - 1] == '\\' && s[0] != '#';
    if (was_continued) {        /* the rest of the line above */
      if (st != ST_REMOVE)
        lf_sbuf_add (&b, line, n);
      continue;
    }
    if (sn == 0 || s[0] == '#') {
      lf_sbuf_add (&b, line, n);
      continue;
    }
    k = lf_net_split_words (s, sn, w, wl, MAX_WORDS);
    if (lf_ifupdown_is_stanza_keyword (w[0], wl[0])) {
      st = ST_NONE;
      if (lf_net_is (w[0], wl[0], "iface") && k >= 2) {
        bool lo = lf_net_is (w[1], wl[1], "lo");
        bool nic = lf_net_is (w[1], wl[1], NETCFG_NIC);
        bool dhcp = k >= 4 && (lf_net_is (w[3], wl[3], "dhcp") ||
                               (lf_net_is (w[2], wl[2], "inet6") &&
                                lf_net_is (w[3], wl[3], "auto")));
        if (lo) {
          st = ST_KEEP;
          lf_sbuf_add (&b, line, n);
          continue;
        }
        *had_ifaces = true;
        if (nic && dhcp) {
          st = ST_NIC;
          if (k >= 3 && lf_net_is (w[2], wl[2], "inet"))
            *has_nic = true;
          if (!nic_auto && *has_nic) {
            lf_sbuf_printf (&b, "allow-hotplug %s\n", NETCFG_NIC);
            nic_auto = true;
            lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: %s brought up "
                             "at boot (allow-hotplug)", name, lineno,
                             NETCFG_NIC);
          }
          lf_sbuf_add (&b, line, n);
          continue;
        }
        /* Removed, with its options: reported in one note. */
        st = ST_REMOVE;
        char q[256];
        lf_net_quote (s, sn, q, sizeof q);
        snprintf (cur, sizeof cur, "%.*s", (int) LF_MIN (wl[1], (size_t) NETCFG_MAX_NAME),
                  w[1]);
        lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: \"%s\" removed: "
                         "%s is configured by DHCP on Azure", name, lineno, q,
                         NETCFG_NIC);
        /* The primary NIC's stanza takes the place of the first one. */
        if (add_nic && !*has_nic && k >= 3 && lf_net_is (w[2], wl[2], "inet")) {
          lf_sbuf_add (&b, line, (size_t) (s - line));  /* indentation */
          lf_sbuf_printf (&b, "allow-hotplug %s\n", NETCFG_NIC);
          lf_sbuf_add (&b, line, (size_t) (s - line));
          lf_sbuf_printf (&b, "iface %s inet dhcp\n", NETCFG_NIC);
          *has_nic = true;
          lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: %s on DHCP "
                           "instead", name, lineno, NETCFG_NIC);
        }
        continue;
      }
      if ((lf_net_is (w[0], wl[0], "auto") ||
           (wl[0] > 6 && memcmp (w[0], "allow-", 6) == 0)) && k >= 2) {
        /* Keep lo and eth0; other names go. */
        struct lf_sbuf nl = { 0 };
        size_t kept = 0, dropped = 0;
        for (size_t i = 1; i < k; i++) {
          if (lf_net_is (w[i], wl[i], "lo") || lf_net_is (w[i], wl[i], NETCFG_NIC)) {
            lf_sbuf_add (&nl, " ", 1);
            lf_sbuf_add (&nl, w[i], wl[i]);
            kept++;
          }
          else
            dropped++;
        }
        if (dropped == 0)
          lf_sbuf_add (&b, line, n);
        else {
          char q[256];
          lf_net_quote (s, sn, q, sizeof q);
          if (kept) {
            lf_sbuf_add (&b, line, (size_t) (s - line));  /* indentation */
            lf_sbuf_add (&b, w[0], wl[0]);
            if (nl.s)
              lf_sbuf_add (&b, nl.s, nl.len);
            lf_sbuf_puts (&b, "\n");
          }
          lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: \"%s\" %s",
                           name, lineno, q, kept ? "reduced to lo/" NETCFG_NIC
                           : "removed");
        }
        b.oom |= nl.oom;
        free (nl.s);
        continue;
      }
      st = ST_KEEP;
      lf_sbuf_add (&b, line, n);
      continue;
    }
    /* An option line of the stanza above. */
    if (st == ST_REMOVE) {
      char q[256];
      lf_net_quote (s, sn, q, sizeof q);
      lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: %s: \"%s\" removed",
                       name, lineno, cur, q);
      continue;
    }
    if (st == ST_NIC && is_static_option (w[0], wl[0])) {
      char q[256];
      lf_net_quote (s, sn, q, sizeof q);
      lf_netnotes_add (&ret->notes, LF_CHANGED, "%s:%zu: %s: \"%s\" removed "
                       "(DHCP on Azure)", name, lineno, NETCFG_NIC, q);
      continue;
    }
    lf_sbuf_add (&b, line, n);
  }
  if (add_nic && !*has_nic) {
    if (b.len && b.s[b.len - 1] != '\n')
      lf_sbuf_puts (&b, "\n");
    lf_sbuf_printf (&b, "\n# The primary network interface on Azure (landfall)\n"
                    "allow-hotplug %s\niface %s inet dhcp\n", NETCFG_NIC,
                    NETCFG_NIC);
    *has_nic = true;
    lf_netnotes_add (&ret->notes, LF_CHANGED, "%s: %s on DHCP", name,
                     NETCFG_NIC);
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
keep_ifupdown_d (const char *name)
{
  return !lf_net_is_leftover (name);
}

int
lf_fix_net_ifupdown (struct lf_netctx *c)
{
  const char *main_path = "/etc/network/interfaces";
  CLEANUP_FREE char *main_buf = NULL;
  size_t main_len;
  bool has_nic = false, had = false, h, hi;
  char **names;
  int r;

  if ((r = lf_net_read (c, main_path, &main_buf, &main_len)) != 0)
    return r == 1 ? 0 : -1;

  names = lf_net_list (c, "/etc/network/interfaces.d", keep_ifupdown_d);
  for (char **s = names; s && *s; s++) {
    char path[4096];
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    struct lf_netedit e;
    snprintf (path, sizeof path, "/etc/network/interfaces.d/%s", *s);
    if ((r = lf_net_read (c, path, &buf, &len)) == 1)
      continue;
    if (r == -1 ||
        (lf_net_ifupdown_edit (path, buf, len, false, &e, &h, &hi) == -1 &&
         lf_net_failed (c, path) == -1)) {
      lf_free_names (names);
      return -1;
    }
    has_nic |= h;
    had |= hi;
    if (lf_net_plan (c, path, buf, len, &e, "interfaces other than lo moved "
                   "to eth0 on DHCP") == -1) {
      lf_free_names (names);
      return -1;
    }
  }
  lf_free_names (names);

  struct lf_netedit e;
  if (lf_net_ifupdown_edit (main_path, main_buf, main_len, false, &e, &h,
                            &hi) == -1)
    return lf_net_failed (c, main_path);
  had |= hi;
  if (had && !has_nic && !h) {
    lf_netedit_free (&e);
    if (lf_net_ifupdown_edit (main_path, main_buf, main_len, true, &e, &h,
                              &hi) == -1)
      return lf_net_failed (c, main_path);
  }
  has_nic |= h;
  if (has_nic)
    c->stacks++;
  if (had && e.action == LF_NET_KEEP)
    lf_plan_note (c->p, NETCFG_CONCERN, LF_ALREADY_RIGHT, "%s: %s on DHCP",
                  main_path, NETCFG_NIC);
  return lf_net_plan (c, main_path, main_buf, main_len, &e,
                    "primary NIC (eth0) on DHCP");
}

