/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: the guest's network configuration (netread.h).
 *
 * The scanners were bootfix/linux's (the better parsers of the three the
 * project had); they now also say, per interface, its mode, its default
 * gateway and its MAC binding, so that inspect, verify and fix read one
 * set of facts and pick the primary NIC by one rule.  The stacks are
 * described by one table (where their files are, which names count, the
 * scanner); bootfix/linux's editors keep their own drivers, which read
 * through the plan, but scan with these.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "guest/netread.h"

/* ---- text primitives ---- */

int
lf_net_check_text (const char *name, const char *in, size_t len)
{
  size_t line = 1, start = 0;

  if (len > NETCFG_MAX_FILE) {
    lf_error (EFBIG, "%s: %zu bytes is over the limit of %d for a "
              "configuration file", name, len, NETCFG_MAX_FILE);
    return -1;
  }
  for (size_t i = 0; i <= len; i++) {
    if (i == len || in[i] == '\n') {
      if (i - start > NETCFG_MAX_LINE) {
        lf_error (EINVAL, "%s:%zu: line of %zu bytes is over the limit of %d",
                  name, line, i - start, NETCFG_MAX_LINE);
        return -1;
      }
      if (i < len && ++line > NETCFG_MAX_LINES) {
        lf_error (EINVAL, "%s: more than %d lines", name, NETCFG_MAX_LINES);
        return -1;
      }
      start = i + 1;
    }
    else if (in[i] == '\0') {
      lf_error (EINVAL, "%s:%zu: NUL byte at offset 0x%zx: not a text file",
                name, line, i);
      return -1;
    }
  }
  return 0;
}

bool
lf_net_next_line (const char *in, size_t len, size_t *pos, const char **line,
                  size_t *n)
{
  if (*pos >= len)
    return false;
  const char *s = in + *pos;
  const char *nl = memchr (s, '\n', len - *pos);
  *n = nl ? (size_t) (nl - s) + 1 : len - *pos;
  *line = s;
  *pos += *n;
  return true;
}

void
lf_net_trim (const char *line, size_t n, const char **s, size_t *sn)
{
  while (n && (*line == ' ' || *line == '\t')) {
    line++;
    n--;
  }
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
               line[n - 1] == ' ' || line[n - 1] == '\t'))
    n--;
  *s = line;
  *sn = n;
}

void
lf_net_quote (const char *s, size_t n, char *buf, size_t bufsz)
{
  size_t o = 0;

  for (size_t i = 0; i < n && o + 5 < bufsz && i < 200; i++) {
    unsigned char c = (unsigned char) s[i];
    if (c >= 0x20 && c < 0x7f)
      buf[o++] = (char) c;
    else
      o += (size_t) snprintf (buf + o, bufsz - o, "\\x%02x", c);
  }
  if (bufsz)
    buf[o < bufsz ? o : bufsz - 1] = '\0';
}

bool
lf_net_is (const char *s, size_t n, const char *lit)
{
  return n == strlen (lit) && memcmp (s, lit, n) == 0;
}

size_t
lf_net_split_words (const char *s, size_t n, const char **w, size_t *wl,
                    size_t max)
{
  size_t k = 0, i = 0;

  while (i < n && k < max) {
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if (i >= n)
      break;
    w[k] = s + i;
    while (i < n && s[i] != ' ' && s[i] != '\t')
      i++;
    wl[k] = (size_t) (s + i - w[k]);
    k++;
  }
  return k;
}

bool
lf_net_parse_ini (const char *line, size_t n, struct lf_iniline *l)
{
  const char *s;
  size_t sn;

  lf_net_trim (line, n, &s, &sn);
  memset (l, 0, sizeof *l);
  if (sn == 0 || s[0] == '#' || s[0] == ';')
    return false;
  if (s[0] == '[') {
    const char *e = memchr (s, ']', sn);
    if (!e)
      return false;
    l->section = true;
    l->name = s + 1;
    l->namelen = (size_t) (e - s - 1);
    return true;
  }
  const char *eq = memchr (s, '=', sn);
  if (!eq || eq == s)
    return false;
  l->name = s;
  l->namelen = (size_t) (eq - s);
  while (l->namelen && (s[l->namelen - 1] == ' ' || s[l->namelen - 1] == '\t'))
    l->namelen--;
  l->val = eq + 1;
  l->vallen = (size_t) (s + sn - l->val);
  while (l->vallen && (*l->val == ' ' || *l->val == '\t')) {
    l->val++;
    l->vallen--;
  }
  return true;
}

bool
lf_net_parse_shline (const char *line, size_t n, struct lf_shline *l)
{
  const char *s;
  size_t sn, i = 0;

  lf_net_trim (line, n, &s, &sn);
  if (sn == 0 || s[0] == '#')
    return false;
  if (sn > 7 && memcmp (s, "export ", 7) == 0) {
    s += 7;
    sn -= 7;
  }
  while (i < sn && (isalnum ((unsigned char) s[i]) || s[i] == '_'))
    i++;
  if (i == 0 || i >= sn || s[i] != '=')
    return false;
  l->key = s;
  l->keylen = i;
  l->val = s + i + 1;
  l->vallen = sn - i - 1;
  l->quote = 0;
  if (l->vallen >= 2 && (l->val[0] == '"' || l->val[0] == '\'') &&
      l->val[l->vallen - 1] == l->val[0]) {
    l->quote = l->val[0];
    l->val++;
    l->vallen -= 2;
  }
  return true;
}

bool
lf_shline_key_is (const struct lf_shline *l, const char *k)
{
  return l->keylen == strlen (k) && memcmp (l->key, k, l->keylen) == 0;
}

bool
lf_shline_key_family (const struct lf_shline *l, const char *k)
{
  size_t kl = strlen (k);
  if (l->keylen < kl || memcmp (l->key, k, kl) != 0)
    return false;
  return l->keylen == kl || isdigit ((unsigned char) l->key[kl]) ||
    l->key[kl] == '_';
}

bool
lf_shline_val_is (const struct lf_shline *l, const char *v)
{
  return l->vallen == strlen (v) && strncasecmp (l->val, v, l->vallen) == 0;
}

/* ---- facts ---- */

const char *
lf_net_mode_name (enum lf_net_mode m)
{
  switch (m) {
  case LF_NETMODE_DHCP: return "dhcp";
  case LF_NETMODE_STATIC: return "static";
  case LF_NETMODE_MANUAL: return "manual";
  case LF_NETMODE_UNKNOWN: break;
  }
  return "unknown";
}

size_t
lf_net_primary (const struct lf_net_nic *const *v, size_t n)
{
  size_t first = SIZE_MAX, gw = SIZE_MAX;

  for (size_t i = 0; i < n; i++) {
    if (!v[i] || !v[i]->candidate)
      continue;
    if (strcmp (v[i]->name, NETCFG_NIC) == 0 ||
        (!*v[i]->name && !v[i]->mac_bound))
      return i;
    if (first == SIZE_MAX)
      first = i;
    if (gw == SIZE_MAX && v[i]->gateway)
      gw = i;
  }
  return gw != SIZE_MAX ? gw : first;
}

static void
set_name (struct lf_net_nic *nic, const char *s, size_t n)
{
  snprintf (nic->name, sizeof nic->name, "%.*s",
            (int) LF_MIN (n, sizeof nic->name - 1), s);
}

/* Virtual names (lo, aliases "eth0:1", VLANs "eth0.10") are no NIC. */
static bool
plain_name (const char *s)
{
  return strcmp (s, "lo") != 0 && !strchr (s, ':') && !strchr (s, '.');
}

/* ---- ifupdown ---- */

#define MAX_WORDS 64

bool
lf_ifupdown_is_stanza_keyword (const char *w, size_t wl)
{
  return lf_net_is (w, wl, "iface") || lf_net_is (w, wl, "mapping") ||
    lf_net_is (w, wl, "auto") || (wl > 6 && memcmp (w, "allow-", 6) == 0) ||
    lf_net_is (w, wl, "source") || lf_net_is (w, wl, "source-directory") ||
    lf_net_is (w, wl, "no-auto-down") || lf_net_is (w, wl, "no-scripts") ||
    lf_net_is (w, wl, "rename") || lf_net_is (w, wl, "template");
}

int
lf_net_ifupdown_scan (const char *name, const char *in, size_t len,
                      struct lf_ifupdown_info *ret)
{
  size_t pos = 0, n;
  const char *line;
  struct lf_net_nic *cur = NULL;
  bool continued = false;

  memset (ret, 0, sizeof *ret);
  if (lf_net_check_text (name, in, len) == -1)
    return -1;
  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    const char *s, *w[MAX_WORDS];
    size_t sn, wl[MAX_WORDS], k;
    bool was_continued = continued;

    lf_net_trim (line, n, &s, &sn);
    continued = sn > 0 && s[sn - 1] == '\\' && s[0] != '#';
    if (was_continued || sn == 0 || s[0] == '#')
      continue;
    k = lf_net_split_words (s, sn, w, wl, MAX_WORDS);
    if (lf_ifupdown_is_stanza_keyword (w[0], wl[0])) {
      cur = NULL;
      if (!lf_net_is (w[0], wl[0], "iface") || k < 4 ||
          lf_net_is (w[1], wl[1], "lo") || lf_net_is (w[3], wl[3], "loopback"))
        continue;
      /* inet and inet6 stanzas of one interface are one NIC. */
      for (size_t i = 0; i < ret->n && !cur; i++)
        if (lf_net_is (w[1], wl[1], ret->nic[i].name))
          cur = &ret->nic[i];
      if (!cur) {
        if (ret->n == NETCFG_MAX_NICS)
          continue;
        cur = &ret->nic[ret->n++];
        set_name (cur, w[1], wl[1]);
        cur->candidate = plain_name (cur->name);
      }
      bool inet6 = lf_net_is (w[2], wl[2], "inet6");
      if (lf_net_is (w[3], wl[3], "static") ||
          lf_net_is (w[3], wl[3], "v4tunnel"))
        cur->mode = LF_NETMODE_STATIC;
      else if ((lf_net_is (w[3], wl[3], "dhcp") ||
                (inet6 && lf_net_is (w[3], wl[3], "auto"))) &&
               cur->mode != LF_NETMODE_STATIC)
        cur->mode = LF_NETMODE_DHCP;
      else if (lf_net_is (w[3], wl[3], "manual") &&
               cur->mode == LF_NETMODE_UNKNOWN)
        cur->mode = LF_NETMODE_MANUAL;
      continue;
    }
    if (!cur)
      continue;
    if (lf_net_is (w[0], wl[0], "gateway"))
      cur->gateway = true;
    else if (lf_net_is (w[0], wl[0], "hwaddress"))
      cur->mac_bound = true;
    else if (lf_net_is (w[0], wl[0], "address") &&
             cur->mode == LF_NETMODE_MANUAL)
      cur->mode = LF_NETMODE_STATIC;
    else if (lf_net_is (w[0], wl[0], "bond-master") ||
             lf_net_is (w[0], wl[0], "bond_master") ||
             lf_net_is (w[0], wl[0], "bridge_ports") ||
             lf_net_is (w[0], wl[0], "bridge-ports") ||
             lf_net_is (w[0], wl[0], "bond-slaves") ||
             lf_net_is (w[0], wl[0], "vlan-raw-device"))
      cur->candidate = false;   /* a port, or a virtual device */
  }
  return 0;
}

/* ---- ifcfg ---- */

bool
lf_ifcfg_get (const char *in, size_t len, const char *key, char *buf,
           size_t bufsz)
{
  size_t pos = 0, n;
  const char *line;
  bool found = false;

  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    struct lf_shline l;
    if (lf_net_parse_shline (line, n, &l) && lf_shline_key_is (&l, key)) {
      snprintf (buf, bufsz, "%.*s", (int) LF_MIN (l.vallen, bufsz - 1), l.val);
      found = true;
    }
  }
  return found;
}

static const char *
file_base (const char *path)
{
  const char *b = strrchr (path, '/');
  return b ? b + 1 : path;
}

int
lf_net_ifcfg_scan (enum lf_ifcfg_flavour f, const char *name, const char *in,
                   size_t len, struct lf_ifcfg_info *ret)
{
  char v[NETCFG_MAX_NAME];
  const char *base = file_base (name);
  size_t pos = 0, n;
  const char *line;
  bool dhcp = false;

  memset (ret, 0, sizeof *ret);
  if (lf_net_check_text (name, in, len) == -1)
    return -1;
  if (strncmp (base, "ifcfg-", 6) == 0)
    snprintf (ret->device, sizeof ret->device, "%s", base + 6);
  if (f == LF_IFCFG_RHEL && lf_ifcfg_get (in, len, "DEVICE", v, sizeof v) && *v)
    snprintf (ret->device, sizeof ret->device, "%s", v);
  ret->loopback = strcmp (ret->device, "lo") == 0;
  ret->ethernet = !ret->loopback && strchr (ret->device, '.') == NULL &&
    strchr (ret->device, ':') == NULL;
  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    struct lf_shline l;
    if (!lf_net_parse_shline (line, n, &l))
      continue;
    if (lf_shline_key_is (&l, "TYPE") && !lf_shline_val_is (&l, "Ethernet"))
      ret->ethernet = false;
    if ((lf_shline_key_is (&l, "DEVICETYPE") || lf_shline_key_is (&l, "VLAN") ||
         lf_shline_key_is (&l, "BONDING_MASTER") ||
         lf_shline_key_is (&l, "TUNNEL")) && l.vallen &&
        !lf_shline_val_is (&l, "no"))
      ret->ethernet = false;
    if (lf_shline_key_is (&l, "BRIDGE") && l.vallen) {
      if (f == LF_IFCFG_SUSE && lf_shline_val_is (&l, "yes"))
        ret->ethernet = false;
      else if (f == LF_IFCFG_RHEL)
        ret->slave = true;
    }
    if ((lf_shline_key_is (&l, "MASTER") ||
         lf_shline_key_is (&l, "TEAM_MASTER")) && l.vallen)
      ret->slave = true;
    if (lf_shline_key_family (&l, "IPADDR") && l.vallen)
      ret->is_static = true;
    if (lf_shline_key_is (&l, "BOOTPROTO")) {
      if (lf_shline_val_is (&l, "static") || lf_shline_val_is (&l, "none"))
        ret->is_static = true;
      /* dhcp, dhcp4, dhcp6, dhcp+autoip (SUSE) */
      dhcp = l.vallen >= 4 && strncasecmp (l.val, "dhcp", 4) == 0;
    }
    if (lf_shline_key_family (&l, "GATEWAY") && l.vallen)
      ret->has_gateway = true;
    if ((lf_shline_key_is (&l, "HWADDR") || lf_shline_key_is (&l, "LLADDR")) &&
        l.vallen)
      ret->nic.mac_bound = true;
  }
  snprintf (ret->nic.name, sizeof ret->nic.name, "%s", ret->device);
  ret->nic.mode = ret->is_static ? LF_NETMODE_STATIC
    : dhcp ? LF_NETMODE_DHCP : LF_NETMODE_UNKNOWN;
  ret->nic.gateway = ret->has_gateway;
  ret->nic.candidate = ret->ethernet && !ret->loopback && !ret->slave;
  return 0;
}

/* ---- NetworkManager keyfiles ---- */

static bool
starts (const char *s, size_t n, const char *lit)
{
  return n >= strlen (lit) && memcmp (s, lit, strlen (lit)) == 0;
}

enum lf_nm_sect
lf_nm_section_of (const struct lf_iniline *l)
{
  if (lf_net_is (l->name, l->namelen, "connection"))
    return LF_NM_CONNECTION;
  if (lf_net_is (l->name, l->namelen, "ethernet") ||
      lf_net_is (l->name, l->namelen, "802-3-ethernet"))
    return LF_NM_ETHERNET;
  if (lf_net_is (l->name, l->namelen, "ipv4"))
    return LF_NM_IPV4;
  if (lf_net_is (l->name, l->namelen, "ipv6"))
    return LF_NM_IPV6;
  return LF_NM_OTHER;
}

int
lf_net_nm_scan (const char *name, const char *in, size_t len,
                struct lf_nm_info *ret)
{
  enum lf_nm_sect sec = LF_NM_OTHER;
  size_t pos = 0, n;
  const char *line;
  bool v4_auto = true;          /* NetworkManager's default method */

  memset (ret, 0, sizeof *ret);
  if (lf_net_check_text (name, in, len) == -1)
    return -1;
  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    struct lf_iniline l;
    if (!lf_net_parse_ini (line, n, &l))
      continue;
    if (l.section) {
      sec = lf_nm_section_of (&l);
      continue;
    }
    if (sec == LF_NM_CONNECTION && lf_net_is (l.name, l.namelen, "type")) {
      snprintf (ret->type, sizeof ret->type, "%.*s",
                (int) LF_MIN (l.vallen, sizeof ret->type - 1), l.val);
      ret->ethernet = lf_net_is (l.val, l.vallen, "ethernet") ||
        lf_net_is (l.val, l.vallen, "802-3-ethernet");
    }
    if (sec == LF_NM_CONNECTION &&
        lf_net_is (l.name, l.namelen, "interface-name"))
      snprintf (ret->iface, sizeof ret->iface, "%.*s",
                (int) LF_MIN (l.vallen, sizeof ret->iface - 1), l.val);
    if (sec == LF_NM_CONNECTION && (lf_net_is (l.name, l.namelen, "master") ||
                                    lf_net_is (l.name, l.namelen, "controller")) &&
        l.vallen)
      ret->ethernet = false;    /* a bond or bridge port */
    if (sec == LF_NM_ETHERNET &&
        lf_net_is (l.name, l.namelen, "mac-address") && l.vallen)
      ret->mac_bound = true;
    if ((sec == LF_NM_IPV4 || sec == LF_NM_IPV6) &&
        ((lf_net_is (l.name, l.namelen, "method") &&
          lf_net_is (l.val, l.vallen, "manual")) ||
         (starts (l.name, l.namelen, "address") && l.vallen)))
      ret->is_static = true;
    if (sec == LF_NM_IPV4 && lf_net_is (l.name, l.namelen, "method"))
      v4_auto = lf_net_is (l.val, l.vallen, "auto");
    if (sec == LF_NM_IPV4 &&
        ((lf_net_is (l.name, l.namelen, "gateway") && l.vallen) ||
         (starts (l.name, l.namelen, "address") &&
          memchr (l.val, ',', l.vallen))))
      ret->has_gateway = true;
  }
  snprintf (ret->nic.name, sizeof ret->nic.name, "%s", ret->iface);
  ret->nic.mode = ret->is_static ? LF_NETMODE_STATIC
    : v4_auto ? LF_NETMODE_DHCP : LF_NETMODE_UNKNOWN;
  ret->nic.gateway = ret->has_gateway;
  ret->nic.mac_bound = ret->mac_bound;
  ret->nic.candidate = ret->ethernet;
  return 0;
}

/* ---- systemd-networkd ---- */

enum lf_networkd_sect
lf_networkd_section_of (const struct lf_iniline *l)
{
  if (lf_net_is (l->name, l->namelen, "Match"))
    return LF_ND_MATCH;
  if (lf_net_is (l->name, l->namelen, "Network"))
    return LF_ND_NETWORK;
  if (lf_net_is (l->name, l->namelen, "Link"))
    return LF_ND_LINK;
  if (lf_net_is (l->name, l->namelen, "Address") ||
      lf_net_is (l->name, l->namelen, "Route") ||
      lf_net_is (l->name, l->namelen, "RoutingPolicyRule") ||
      lf_net_is (l->name, l->namelen, "Neighbor"))
    return LF_ND_STATIC;
  return LF_ND_OTHER;
}

bool
lf_networkd_is_match_binding (const struct lf_iniline *l)
{
  return lf_net_is (l->name, l->namelen, "MACAddress") ||
    lf_net_is (l->name, l->namelen, "PermanentMACAddress") ||
    lf_net_is (l->name, l->namelen, "Path") ||
    lf_net_is (l->name, l->namelen, "Driver") ||
    lf_net_is (l->name, l->namelen, "Name") ||
    lf_net_is (l->name, l->namelen, "OriginalName") ||
    lf_net_is (l->name, l->namelen, "Type");
}

int
lf_net_networkd_scan (const char *name, const char *in, size_t len,
                      struct lf_networkd_info *ret)
{
  enum lf_networkd_sect sec = LF_ND_OTHER;
  size_t pos = 0, n;
  const char *line;
  bool link_name = false, lo = false, match = false, dhcp = false;

  memset (ret, 0, sizeof *ret);
  if (lf_net_check_text (name, in, len) == -1)
    return -1;
  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    struct lf_iniline l;
    if (!lf_net_parse_ini (line, n, &l))
      continue;
    if (l.section) {
      sec = lf_networkd_section_of (&l);
      if (sec == LF_ND_STATIC)
        ret->is_static = true;
      continue;
    }
    if (sec == LF_ND_MATCH && lf_networkd_is_match_binding (&l)) {
      match = true;
      if (lf_net_is (l.name, l.namelen, "Name")) {
        if (lf_net_is (l.val, l.vallen, "lo"))
          lo = true;
        /* The first of the names (a list of globs). */
        set_name (&ret->nic, l.val, strcspn (l.val, " \t") < l.vallen
                  ? strcspn (l.val, " \t") : l.vallen);
      }
      if (lf_net_is (l.name, l.namelen, "MACAddress") ||
          lf_net_is (l.name, l.namelen, "PermanentMACAddress"))
        ret->mac_bound = true;
    }
    if (sec == LF_ND_NETWORK && (lf_net_is (l.name, l.namelen, "Address") ||
                                 lf_net_is (l.name, l.namelen, "Gateway")))
      ret->is_static = true;
    if (sec == LF_ND_NETWORK && lf_net_is (l.name, l.namelen, "DHCP"))
      dhcp = lf_net_is (l.val, l.vallen, "yes") ||
        lf_net_is (l.val, l.vallen, "true") || lf_net_is (l.val, l.vallen, "on") ||
        lf_net_is (l.val, l.vallen, "1") || lf_net_is (l.val, l.vallen, "ipv4") ||
        lf_net_is (l.val, l.vallen, "ipv6");
    if ((sec == LF_ND_NETWORK || sec == LF_ND_STATIC) &&
        lf_net_is (l.name, l.namelen, "Gateway"))
      ret->has_gateway = true;
    if (sec == LF_ND_LINK && lf_net_is (l.name, l.namelen, "Name"))
      link_name = true;
  }
  ret->matches_nic = match && !lo;
  ret->link_rename = link_name && ret->mac_bound;
  ret->nic.mode = ret->is_static ? LF_NETMODE_STATIC
    : dhcp ? LF_NETMODE_DHCP : LF_NETMODE_UNKNOWN;
  ret->nic.gateway = ret->has_gateway;
  ret->nic.mac_bound = ret->mac_bound;
  /* A .link file only names a device; a .network file configures it. */
  ret->nic.candidate = ret->matches_nic && !lf_net_has_suffix (name, ".link");
  return 0;
}

/* ---- netplan ---- */

#define NETPLAN_DEPTH 16        /* nesting followed; deeper is "complex" */

static const char *const device_sections[] = {
  "ethernets", "bonds", "bridges", "vlans", "wifis", "tunnels", "vrfs",
  "modems", "dummy-devices", "virtual-ethernets", "nm-devices",
};

static bool
is_device_section (const char *s, size_t n)
{
  for (size_t i = 0; i < sizeof device_sections / sizeof device_sections[0]; i++)
    if (lf_net_is (s, n, device_sections[i]))
      return true;
  return false;
}

/* Keys whose values are reported when a file is moved aside. */
static bool
is_reported (const char *s, size_t n)
{
  static const char *const keys[] = {
    "addresses", "gateway4", "gateway6", "via", "macaddress", "set-name",
    "search",
  };
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (lf_net_is (s, n, keys[i]))
      return true;
  return false;
}

static bool
yaml_true (const char *s, size_t n)
{
  return lf_net_is (s, n, "true") || lf_net_is (s, n, "yes") ||
    lf_net_is (s, n, "on") || lf_net_is (s, n, "True") ||
    lf_net_is (s, n, "y");
}

static bool
default_route (const char *s, size_t n)
{
  return lf_net_is (s, n, "default") || lf_net_is (s, n, "0.0.0.0/0") ||
    lf_net_is (s, n, "::/0") || lf_net_is (s, n, "\"0.0.0.0/0\"");
}

struct level {
  size_t indent;
  const char *key;
  size_t keylen;
};

/* KV (N bytes) as "key: value" (no flow): the key unquoted. */
static bool
yaml_kv (const char *kv, size_t kvn, const char **key, size_t *keylen,
         const char **val, size_t *vallen)
{
  const char *colon = NULL;
  for (size_t i = 0; i < kvn; i++)
    if (kv[i] == ':' && (i + 1 == kvn || kv[i + 1] == ' ')) {
      colon = kv + i;
      break;
    }
  if (!colon)
    return false;
  *key = kv;
  *keylen = (size_t) (colon - kv);
  if (*keylen >= 2 && (kv[0] == '"' || kv[0] == '\'') &&
      kv[*keylen - 1] == kv[0]) {
    (*key)++;
    *keylen -= 2;
  }
  *val = colon + 1;
  *vallen = (size_t) (kv + kvn - *val);
  while (*vallen && **val == ' ') {
    (*val)++;
    (*vallen)--;
  }
  /* A comment after the value. */
  for (size_t i = 0; i < *vallen; i++)
    if ((*val)[i] == '#' && i && (*val)[i - 1] == ' ') {
      *vallen = i;
      while (*vallen && (*val)[*vallen - 1] == ' ')
        (*vallen)--;
      break;
    }
  return true;
}

/* The NIC of device DEV (its netplan id; set-name may rename the NIC). */
static struct lf_net_nic *
netplan_nic (struct lf_netplan_info *info, char ids[][NETCFG_MAX_NAME],
             const struct level *sect, const struct level *dev)
{
  for (size_t i = 0; i < info->n; i++)
    if (lf_net_is (dev->key, dev->keylen, ids[i]))
      return &info->nic[i];
  if (info->n == NETCFG_MAX_NICS)
    return NULL;
  snprintf (ids[info->n], NETCFG_MAX_NAME, "%.*s",
            (int) LF_MIN (dev->keylen, (size_t) NETCFG_MAX_NAME - 1), dev->key);
  struct lf_net_nic *nic = &info->nic[info->n++];
  set_name (nic, dev->key, dev->keylen);
  /* Bonds, bridges and VLANs are built on NICs; only ethernets are. */
  nic->candidate = lf_net_is (sect->key, sect->keylen, "ethernets") &&
    plain_name (nic->name);
  return nic;
}

int
lf_netplan_scan (const char *name, const char *in, size_t len,
                 struct lf_netplan_info *info)
{
  struct level st[NETPLAN_DEPTH];
  size_t depth = 0, pos = 0, n, lineno = 0;
  const char *line;
  bool mentions = false;
  /* Per NIC: its id, and whether dhcp4/dhcp6 said true. */
  char ids[NETCFG_MAX_NICS][NETCFG_MAX_NAME];
  bool dhcp[NETCFG_MAX_NICS] = { false };

  memset (info, 0, sizeof *info);
  if (lf_net_check_text (name, in, len) == -1)
    return -1;
  info->ours = len >= strlen (NETPLAN_MARKER) &&
    memcmp (in, NETPLAN_MARKER, strlen (NETPLAN_MARKER)) == 0;

  while (lf_net_next_line (in, len, &pos, &line, &n)) {
    const char *s;
    size_t sn, indent = 0;

    lineno++;
    while (indent < n && line[indent] == ' ')
      indent++;
    lf_net_trim (line, n, &s, &sn);
    if (sn == 0 || s[0] == '#')
      continue;
    for (size_t i = 0; i < sizeof device_sections / sizeof device_sections[0]; i++)
      if (memmem (s, sn, device_sections[i], strlen (device_sections[i])))
        mentions = true;
    if (indent < n && line[indent] == '\t')
      info->complex = true;
    if ((sn >= 3 && memcmp (s, "---", 3) == 0) || s[0] == '{' || s[0] == '&' ||
        s[0] == '*' || s[0] == '?' || s[0] == '!')
      info->complex = true;

    /* A sequence item: "- value" under the key above. */
    bool item = s[0] == '-' && (sn == 1 || s[1] == ' ');
    const char *kv = s;
    size_t kvn = sn;
    if (item) {
      kv = s + 1;
      kvn = sn - 1;
      while (kvn && *kv == ' ') {
        kv++;
        kvn--;
      }
    }
    const char *key = NULL, *val = NULL;
    size_t keylen = 0, vallen = 0;
    if (!item && yaml_kv (kv, kvn, &key, &keylen, &val, &vallen)) {
      if (vallen && (val[0] == '{' || val[0] == '&' || val[0] == '*' ||
                     val[0] == '|' || val[0] == '>'))
        info->complex = true;
      while (depth && st[depth - 1].indent >= indent)
        depth--;
      if (depth == NETPLAN_DEPTH) {
        info->complex = true;
        continue;
      }
      st[depth].indent = indent;
      st[depth].key = key;
      st[depth].keylen = keylen;
      depth++;
    }
    else if (item) {
      while (depth && st[depth - 1].indent > indent)
        depth--;
      val = kv;
      vallen = kvn;
    }
    else
      continue;                 /* a continuation of a value */

    /* network.renderer, network.<devices>.<id>... */
    bool in_network = depth >= 1 && lf_net_is (st[0].key, st[0].keylen,
                                               "network");
    if (!in_network)
      continue;
    if (depth == 2 && key && lf_net_is (key, keylen, "renderer"))
      snprintf (info->renderer, sizeof info->renderer, "%.*s",
                (int) LF_MIN (vallen, sizeof info->renderer - 1), val);
    if (depth < 3 || !is_device_section (st[1].key, st[1].keylen))
      continue;
    info->configures_nics = true;

    struct lf_net_nic *nic = netplan_nic (info, ids, &st[1], &st[2]);
    if (nic && depth >= 4) {
      const struct level *k = &st[3];
      size_t ni = (size_t) (nic - info->nic);
      if (depth == 4 && !item &&
          (lf_net_is (k->key, k->keylen, "dhcp4") ||
           lf_net_is (k->key, k->keylen, "dhcp6")) && yaml_true (val, vallen))
        dhcp[ni] = true;
      if (lf_net_is (k->key, k->keylen, "addresses") &&
          (item || (vallen && !lf_net_is (val, vallen, "[]"))))
        nic->mode = LF_NETMODE_STATIC;
      if (depth == 4 && !item && (lf_net_is (k->key, k->keylen, "gateway4") ||
                                  lf_net_is (k->key, k->keylen, "gateway6")) &&
          vallen)
        nic->gateway = true;
      if (lf_net_is (k->key, k->keylen, "routes")) {
        /* "- to: default" or "to: 0.0.0.0/0" under an item */
        const char *rk, *rv;
        size_t rkl, rvl;
        if (item ? yaml_kv (val, vallen, &rk, &rkl, &rv, &rvl)
            : (rk = key, rkl = keylen, rv = val, rvl = vallen, key != NULL))
          if (lf_net_is (rk, rkl, "to") && default_route (rv, rvl))
            nic->gateway = true;
      }
      if (lf_net_is (k->key, k->keylen, "match") && depth == 5 && key &&
          lf_net_is (key, keylen, "macaddress"))
        nic->mac_bound = true;
      if (depth == 4 && !item && lf_net_is (k->key, k->keylen, "set-name") &&
          vallen)
        set_name (nic, val, vallen);
    }

    /* Report the static values, with the device they belong to. */
    const struct level *k = &st[depth - 1];
    bool rep = is_reported (k->key, k->keylen) ||
      (depth >= 5 && lf_net_is (st[depth - 2].key, st[depth - 2].keylen,
                                "nameservers")) ||
      lf_net_is (k->key, k->keylen, "nameservers");
    if (rep && vallen) {
      if (info->nvalues == NETCFG_MAX_VALUES) {
        info->dropped++;
        continue;
      }
      struct lf_netplan_value *v = &info->values[info->nvalues++];
      v->line = lineno;
      snprintf (v->device, sizeof v->device, "%.*s",
                (int) LF_MIN (st[2].keylen, sizeof v->device - 1), st[2].key);
      snprintf (v->key, sizeof v->key, "%.*s",
                (int) LF_MIN (k->keylen, sizeof v->key - 1), k->key);
      lf_net_quote (val, vallen, v->val, sizeof v->val);
    }
  }
  for (size_t i = 0; i < info->n; i++)
    if (info->nic[i].mode != LF_NETMODE_STATIC && dhcp[i])
      info->nic[i].mode = LF_NETMODE_DHCP;
  if (info->complex && mentions) {
    info->configures_nics = true;
    /* Not followed: what it says of its NICs is not known. */
    for (size_t i = 0; i < info->n; i++)
      info->nic[i].mode = LF_NETMODE_UNKNOWN;
  }
  else
    info->complex = false;
  return 0;
}

/* ---- the stacks, as a table ---- */

bool
lf_net_has_suffix (const char *s, const char *suffix)
{
  size_t l = strlen (s), sl = strlen (suffix);
  return l >= sl && strcmp (s + l - sl, suffix) == 0;
}

bool
lf_net_is_leftover (const char *name)
{
  static const char *const sfx[] = {
    "~", ".bak", ".orig", ".rej", ".rpmnew", ".rpmsave", ".rpmorig",
    ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".swp", ".tmp",
  };
  for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++)
    if (lf_net_has_suffix (name, sfx[i]))
      return true;
  return name[0] == '.';
}

static bool
not_leftover (const char *name)
{
  return !lf_net_is_leftover (name);
}

static bool
is_yaml (const char *name)
{
  return lf_net_has_suffix (name, ".yaml");
}

static bool
is_ifcfg (const char *name)
{
  return strncmp (name, "ifcfg-", 6) == 0 && not_leftover (name);
}

static bool
is_network_unit (const char *name)
{
  return lf_net_has_suffix (name, ".network");
}

/* Each scanner appends the NICs of one file (a NIC per file but for
 * ifupdown and netplan).
 */
static int
add_fact (struct lf_netfacts *f, enum lf_net_stack s, const char *path,
          const struct lf_net_nic *nic)
{
  if (lf_grow (&f->v, &f->cap, f->n + 1, sizeof *f->v) == -1)
    return -1;
  struct lf_net_fact *v = f->v;
  v[f->n].stack = s;
  snprintf (v[f->n].file, sizeof v[f->n].file, "%s", path);
  v[f->n].nic = *nic;
  f->n++;
  return 0;
}

static int
add_nics (struct lf_netfacts *f, enum lf_net_stack s, const char *path,
          const struct lf_net_nic *nic, size_t n)
{
  for (size_t k = 0; k < n; k++)
    if (add_fact (f, s, path, &nic[k]) == -1)
      return -1;
  return 0;
}

static int
oom (void)
{
  lf_error (ENOMEM, "out of memory");
  return -1;
}

/* The readers: 0, 1 (refused: lf_error set) or -1 (out of memory).  The
 * multi-NIC infos are large: on the heap.
 */
static int
read_ifupdown (enum lf_net_stack s, const char *path, const char *in,
               size_t len, struct lf_netfacts *f)
{
  struct lf_ifupdown_info *i = malloc (sizeof *i);
  int r = !i ? oom () : lf_net_ifupdown_scan (path, in, len, i) == -1 ? 1
    : add_nics (f, s, path, i->nic, i->n);
  free (i);
  return r;
}

static int
read_netplan (enum lf_net_stack s, const char *path, const char *in,
              size_t len, struct lf_netfacts *f)
{
  struct lf_netplan_info *i = malloc (sizeof *i);
  int r = !i ? oom () : lf_netplan_scan (path, in, len, i) == -1 ? 1
    : add_nics (f, s, path, i->nic, i->n);
  free (i);
  return r;
}

static int
read_ifcfg (enum lf_net_stack s, const char *path, const char *in,
            size_t len, struct lf_netfacts *f)
{
  struct lf_ifcfg_info i;
  if (lf_net_ifcfg_scan (s == LF_NET_WICKED ? LF_IFCFG_SUSE : LF_IFCFG_RHEL,
                         path, in, len, &i) == -1)
    return 1;
  return i.loopback ? 0 : add_fact (f, s, path, &i.nic);
}

static int
read_nm (enum lf_net_stack s, const char *path, const char *in, size_t len,
         struct lf_netfacts *f)
{
  struct lf_nm_info i;
  if (lf_net_nm_scan (path, in, len, &i) == -1)
    return 1;
  return add_fact (f, s, path, &i.nic);
}

static int
read_networkd (enum lf_net_stack s, const char *path, const char *in,
               size_t len, struct lf_netfacts *f)
{
  struct lf_networkd_info i;
  if (lf_net_networkd_scan (path, in, len, &i) == -1)
    return 1;
  return i.matches_nic ? add_fact (f, s, path, &i.nic) : 0;
}

static const struct stack {
  const char *name;
  const char *file;             /* one file, or NULL */
  const char *dir;              /* a directory's files, or NULL */
  bool (*keep) (const char *name);
  int (*read) (enum lf_net_stack s, const char *path, const char *in,
               size_t len, struct lf_netfacts *f);
} stacks[LF_NET_NSTACKS] = {
  [LF_NET_IFUPDOWN] = { "ifupdown", "/etc/network/interfaces",
                        "/etc/network/interfaces.d", not_leftover,
                        read_ifupdown },
  [LF_NET_NETPLAN] = { "netplan", NULL, "/etc/netplan", is_yaml,
                       read_netplan },
  [LF_NET_IFCFG] = { "ifcfg", NULL, "/etc/sysconfig/network-scripts",
                     is_ifcfg, read_ifcfg },
  [LF_NET_WICKED] = { "wicked", NULL, "/etc/sysconfig/network", is_ifcfg,
                      read_ifcfg },
  [LF_NET_NM] = { "networkmanager", NULL,
                  "/etc/NetworkManager/system-connections", not_leftover,
                  read_nm },
  [LF_NET_NETWORKD] = { "systemd-networkd", NULL, "/etc/systemd/network",
                        is_network_unit, read_networkd },
};

const char *
lf_net_stack_name (enum lf_net_stack s)
{
  return s < LF_NET_NSTACKS ? stacks[s].name : "?";
}

/* Read and scan PATH: 0 (absent or scanned), 1 (refused), -1 (ENOMEM). */
static int
read_one (struct lf_mounts *ms, enum lf_net_stack s, const char *path,
          struct lf_netfacts *f)
{
  char *buf = NULL;
  size_t len;
  struct lf_stat st;
  int r;

  if (lf_guest_stat_opt (ms, path, &st) != 1 || !S_ISREG (st.mode)) {
    lf_error_clear ();
    return 0;
  }
  if (lf_guest_read (ms, path, NETCFG_MAX_FILE, &buf, &len) == -1)
    r = lf_last_errno () == ENOMEM ? -1 : 1;
  else
    r = stacks[s].read (s, path, buf, len, f);
  free (buf);
  if (r == 1) {
    if (!f->unreadable++)
      snprintf (f->error, sizeof f->error, "%s", lf_last_error ());
    lf_error_clear ();
  }
  return r == -1 ? -1 : 0;
}

int
lf_net_facts_read (struct lf_mounts *ms, struct lf_netfacts *ret)
{
  memset (ret, 0, sizeof *ret);
  ret->primary = SIZE_MAX;
  for (size_t s = 0; s < LF_NET_NSTACKS; s++) {
    const struct stack *d = &stacks[s];
    char **names = NULL;
    if (d->file && read_one (ms, s, d->file, ret) == -1)
      goto oom;
    if (!d->dir)
      continue;
    if (lf_guest_list_opt (ms, d->dir, &names) != 1) {
      lf_error_clear ();
      continue;
    }
    size_t k = 0;
    for (char **nm = names; *nm; nm++, k++) {
      char path[4096];
      if (k >= NETCFG_MAX_FILES || !d->keep (*nm))
        continue;
      snprintf (path, sizeof path, "%s/%s", d->dir, *nm);
      if (read_one (ms, s, path, ret) == -1) {
        lf_free_names (names);
        goto oom;
      }
    }
    lf_free_names (names);
  }
  const struct lf_net_nic **v = calloc (ret->n + 1, sizeof *v);
  if (!v)
    goto oom;
  for (size_t i = 0; i < ret->n; i++)
    v[i] = &ret->v[i].nic;
  ret->primary = lf_net_primary (v, ret->n);
  free (v);
  return 0;
 oom:
  lf_error (ENOMEM, "out of memory");
  lf_net_facts_free (ret);
  return -1;
}

void
lf_net_facts_free (struct lf_netfacts *f)
{
  free (f->v);
  memset (f, 0, sizeof *f);
  f->primary = SIZE_MAX;
}
