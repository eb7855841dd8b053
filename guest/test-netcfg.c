/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the network readers (netread.c): per stack, a guest with
 * one static NIC (ens192, holding the default gateway) and one on DHCP
 * (ens224) must read as exactly that, and the one rule must pick ens192
 * over every stack.  The netplan case (both NICs in one file) was
 * reported as "dhcp" by the old inspection's word search.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/netread.h"

#define S(x) x, strlen (x)

static const char netplan_two[] =
  "# This is the network config written by 'subiquity'\n"
  "network:\n"
  "  version: 2\n"
  "  ethernets:\n"
  "    ens192:\n"
  "      addresses:\n"
  "      - 10.1.2.10/24\n"
  "      routes:\n"
  "      - to: default\n"
  "        via: 10.1.2.1\n"
  "      nameservers:\n"
  "        addresses: [10.1.2.53]\n"
  "    ens224:\n"
  "      dhcp4: true\n";

static const char ifupdown_two[] =
  "source /etc/network/interfaces.d/*\n"
  "auto lo\niface lo inet loopback\n\n"
  "auto ens192\niface ens192 inet static\n"
  "    address 10.1.2.10/24\n    gateway 10.1.2.1\n"
  "    hwaddress ether 00:50:56:8a:3c:5e\n\n"
  "allow-hotplug ens224\niface ens224 inet dhcp\n"
  "iface ens224 inet6 auto\n";

static const char ifcfg_static[] =
  "TYPE=Ethernet\nBOOTPROTO=none\nNAME=ens192\nDEVICE=ens192\nONBOOT=yes\n"
  "IPADDR=10.1.2.10\nPREFIX=24\nGATEWAY=10.1.2.1\nHWADDR=00:50:56:8a:3c:5e\n";
static const char ifcfg_dhcp[] =
  "TYPE=Ethernet\nBOOTPROTO=dhcp\nNAME=ens224\nDEVICE=ens224\nONBOOT=yes\n";
static const char wicked_static[] =
  "BOOTPROTO='static'\nSTARTMODE='auto'\nIPADDR='10.1.2.10/24'\n"
  "LLADDR='00:50:56:8a:3c:5e'\n";
static const char wicked_dhcp[] = "BOOTPROTO='dhcp'\nSTARTMODE='auto'\n";
static const char nm_static[] =
  "[connection]\nid=ens192\ntype=ethernet\ninterface-name=ens192\n\n"
  "[ethernet]\nmac-address=00:50:56:8A:3C:5E\n\n"
  "[ipv4]\naddress1=10.1.2.10/24,10.1.2.1\nmethod=manual\n";
static const char nm_dhcp[] =
  "[connection]\nid=ens224\ntype=ethernet\ninterface-name=ens224\n\n"
  "[ipv4]\nmethod=auto\n";
static const char nd_static[] =
  "[Match]\nName=ens192\n\n[Network]\nAddress=10.1.2.10/24\n"
  "Gateway=10.1.2.1\n";
static const char nd_dhcp[] = "[Match]\nName=ens224\n\n[Network]\nDHCP=yes\n";

START_TEST (test_netplan_two_nics)
{
  struct lf_netplan_info *i = malloc (sizeof *i);
  ck_assert_ptr_nonnull (i);
  ck_assert_int_eq (lf_netplan_scan ("/etc/netplan/00-installer-config.yaml",
                                     S (netplan_two), i), 0);
  ck_assert_uint_eq (i->n, 2);
  ck_assert_str_eq (i->nic[0].name, "ens192");
  ck_assert_int_eq (i->nic[0].mode, LF_NETMODE_STATIC);
  ck_assert (i->nic[0].gateway && i->nic[0].candidate);
  ck_assert_str_eq (i->nic[1].name, "ens224");
  ck_assert_int_eq (i->nic[1].mode, LF_NETMODE_DHCP);
  ck_assert (!i->nic[1].gateway);
  const struct lf_net_nic *v[] = { &i->nic[1], &i->nic[0] };
  ck_assert_uint_eq (lf_net_primary (v, 2), 1);

  /* gateway4, set-name and a MAC match. */
  ck_assert_int_eq (lf_netplan_scan ("x.yaml", S ("network:\n  ethernets:\n"
                                     "    nic0:\n      match:\n"
                                     "        macaddress: 00:50:56:00:00:01\n"
                                     "      set-name: ens160\n"
                                     "      addresses: [10.0.0.5/24]\n"
                                     "      gateway4: 10.0.0.1\n"), i), 0);
  ck_assert_uint_eq (i->n, 1);
  ck_assert_str_eq (i->nic[0].name, "ens160");
  ck_assert (i->nic[0].mac_bound && i->nic[0].gateway);
  ck_assert_int_eq (i->nic[0].mode, LF_NETMODE_STATIC);
  /* A bond is not a NIC; flow style is not followed. */
  ck_assert_int_eq (lf_netplan_scan ("b.yaml", S ("network:\n  bonds:\n"
                                     "    bond0:\n      dhcp4: true\n"), i), 0);
  ck_assert (i->n == 1 && !i->nic[0].candidate);
  ck_assert_int_eq (lf_netplan_scan ("f.yaml", S ("network: {ethernets: "
                                     "{ens3: {dhcp4: true}}}\n"), i), 0);
  ck_assert (i->complex && i->configures_nics);
  free (i);
}
END_TEST

START_TEST (test_ifupdown_two_nics)
{
  struct lf_ifupdown_info *i = malloc (sizeof *i);
  ck_assert_ptr_nonnull (i);
  ck_assert_int_eq (lf_net_ifupdown_scan ("/etc/network/interfaces",
                                          S (ifupdown_two), i), 0);
  ck_assert_uint_eq (i->n, 2);
  ck_assert_str_eq (i->nic[0].name, "ens192");
  ck_assert_int_eq (i->nic[0].mode, LF_NETMODE_STATIC);
  ck_assert (i->nic[0].gateway && i->nic[0].mac_bound);
  ck_assert_str_eq (i->nic[1].name, "ens224");
  ck_assert_int_eq (i->nic[1].mode, LF_NETMODE_DHCP);
  /* Bond ports and VLANs are not candidates. */
  ck_assert_int_eq (lf_net_ifupdown_scan ("i", S ("iface ens1 inet manual\n"
                                          "  bond-master bond0\n"
                                          "iface ens1.10 inet dhcp\n"), i), 0);
  ck_assert (i->n == 2 && !i->nic[0].candidate && !i->nic[1].candidate);
  free (i);
}
END_TEST

START_TEST (test_file_per_nic_stacks)
{
  struct lf_ifcfg_info a, b;
  ck_assert_int_eq (lf_net_ifcfg_scan (LF_IFCFG_RHEL, "ifcfg-ens192",
                                       S (ifcfg_static), &a), 0);
  ck_assert_int_eq (lf_net_ifcfg_scan (LF_IFCFG_RHEL, "ifcfg-ens224",
                                       S (ifcfg_dhcp), &b), 0);
  ck_assert_str_eq (a.nic.name, "ens192");
  ck_assert (a.nic.mode == LF_NETMODE_STATIC && a.nic.gateway && a.nic.mac_bound);
  ck_assert (b.nic.mode == LF_NETMODE_DHCP && !b.nic.gateway);

  ck_assert_int_eq (lf_net_ifcfg_scan (LF_IFCFG_SUSE, "/x/ifcfg-ens192",
                                       S (wicked_static), &a), 0);
  ck_assert_int_eq (lf_net_ifcfg_scan (LF_IFCFG_SUSE, "/x/ifcfg-ens224",
                                       S (wicked_dhcp), &b), 0);
  ck_assert_str_eq (a.nic.name, "ens192");
  ck_assert (a.nic.mode == LF_NETMODE_STATIC && a.nic.mac_bound);
  ck_assert (b.nic.mode == LF_NETMODE_DHCP);

  struct lf_nm_info c, d;
  ck_assert_int_eq (lf_net_nm_scan ("ens192.nmconnection", S (nm_static), &c), 0);
  ck_assert_int_eq (lf_net_nm_scan ("ens224.nmconnection", S (nm_dhcp), &d), 0);
  ck_assert_str_eq (c.nic.name, "ens192");
  ck_assert (c.nic.mode == LF_NETMODE_STATIC && c.nic.gateway && c.nic.mac_bound);
  ck_assert (d.nic.mode == LF_NETMODE_DHCP && d.nic.candidate);

  struct lf_networkd_info e, f;
  ck_assert_int_eq (lf_net_networkd_scan ("10-ens192.network", S (nd_static), &e), 0);
  ck_assert_int_eq (lf_net_networkd_scan ("20-ens224.network", S (nd_dhcp), &f), 0);
  ck_assert_str_eq (e.nic.name, "ens192");
  ck_assert (e.nic.mode == LF_NETMODE_STATIC && e.nic.gateway);
  ck_assert_str_eq (f.nic.name, "ens224");
  ck_assert (f.nic.mode == LF_NETMODE_DHCP);
  /* A .link file names a device; it configures none. */
  ck_assert_int_eq (lf_net_networkd_scan ("10-x.link", S ("[Match]\n"
                    "MACAddress=00:50:56:00:00:01\n[Link]\nName=ens192\n"), &e), 0);
  ck_assert (e.link_rename && !e.nic.candidate);
}
END_TEST

START_TEST (test_primary_rule)
{
  struct lf_net_nic a = { .name = "ens224", .mode = LF_NETMODE_DHCP,
                          .candidate = true };
  struct lf_net_nic b = { .name = "ens192", .mode = LF_NETMODE_STATIC,
                          .gateway = true, .candidate = true };
  struct lf_net_nic c = { .name = "eth0", .mode = LF_NETMODE_DHCP,
                          .candidate = true };
  struct lf_net_nic lo = { .name = "bond0", .gateway = true };
  const struct lf_net_nic *v1[] = { &a, &lo, &b };
  ck_assert_uint_eq (lf_net_primary (v1, 3), 2);     /* the gateway */
  const struct lf_net_nic *v2[] = { &a, &b, &c };
  ck_assert_uint_eq (lf_net_primary (v2, 3), 2);     /* eth0 first */
  const struct lf_net_nic *v3[] = { NULL, &a };
  ck_assert_uint_eq (lf_net_primary (v3, 2), 1);     /* else the first */
  struct lf_net_nic any = { .mode = LF_NETMODE_DHCP, .candidate = true };
  const struct lf_net_nic *v5[] = { &b, &any };
  ck_assert_uint_eq (lf_net_primary (v5, 2), 1);     /* it applies to eth0 */
  any.mac_bound = true;
  ck_assert_uint_eq (lf_net_primary (v5, 2), 0);     /* not if MAC-bound */
  const struct lf_net_nic *v4[] = { &lo, NULL };
  ck_assert_uint_eq (lf_net_primary (v4, 2), SIZE_MAX);
}
END_TEST

/* The whole reader over a tree with every stack's two-NIC files. */
static char root[64];

static void
put (const char *path, const char *content)
{
  char p[512], cmd[600];
  snprintf (p, sizeof p, "%s%s", root, path);
  snprintf (cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
  ck_assert_int_eq (system (cmd), 0);
  FILE *fp = fopen (p, "w");
  ck_assert_ptr_nonnull (fp);
  fputs (content, fp);
  fclose (fp);
}

START_TEST (test_facts_per_stack)
{
  static const struct {
    const char *stack;
    const char *f1, *t1, *f2, *t2;
  } g[] = {
    { "ifupdown", "/etc/network/interfaces", ifupdown_two, NULL, NULL },
    { "netplan", "/etc/netplan/00-installer-config.yaml", netplan_two, NULL,
      NULL },
    { "ifcfg", "/etc/sysconfig/network-scripts/ifcfg-ens224", ifcfg_dhcp,
      "/etc/sysconfig/network-scripts/ifcfg-ens192", ifcfg_static },
    { "wicked", "/etc/sysconfig/network/ifcfg-ens224", wicked_dhcp,
      "/etc/sysconfig/network/ifcfg-ens192", wicked_static },
    { "networkmanager", "/etc/NetworkManager/system-connections/a.nmconnection",
      nm_dhcp, "/etc/NetworkManager/system-connections/b.nmconnection",
      nm_static },
    { "systemd-networkd", "/etc/systemd/network/10-ens224.network", nd_dhcp,
      "/etc/systemd/network/20-ens192.network", nd_static },
  };

  for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
    char cmd[200];
    strcpy (root, "/tmp/landfall-net-XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (root));
    put (g[k].f1, g[k].t1);
    if (g[k].f2)
      put (g[k].f2, g[k].t2);
    /* Leftovers are not read. */
    put ("/etc/netplan/old.yaml.bak", "network:\n  ethernets:\n    eth0:\n"
         "      dhcp4: true\n");
    struct lf_fs *fs = lf_fs_open_tree (root, false);
    ck_assert_ptr_nonnull (fs);
    struct lf_mounts ms = { 0 };
    ck_assert_int_eq (lf_mounts_add (&ms, "/", fs), 0);
    struct lf_netfacts nf;
    ck_assert_int_eq (lf_net_facts_read (&ms, &nf), 0);
    ck_assert_msg (nf.n == 2, "%s: %zu NICs", g[k].stack, nf.n);
    ck_assert_uint_ne (nf.primary, SIZE_MAX);
    const struct lf_net_fact *p = &nf.v[nf.primary];
    ck_assert_str_eq (lf_net_stack_name (p->stack), g[k].stack);
    ck_assert_msg (strcmp (p->nic.name, "ens192") == 0 &&
                   p->nic.mode == LF_NETMODE_STATIC, "%s: primary %s %s",
                   g[k].stack, p->nic.name, lf_net_mode_name (p->nic.mode));
    for (size_t i = 0; i < nf.n; i++)
      if (i != nf.primary)
        ck_assert_msg (strcmp (nf.v[i].nic.name, "ens224") == 0 &&
                       nf.v[i].nic.mode == LF_NETMODE_DHCP, "%s: %s %s",
                       g[k].stack, nf.v[i].nic.name,
                       lf_net_mode_name (nf.v[i].nic.mode));
    lf_net_facts_free (&nf);
    lf_mounts_free (&ms);
    lf_fs_close (fs);
    snprintf (cmd, sizeof cmd, "rm -rf %s", root);
    ck_assert_int_eq (system (cmd), 0);
  }
}
END_TEST

START_TEST (test_hostile)
{
  static const char nul[] = "iface eth0 inet dhcp\n\0x";
  struct lf_ifupdown_info *i = malloc (sizeof *i);
  ck_assert_ptr_nonnull (i);
  ck_assert_int_eq (lf_net_ifupdown_scan ("/etc/network/interfaces", nul,
                                          sizeof nul - 1, i), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (),
                                 "/etc/network/interfaces:2: NUL byte"));
  lf_error_clear ();
  /* More interfaces than the limit: the rest are dropped, no overflow. */
  char *s = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&s, &len);
  for (int k = 0; k < NETCFG_MAX_NICS + 10; k++)
    fprintf (fp, "iface e%d inet dhcp\n", k);
  fclose (fp);
  ck_assert_int_eq (lf_net_ifupdown_scan ("i", s, len, i), 0);
  ck_assert_uint_eq (i->n, NETCFG_MAX_NICS);
  free (s);
  free (i);
}
END_TEST

static Suite *
suite (void)
{
  Suite *s = suite_create ("netread");
  TCase *tc = tcase_create ("readers");
  tcase_add_test (tc, test_netplan_two_nics);
  tcase_add_test (tc, test_ifupdown_two_nics);
  tcase_add_test (tc, test_file_per_nic_stacks);
  tcase_add_test (tc, test_primary_rule);
  tcase_add_test (tc, test_facts_per_stack);
  tcase_add_test (tc, test_hostile);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
