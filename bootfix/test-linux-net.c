/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the network and agent transforms (bootfix/linux/net-*.c,
 * agents.c): per stack, realistic input, the exact output, idempotence
 * and hostile input; then the whole concern on a mounted-tree guest.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootfix/bootfix.h"
#include "bootfix/linux/netcfg.h"

/* Does some note contain NEEDLE? */
static bool
has_note (const struct lf_netnotes *ns, const char *needle)
{
  for (size_t i = 0; i < ns->n; i++)
    if (strstr (ns->v[i].msg, needle))
      return true;
  return false;
}

#define S(lit) (lit), (sizeof (lit) - 1)

/* ---- ifupdown ---- */

static const char debian_in[] =
  "# This file describes the network interfaces available on your system\n"
  "# and how to activate them. For more information, see interfaces(5).\n"
  "\n"
  "source /etc/network/interfaces.d/*\n"
  "\n"
  "# The loopback network interface\n"
  "auto lo\n"
  "iface lo inet loopback\n"
  "\n"
  "# The primary network interface\n"
  "allow-hotplug ens192\n"
  "iface ens192 inet static\n"
  "\taddress 10.0.0.5/24\n"
  "\tgateway 10.0.0.1\n"
  "\t# dns-* options are implemented by the resolvconf package, if installed\n"
  "\tdns-nameservers 10.0.0.2 10.0.0.3\n"
  "\tdns-search corp.example\n"
  "\n"
  "auto ens224\n"
  "iface ens224 inet static\n"
  "    address 192.168.50.5\n"
  "    netmask 255.255.255.0\n";

static const char debian_out[] =
  "# This file describes the network interfaces available on your system\n"
  "# and how to activate them. For more information, see interfaces(5).\n"
  "\n"
  "source /etc/network/interfaces.d/*\n"
  "\n"
  "# The loopback network interface\n"
  "auto lo\n"
  "iface lo inet loopback\n"
  "\n"
  "# The primary network interface\n"
  "allow-hotplug eth0\n"
  "iface eth0 inet dhcp\n"
  "\t# dns-* options are implemented by the resolvconf package, if installed\n"
  "\n";

START_TEST (test_ifupdown_debian)
{
  struct lf_netedit e;
  bool has, had;

  ck_assert_int_eq (lf_net_ifupdown_edit ("/etc/network/interfaces",
                                          S (debian_in), true, &e, &has, &had), 0);
  ck_assert_int_eq (e.action, LF_NET_REWRITE);
  ck_assert_str_eq (e.out, debian_out);
  ck_assert (has && had);
  ck_assert (has_note (&e.notes, "\"address 10.0.0.5/24\" removed"));
  ck_assert (has_note (&e.notes, "\"gateway 10.0.0.1\" removed"));
  ck_assert (has_note (&e.notes, "dns-nameservers 10.0.0.2 10.0.0.3"));
  ck_assert (has_note (&e.notes, "address 192.168.50.5"));
  ck_assert (has_note (&e.notes, "interfaces:12: \"iface ens192 inet static\""));

  /* Idempotent. */
  struct lf_netedit e2;
  ck_assert_int_eq (lf_net_ifupdown_edit ("i", e.out, e.outlen, true, &e2,
                                          &has, &had), 0);
  ck_assert_int_eq (e2.action, LF_NET_KEEP);
  ck_assert (has);
  lf_netedit_free (&e2);
  lf_netedit_free (&e);
}
END_TEST

START_TEST (test_ifupdown_eth0_kept)
{
  static const char in[] =
    "auto lo\niface lo inet loopback\n"
    "iface eth0 inet dhcp\n  hwaddress ether 00:50:56:aa:bb:cc\n  mtu 1500\n";
  struct lf_netedit e;
  bool has, had;

  ck_assert_int_eq (lf_net_ifupdown_edit ("x", S (in), true, &e, &has, &had), 0);
  ck_assert_int_eq (e.action, LF_NET_REWRITE);
  ck_assert_str_eq (e.out, "auto lo\niface lo inet loopback\n"
                    "allow-hotplug eth0\niface eth0 inet dhcp\n  mtu 1500\n");
  ck_assert (has_note (&e.notes, "hwaddress ether 00:50:56:aa:bb:cc"));
  lf_netedit_free (&e);

  /* Only lo: nothing to do, nothing added unless asked. */
  ck_assert_int_eq (lf_net_ifupdown_edit ("x", S ("auto lo\niface lo inet loopback"),
                                          false, &e, &has, &had), 0);
  ck_assert_int_eq (e.action, LF_NET_KEEP);
  ck_assert (!had && !has);
  lf_netedit_free (&e);
}
END_TEST

/* ---- RHEL ifcfg ---- */

static const char rhel_in[] =
  "TYPE=Ethernet\n"
  "PROXY_METHOD=none\n"
  "BROWSER_ONLY=no\n"
  "BOOTPROTO=none\n"
  "DEFROUTE=yes\n"
  "IPV4_FAILURE_FATAL=no\n"
  "IPV6INIT=no\n"
  "NAME=ens192\n"
  "UUID=5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03\n"
  "DEVICE=ens192\n"
  "ONBOOT=yes\n"
  "IPADDR=10.0.0.5\n"
  "PREFIX=24\n"
  "GATEWAY=10.0.0.1\n"
  "DNS1=10.0.0.2\n"
  "DNS2=10.0.0.3\n"
  "DOMAIN=corp.example\n"
  "HWADDR=00:50:56:8A:3C:5E\n";

static const char rhel_out[] =
  "TYPE=Ethernet\n"
  "PROXY_METHOD=none\n"
  "BROWSER_ONLY=no\n"
  "BOOTPROTO=dhcp\n"
  "DEFROUTE=yes\n"
  "IPV4_FAILURE_FATAL=no\n"
  "IPV6INIT=no\n"
  "NAME=eth0\n"
  "UUID=5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03\n"
  "DEVICE=eth0\n"
  "ONBOOT=yes\n"
  "DOMAIN=corp.example\n";

START_TEST (test_ifcfg_rhel)
{
  struct lf_ifcfg_info info;
  struct lf_netedit e, e2;
  const char *name = "/etc/sysconfig/network-scripts/ifcfg-ens192";

  ck_assert_int_eq (lf_net_ifcfg_scan (LF_IFCFG_RHEL, name, S (rhel_in), &info), 0);
  ck_assert_str_eq (info.device, "ens192");
  ck_assert (info.ethernet && info.is_static && info.has_gateway && !info.slave);
  ck_assert_int_eq (lf_net_ifcfg_edit (LF_IFCFG_RHEL, name, S (rhel_in), &e), 0);
  ck_assert_int_eq (e.action, LF_NET_REWRITE);
  ck_assert_str_eq (e.out, rhel_out);
  ck_assert (has_note (&e.notes, "IPADDR=10.0.0.5 removed"));
  ck_assert (has_note (&e.notes, "GATEWAY=10.0.0.1 removed"));
  ck_assert (has_note (&e.notes, "DNS2=10.0.0.3 removed"));
  ck_assert (has_note (&e.notes, "HWADDR=00:50:56:8A:3C:5E removed"));
  ck_assert (has_note (&e.notes, "BOOTPROTO: none -> dhcp"));
  ck_assert_int_eq (lf_net_ifcfg_edit (LF_IFCFG_RHEL, name, e.out, e.outlen, &e2), 0);
  ck_assert_int_eq (e2.action, LF_NET_KEEP);
  lf_netedit_free (&e2);
  lf_netedit_free (&e);

  /* Quoted values keep their quotes; missing keys are added. */
  ck_assert_int_eq (lf_net_ifcfg_edit (LF_IFCFG_RHEL, "ifcfg-x",
                                       S ("BOOTPROTO=\"static\"\nIPADDR=\"1.2.3.4\""),
                                       &e), 0);
  ck_assert_str_eq (e.out, "BOOTPROTO=\"dhcp\"\nDEVICE=eth0\nONBOOT=yes\n");
  lf_netedit_free (&e);

  /* A bridge port is not a primary NIC candidate. */
  ck_assert_int_eq (lf_net_ifcfg_scan (LF_IFCFG_RHEL, "ifcfg-ens224",
                                       S ("DEVICE=ens224\nBRIDGE=br0\n"), &info), 0);
  ck_assert (info.slave);
  ck_assert_int_eq (lf_net_ifcfg_scan (LF_IFCFG_RHEL, "ifcfg-bond0",
                                       S ("DEVICE=bond0\nTYPE=Bond\n"), &info), 0);
  ck_assert (!info.ethernet);
}
END_TEST

START_TEST (test_sysconfig_network)
{
  struct lf_netedit e;
  ck_assert_int_eq (lf_net_sysconfig_network_edit
                    ("/etc/sysconfig/network",
                     S ("NETWORKING=yes\nHOSTNAME=web01\nGATEWAY=10.0.0.1\n"
                        "GATEWAYDEV=ens192\n"), &e), 0);
  ck_assert_str_eq (e.out, "NETWORKING=yes\nHOSTNAME=web01\nGATEWAYDEV=eth0\n");
  lf_netedit_free (&e);
}
END_TEST

/* ---- SUSE ifcfg ---- */

static const char suse_in[] =
  "BOOTPROTO='static'\n"
  "BROADCAST=''\n"
  "ETHTOOL_OPTIONS=''\n"
  "IPADDR='10.0.0.5/24'\n"
  "MTU=''\n"
  "NAME='VMXNET3 Ethernet Controller'\n"
  "NETWORK=''\n"
  "REMOTE_IPADDR=''\n"
  "STARTMODE='hotplug'\n"
  "LLADDR='00:50:56:8a:3c:5e'\n"
  "IPADDR_1='10.0.0.6'\n"
  "LABEL_1='web'\n";

static const char suse_out[] =
  "BOOTPROTO='dhcp'\n"
  "ETHTOOL_OPTIONS=''\n"
  "MTU=''\n"
  "NAME='VMXNET3 Ethernet Controller'\n"
  "STARTMODE='auto'\n";

START_TEST (test_ifcfg_suse)
{
  struct lf_ifcfg_info info;
  struct lf_netedit e, e2;
  const char *name = "/etc/sysconfig/network/ifcfg-eth0";

  ck_assert_int_eq (lf_net_ifcfg_scan (LF_IFCFG_SUSE, name, S (suse_in), &info), 0);
  ck_assert_str_eq (info.device, "eth0");
  ck_assert (info.ethernet && info.is_static);
  ck_assert_int_eq (lf_net_ifcfg_edit (LF_IFCFG_SUSE, name, S (suse_in), &e), 0);
  ck_assert_str_eq (e.out, suse_out);
  ck_assert (has_note (&e.notes, "IPADDR=10.0.0.5/24 removed"));
  ck_assert (has_note (&e.notes, "LLADDR=00:50:56:8a:3c:5e removed"));
  ck_assert (has_note (&e.notes, "STARTMODE: hotplug -> auto"));
  ck_assert_int_eq (lf_net_ifcfg_edit (LF_IFCFG_SUSE, name, e.out, e.outlen, &e2), 0);
  ck_assert_int_eq (e2.action, LF_NET_KEEP);
  lf_netedit_free (&e2);
  lf_netedit_free (&e);
  ck_assert_int_eq (lf_net_ifcfg_scan (LF_IFCFG_SUSE, "ifcfg-br0",
                                       S ("BRIDGE='yes'\nBRIDGE_PORTS='eth0'\n"),
                                       &info), 0);
  ck_assert (!info.ethernet);
}
END_TEST

/* ---- NetworkManager keyfile ---- */

static const char nm_in[] =
  "[connection]\n"
  "id=ens192\n"
  "uuid=9c4a2b6e-0f6c-4e8e-9a1d-5d4c3b2a1f00\n"
  "type=ethernet\n"
  "autoconnect-priority=-999\n"
  "interface-name=ens192\n"
  "\n"
  "[ethernet]\n"
  "mac-address=00:50:56:8A:3C:5E\n"
  "\n"
  "[ipv4]\n"
  "address1=10.0.0.5/24,10.0.0.1\n"
  "dns=10.0.0.2;10.0.0.3;\n"
  "dns-search=corp.example;\n"
  "method=manual\n"
  "\n"
  "[ipv6]\n"
  "addr-gen-mode=eui64\n"
  "method=auto\n"
  "\n"
  "[proxy]\n";

static const char nm_out[] =
  "[connection]\n"
  "id=ens192\n"
  "uuid=9c4a2b6e-0f6c-4e8e-9a1d-5d4c3b2a1f00\n"
  "type=ethernet\n"
  "autoconnect-priority=-999\n"
  "\n"
  "[ethernet]\n"
  "\n"
  "[ipv4]\n"
  "dns-search=corp.example;\n"
  "method=auto\n"
  "\n"
  "[ipv6]\n"
  "addr-gen-mode=eui64\n"
  "method=auto\n"
  "\n"
  "[proxy]\n";

START_TEST (test_nm_keyfile)
{
  struct lf_nm_info info;
  struct lf_netedit e, e2;
  const char *name = "/etc/NetworkManager/system-connections/ens192.nmconnection";

  ck_assert_int_eq (lf_net_nm_scan (name, S (nm_in), &info), 0);
  ck_assert (info.ethernet && info.is_static && info.mac_bound && info.has_gateway);
  ck_assert_str_eq (info.iface, "ens192");
  ck_assert_int_eq (lf_net_nm_edit (name, S (nm_in), &e), 0);
  ck_assert_str_eq (e.out, nm_out);
  ck_assert (has_note (&e.notes, "address1=10.0.0.5/24,10.0.0.1 removed"));
  ck_assert (has_note (&e.notes, "interface-name=ens192 removed"));
  ck_assert (has_note (&e.notes, "mac-address=00:50:56:8A:3C:5E removed"));
  ck_assert (has_note (&e.notes, "[ipv4] method: manual -> auto"));
  ck_assert_int_eq (lf_net_nm_edit (name, e.out, e.outlen, &e2), 0);
  ck_assert_int_eq (e2.action, LF_NET_KEEP);
  lf_netedit_free (&e2);
  lf_netedit_free (&e);

  /* No [ipv4] at all: added. */
  ck_assert_int_eq (lf_net_nm_edit ("x", S ("[connection]\ntype=ethernet"), &e), 0);
  ck_assert_str_eq (e.out, "[connection]\ntype=ethernet\n\n[ipv4]\nmethod=auto\n");
  lf_netedit_free (&e);
  /* A bond port is not a candidate. */
  ck_assert_int_eq (lf_net_nm_scan ("x", S ("[connection]\ntype=ethernet\n"
                                            "master=bond0\n"), &info), 0);
  ck_assert (!info.ethernet);
}
END_TEST

/* ---- systemd-networkd ---- */

static const char networkd_in[] =
  "[Match]\n"
  "MACAddress=00:50:56:8a:3c:5e\n"
  "\n"
  "[Network]\n"
  "Address=10.0.0.5/24\n"
  "Gateway=10.0.0.1\n"
  "DNS=10.0.0.2\n"
  "Domains=corp.example\n"
  "\n"
  "[Route]\n"
  "Destination=172.16.0.0/12\n"
  "Gateway=10.0.0.254\n"
  "\n"
  "[Link]\n"
  "MTUBytes=1500\n";

static const char networkd_out[] =
  "[Match]\n"
  "Name=eth0\n"
  "\n"
  "[Network]\n"
  "Domains=corp.example\n"
  "DHCP=yes\n"
  "\n"
  "[Link]\n"
  "MTUBytes=1500\n";

START_TEST (test_networkd)
{
  struct lf_networkd_info info;
  struct lf_netedit e, e2;
  const char *name = "/etc/systemd/network/10-ens192.network";

  ck_assert_int_eq (lf_net_networkd_scan (name, S (networkd_in), &info), 0);
  ck_assert (info.matches_nic && info.is_static && info.mac_bound &&
             info.has_gateway && !info.link_rename);
  ck_assert_int_eq (lf_net_networkd_edit (name, S (networkd_in), &e), 0);
  ck_assert_str_eq (e.out, networkd_out);
  ck_assert (has_note (&e.notes, "MACAddress=00:50:56:8a:3c:5e removed"));
  ck_assert (has_note (&e.notes, "Address=10.0.0.5/24 removed"));
  ck_assert (has_note (&e.notes, "[Route] section removed"));
  ck_assert_int_eq (lf_net_networkd_edit (name, e.out, e.outlen, &e2), 0);
  ck_assert_int_eq (e2.action, LF_NET_KEEP);
  lf_netedit_free (&e2);
  lf_netedit_free (&e);

  ck_assert_int_eq (lf_net_networkd_scan ("10-lan.link",
                                          S ("[Match]\nMACAddress=00:50:56:8a:3c:5e\n"
                                             "[Link]\nName=lan0\n"), &info), 0);
  ck_assert (info.link_rename);
  ck_assert_int_eq (lf_net_networkd_scan ("lo.network",
                                          S ("[Match]\nName=lo\n"), &info), 0);
  ck_assert (!info.matches_nic);
}
END_TEST

/* ---- netplan ---- */

static const char netplan_in[] =
  "# This is the network config written by 'subiquity'\n"
  "network:\n"
  "  ethernets:\n"
  "    ens160:\n"
  "      match:\n"
  "        macaddress: 00:50:56:8a:3c:5e\n"
  "      set-name: ens160\n"
  "      addresses:\n"
  "      - 10.0.0.5/24\n"
  "      routes:\n"
  "      - to: default\n"
  "        via: 10.0.0.1\n"
  "      nameservers:\n"
  "        addresses:\n"
  "        - 10.0.0.2\n"
  "        - 10.0.0.3\n"
  "        search: [corp.example]\n"
  "  renderer: networkd\n"
  "  version: 2\n";

/* The reader (guest/netread.c) and the notes the fix makes of it. */
static int
netplan_scan (const char *name, const char *in, size_t len,
              struct lf_netplan_info *info, struct lf_netnotes *notes)
{
  if (lf_netplan_scan (name, in, len, info) == -1)
    return -1;
  lf_netplan_notes (name, info, notes);
  return 0;
}

START_TEST (test_netplan)
{
  struct lf_netplan_info info;
  struct lf_netnotes notes = { 0 };
  char *out = NULL;
  size_t outlen;

  ck_assert_int_eq (netplan_scan ("/etc/netplan/00-installer-config.yaml",
                                     S (netplan_in), &info, &notes), 0);
  ck_assert (info.configures_nics && !info.ours);
  ck_assert_str_eq (info.renderer, "networkd");
  ck_assert (has_note (&notes, "ens160: macaddress 00:50:56:8a:3c:5e"));
  ck_assert (has_note (&notes, "ens160: addresses 10.0.0.5/24"));
  ck_assert (has_note (&notes, "ens160: via 10.0.0.1"));
  ck_assert (has_note (&notes, "ens160: addresses 10.0.0.3"));
  ck_assert (has_note (&notes, "ens160: search [corp.example]"));
  lf_netnotes_free (&notes);

  ck_assert_int_eq (lf_netplan_ours ("networkd", &out, &outlen), 0);
  ck_assert_ptr_nonnull (strstr (out, "  renderer: networkd\n  ethernets:\n"
                                 "    eth0:\n      match:\n        name: eth0\n"
                                 "      dhcp4: true\n"));
  ck_assert_int_eq (netplan_scan (NETPLAN_OURS, out, outlen, &info, &notes), 0);
  ck_assert (info.ours && info.configures_nics);
  ck_assert_str_eq (info.renderer, "networkd");
  lf_netnotes_free (&notes);
  free (out);

  /* A renderer-only file configures nothing. */
  ck_assert_int_eq (netplan_scan ("01-network-manager-all.yaml",
                                     S ("network:\n  version: 2\n  renderer: NetworkManager\n"),
                                     &info, &notes), 0);
  ck_assert (!info.configures_nics);
  ck_assert_str_eq (info.renderer, "NetworkManager");
  /* Flow style: judged by its words. */
  ck_assert_int_eq (netplan_scan ("f.yaml",
                                     S ("network: {version: 2, ethernets: {ens3: {dhcp4: true}}}\n"),
                                     &info, &notes), 0);
  ck_assert (info.configures_nics);
  ck_assert (has_note (&notes, "moved aside whole"));
  lf_netnotes_free (&notes);
}
END_TEST

/* ---- agents ---- */

START_TEST (test_waagent_conf)
{
  static const char in[] =
    "# Microsoft Azure Linux Agent Configuration\n"
    "Provisioning.Agent=auto\n"
    "Provisioning.DeleteRootPassword=y\n"
    "ResourceDisk.Format=n\n"
    "ResourceDisk.Filesystem=ext4\n"
    "ResourceDisk.MountPoint=/mnt\n"
    "ResourceDisk.EnableSwap=n\n";
  struct lf_netedit e, e2;

  ck_assert_int_eq (lf_waagent_conf_edit ("/etc/waagent.conf", S (in), false, &e), 0);
  ck_assert_str_eq (e.out,
                    "# Microsoft Azure Linux Agent Configuration\n"
                    "Provisioning.Agent=disabled\n"
                    "Provisioning.DeleteRootPassword=y\n"
                    "ResourceDisk.Format=y\n"
                    "ResourceDisk.Filesystem=ext4\n"
                    "ResourceDisk.MountPoint=/mnt/resource\n"
                    "ResourceDisk.EnableSwap=n\n");
  ck_assert (has_note (&e.notes, "Provisioning.Agent: auto -> disabled"));
  ck_assert_int_eq (lf_waagent_conf_edit ("w", e.out, e.outlen, false, &e2), 0);
  ck_assert_int_eq (e2.action, LF_NET_KEEP);
  lf_netedit_free (&e2);
  lf_netedit_free (&e);

  /* An old agent: Provisioning.Enabled; cloud-init owns the disk. */
  ck_assert_int_eq (lf_waagent_conf_edit ("w", S ("Provisioning.Enabled=y\n"
                                                  "ResourceDisk.Format=y\n"),
                                          true, &e), 0);
  ck_assert_str_eq (e.out, "Provisioning.Enabled=n\nResourceDisk.Format=n\n");
  lf_netedit_free (&e);
}
END_TEST

START_TEST (test_cloud_init_datasources)
{
  char buf[256];
  ck_assert (lf_cloud_init_datasources (S ("datasource_list: [ VMware, None ]\n"
                                           "datasource:\n  VMware:\n"),
                                        buf, sizeof buf));
  ck_assert_str_eq (buf, "[ VMware, None ]");
  ck_assert (!lf_cloud_init_datasources (S ("  datasource_list: [ Azure ]\n"),
                                         buf, sizeof buf));
}
END_TEST

/* ---- hostile input ---- */

START_TEST (test_hostile)
{
  struct lf_netedit e;
  bool has, had;
  size_t big = NETCFG_MAX_LINE + 100;
  char *s = malloc (big + 32);

  memset (s, 'a', big);
  memcpy (s, "iface ens192 inet static\n", 25);
  ck_assert_int_eq (lf_net_ifupdown_edit ("/etc/network/interfaces", s, big,
                                          true, &e, &has, &had), -1);
  ck_assert_int_eq (lf_last_errno (), EINVAL);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "/etc/network/interfaces:2: "
                                 "line of"));
  free (s);

  static const char nul[] = "[connection]\ntype=ethernet\n\0[ipv4]\n";
  struct lf_nm_info info;
  ck_assert_int_eq (lf_net_nm_scan ("k.nmconnection", nul, sizeof nul - 1, &info), -1);
  ck_assert_ptr_nonnull (strstr (lf_last_error (), "k.nmconnection:3: NUL byte"));
  ck_assert_int_eq (lf_net_ifcfg_edit (LF_IFCFG_RHEL, "ifcfg-x", nul, sizeof nul - 1,
                                       &e), -1);
  ck_assert_int_eq (lf_net_networkd_edit ("n", nul, sizeof nul - 1, &e), -1);
  struct lf_netplan_info pi;
  struct lf_netnotes notes = { 0 };
  ck_assert_int_eq (netplan_scan ("p", nul, sizeof nul - 1, &pi, &notes), -1);
  lf_error_clear ();

  /* Odd but valid text: no crash, something sensible. */
  static const char *const odd[] = {
    "", "\n", "iface", "iface \\\n", "auto", "[", "[]\n=\n", "=x\n", "a=\"\n",
    "network:\n" "  ethernets:\n" "                                  x:\n",
    "- - - -\n", "network:\n\t ethernets: {\n", "iface eth0 inet dhcp\\\n  address 1\n",
    "[Match]\n[Network]\n[Match]\n", "KEY='\nIPADDR=\"\n",
  };
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    size_t l = strlen (odd[i]);
    struct lf_ifcfg_info ii;
    struct lf_networkd_info ni;
    ck_assert_int_eq (lf_net_ifupdown_edit ("x", odd[i], l, true, &e, &has, &had), 0);
    lf_netedit_free (&e);
    ck_assert_int_eq (lf_net_ifcfg_scan (LF_IFCFG_SUSE, "ifcfg-", odd[i], l, &ii), 0);
    ck_assert_int_eq (lf_net_ifcfg_edit (LF_IFCFG_SUSE, "x", odd[i], l, &e), 0);
    lf_netedit_free (&e);
    ck_assert_int_eq (lf_net_nm_scan ("x", odd[i], l, &info), 0);
    ck_assert_int_eq (lf_net_nm_edit ("x", odd[i], l, &e), 0);
    lf_netedit_free (&e);
    ck_assert_int_eq (lf_net_networkd_scan ("x", odd[i], l, &ni), 0);
    ck_assert_int_eq (lf_net_networkd_edit ("x", odd[i], l, &e), 0);
    lf_netedit_free (&e);
    ck_assert_int_eq (netplan_scan ("x", odd[i], l, &pi, &notes), 0);
    lf_netnotes_free (&notes);
    ck_assert_int_eq (lf_waagent_conf_edit ("x", odd[i], l, true, &e), 0);
    lf_netedit_free (&e);
  }

  /* Notes are capped. */
  struct lf_sbuf b = { 0 };
  lf_sbuf_puts (&b, "iface ens192 inet static\n");
  for (int i = 0; i < 500; i++)
    lf_sbuf_printf (&b, "  address 10.0.%d.1\n", i);
  ck_assert_int_eq (lf_net_ifupdown_edit ("x", b.s, b.len, true, &e, &has, &had), 0);
  ck_assert_uint_eq (e.notes.n, NETCFG_MAX_NOTES);
  ck_assert_uint_gt (e.notes.dropped, 0);
  lf_netedit_free (&e);
  free (b.s);
}
END_TEST

/* ---- the whole concern on a RHEL 9-like tree ---- */

static char root[64];

static void
sh (const char *fmt)
{
  char cmd[4096];
  snprintf (cmd, sizeof cmd, fmt, root, root, root, root, root, root);
  ck_assert_int_eq (system (cmd), 0);
}

static char *
snapshot (void)
{
  char cmd[512], *buf = NULL;
  size_t n = 0;
  snprintf (cmd, sizeof cmd,
            "cd %s && find . -printf '%%y %%m %%p %%l\\n' | sort && "
            "find . -type f -print0 | sort -z | xargs -0 sha256sum", root);
  FILE *fp = popen (cmd, "r");
  ck_assert_ptr_nonnull (fp);
  FILE *out = open_memstream (&buf, &n);
  int c;
  while ((c = fgetc (fp)) != EOF)
    fputc (c, out);
  pclose (fp);
  fclose (out);
  return buf;
}

static struct lf_plan *
plan_all (struct lf_os *os)
{
  /* The agents follow the profile: azure-gen1's, from the source tree
   * (the suites run at its top).
   */
  static struct lf_hw_profile *hw;
  if (!hw)
    hw = lf_hw_profile_load ("hw", "azure-gen1");
  ck_assert_msg (hw != NULL, "%s", lf_last_error ());
  struct lf_fix_opts o = { .profile = hw, .rootdelay = -1 };
  struct lf_plan *p = lf_plan_new (&os->mounts);
  ck_assert_int_eq (lf_fix_linux_network (NULL, os, p, NULL), 0);
  ck_assert_int_eq (lf_fix_linux_agents (NULL, os, p, &o), 0);
  return p;
}

START_TEST (test_tree_rhel9)
{
  struct lf_os os = { .type = "linux" };
  struct lf_fs *fs;
  char *before, *after;
  json_t *rep = NULL;

  strcpy (root, "/tmp/landfall-net-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (root));
  sh ("mkdir -p %s/etc/sysconfig/network-scripts %s/etc/NetworkManager/system-connections "
      "%s/etc/systemd/system/multi-user.target.wants %s/etc/systemd/system/vmtoolsd.service.requires "
      "%s/etc/udev/rules.d %s/var/lib");
  sh ("printf 'DEVICE=ens192\\nBOOTPROTO=none\\nONBOOT=yes\\nIPADDR=10.0.0.5\\nPREFIX=24\\n"
      "GATEWAY=10.0.0.1\\nHWADDR=00:50:56:8a:3c:5e\\n' > %s/etc/sysconfig/network-scripts/ifcfg-ens192 && "
      "printf 'ADDRESS0=172.16.0.0\\nNETMASK0=255.240.0.0\\nGATEWAY0=10.0.0.254\\n' > "
      "%s/etc/sysconfig/network-scripts/route-ens192 && "
      "printf 'DEVICE=lo\\nIPADDR=127.0.0.1\\n' > %s/etc/sysconfig/network-scripts/ifcfg-lo");
  sh ("printf '[connection]\\nid=ens224\\ntype=ethernet\\ninterface-name=ens224\\n\\n[ipv4]\\n"
      "address1=192.168.1.5/24\\nmethod=manual\\n' > %s/etc/NetworkManager/system-connections/ens224.nmconnection && "
      "chmod 600 %s/etc/NetworkManager/system-connections/ens224.nmconnection && "
      "printf 'NETWORKING=yes\\nGATEWAY=10.0.0.1\\n' > %s/etc/sysconfig/network");
  sh ("ln -s /usr/lib/systemd/system/vmtoolsd.service %s/etc/systemd/system/multi-user.target.wants/vmtoolsd.service && "
      "ln -s /usr/lib/systemd/system/vgauthd.service %s/etc/systemd/system/vmtoolsd.service.requires/vgauthd.service && "
      "echo 'SUBSYSTEM==\"net\", ATTR{address}==\"00:50:56:8a:3c:5e\", NAME=\"ens192\"' > "
      "%s/etc/udev/rules.d/70-persistent-net.rules");
  before = snapshot ();

  fs = lf_fs_open_tree (root, true);
  ck_assert_ptr_nonnull (fs);
  ck_assert_int_eq (lf_mounts_add (&os.mounts, "/", fs), 0);
  os.facts = json_pack ("{s:b, s:b, s:[s], s:{s:s}}", "waagent", 0,
                        "cloud_init", 0, "vmware_tools", "/usr/bin/vmtoolsd",
                        "distro", "family", "rhel");

  struct lf_plan *p = plan_all (&os);
  ck_assert (!lf_plan_failed (p));
  ck_assert_int_eq (lf_plan_apply (p, LF_LINUX_JOURNAL_DIR), 0);
  lf_plan_free (p);
  if (getenv ("NET_DEBUG"))
    sh ("cd %s && find . -type f | sort && cat etc/sysconfig/network-scripts/ifcfg-eth0 etc/sysconfig/network");
  sh ("grep -qx BOOTPROTO=dhcp %s/etc/sysconfig/network-scripts/ifcfg-eth0 && "
      "grep -qx DEVICE=eth0 %s/etc/sysconfig/network-scripts/ifcfg-eth0 && "
      "! grep -q 'IPADDR\\|HWADDR\\|GATEWAY' %s/etc/sysconfig/network-scripts/ifcfg-eth0 && "
      "test ! -e %s/etc/sysconfig/network-scripts/ifcfg-ens192 && "
      "test ! -e %s/etc/sysconfig/network-scripts/route-ens192 && "
      "test -e %s/etc/sysconfig/network-scripts/ifcfg-lo");
  sh ("test -e %s/etc/landfall/moved-aside/etc/sysconfig/network-scripts/ifcfg-ens192 && "
      "test ! -e %s/etc/NetworkManager/system-connections/ens224.nmconnection && "
      "test ! -e %s/etc/udev/rules.d/70-persistent-net.rules && "
      "test ! -L %s/etc/systemd/system/multi-user.target.wants/vmtoolsd.service && "
      "test ! -L %s/etc/systemd/system/vmtoolsd.service.requires/vgauthd.service && "
      "test -e %s/etc/systemd/system/multi-user.target.wants");
  sh ("! grep -q GATEWAY %s/etc/sysconfig/network");

  /* A second run plans nothing. */
  p = plan_all (&os);
  ck_assert_uint_eq (lf_plan_nedits (p), 0);
  lf_plan_free (p);

  ck_assert_int_eq (lf_undo (&os.mounts, LF_LINUX_JOURNAL_DIR, &rep), 0);
  json_decref (rep);
  after = snapshot ();
  ck_assert_str_eq (before, after);
  free (before);
  free (after);
  json_decref (os.facts);
  lf_mounts_free (&os.mounts);
  lf_fs_close (fs);
  sh ("rm -rf %s");
}
END_TEST

static Suite *
net_suite (void)
{
  Suite *s = suite_create ("linux-net");
  TCase *tc = tcase_create ("transforms");
  tcase_add_test (tc, test_ifupdown_debian);
  tcase_add_test (tc, test_ifupdown_eth0_kept);
  tcase_add_test (tc, test_ifcfg_rhel);
  tcase_add_test (tc, test_sysconfig_network);
  tcase_add_test (tc, test_ifcfg_suse);
  tcase_add_test (tc, test_nm_keyfile);
  tcase_add_test (tc, test_networkd);
  tcase_add_test (tc, test_netplan);
  tcase_add_test (tc, test_waagent_conf);
  tcase_add_test (tc, test_cloud_init_datasources);
  tcase_add_test (tc, test_hostile);
  suite_add_tcase (s, tc);
  TCase *tt = tcase_create ("tree");
  tcase_add_test (tt, test_tree_rhel9);
  tcase_set_timeout (tt, 60);
  suite_add_tcase (s, tt);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (net_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
