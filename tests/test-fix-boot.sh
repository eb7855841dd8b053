#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The fstab and boot loader concerns of `landfall fix` on the VMware-like
# Debian 12 guest: fstab by UUID, the kernel command line in grub.cfg and
# /etc/default/grub, --dry-run changing nothing, a second fix planning no
# fstab/boot change, and undo restoring the three files byte for byte.
source "$(dirname "$0")/functions.sh"
requires debugfs python3 sha256sum

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cp --sparse=always "$img" "$tmp/guest.img"
cd "$tmp"
fs="guest.img?offset=$ROOT_OFFSET"
cat_guest () { debugfs -R "cat $1" "$fs" 2>/dev/null; }
files="/etc/fstab /boot/grub/grub.cfg /etc/default/grub"
sums () { for f in $files; do printf '%s %s\n' "$f" "$(cat_guest "$f" | sha256sum)"; done; }
sums >before.sums
grep -q "^/dev/sda1" <(cat_guest /etc/fstab) || fail "fixture: fstab is not by /dev/sda1"

sum=$(sha256sum <guest.img)
"$LANDFALL" fix --dry-run guest.img >plan.txt || fail "dry run failed"
grep -q "^+UUID=$ROOT_UUID" plan.txt || fail "dry run does not show the fstab diff"
grep -q "^+.*linux.*root=UUID=$ROOT_UUID .*console=ttyS0,115200n8$" plan.txt ||
    fail "dry run does not show the grub.cfg diff"
[ "$sum" = "$(sha256sum <guest.img)" ] || fail "--dry-run changed the image"
pass "--dry-run prints the fstab and grub.cfg diffs and leaves the image alone"

"$LANDFALL" fix --json guest.img >fix.json || fail "fix failed: $(cat fix.json)"
fstab=$(cat_guest /etc/fstab)
grep -q "^UUID=$ROOT_UUID[[:space:]]\+/[[:space:]]" <<<"$fstab" || fail "fstab: / not by UUID: $fstab"
! grep -q "^/dev/sd" <<<"$fstab" || fail "fstab: a /dev/sd name is left: $fstab"
grep -q "^# <file system> <mount point>" <<<"$fstab" || fail "fstab: comments lost"
grep -q "^/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0$" <<<"$fstab" ||
    fail "fstab: the cdrom line changed"
linux=$(cat_guest /boot/grub/grub.cfg | grep -E "^\s*linux\s")
[ -n "$linux" ] || fail "grub.cfg: no linux line"
while read -r l; do
    grep -q "root=UUID=$ROOT_UUID .*console=ttyS0,115200n8$" <<<"$l" || fail "grub.cfg: $l"
    ! grep -qw quiet <<<"$l" || fail "grub.cfg: quiet left: $l"
    ! grep -q "rootdelay=" <<<"$l" || fail "grub.cfg: rootdelay on an initramfs-tools guest: $l"
done <<<"$linux"
cat_guest /boot/grub/grub.cfg | grep -q "^terminal_output console serial$" || fail "grub.cfg: no serial terminal"
dg=$(cat_guest /etc/default/grub)
grep -q '^GRUB_CMDLINE_LINUX=".*console=ttyS0,115200n8"$' <<<"$dg" || fail "/etc/default/grub: $dg"
grep -q '^GRUB_CMDLINE_LINUX_DEFAULT=""$' <<<"$dg" || fail "/etc/default/grub: quiet left"
grep -q '^GRUB_TERMINAL="console serial"$' <<<"$dg" || fail "/etc/default/grub: GRUB_TERMINAL"
grep -q '^GRUB_SERIAL_COMMAND="serial ' <<<"$dg" || fail "/etc/default/grub: GRUB_SERIAL_COMMAND"
! grep -q '^GRUB_DISABLE_LINUX_UUID=true' <<<"$dg" || fail "/etc/default/grub: GRUB_DISABLE_LINUX_UUID"
pass "fix: fstab by UUID, grub.cfg and /etc/default/grub set for the serial console"

"$LANDFALL" fix --json guest.img >again.json || fail "second fix failed"
python3 - again.json <<'PY' || fail "a second fix planned fstab/boot changes: $(cat again.json)"
import json, sys
def walk(o):
    if isinstance(o, dict):
        if o.get("concern") in ("fstab", "boot") and (o.get("result") == "changed" or "path" in o and "why" in o):
            sys.exit("planned: %r" % o)
        for v in o.values(): walk(v)
    elif isinstance(o, list):
        for v in o: walk(v)
walk(json.load(open(sys.argv[1])))
PY
pass "a second fix plans no fstab or boot change"

"$LANDFALL" undo guest.img || fail "undo failed"
sums >after.sums
diff before.sums after.sums || fail "undo did not restore the files byte for byte"
pass "undo restores $files byte for byte"
