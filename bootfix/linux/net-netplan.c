/* landfall bootfix/linux: netplan, the YAML files in /etc/netplan (reference/linux.md
 * §6).
 *
 * No YAML parser: netplan files are read line by line, block style only,
 * keeping the path of keys by indentation, enough to know whether a file
 * configures devices (ethernets, bonds, bridges, vlans, wifis...), its
 * renderer, and the static values and MAC matches to report.  A file
 * that configures devices is moved aside whole (it names the old NICs,
 * their MACs or static addresses), and landfall's own file, 50-landfall.yaml,
 * puts eth0 on DHCP with the renderer the guest used.  A file in a style
 * this reader does not follow (flow mappings, anchors, several documents)
 * is judged by its words alone: if it mentions a device section it is
 * moved aside too.  Nothing is edited in place, so no YAML is ever half
 * understood and rewritten.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netcfg.h"

#define NETPLAN_DIR "/etc/netplan"
#define NETPLAN_MARKER "# Written by landfall"
#define NETPLAN_DEPTH 16        /* nesting followed; deeper is "complex" */

static const char *const device_sections[] = {
  "ethernets", "bonds", "bridges", "vlans", "wifis", "tunnels", "vrfs",
  "modems", "dummy-devices", "virtual-ethernets", "nm-devices",
};

static bool
is_device_section (const char *s, size_t n)
{
  for (size_t i = 0; i < sizeof device_sections / sizeof device_sections[0]; i++)
    if (n == strlen (device_sections[i]) && memcmp (s, device_sections[i], n) == 0)
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
    if (n == strlen (keys[i]) && memcmp (s, keys[i], n) == 0)
      return true;
  return false;
}

struct level {
  size_t indent;
  const char *key;
  size_t keylen;
};

int
lf_netplan_scan (const char *name, const char *in, size_t len,
                 struct lf_netplan_info *info, struct lf_netnotes *notes)
{
  struct level st[NETPLAN_DEPTH];
  size_t depth = 0, pos = 0, n, lineno = 0;
  const char *line;
  bool complex = false, mentions = false;

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
      complex = true;
    if ((sn >= 3 && memcmp (s, "---", 3) == 0) || s[0] == '{' || s[0] == '&' ||
        s[0] == '*' || s[0] == '?' || s[0] == '!')
      complex = true;

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
    /* key: value (the key unquoted or quoted, no flow). */
    const char *colon = NULL;
    for (size_t i = 0; i < kvn; i++)
      if (kv[i] == ':' && (i + 1 == kvn || kv[i + 1] == ' ')) {
        colon = kv + i;
        break;
      }
    const char *key = NULL, *val = NULL;
    size_t keylen = 0, vallen = 0;
    if (colon && !item) {
      key = kv;
      keylen = (size_t) (colon - kv);
      if (keylen >= 2 && (key[0] == '"' || key[0] == '\'') &&
          key[keylen - 1] == key[0]) {
        key++;
        keylen -= 2;
      }
      val = colon + 1;
      vallen = (size_t) (kv + kvn - val);
      while (vallen && *val == ' ') {
        val++;
        vallen--;
      }
      /* A comment after the value. */
      for (size_t i = 0; i < vallen; i++)
        if (val[i] == '#' && i && val[i - 1] == ' ') {
          vallen = i;
          while (vallen && val[vallen - 1] == ' ')
            vallen--;
          break;
        }
      if (vallen && (val[0] == '{' || val[0] == '&' || val[0] == '*' ||
                     val[0] == '|' || val[0] == '>'))
        complex = true;
      while (depth && st[depth - 1].indent >= indent)
        depth--;
      if (depth == NETPLAN_DEPTH) {
        complex = true;
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
    bool in_network = depth >= 1 && st[0].keylen == 7 &&
      memcmp (st[0].key, "network", 7) == 0;
    if (!in_network)
      continue;
    if (depth == 2 && key && keylen == 8 && memcmp (key, "renderer", 8) == 0)
      snprintf (info->renderer, sizeof info->renderer, "%.*s",
                (int) LF_MIN (vallen, sizeof info->renderer - 1), val);
    if (depth >= 3 && is_device_section (st[1].key, st[1].keylen))
      info->configures_nics = true;
    /* Report the static values, with the device they belong to. */
    if (depth >= 3 && is_device_section (st[1].key, st[1].keylen)) {
      const struct level *k = &st[depth - 1];
      bool rep = is_reported (k->key, k->keylen) ||
        (depth >= 5 && st[depth - 2].keylen == 11 &&
         memcmp (st[depth - 2].key, "nameservers", 11) == 0) ||
        (k->keylen == 11 && memcmp (k->key, "nameservers", 11) == 0);
      if (rep && vallen) {
        char q[256];
        lf_net_quote (val, vallen, q, sizeof q);
        lf_netnotes_add (notes, LF_CHANGED, "%s:%zu: %.*s: %.*s %s removed",
                         name, lineno, (int) st[2].keylen, st[2].key,
                         (int) k->keylen, k->key, q);
      }
    }
  }
  if (complex && mentions) {
    info->configures_nics = true;
    lf_netnotes_add (notes, LF_WARNING, "%s: written in a YAML style landfall "
                     "does not read line by line (flow style, anchors or "
                     "several documents): moved aside whole, check its "
                     "values", name);
  }
  return 0;
}

int
lf_netplan_ours (const char *renderer, char **out, size_t *outlen)
{
  struct lf_sbuf b = { 0 };

  lf_sbuf_printf (&b, "%s: the primary NIC on DHCP on Azure.\n"
                  "# The configuration it replaces is in %s%s.\n"
                  "network:\n  version: 2\n", NETPLAN_MARKER,
                  NETCFG_ASIDE_DIR, NETPLAN_DIR);
  if (renderer && *renderer)
    lf_sbuf_printf (&b, "  renderer: %s\n", renderer);
  lf_sbuf_printf (&b, "  ethernets:\n    %s:\n      match:\n        name: %s\n"
                  "      dhcp4: true\n", NETCFG_NIC, NETCFG_NIC);
  return lf_sbuf_finish (&b, out, outlen);
}

/* The guest's files, through the plan. */

static bool
keep_yaml (const char *name)
{
  return lf_net_has_suffix (name, ".yaml");
}

/* A renderer name safe to write back: letters only. */
static bool
renderer_ok (const char *r)
{
  return *r && strspn (r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen (r);
}

int
lf_fix_net_netplan (struct lf_netctx *c)
{
  char **names = lf_net_list (c, NETPLAN_DIR, keep_yaml);
  char renderer[NETCFG_MAX_NAME] = "", ours_renderer[NETCFG_MAX_NAME] = "";
  bool ours = false, aside = false;
  int ret = -1;

  if (!names)
    return 0;
  for (char **s = names; *s; s++) {
    char path[4096];
    CLEANUP_FREE char *buf = NULL;
    size_t len;
    struct lf_netplan_info info;
    struct lf_netnotes notes = { 0 };
    snprintf (path, sizeof path, "%s/%s", NETPLAN_DIR, *s);
    int r = lf_net_read (c, path, &buf, &len);
    if (r == -1)
      goto out;
    if (r == 1)
      continue;
    if (lf_netplan_scan (path, buf, len, &info, &notes) == -1) {
      lf_netnotes_free (&notes);
      if (lf_net_failed (c, path) == -1)
        goto out;
      continue;
    }
    if (info.ours && strcmp (path, NETPLAN_OURS) == 0) {
      ours = true;
      if (renderer_ok (info.renderer))
        snprintf (ours_renderer, sizeof ours_renderer, "%s", info.renderer);
      lf_netnotes_free (&notes);
      continue;
    }
    if (!info.configures_nics) {
      lf_netnotes_free (&notes);
      continue;
    }
    if (renderer_ok (info.renderer))
      snprintf (renderer, sizeof renderer, "%s", info.renderer);
    lf_netnotes_flush (&notes, c->p, NETCFG_CONCERN);
    if (lf_net_aside (c, path, buf, len, "configured the VMware NICs; "
                      NETPLAN_OURS " puts " NETCFG_NIC " on DHCP") == -1)
      goto out;
    aside = true;
  }
  if (aside || ours) {
    CLEANUP_FREE char *text = NULL;
    size_t textlen;
    if (lf_netplan_ours (*renderer ? renderer : ours_renderer, &text,
                         &textlen) == -1 ||
        lf_plan_write (c->p, NETCFG_CONCERN, NETPLAN_OURS, text, textlen, 0600,
                       NETCFG_NIC " on DHCP") == -1)
      goto out;
    c->stacks++;
  }
  ret = 0;
 out:
  lf_free_names (names);
  return ret;
}
