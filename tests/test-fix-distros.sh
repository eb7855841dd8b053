#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The network and agent fixes on guest trees in the layouts of RHEL 8,
# Rocky 9, Ubuntu 22.04/24.04 and SLES 15 (tests/fixtures/mk-distro-trees.sh)
# and on the VMware-like Debian 12 fixture: after `landfall fix` the
# primary NIC is on DHCP, persistent-net rules and the VMware tools links
# are gone; a second fix plans nothing for network/agents; `landfall undo`
# leaves every file, symlink and mode as before.  Other concerns (fstab,
# boot, initramfs) may change things or say "not implemented yet": only a
# failure would stop the fix, and that is reported as such.
source "$(dirname "$0")/functions.sh"
requires debugfs mkfs.ext4 sfdisk python3 sha256sum

cd "$tmp"
OFF=1048576

cat_guest () { debugfs -R "cat $1" "$img?offset=$OFF" 2>/dev/null; }
# Does PATH exist (file, directory or symlink, not followed)?
exists_guest () { debugfs -R "stat $1" "$img?offset=$OFF" 2>/dev/null | grep -q '^Inode:'; }

# A listing of every entry: type, mode, path, symlink target; then hashes.
snapshot () {
    rm -rf dump && mkdir dump
    debugfs -R "rdump / dump" "$img?offset=$OFF" >/dev/null 2>&1
    (cd dump && find . -mindepth 1 -not -path './lost+found*' -printf '%y %m %p %l\n' | sort &&
     find . -type f -not -path './lost+found*' -print0 | sort -z | xargs -0 -r sha256sum) >"$1"
}

# Edits and failures of the concerns CONCERNS in a fix --json report.
count () {   # count FILE edits|failed CONCERN...
    python3 - "$@" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); what = sys.argv[2]; cs = sys.argv[3:]
if what == "edits":
    print(len([e for e in r["edits"] if e["concern"] in cs]))
else:
    print(len([f for f in r["findings"] if f["concern"] in cs and f["result"] == "failed"]))
EOF
}

# check_fix NAME: fix, checks, fix again, undo, compare.  NIC_FILE, GONE,
# VMW_LINK come from the facts.
check_fix () {
    name=$1
    snapshot "$name.before"
    "$LANDFALL" fix --json "$img" >"$name.fix.json" 2>"$name.fix.err" || {
        cat "$name.fix.err" >&2
        python3 -c 'import json,sys; [print(f) for f in json.load(open(sys.argv[1]))["findings"] if f["result"]=="failed"]' \
            "$name.fix.json" >&2 || true
        fail "$name: fix failed"
    }
    [ "$(count "$name.fix.json" failed network agents)" = 0 ] || fail "$name: network/agents failed"
    [ "$(count "$name.fix.json" edits network agents)" -gt 0 ] || fail "$name: no network/agents edits"

    ! exists_guest /etc/udev/rules.d/70-persistent-net.rules || fail "$name: persistent-net rules still there"
    ! exists_guest "$VMW_LINK" || fail "$name: VMware tools still enabled ($VMW_LINK)"
    [ -z "$GONE" ] || ! exists_guest "$GONE" || fail "$name: $GONE still there"
    [ -z "$GONE" ] || exists_guest "/etc/landfall/moved-aside$GONE" || fail "$name: $GONE not moved aside"
    nic=$(cat_guest "$NIC_FILE")
    [ -n "$nic" ] || fail "$name: $NIC_FILE missing"
    case $STACK in
        ifcfg)
            echo "$nic" | grep -qx 'BOOTPROTO=dhcp' || fail "$name: not DHCP: $nic"
            echo "$nic" | grep -qx 'DEVICE=eth0' || fail "$name: not eth0: $nic"
            ! echo "$nic" | grep -q '^\(IPADDR\|PREFIX\|GATEWAY\|DNS1\|HWADDR\)=' || fail "$name: static left: $nic" ;;
        networkmanager)
            echo "$nic" | sed -n '/^\[ipv4\]/,/^\[/p' | grep -qx 'method=auto' || fail "$name: not DHCP: $nic"
            ! echo "$nic" | grep -q '^\(address1\|interface-name\|mac-address\|dns\)=' || fail "$name: static left: $nic" ;;
        netplan)
            echo "$nic" | grep -q '^    eth0:$' || fail "$name: no eth0: $nic"
            echo "$nic" | grep -q 'dhcp4: true' || fail "$name: not DHCP: $nic"
            for f in $(debugfs -R "ls -p /etc/netplan" "$img?offset=$OFF" 2>/dev/null | awk -F/ '$6 ~ /\.yaml$/ {print $6}'); do
                [ "$f" = 50-landfall.yaml ] && continue
                ! cat_guest "/etc/netplan/$f" | grep -q 'addresses\|macaddress' || fail "$name: static netplan left in $f"
            done ;;
        wicked)
            echo "$nic" | grep -qx "BOOTPROTO='dhcp'" || fail "$name: not DHCP: $nic"
            echo "$nic" | grep -qx "STARTMODE='auto'" || fail "$name: STARTMODE: $nic"
            ! echo "$nic" | grep -q "^\(IPADDR\|LLADDR\)=" || fail "$name: static left: $nic" ;;
        ifupdown)
            echo "$nic" | grep -q '^iface eth0 inet dhcp' || fail "$name: not DHCP: $nic"
            ! echo "$nic" | grep -q '^[^#]*\(address\|gateway\|ens192\)' || fail "$name: static left: $nic" ;;
    esac
    pass "$name: $STACK on DHCP, udev rules and VMware tools links gone"
    if [ -n "${AGENT_LINK:-}" ]; then
        t=$(debugfs -R "stat ${AGENT_LINK%%:*}" "$img?offset=$OFF" 2>/dev/null |
            sed -n 's/^Fast link dest: "\(.*\)"$/\1/p')
        [ "$t" = "${AGENT_LINK#*:}" ] || fail "$name: waagent not enabled: ${AGENT_LINK%%:*} -> '$t'"
        pass "$name: waagent enabled at boot (${AGENT_LINK%%:*} -> $t)"
    fi

    "$LANDFALL" fix --json "$img" >"$name.again.json" 2>/dev/null || fail "$name: second fix failed"
    [ "$(count "$name.again.json" edits network agents)" = 0 ] ||
        fail "$name: a second fix planned network/agents edits: $(cat "$name.again.json")"
    pass "$name: a second fix changes nothing for network and agents"

    "$LANDFALL" undo "$img" >/dev/null || fail "$name: undo failed"
    snapshot "$name.after"
    diff "$name.before" "$name.after" >"$name.diff" || fail "$name: undo left differences: $(head -20 "$name.diff")"
    pass "$name: undo restores every file ($(wc -l <"$name.before") entries compared)"
}

# ---- the distribution trees ----
"$top/tests/fixtures/mk-distro-trees.sh" "$tmp/trees" >/dev/null
for name in rhel8 rocky9 ubuntu2204 ubuntu2404 sles15; do
    AGENT_LINK=
    . "$tmp/trees/$name.facts"
    img=$tmp/$name.img
    truncate -s 64M "$img"
    sfdisk -q "$img" <<EOF
label: dos
unit: sectors

start=2048, type=83
EOF
    mkfs.ext4 -q -F -U "$ROOT_UUID" -d "$tmp/trees/$name" -E offset=$OFF "$img" 63M
    check_fix "$name"
    rm -f "$img"
done

# ---- the Debian 12 fixture (needs root and the fixture cache) ----
if [ "$(id -u)" != 0 ]; then
    echo "SKIP (part): the Debian fixture needs root" >&2
    exit 0
fi
dimg=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
AGENT_LINK=
. "$dimg.facts"
cp --sparse=always "$dimg" "$tmp/debian.img"
img=$tmp/debian.img OFF=$ROOT_OFFSET
STACK=ifupdown NIC_FILE=/etc/network/interfaces GONE=
VMW_LINK=/etc/systemd/system/multi-user.target.wants/open-vm-tools.service
check_fix debian12-vmware
