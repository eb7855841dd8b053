/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall bootfix/linux: network and agent configuration transforms,
 * grouped by source file.  Only bootfix/linux/ files and their tests
 * include this.
 *
 * Every transform is a pure function: guest file text in, new text (or a
 * verdict: keep, rewrite, move aside) and report notes out.  They never
 * touch the guest; network.c and agents.c read files through the plan,
 * call them and plan the results.  Input is hostile: a file with a NUL
 * byte, a line over NETCFG_MAX_LINE or more than NETCFG_MAX_LINES lines is
 * refused (EINVAL, naming the file and line) and left alone.
 */
#ifndef LF_NETCFG_H
#define LF_NETCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "bootfix/bootfix.h"
#include "guest/netread.h"

#define NETCFG_MAX_NOTES  64            /* report notes from one file */

#define NETCFG_CONCERN "network"

/* Where whole files are moved aside: out of every directory a network
 * tool reads by glob (reference/linux.md §0), and not under the journal's
 * directory.  The original path follows, e.g.
 * /etc/landfall/moved-aside/etc/netplan/00-installer-config.yaml.
 */
#define NETCFG_ASIDE_DIR "/etc/landfall/moved-aside"

/* net-common.c */

struct lf_netnote {
  enum lf_finding what;
  char *msg;
};
struct lf_netnotes {
  size_t n, cap;
  struct lf_netnote *v;
  size_t dropped;               /* over NETCFG_MAX_NOTES */
};
extern void lf_netnotes_add (struct lf_netnotes *ns, enum lf_finding what,
                             const char *fmt, ...) LF_PRINTF (3, 4);
extern void lf_netnotes_free (struct lf_netnotes *ns);
/* Hand every note to the plan (and free them). */
extern void lf_netnotes_flush (struct lf_netnotes *ns, struct lf_plan *p,
                               const char *concern);

/* What a transform decided for one file. */
enum lf_net_action {
  LF_NET_KEEP,                  /* nothing to change */
  LF_NET_REWRITE,               /* write OUT over the file */
  LF_NET_ASIDE,                 /* move the whole file aside */
};
struct lf_netedit {
  enum lf_net_action action;
  char *out;                    /* LF_NET_REWRITE: new content */
  size_t outlen;
  struct lf_netnotes notes;
};
extern void lf_netedit_free (struct lf_netedit *e);

/* A growable output buffer; ENOMEM is sticky and reported at the end. */
struct lf_sbuf {
  char *s;
  size_t len, cap;
  bool oom;
};
extern void lf_sbuf_add (struct lf_sbuf *b, const void *p, size_t n);
extern void lf_sbuf_puts (struct lf_sbuf *b, const char *s);
extern void lf_sbuf_printf (struct lf_sbuf *b, const char *fmt, ...)
  LF_PRINTF (2, 3);
/* Append S before the blank lines that end B (the end of a section). */
extern void lf_sbuf_section_end (struct lf_sbuf *b, const char *s);
/* Hand the buffer out (NUL-terminated) or record ENOMEM and return -1. */
extern int lf_sbuf_finish (struct lf_sbuf *b, char **out, size_t *outlen);

/* network.c: the guest side, shared by the stacks' drivers. */
struct lf_netctx {
  const char *concern;          /* for the plan; NULL: "network" */
  struct lf_plan *p;
  struct lf_os *os;
  unsigned stacks;              /* stacks that configure the NIC */
  bool rhel_ifcfg;              /* ifcfg-eth0 in network-scripts, which
                                   NetworkManager reads too (ifcfg-rh) */
};
/* PATH through the plan.  0: read; 1: absent, or unusable (a finding,
 * left alone); -1: out of memory.
 */
extern int lf_net_read (struct lf_netctx *c, const char *path, char **buf,
                        size_t *len);
/* After a transform failed: -1 if out of memory, else a finding, 0. */
extern int lf_net_failed (struct lf_netctx *c, const char *path);
/* Plan a copy of PATH (content BUF) under NETCFG_ASIDE_DIR and its
 * removal.
 */
extern int lf_net_aside (struct lf_netctx *c, const char *path,
                         const char *buf, size_t len, const char *why);
/* Plan E for PATH (content BUF): notes, then the write or move; frees E. */
extern int lf_net_plan (struct lf_netctx *c, const char *path,
                        const char *buf, size_t len, struct lf_netedit *e,
                        const char *why);
/* Regular files of DIR the plan keeps, sorted, filtered by KEEP (may be
 * NULL); NULL if DIR is absent.  Free with lf_free_names.
 */
extern char **lf_net_list (struct lf_netctx *c, const char *dir,
                           bool (*keep) (const char *name));
/* The files of one directory of a file-per-NIC stack (ifcfg,
 * NetworkManager, networkd), read through the plan and scanned with the
 * stack's reader (guest/netread.h); the primary among them by the one
 * rule.  What every such driver did on its own, once.
 */
struct lf_netdir {
  size_t n;
  char **names;                 /* the files' names, sorted */
  char **paths;                 /* DIR/NAME */
  char **bufs;                  /* NULL: absent, unreadable or refused
                                   (reported) */
  size_t *lens;
  void *info;                   /* N scans of SIZE bytes each */
  size_t size;
  size_t primary;               /* SIZE_MAX: no candidate */
};
/* SCAN fills INFO for PATH and sets *NIC to the NIC it configures if that
 * may be the primary (else NULL).  0, or -1 with an error (the file is
 * then left alone, reported).
 */
typedef int (*lf_net_scan_fn) (struct lf_netctx *c, const char *path,
                               const char *in, size_t len, void *info,
                               const struct lf_net_nic **nic);
/* 0 (D filled; D->n is 0 if DIR is absent), or -1 if out of memory. */
extern int lf_net_dir_read (struct lf_netctx *c, const char *dir,
                            bool (*keep) (const char *name), size_t size,
                            lf_net_scan_fn scan, struct lf_netdir *d);
extern void lf_net_dir_free (struct lf_netdir *d);
/* The scan of file I of D. */
#define LF_NETDIR_INFO(d, i) ((void *) ((char *) (d)->info + (i) * (d)->size))

/* The drivers, one per stack (in net-*.c). */
extern int lf_fix_net_ifupdown (struct lf_netctx *c);
extern int lf_fix_net_netplan (struct lf_netctx *c);
extern int lf_fix_net_nm (struct lf_netctx *c);
extern int lf_fix_net_ifcfg (struct lf_netctx *c);
extern int lf_fix_net_networkd (struct lf_netctx *c);

/* net-ifupdown.c: /etc/network/interfaces and the files it sources.
 *
 * Every stanza of an interface other than lo (iface line and its option
 * lines) is removed, values reported; auto/allow-* lines lose those
 * names.  An "iface eth0 inet dhcp" stanza is kept, minus static or MAC
 * options.  ADD_NIC: append an eth0 DHCP stanza unless one is kept.
 * *HAS_NIC: the result has an eth0 DHCP stanza.  *HAD_IFACES: the input
 * configured some interface other than lo.
 */
extern int lf_net_ifupdown_edit (const char *name, const char *in, size_t len,
                                 bool add_nic, struct lf_netedit *ret,
                                 bool *has_nic, bool *had_ifaces);

/* net-ifcfg.c: shell-variable ifcfg files.
 *
 * RHEL network-scripts (ifcfg-rh) and SUSE sysconfig (wicked) differ in
 * quoting, the start-mode key and the MAC key.
 */
/* The primary NIC's file as eth0's: DHCP, on at boot, addresses,
 * gateways, DNS and MAC bindings removed (reported), other lines kept.
 */
extern int lf_net_ifcfg_edit (enum lf_ifcfg_flavour f, const char *name,
                              const char *in, size_t len,
                              struct lf_netedit *ret);
/* RHEL /etc/sysconfig/network: GATEWAY= dropped, GATEWAYDEV= to eth0. */
extern int lf_net_sysconfig_network_edit (const char *name, const char *in,
                                          size_t len, struct lf_netedit *ret);

/* net-nm.c: NetworkManager keyfiles. */
/* The primary profile: [ipv4]/[ipv6] method=auto without addresses,
 * gateway or DNS; interface-name and MAC bindings removed; autoconnect.
 */
extern int lf_net_nm_edit (const char *name, const char *in, size_t len,
                           struct lf_netedit *ret);

/* net-networkd.c: systemd-networkd .network and .link files. */
/* The primary .network: [Match] Name=eth0 only, [Network] DHCP=yes, no
 * Address=, Gateway=, DNS=, [Address] or [Route] sections.
 */
extern int lf_net_networkd_edit (const char *name, const char *in, size_t len,
                                 struct lf_netedit *ret);

/* net-netplan.c: netplan YAML, read line by line (no YAML parser: block
 * style only; anything else is "too complex" and the file is moved aside
 * whole, which is what the reference asks anyway).
 */
/* The static values and MAC matches INFO (lf_netplan_scan) read from
 * NAME, and a warning if it was too complex to follow, as notes.
 */
extern void lf_netplan_notes (const char *name,
                              const struct lf_netplan_info *info,
                              struct lf_netnotes *notes);
/* Landfall's own file: eth0 on DHCP, RENDERER if not "". */
extern int lf_netplan_ours (const char *renderer, char **out, size_t *outlen);
#define NETPLAN_OURS "/etc/netplan/50-landfall.yaml"

/* agents.c: waagent.conf and cloud-init. */
/* /etc/waagent.conf for a migrated (specialised) VM: provisioning off;
 * the resource disk left to cloud-init if CLOUD_INIT, else formatted by
 * waagent at /mnt/resource (reference/linux.md §8).
 */
extern int lf_waagent_conf_edit (const char *name, const char *in, size_t len,
                                 bool cloud_init, struct lf_netedit *ret);
/* The datasource_list of a cloud-init config file, as written ("[ Azure ]"),
 * into BUF; false if the file has none.
 */
extern bool lf_cloud_init_datasources (const char *in, size_t len, char *buf,
                                       size_t bufsz);

#endif /* LF_NETCFG_H */
