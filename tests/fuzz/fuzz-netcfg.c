/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall fuzz target: the network and agent config transforms
 * (bootfix/linux/net-*.c, agents.c) and the readers they scan with
 * (guest/netread.c).  Every parser sees the same bytes;
 * each result must be text of bounded size, and transforming it again
 * must be stable (idempotence) wherever the first pass succeeded.
 */
#include <stdlib.h>
#include <string.h>

#include "bootfix/linux/netcfg.h"
#include "tests/fuzz/fuzz-buffer.h"

static void
again (int (*edit) (const char *, const char *, size_t, struct lf_netedit *),
       struct lf_netedit *e)
{
  struct lf_netedit e2;
  if (e->action == LF_NET_REWRITE && edit ("again", e->out, e->outlen, &e2) == 0) {
    if (e2.action != LF_NET_KEEP)
      abort ();                 /* not idempotent */
    lf_netedit_free (&e2);
  }
  lf_error_clear ();
}

static int
ifcfg_rhel (const char *n, const char *in, size_t len, struct lf_netedit *e)
{
  return lf_net_ifcfg_edit (LF_IFCFG_RHEL, n, in, len, e);
}

static int
ifcfg_suse (const char *n, const char *in, size_t len, struct lf_netedit *e)
{
  return lf_net_ifcfg_edit (LF_IFCFG_SUSE, n, in, len, e);
}

static void
fuzz_one (const char *data, size_t size)
{
  struct lf_netedit e;
  bool has, had;
  struct lf_ifcfg_info ii;
  struct lf_nm_info ni;
  struct lf_networkd_info di;
  struct lf_netplan_info pi;
  struct lf_netnotes notes = { 0 };
  char buf[256];
  int (*const edits[]) (const char *, const char *, size_t,
                        struct lf_netedit *) = {
    ifcfg_rhel, ifcfg_suse, lf_net_nm_edit, lf_net_networkd_edit,
    lf_net_sysconfig_network_edit,
  };

  if (lf_net_ifupdown_edit ("f", data, size, true, &e, &has, &had) == 0) {
    if (e.action == LF_NET_REWRITE) {
      struct lf_netedit e2;
      if (lf_net_ifupdown_edit ("f", e.out, e.outlen, true, &e2, &has, &had) == 0) {
        if (e2.action != LF_NET_KEEP)
          abort ();
        lf_netedit_free (&e2);
      }
    }
    lf_netedit_free (&e);
  }
  for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
    if (edits[i] ("f", data, size, &e) == 0) {
      again (edits[i], &e);
      lf_netedit_free (&e);
    }
  (void) lf_net_ifcfg_scan (LF_IFCFG_RHEL, "ifcfg-x", data, size, &ii);
  (void) lf_net_ifcfg_scan (LF_IFCFG_SUSE, "ifcfg-x", data, size, &ii);
  (void) lf_net_nm_scan ("f", data, size, &ni);
  (void) lf_net_networkd_scan ("f", data, size, &di);
  if (lf_netplan_scan ("f", data, size, &pi) == 0)
    lf_netplan_notes ("f", &pi, &notes);
  {
    struct lf_ifupdown_info ui;
    (void) lf_net_ifupdown_scan ("f", data, size, &ui);
    /* The rule over whatever the scanners made of it. */
    const struct lf_net_nic *v[] = { &ii.nic, &ni.nic, &di.nic, &ui.nic[0] };
    size_t p = lf_net_primary (v, 4);
    if (p != SIZE_MAX && (p >= 4 || !v[p]->candidate))
      abort ();
  }
  lf_netnotes_free (&notes);
  if (lf_waagent_conf_edit ("f", data, size, size & 1, &e) == 0)
    lf_netedit_free (&e);
  (void) lf_cloud_init_datasources (data, size, buf, sizeof buf);
  lf_error_clear ();
}
