/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* landfall guest/: the guest's network configuration, read once.
 *
 * One reader per stack (ifupdown, netplan, RHEL ifcfg, SUSE sysconfig as
 * read by wicked, NetworkManager keyfiles, systemd-networkd), described
 * by one table in netread.c, and one rule for the primary NIC.  inspect
 * reports these facts, verify judges them, and bootfix/linux's editors
 * take the same scans for the files they change: none of them parses a
 * network file of its own, so they cannot disagree about which NIC is
 * primary or whether it is static.
 *
 * Input is hostile: a file with a NUL byte, a line over NETCFG_MAX_LINE or
 * more than NETCFG_MAX_LINES lines is refused (EINVAL, naming the file and
 * line).
 */
#ifndef LF_NETREAD_H
#define LF_NETREAD_H

#include <stdbool.h>
#include <stddef.h>

#include "guest/guest.h"

/* Limits: "to stop really stupid stuff" (hivex). */
#define NETCFG_MAX_FILE   (1024 * 1024) /* bytes of one config file */
#define NETCFG_MAX_LINE   8192          /* bytes of one line */
#define NETCFG_MAX_LINES  65536         /* lines of one file */
#define NETCFG_MAX_FILES  512           /* files of one directory */
#define NETCFG_MAX_NAME   64            /* an interface or key name */
#define NETCFG_MAX_NICS   64            /* interfaces of one file */
#define NETCFG_MAX_VALUES 64            /* reported values of one file */

/* The name the primary NIC has on Azure: hv_netvsc has no PCI path, so
 * predictable naming leaves it eth0.
 */
#define NETCFG_NIC "eth0"

/* ---- text primitives ---- */

/* NAME's text must be text: no NUL, lines and line count under the
 * limits.  -1 (EINVAL, "NAME:LINE: ...") otherwise.
 */
extern int lf_net_check_text (const char *name, const char *in, size_t len);
/* Line iteration: *LINE and *N (newline included) of the line at *POS. */
extern bool lf_net_next_line (const char *in, size_t len, size_t *pos,
                              const char **line, size_t *n);
/* The line without leading blanks and its trailing newline/CR/blanks. */
extern void lf_net_trim (const char *line, size_t n, const char **s,
                         size_t *sn);
/* Printable copy of at most 200 bytes of S for a report. */
extern void lf_net_quote (const char *s, size_t n, char *buf, size_t bufsz);
extern bool lf_net_is (const char *s, size_t n, const char *lit);
extern bool lf_net_has_suffix (const char *s, const char *suffix);
/* Backup and packaging leftovers ("~", ".bak", ".rpmnew"...): every
 * network tool skips them.
 */
extern bool lf_net_is_leftover (const char *name);
/* Split S (N bytes) at blanks: at most MAX words. */
extern size_t lf_net_split_words (const char *s, size_t n, const char **w,
                                  size_t *wl, size_t max);

/* One line of an INI-style file (NetworkManager keyfiles, systemd-networkd
 * units), pointing into the caller's text.
 */
struct lf_iniline {
  bool section;                 /* a [section] header */
  const char *name;             /* the section's or the key's name */
  size_t namelen;
  const char *val;
  size_t vallen;
};
/* Parse one line; false for blanks, comments and anything else. */
extern bool lf_net_parse_ini (const char *line, size_t n,
                              struct lf_iniline *l);

/* A KEY=value line of a shell-variable file: the value without quotes. */
struct lf_shline {
  const char *key;
  size_t keylen;
  const char *val;
  size_t vallen;
  char quote;                   /* '"', '\'' or 0 */
};
extern bool lf_net_parse_shline (const char *line, size_t n,
                                 struct lf_shline *l);
extern bool lf_shline_key_is (const struct lf_shline *l, const char *k);
/* KEY, or KEY followed by digits or _suffix (IPADDR0, IPADDR_1). */
extern bool lf_shline_key_family (const struct lf_shline *l, const char *k);
extern bool lf_shline_val_is (const struct lf_shline *l, const char *v);

/* ---- what a stack says about one interface ---- */

enum lf_net_mode {
  LF_NETMODE_UNKNOWN,           /* neither addresses nor DHCP */
  LF_NETMODE_DHCP,
  LF_NETMODE_STATIC,            /* addresses set: on Azure, none come */
  LF_NETMODE_MANUAL,            /* up without addresses (ifupdown manual) */
};
extern const char *lf_net_mode_name (enum lf_net_mode m);

struct lf_net_nic {
  char name[NETCFG_MAX_NAME];   /* the interface; "" if bound to none */
  enum lf_net_mode mode;
  bool gateway;                 /* it holds a default gateway */
  bool mac_bound;               /* matched or renamed by MAC */
  bool candidate;               /* a plain NIC: not lo, no bond/bridge
                                   port, not virtual */
};

/* THE rule for the primary NIC, over every stack and every consumer:
 * among the candidates of V (NULL entries skipped), the first that applies
 * to eth0 (what Azure's NIC is called: named so, or bound to no name and
 * no MAC, so a guest already fixed stays as it is), else the first
 * holding a default gateway (the way the machine was reached), else the
 * first.  SIZE_MAX if there is no candidate.
 */
extern size_t lf_net_primary (const struct lf_net_nic *const *v, size_t n);

/* ---- the stacks' scanners (pure: text in, facts out) ---- */

/* ifupdown: /etc/network/interfaces and the files it sources.  A stanza
 * starts with one of these keywords at the start of a line.
 */
extern bool lf_ifupdown_is_stanza_keyword (const char *w, size_t wl);
struct lf_ifupdown_info {
  size_t n;
  struct lf_net_nic nic[NETCFG_MAX_NICS];   /* "iface" stanzas but lo */
};
extern int lf_net_ifupdown_scan (const char *name, const char *in, size_t len,
                                 struct lf_ifupdown_info *ret);

/* ifcfg: RHEL network-scripts (ifcfg-rh) and SUSE sysconfig (wicked)
 * differ in quoting, the start-mode key and the MAC key.
 */
enum lf_ifcfg_flavour { LF_IFCFG_RHEL, LF_IFCFG_SUSE };
struct lf_ifcfg_info {
  struct lf_net_nic nic;
  char device[NETCFG_MAX_NAME]; /* DEVICE=, else from the file name */
  bool loopback;
  bool ethernet;                /* a plain NIC (not bridge/bond/vlan...) */
  bool is_static;               /* IPADDR* or BOOTPROTO static/none */
  bool has_gateway;
  bool slave;                   /* MASTER= or BRIDGE= */
};
/* The value of KEY in an ifcfg text (the last assignment wins) into BUF. */
extern bool lf_ifcfg_get (const char *in, size_t len, const char *key,
                          char *buf, size_t bufsz);
extern int lf_net_ifcfg_scan (enum lf_ifcfg_flavour f, const char *name,
                              const char *in, size_t len,
                              struct lf_ifcfg_info *ret);

/* NetworkManager keyfiles. */
enum lf_nm_sect { LF_NM_OTHER, LF_NM_CONNECTION, LF_NM_ETHERNET, LF_NM_IPV4,
                  LF_NM_IPV6 };
extern enum lf_nm_sect lf_nm_section_of (const struct lf_iniline *l);
struct lf_nm_info {
  struct lf_net_nic nic;
  bool ethernet;                /* type=ethernet / 802-3-ethernet */
  bool is_static;               /* method=manual or addresses */
  bool mac_bound;               /* mac-address= */
  bool has_gateway;
  char iface[NETCFG_MAX_NAME];  /* interface-name=, or "" */
  char type[NETCFG_MAX_NAME];
};
extern int lf_net_nm_scan (const char *name, const char *in, size_t len,
                           struct lf_nm_info *ret);

/* systemd-networkd .network and .link files. */
enum lf_networkd_sect { LF_ND_OTHER, LF_ND_MATCH, LF_ND_NETWORK, LF_ND_LINK,
                        LF_ND_STATIC };
extern enum lf_networkd_sect lf_networkd_section_of (const struct lf_iniline *l);
/* A [Match] key that binds the file to a device (name, MAC, path...). */
extern bool lf_networkd_is_match_binding (const struct lf_iniline *l);
struct lf_networkd_info {
  struct lf_net_nic nic;
  bool matches_nic;             /* [Match] names a NIC (not lo, not virtual) */
  bool is_static;               /* Address=, Gateway=, [Address], [Route] */
  bool mac_bound;               /* [Match] MACAddress= / PermanentMACAddress= */
  bool has_gateway;
  bool link_rename;             /* .link: [Link] Name= with a MAC match */
};
extern int lf_net_networkd_scan (const char *name, const char *in, size_t len,
                                 struct lf_networkd_info *ret);

/* netplan YAML, read line by line (no YAML parser: block style only; a
 * file in another style that mentions a device section is "complex").
 */
#define NETPLAN_MARKER "# Written by landfall"
struct lf_netplan_value {       /* a static value or MAC match, for reports */
  size_t line;
  char device[NETCFG_MAX_NAME];
  char key[NETCFG_MAX_NAME];
  char val[256];                /* printable (lf_net_quote) */
};
struct lf_netplan_info {
  bool ours;                    /* written by landfall */
  bool configures_nics;         /* ethernets/bonds/bridges/vlans/wifis... */
  bool complex;                 /* a style not read line by line */
  char renderer[NETCFG_MAX_NAME];  /* network: renderer:, or "" */
  size_t n;                     /* ethernets */
  struct lf_net_nic nic[NETCFG_MAX_NICS];
  size_t nvalues, dropped;
  struct lf_netplan_value values[NETCFG_MAX_VALUES];
};
extern int lf_netplan_scan (const char *name, const char *in, size_t len,
                            struct lf_netplan_info *info);

/* ---- the guest's network, every stack ---- */

enum lf_net_stack { LF_NET_IFUPDOWN, LF_NET_NETPLAN, LF_NET_IFCFG,
                    LF_NET_WICKED, LF_NET_NM, LF_NET_NETWORKD, LF_NET_NSTACKS };
/* "ifupdown", "netplan", "ifcfg", "wicked", "networkmanager",
 * "systemd-networkd".
 */
extern const char *lf_net_stack_name (enum lf_net_stack s);

struct lf_net_fact {
  enum lf_net_stack stack;
  char file[512];
  struct lf_net_nic nic;
};
struct lf_netfacts {
  size_t n, cap;
  struct lf_net_fact *v;
  size_t primary;               /* by lf_net_primary; SIZE_MAX: none */
  size_t unreadable;            /* files refused (hostile or unreadable) */
  char error[512];              /* the first of them, for reports */
};
/* Every stack's files in MS.  -1 only when out of memory. */
extern int lf_net_facts_read (struct lf_mounts *ms, struct lf_netfacts *ret);
extern void lf_net_facts_free (struct lf_netfacts *f);

#endif /* LF_NETREAD_H */
