#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall run on guests whose root is on LVM (issue 17): the debian12-lvm
# fixture (Debian's guided LVM layout: /boot on sda1, / on vg0/root of a PV
# on sda2) as a job succeeds, the fix is in the output's LV, and undo JOB
# gives back every file it changed byte for byte (the initramfs too).  Then
# vg0 grown onto a data disk: the job with both disks passes its
# prerequisites; without the data disk, step 1 names the missing PV.
source "$(dirname "$0")/functions.sh"
requires debugfs python3 sha256sum qemu-img losetup lvm

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-lvm "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cd "$tmp"
mkdir job
cp --sparse=always "$img" job/db01-os.raw
cat >job/db01.job <<'EOF'
machine = db01
source = vmware
profile = auto
os-disk = db01-os.raw
output = out
EOF

r=0; "$LANDFALL" run --no-progress job/db01.job >summary.txt 2>log.txt || r=$?
cat summary.txt log.txt
case $r in 0|3) ;; *) fail "run on the LVM-root guest: exit $r" ;; esac
rep=job/out/landfall-report.json
os=job/out/db01-os.vhd
# The output VHD is fixed: the guest's bytes at the source's offsets.
cat_root () { debugfs -R "cat $1" "$2?offset=$ROOT_OFFSET" 2>/dev/null; }
cat_boot () { debugfs -R "cat ${1#/boot}" "$2?offset=$PART1_OFFSET" 2>/dev/null; }
cat_any () { case $1 in /boot/*) cat_boot "$@" ;; *) cat_root "$@" ;; esac; }
cat_root /var/lib/landfall/journal.json "$os" | grep -q '"path"' ||
    fail "no journal in the output's vg0/root"
python3 - "$rep" >changes.txt <<'EOF' || fail "report fields"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["errors"] == [], (r["result"], r["errors"])
assert all(s["state"] == "done" for s in r["steps"]), r["steps"]
paths = [c["path"] for c in r["changes"]]
assert any(p.startswith("/boot/initrd.img-") for p in paths), paths
print("\n".join(paths))
EOF
pass "job on the LVM-root guest succeeds ($(wc -l <changes.txt) changes, exit $r)"

# undo JOB: every changed path as in the source, byte for byte.
"$LANDFALL" undo job/db01.job >undo.txt || { cat undo.txt; fail "undo JOB failed"; }
n=0
while read -r p; do
    a=$(cat_any "$p" "$img" | sha256sum) b=$(cat_any "$p" "$os" | sha256sum)
    [ "$a" = "$b" ] || fail "after undo, $p differs from the source"
    n=$((n + 1))
done <changes.txt
initrd=$(grep '^/boot/initrd.img-' changes.txt | head -n1)
[ "$(cat_boot "$initrd" "$img" | wc -c)" -gt 1000000 ] || fail "$initrd not read back"
[ -z "$(cat_root /var/lib/landfall/journal.json "$os")" ] || fail "journal left after undo"
pass "undo JOB: the $n changed files (the initramfs among them) are the source's again"

# vg0 grown onto a data disk (vgextend, then an LV on the new PV), with
# the host's lvm2 and activation off, as debian12-lvm.sh builds it.
cp --sparse=always "$img" span-os.raw
truncate -s 64M span-data.raw
mkdir -p lvm/etc lvm/lock
cat >lvm/etc/lvm.conf <<EOF
devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 external_device_info_source = "none" }
global { activation = 0 locking_dir = "$tmp/lvm/lock" use_lvmpolld = 0 event_activation = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
backup { backup = 0 archive = 0 }
EOF
export LVM_SYSTEM_DIR=$tmp/lvm/etc LVM_SUPPRESS_FD_WARNINGS=1
la=$(losetup -f --show -o "$PART2_OFFSET" --sizelimit "$PART2_SIZE" span-os.raw)
cleanup_hook "losetup -d $la 2>/dev/null || true"
lb=$(losetup -f --show span-data.raw)
cleanup_hook "losetup -d $lb 2>/dev/null || true"
lvm pvcreate -q -y "$lb" --devices "$lb" >/dev/null || fail "pvcreate"
lvm vgextend -q vg0 "$lb" --devices "$la" --devices "$lb" >/dev/null || fail "vgextend"
lvm lvcreate -q -an -Zn -Wn -L 32M -n data vg0 "$lb" --devices "$la" --devices "$lb" >/dev/null ||
    fail "lvcreate"
data_pv=$(lvm pvs --noheadings -o pv_uuid "$lb" --devices "$lb" | tr -d ' ')
losetup -d "$la"; losetup -d "$lb"

cat >job/span.job <<'EOF'
machine = span
source = vmware
profile = auto
os-disk = ../span-os.raw
output = out-span
EOF
r=0; "$LANDFALL" run --no-progress job/span.job >span1.txt 2>&1 || r=$?
cat span1.txt
[ "$r" != 0 ] && [ "$r" != 3 ] || fail "job without vg0's data disk succeeded"
grep -q "prerequisites: volume group vg0 (on the OS disk) spans a disk that is not in the job: its physical volume pv1 (UUID $data_pv, last seen by LVM as $lb" span1.txt ||
    fail "step 1 does not name vg0's missing PV ($data_pv) and where LVM saw it"
[ ! -e job/out-span ] || fail "a job that failed its prerequisites left output"
pass "vg0 over the OS disk and a data disk, the data disk left out: step 1 names its PV"

echo "disk = ../span-data.raw" >>job/span.job
r=0; "$LANDFALL" run --no-progress job/span.job >span2.txt 2>&1 || r=$?
cat span2.txt
case $r in 0|3) ;; *) fail "job with vg0 over both disks: exit $r" ;; esac
cat_root /var/lib/landfall/journal.json job/out-span/span-os.vhd | grep -q '"path"' ||
    fail "the spanning job fixed nothing in vg0/root"
pass "vg0 over the OS disk and a data disk, both in the job: fixed"
