#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Linux fix on the VMware-like Debian guest: what changes, that a
# second run changes nothing, that --dry-run changes nothing, and that
# undo leaves every file of the filesystem byte-identical (compared by
# hash, symlink targets and modes included).
source "$(dirname "$0")/functions.sh"
requires debugfs python3 sha256sum

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cp --sparse=always "$img" "$tmp/guest.img"
cd "$tmp"
fs="guest.img?offset=$ROOT_OFFSET"
cat_guest () { debugfs -R "cat $1" "$fs" 2>/dev/null; }

# A listing of every file: type, mode, symlink target or content hash.
snapshot () {
    rm -rf tree && mkdir tree
    debugfs -R "rdump / tree" "$fs" >/dev/null 2>&1
    (cd tree && find . -mindepth 1 -printf '%y %m %p %l\n' | sort &&
     find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$1"
}
snapshot before.txt
[ "$(wc -l <before.txt)" -gt 1000 ] || fail "snapshot of the guest looks empty"

sum=$(sha256sum guest.img)
"$LANDFALL" fix --dry-run guest.img >plan.txt || fail "dry run failed"
grep -q "^+UUID=$ROOT_UUID" plan.txt || fail "dry run does not show the fstab diff"
[ "$sum" = "$(sha256sum guest.img)" ] || fail "--dry-run changed the image"
pass "--dry-run prints diffs ($(grep -c '^# ' plan.txt) lines of plan) and changes nothing"

t0=$(date +%s%N)
"$LANDFALL" fix --json guest.img >fix.json || fail "fix failed: $(cat fix.json)"
t1=$(date +%s%N)
echo "fix took $(( (t1 - t0) / 1000000 )) ms"
cat_guest /etc/fstab | grep -q "^UUID=$ROOT_UUID[[:space:]]*/[[:space:]]" || fail "fstab: / not by UUID"
! cat_guest /etc/fstab | grep -q "^/dev/sda1" || fail "fstab: /dev/sda1 still there"
cat_guest /boot/grub/grub.cfg | grep -E "^\s*linux\s" | grep -q "root=UUID=$ROOT_UUID .*console=ttyS0,115200n8$" ||
    fail "grub.cfg: command line not set: $(cat_guest /boot/grub/grub.cfg | grep -E '^\s*linux\s')"
! cat_guest /boot/grub/grub.cfg | grep -E "^\s*linux\s" | grep -qw quiet || fail "grub.cfg: quiet still there"
cat_guest /etc/default/grub | grep -q '^GRUB_CMDLINE_LINUX=".*console=ttyS0,115200n8"' || fail "/etc/default/grub"
cat_guest /etc/network/interfaces | grep -q "^iface eth0 inet dhcp" || fail "interfaces: no DHCP"
! cat_guest /etc/network/interfaces | grep -q "address 192.168" || fail "interfaces: static address left"
[ -z "$(cat_guest /etc/udev/rules.d/70-persistent-net.rules)" ] || fail "persistent-net rules still there"
! debugfs -R "stat /etc/systemd/system/multi-user.target.wants/open-vm-tools.service" "$fs" 2>/dev/null | grep -q Inode ||
    fail "open-vm-tools still enabled"
pass "fix: fstab by UUID, grub command line, eth0 on DHCP, udev rules and VMware tools gone"

"$LANDFALL" fix --json guest.img >again.json || fail "second fix failed"
[ "$(json_get again.json edits | python3 -c 'import sys,ast; print(len(ast.literal_eval(sys.stdin.read())))')" = 0 ] ||
    fail "a second fix planned changes: $(cat again.json)"
pass "a second fix changes nothing"

"$LANDFALL" undo guest.img || fail "undo failed"
snapshot after.txt
diff before.txt after.txt >undo.diff || fail "undo left differences: $(head -20 undo.diff)"
pass "undo: every file byte-identical to before ($(wc -l <before.txt) entries compared)"
