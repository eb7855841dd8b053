#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall verify, static checks: the VMware-like Debian guest fails
# azure-gen1 before the fix with each reason (initramfs modules, root= and
# fstab by device name, no serial console, static IP) and passes after;
# the Windows sample fails before its fix and passes after; a UEFI (GPT +
# ESP) disk fails azure-gen1 and the BIOS Debian disk fails azure-gen2,
# each with the reason; a dynamic VHD fails the container check; verify
# never changes a disk.  The QEMU boot is tests/test-verify-boot.sh.
source "$(dirname "$0")/functions.sh"
requires python3 sfdisk mkfs.vfat mmd mcopy qemu-img sha256sum

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
fix="$top/$BUILD/fixtures"
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$fix" | tail -n1)
win=$("$top/tests/fixtures/build.sh" windows-ntfs "$fix" | tail -n1)
cp --sparse=always "$img" "$tmp/guest.img"
cp --sparse=always "$win" "$tmp/win.img"
cd "$tmp"

# status FILE CHECK: the status of the first check named CHECK.
status () {
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
s=[c["status"] for c in d["checks"] if c["check"]==sys.argv[2]]
print(s[0] if s else "absent")' "$1" "$2"
}
reason () {
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(" | ".join(c["reason"] for c in d["checks"] if c["check"]==sys.argv[2]))' "$1" "$2"
}
expect () {   # expect FILE CHECK STATUS [REASON-REGEX]
    local s; s=$(status "$1" "$2")
    [ "$s" = "$3" ] || fail "$1: $2 is '$s', expected '$3': $(reason "$1" "$2")"
    if [ $# -ge 4 ]; then
        reason "$1" "$2" | grep -Eq "$4" || fail "$1: $2: reason '$(reason "$1" "$2")' does not match /$4/"
    fi
}

# --- Profiles and the host probe.
"$LANDFALL" verify --list-profiles >profiles.txt || fail "--list-profiles"
grep -q "^azure-gen1 " profiles.txt && grep -q "^azure-gen2 " profiles.txt ||
    fail "profiles not listed: $(cat profiles.txt)"
"$LANDFALL" verify --host --json >host.json || fail "--host"
json_get host.json platform >/dev/null || fail "--host: no platform"
expect_fail "unknown profile" "$LANDFALL" verify --profile azure-gen9 guest.img
grep -q "azure-gen1, azure-gen2" "$tmp/err" || fail "unknown profile: $(cat "$tmp/err")"
mkdir hwdir && echo '{"name":"bad"}' >hwdir/bad.json
expect_fail "bad profile" env LANDFALL_HW_DIR="$tmp/hwdir" "$LANDFALL" verify --profile bad guest.img
grep -q "bad.json: field 'firmware': missing" "$tmp/err" || fail "bad profile: $(cat "$tmp/err")"
pass "profiles listed ($(grep -o '^azure-gen[0-9]' profiles.txt | tr '\n' ' ')), host probed ($(json_get host.json platform)), bad profiles refused by file and field"

# --- The VMware-like Debian guest before the fix.
sum=$(sha256sum <guest.img)
if "$LANDFALL" verify --json --profile azure-gen1 guest.img >before.json; then
    fail "the VMware-like guest passed verify before the fix"
fi
expect before.json linux-initramfs-modules fail "missing from the initramfs: hv_vmbus, hv_storvsc, hv_netvsc"
expect before.json linux-fstab fail "/dev/sda1 on / is named by device name"
expect before.json linux-root fail "root=/dev/sda1 is a device name"
expect before.json linux-network-dhcp fail "ens192 is static"
expect before.json linux-serial-console fail "no console=ttyS0"
expect before.json partition-table pass
expect before.json boot-code pass
expect before.json container note "raw image"
[ "$sum" = "$(sha256sum <guest.img)" ] || fail "verify changed the disk"
"$LANDFALL" verify --profile azure-gen1 guest.img >before.txt && fail "exit 0 with failures"
grep -q "what to do: landfall fix" before.txt || fail "no 'what to do' in the human report"
pass "before fix: fails azure-gen1 ($(json_get before.json summary.fail) failed: modules, fstab and root= by device name, static IP, no serial console); disk unchanged"

# The same BIOS disk against azure-gen2.
"$LANDFALL" verify --json --profile azure-gen2 guest.img >gen2.json && fail "a BIOS/MBR disk passed azure-gen2"
expect gen2.json partition-table fail "dos partition table, but azure-gen2 \(uefi\) needs gpt"
expect gen2.json boot-code fail "no EFI system partition"
pass "the BIOS Debian disk fails azure-gen2: $(reason gen2.json partition-table)"

# --- After the fix: static pass; as a fixed VHD the container passes too.
"$LANDFALL" fix --json guest.img >fix.json || fail "fix failed"
"$LANDFALL" verify --json --profile azure-gen1 guest.img >after.json ||
    fail "verify after fix failed: $(python3 -c 'import json,sys; [print(c) for c in json.load(open("after.json"))["checks"] if c["status"]=="fail"]')"
expect after.json linux-initramfs-modules pass "hv_storvsc \(\+[0-9]+ dependencies\)"
expect after.json linux-fstab pass
expect after.json linux-root pass "root=UUID="
expect after.json linux-serial-console pass
expect after.json linux-network-dhcp pass "eth0 on DHCP"
"$LANDFALL" convert --in-place guest.img >/dev/null || fail "convert --in-place"
"$LANDFALL" verify --json --profile azure-gen1 guest.img >vhd.json || fail "verify of the fixed VHD failed"
expect vhd.json container pass "fixed VHD, footer valid"
pass "after fix: passes azure-gen1 ($(json_get after.json summary.pass) checks pass); as a fixed VHD too ($(reason vhd.json container))"

# A dynamic VHD is not what Azure takes.
qemu-img convert -f raw -O vpc -o subformat=dynamic "$tmp/win.img" dyn.vhd
"$LANDFALL" verify --json --profile azure-gen1 dyn.vhd >dyn.json && fail "a dynamic VHD passed"
expect dyn.json container fail "vhd dynamic: Azure accepts only a fixed VHD"
pass "dynamic VHD: $(reason dyn.json container)"

# --- A UEFI disk (GPT + ESP with the fallback loader) against azure-gen1.
truncate -s 64M uefi.img
printf 'label: gpt\nstart=2048, size=61440, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n' |
    sfdisk -q uefi.img
truncate -s 30M esp.img
mkfs.vfat -F 16 -n ESP esp.img >/dev/null || fail "mkfs.vfat"
echo "not a real loader" >BOOTX64.EFI
{ mmd -i esp.img ::/EFI ::/EFI/BOOT && mcopy -i esp.img BOOTX64.EFI ::/EFI/BOOT/; } ||
    fail "mtools could not write the ESP"
dd if=esp.img of=uefi.img bs=512 seek=2048 conv=notrunc status=none
"$LANDFALL" verify --json --guestfs=never --profile azure-gen1 uefi.img >u1.json &&
    fail "a UEFI disk passed azure-gen1"
expect u1.json partition-table fail "gpt partition table, but azure-gen1 \(bios\) needs dos"
expect u1.json boot-code fail "without a BIOS boot partition .*EFI system partition"
"$LANDFALL" verify --json --guestfs=never --profile azure-gen2 uefi.img >u2.json || true
expect u2.json partition-table pass
# No backend here reads FAT: the loader is 'unknown', never a guessed pass.
expect u2.json boot-code unknown "EFI system partition 1 is vfat"
pass "the UEFI disk fails azure-gen1 ($(reason u1.json boot-code)); against azure-gen2 its ESP loader is honestly unknown"

# --- Windows: the sample's MBR with its boot code wiped fails; with the
# code the fixture wrote (syslinux's mbr.bin) back, the registry is checked.
dd if=/dev/zero of=win.img bs=440 count=1 conv=notrunc status=none
"$LANDFALL" verify --json --profile azure-gen1 win.img >w0.json && fail "a disk without boot code passed"
expect w0.json boot-code fail "boot code area is empty"
dd if="$win" of=win.img bs=440 count=1 conv=notrunc status=none
"$LANDFALL" verify --json --profile azure-gen1 win.img >w1.json && fail "the Windows sample passed before the fix"
expect w1.json windows-boot-drivers fail "storvsc: Start=3, not 0"
expect w1.json windows-network-dhcp fail "static addresses on .*10\.3\.58\.5"
expect w1.json windows-san-policy pass
"$LANDFALL" fix --json win.img >wfix.json || fail "Windows fix failed: $(cat wfix.json)"
"$LANDFALL" verify --json --profile azure-gen1 win.img >w2.json || fail "the Windows sample fails after the fix: $(cat w2.json)"
expect w2.json windows-boot-drivers pass "vmbus, storvsc, storflt, intelide, atapi boot start"
expect w2.json windows-network-dhcp pass
pass "Windows: fails before the fix ($(reason w1.json windows-boot-drivers)), passes after"
