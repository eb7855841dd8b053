/* SPDX-License-Identifier: LGPL-2.1-or-later */
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

#include "bootfix/linux/netcfg.h"

#define NETPLAN_DIR "/etc/netplan"

void
lf_netplan_notes (const char *name, const struct lf_netplan_info *info,
                  struct lf_netnotes *notes)
{
  for (size_t i = 0; i < info->nvalues; i++) {
    const struct lf_netplan_value *v = &info->values[i];
    lf_netnotes_add (notes, LF_CHANGED, "%s:%zu: %s: %s %s removed", name,
                     v->line, v->device, v->key, v->val);
  }
  if (info->dropped)
    lf_netnotes_add (notes, LF_CHANGED, "%s: %zu more values removed", name,
                     info->dropped);
  if (info->complex)
    lf_netnotes_add (notes, LF_WARNING, "%s: written in a YAML style landfall "
                     "does not read line by line (flow style, anchors or "
                     "several documents): moved aside whole, check its "
                     "values", name);
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
    snprintf (path, sizeof path, "%s/%s", NETPLAN_DIR, *s);
    int r = lf_net_read (c, path, &buf, &len);
    if (r == -1)
      goto out;
    if (r == 1)
      continue;
    if (lf_netplan_scan (path, buf, len, &info) == -1) {
      if (lf_net_failed (c, path) == -1)
        goto out;
      continue;
    }
    if (info.ours && strcmp (path, NETPLAN_OURS) == 0) {
      ours = true;
      if (renderer_ok (info.renderer))
        snprintf (ours_renderer, sizeof ours_renderer, "%s", info.renderer);
      continue;
    }
    if (!info.configures_nics)
      continue;
    if (renderer_ok (info.renderer))
      snprintf (renderer, sizeof renderer, "%s", info.renderer);
    struct lf_netnotes notes = { 0 };
    lf_netplan_notes (path, &info, &notes);
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
