#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# inspect, verify and fix agree on the network (issue 14, part 3): for each
# stack (ifupdown, netplan, RHEL ifcfg, SUSE sysconfig/wicked,
# NetworkManager keyfiles, systemd-networkd) a guest with one static NIC
# holding the default gateway (ens192) and one NIC on DHCP (ens224).
# `inspect --json` must mark ens192 primary and static and ens224 DHCP;
# `verify` must fail linux-network-dhcp naming ens192 before the fix;
# `fix --dry-run --json` must name ens192 the primary NIC and change its
# file; after `fix`, inspect's primary is eth0 on DHCP and verify passes the
# check.  The issue's case is the netplan guest (both NICs in one file),
# which inspect called DHCP and verify passed.
source "$(dirname "$0")/functions.sh"
requires mkfs.ext4 sfdisk python3

cd "$tmp"
OFF=1048576
UUID=4b2f9c1e-7a6d-4e0b-9c55-1d2e3f405162

# tree DIR: a minimal Linux root (enough for inspection to find it).
tree () {
    r=$1
    mkdir -p "$r/etc" "$r/usr/bin" "$r/boot" "$r/var/lib" "$r/tmp"
    : >"$r/usr/bin/true"
    printf 'UUID=%s / ext4 defaults 1 1\n' "$UUID" >"$r/etc/fstab"
    printf 'NAME="Test"\nID=%s\nVERSION_ID="1"\n' "$2" >"$r/etc/os-release"
}

put () { mkdir -p "$(dirname "$1")"; cat >"$1"; }

mk_ifupdown () {
    tree "$1" debian
    put "$1/etc/network/interfaces" <<'EOF'
auto lo
iface lo inet loopback

auto ens192
iface ens192 inet static
    address 10.1.2.10/24
    gateway 10.1.2.1

allow-hotplug ens224
iface ens224 inet dhcp
EOF
    PRIMARY_FILE=/etc/network/interfaces
}
mk_netplan () {
    tree "$1" ubuntu
    put "$1/etc/netplan/00-installer-config.yaml" <<'EOF'
# This is the network config written by 'subiquity'
network:
  version: 2
  ethernets:
    ens192:
      addresses:
      - 10.1.2.10/24
      routes:
      - to: default
        via: 10.1.2.1
      nameservers:
        addresses: [10.1.2.53]
    ens224:
      dhcp4: true
EOF
    PRIMARY_FILE=/etc/netplan/00-installer-config.yaml
}
mk_ifcfg () {
    tree "$1" rhel
    d=$1/etc/sysconfig/network-scripts
    printf 'TYPE=Ethernet\nBOOTPROTO=dhcp\nDEVICE=ens224\nONBOOT=yes\n' | put "$d/ifcfg-ens224"
    printf 'TYPE=Ethernet\nBOOTPROTO=none\nDEVICE=ens192\nONBOOT=yes\nIPADDR=10.1.2.10\nPREFIX=24\nGATEWAY=10.1.2.1\n' |
        put "$d/ifcfg-ens192"
    PRIMARY_FILE=/etc/sysconfig/network-scripts/ifcfg-ens192
}
mk_wicked () {
    tree "$1" sles
    d=$1/etc/sysconfig/network
    printf "BOOTPROTO='dhcp'\nSTARTMODE='auto'\n" | put "$d/ifcfg-ens224"
    printf "BOOTPROTO='static'\nSTARTMODE='auto'\nIPADDR='10.1.2.10/24'\n" | put "$d/ifcfg-ens192"
    printf 'default 10.1.2.1 - ens192\n' | put "$d/ifroute-ens192"
    PRIMARY_FILE=/etc/sysconfig/network/ifcfg-ens192
}
mk_nm () {
    tree "$1" rocky
    d=$1/etc/NetworkManager/system-connections
    printf '[connection]\nid=a\ntype=ethernet\ninterface-name=ens224\n\n[ipv4]\nmethod=auto\n' |
        put "$d/a.nmconnection"
    printf '[connection]\nid=b\ntype=ethernet\ninterface-name=ens192\n\n[ipv4]\naddress1=10.1.2.10/24,10.1.2.1\nmethod=manual\n' |
        put "$d/b.nmconnection"
    chmod 600 "$d"/*.nmconnection
    PRIMARY_FILE=/etc/NetworkManager/system-connections/b.nmconnection
}
mk_networkd () {
    tree "$1" arch
    d=$1/etc/systemd/network
    printf '[Match]\nName=ens224\n\n[Network]\nDHCP=yes\n' | put "$d/10-ens224.network"
    printf '[Match]\nName=ens192\n\n[Network]\nAddress=10.1.2.10/24\nGateway=10.1.2.1\n' |
        put "$d/20-ens192.network"
    PRIMARY_FILE=/etc/systemd/network/20-ens192.network
}

# facts FILE: the network facts of inspect's report, one line per NIC
# ("interface mode primary"), and the primary alone last ("primary ...").
nics () {
    python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
os_ = [o for o in r["operating_systems"] if o.get("type") == "linux"][0]
for n in os_["network"]:
    print(n.get("interface") or "(any)", n["mode"], "primary" if n.get("primary") else "-", n["stack"], n["file"])
EOF
}
# check_status FILE CHECK: "status | reason" of verify's check.
check_status () {
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
s=[c["status"]+" | "+c["reason"] for c in d["checks"] if c["check"]==sys.argv[2]]
print(s[0] if s else "absent")' "$1" "$2"
}
# fix_primary FILE: the primary NIC the fix names, and whether it plans a
# change of PRIMARY_FILE (edited, or moved aside).
fix_primary () {
    python3 - "$1" "$PRIMARY_FILE" <<'EOF'
import json, re, sys
r = json.load(open(sys.argv[1])); pf = sys.argv[2]
m = [re.match(r"primary NIC (\S+) \((\w+), ", f["message"]) for f in r["findings"]
     if f["concern"] == "network"]
m = [x for x in m if x]
print(m[0].group(1) + " " + m[0].group(2) if m else "none",
      "changed" if any(e.get("path") == pf for e in r["edits"]) else "unchanged")
EOF
}

for stack in ifupdown netplan ifcfg wicked nm networkd; do
    rm -rf "t-$stack"
    "mk_$stack" "t-$stack"
    img=$tmp/$stack.img
    truncate -s 32M "$img"
    printf 'label: dos\nunit: sectors\n\nstart=2048, type=83\n' | sfdisk -q "$img"
    mkfs.ext4 -q -F -U "$UUID" -d "t-$stack" -E offset=$OFF "$img" 31M

    # inspect
    "$LANDFALL" inspect --json "$img" >"$stack.inspect.json" 2>"$stack.err" ||
        fail "$stack: inspect failed: $(cat "$stack.err")"
    nics "$stack.inspect.json" >"$stack.nics"
    grep -q '^ens192 static primary ' "$stack.nics" ||
        fail "$stack: inspect does not make ens192 the static primary: $(cat "$stack.nics")"
    grep -q '^ens224 dhcp - ' "$stack.nics" ||
        fail "$stack: inspect misreports ens224 (DHCP): $(cat "$stack.nics")"
    [ "$(grep -c ' primary ' "$stack.nics")" = 1 ] || fail "$stack: not one primary: $(cat "$stack.nics")"

    # verify, before
    "$LANDFALL" verify --json --profile azure-gen1 "$img" >"$stack.before.json" 2>/dev/null || true
    v=$(check_status "$stack.before.json" linux-network-dhcp)
    case $v in
        "fail | primary NIC ens192 is static"*) ;;
        *) fail "$stack: verify before the fix: $v" ;;
    esac

    # fix --dry-run
    "$LANDFALL" fix --dry-run --json "$img" >"$stack.dry.json" 2>"$stack.err" ||
        fail "$stack: fix --dry-run failed: $(cat "$stack.err")"
    f=$(fix_primary "$stack.dry.json")
    [ "$f" = "ens192 static changed" ] || fail "$stack: fix --dry-run: '$f' (expected the primary ens192, static, its file $PRIMARY_FILE changed)"

    # fix, then inspect and verify again
    "$LANDFALL" fix --json "$img" >"$stack.fix.json" 2>"$stack.err" || fail "$stack: fix failed: $(cat "$stack.err")"
    "$LANDFALL" inspect --json "$img" >"$stack.after.inspect.json" 2>/dev/null || fail "$stack: inspect after fix"
    nics "$stack.after.inspect.json" >"$stack.after.nics"
    grep -Eq '^(eth0|\(any\)) dhcp primary ' "$stack.after.nics" ||
        fail "$stack: after the fix the primary is not on DHCP: $(cat "$stack.after.nics")"
    ! grep -q ' static ' "$stack.after.nics" || fail "$stack: a static NIC is left: $(cat "$stack.after.nics")"
    "$LANDFALL" verify --json --profile azure-gen1 "$img" >"$stack.after.json" 2>/dev/null || true
    v=$(check_status "$stack.after.json" linux-network-dhcp)
    case $v in
        "pass | primary NIC "*" on DHCP"*) ;;
        *) fail "$stack: verify after the fix: $v" ;;
    esac
    f=$(fix_primary "$stack.fix.json")
    pass "$stack: inspect, verify and fix agree: ens192 primary and static, ens224 DHCP; after the fix $(grep ' primary ' "$stack.after.nics" | cut -d' ' -f1,2) ($v)"
    rm -f "$img"
done
