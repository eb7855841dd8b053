#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall fix never writes a disk the kernel is using (issue 13, item 6).
# The host has loop devices but no partition scanning, so the Debian
# fixture is attached twice, as a whole disk and as its root partition
# (losetup -o): the kernel does not know one is part of the other.  With
# the partition mounted read-only (ext4) and then read-write (its journal
# removed, so that nothing else refuses it), fix on the whole-disk loop
# device, on the partition's loop device and on the image file must each
# be refused naming the mount point, the image byte-identical (and a run
# job in place on the device).  Unmounted,
# the same fix goes ahead, unless another program holds the device open
# exclusively; and with LANDFALL_MOUNT=kernel (the appliance's
# way) landfall's own mount of the partition does not stop it.
source "$(dirname "$0")/functions.sh"
requires losetup mount umount mountpoint tune2fs e2fsck sha256sum

[ "$(id -u)" = 0 ] || { echo "SKIP: $(basename "$0"): loop devices need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cd "$tmp"
cp --sparse=always "$img" guest.img

whole=$(losetup -f --show guest.img 2>/dev/null) || {
    echo "SKIP: $(basename "$0"): no loop device (losetup -f failed)" >&2; exit 77; }
cleanup_hook "losetup -d '$whole'"
part=$(losetup -f --show -o "$PART1_OFFSET" --sizelimit "$PART1_SIZE" guest.img) ||
    fail "losetup -o $PART1_OFFSET"
cleanup_hook "losetup -d '$part'"
mkdir mnt
cleanup_hook "mountpoint -q '$tmp/mnt' && umount '$tmp/mnt'"

# refused_all MODE: fix on each name of the disk is refused naming the
# mount point; nothing written.
refused_all () {
    sync
    local before; before=$(sha256sum <guest.img)
    for target in "$whole" "$part" guest.img; do
        expect_fail "$1: fix $target" "$LANDFALL" fix "$target"
        grep -q "is mounted on $tmp/mnt" "$tmp/err" ||
            fail "$1: fix $target: the refusal does not name the mount point: $(cat "$tmp/err")"
    done
    sync
    [ "$before" = "$(sha256sum <guest.img)" ] || fail "$1: the image changed under the mount"
    pass "$1: fix on $whole, $part and the file refused ($(head -n1 "$tmp/err" | cut -c1-160)...), image unchanged"
}

mount -o ro "$part" mnt || fail "mount -o ro $part"
refused_all "ext4 mounted read-only"
# A job in place on the block device is refused at its checks, before it
# does anything.
printf 'machine = m\nos-disk = %s\noutput = in-place\n' "$whole" >m.job
"$LANDFALL" run m.job >run.out 2>&1 && fail "run in place on $whole succeeded: $(cat run.out)"
grep -q "is mounted on $tmp/mnt" run.out ||
    fail "run in place: the refusal does not name the mount point: $(cat run.out)"
pass "run in place on $whole refused at its checks"
umount mnt

# Without a journal to recover, a read-write mount is not refused by the
# ext4 backend by accident: only the in-use check stands in the way.
tune2fs -O ^has_journal "$part" >/dev/null || fail "tune2fs: removing the journal"
e2fsck -fy "$part" >/dev/null 2>&1 || [ $? -le 1 ] || fail "e2fsck after removing the journal"
mount -o rw "$part" mnt || fail "mount -o rw $part"
refused_all "mounted read-write (no journal)"
umount mnt

# The appliance's way: landfall mounts the partition itself (whole-disk
# filesystem here, the partition's loop device), which must not trip the
# check, nor must the check's exclusive open stop that mount.
mkdir lfmnt
LANDFALL_MOUNT=kernel LANDFALL_MOUNT_DIR="$tmp/lfmnt" "$LANDFALL" -v fix --json "$part" >kfix.json 2>kfix.err ||
    fail "fix with LANDFALL_MOUNT=kernel failed: $(tail -5 kfix.err)"
grep -q "ext4, kernel" kfix.err kfix.json || fail "LANDFALL_MOUNT=kernel: the kernel did not mount the root: $(grep -i kernel kfix.err | head -3)"
grep -q "is mounted on\|held open exclusively" kfix.err && fail "LANDFALL_MOUNT=kernel: refused its own mount"
pass "LANDFALL_MOUNT=kernel: landfall's own mount of $part is allowed, the fix went through"

# Held open exclusively by another program (as a mount in another mount
# namespace, or a RAID member, holds it): refused although not mounted here.
/usr/bin/python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)
print("held", flush=True)
time.sleep(120)' "$whole" >held.out & holder=$!
cleanup_hook "kill $holder 2>/dev/null || true"
for _ in $(seq 50); do grep -q held held.out && break; sleep 0.1; done
grep -q held held.out || fail "could not hold $whole exclusively"
expect_fail "fix $whole held exclusively" "$LANDFALL" fix "$whole"
grep -q "held open exclusively" "$tmp/err" || fail "fix $whole held exclusively: $(cat "$tmp/err")"
kill "$holder"; wait "$holder" 2>/dev/null || true
pass "held open exclusively by another program: refused ($(head -n1 "$tmp/err" | cut -c1-120)...)"

# Unmounted, the whole-disk fix goes past the check.
"$LANDFALL" fix --json "$whole" >fix.json 2>fix.err || fail "fix $whole, unmounted: $(tail -5 fix.err)"
pass "unmounted: fix on $whole goes ahead"
