#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall inspect through the libguestfs backend: a RHEL-like disk with
# /boot on XFS and / on XFS in an LVM logical volume (tests/fixtures/
# xfs-lvm.sh), which no native backend reads.  One appliance launch (the
# fixture comes from the cache after its first build): 15-35 s under TCG.
#
# Checks: the appliance is launched only for what needs it (--guestfs=auto
# is the default, --guestfs=never launches nothing); the VG's LVs; both XFS
# filesystems opened by the guestfs backend; the Linux root on rhel/root,
# its distribution from the fake os-release; /boot (a second guestfs
# filesystem) mounted from fstab's UUID=, its kernel and initramfs found;
# modules.dep read through the /lib -> usr/lib symlink.
. "$(dirname "$0")/functions.sh"
requires guestfish /usr/bin/python3

"$LANDFALL" --help >/dev/null 2>&1 || fail "no $LANDFALL"

# The fixture (cached; a first build is one guestfish launch).
"$top/tests/fixtures/xfs-lvm.sh" "$tmp/xfs-lvm.img" 2>"$tmp/fixture.err" || {
    cat "$tmp/fixture.err" >&2
    if grep -q "guestfish failed" "$tmp/fixture.err"; then
        echo "SKIP: $(basename "$0"): libguestfs cannot build the fixture here (see above)" >&2
        exit 77
    fi
    fail "building the xfs-lvm fixture"
}
. "$tmp/xfs-lvm.img.facts"
img=$tmp/xfs-lvm.img

# Without libguestfs: the XFS filesystems are findings, nothing launches.
start=$SECONDS
"$LANDFALL" inspect --json --guestfs=never "$img" >"$tmp/never.json" ||
    fail "inspect --guestfs=never failed"
[ $((SECONDS - start)) -lt 10 ] || fail "--guestfs=never took $((SECONDS - start)) s: did it launch?"
/usr/bin/python3 - "$tmp/never.json" <<'EOF' || fail "--guestfs=never report"
import json, sys
d = json.load(open(sys.argv[1]))
fs = {f["device"]: f for f in d["filesystems"]}
assert "no native backend reads xfs" in fs["rhel/root"]["error"], fs["rhel/root"]
assert "backend" not in fs["rhel/root"]
assert d["operating_systems"] == [], d["operating_systems"]
EOF
pass "--guestfs=never: XFS reported unread, no appliance"

expect_fail "--guestfs=sometimes" "$LANDFALL" inspect --guestfs=sometimes "$img"

# The one launch: auto (the default) sees two XFS filesystems.
start=$SECONDS
"$LANDFALL" -v inspect --json "$img" >"$tmp/report.json" 2>"$tmp/debug.txt" || {
    tail -n 30 "$tmp/debug.txt" >&2
    fail "inspect failed"
}
secs=$((SECONDS - start))
if grep -q "built without it" "$tmp/debug.txt"; then
    echo "SKIP: $(basename "$0"): $LANDFALL was built without libguestfs (libguestfs-dev)" >&2
    exit 77
fi
if ! grep -q "appliance launched in" "$tmp/debug.txt" &&
   grep -q '"error": ".*libguestfs' "$tmp/report.json"; then
    grep -m1 '"error": ".*libguestfs' "$tmp/report.json" >&2
    echo "SKIP: $(basename "$0"): libguestfs cannot launch its appliance here" >&2
    exit 77
fi
if grep -q "AddressSanitizer\|runtime error:" "$tmp/debug.txt"; then
    grep -A20 "AddressSanitizer\|runtime error:" "$tmp/debug.txt" >&2
    fail "sanitizer report"
fi
grep -m1 "KVM " "$tmp/debug.txt" || true
grep -m1 "appliance launched in" "$tmp/debug.txt" ||
    fail "no launch in the debug output"
[ "$(grep -c "appliance launched in" "$tmp/debug.txt")" = 1 ] || fail "more than one launch"
echo "inspect took $secs s"

/usr/bin/python3 - "$tmp/report.json" "$img" <<EOF || { cat "$tmp/report.json" >&2; fail "report fields"; }
import json, sys
d = json.load(open(sys.argv[1]))
img = sys.argv[2]

lvs = {lv["vg"] + "/" + lv["name"]: lv for lv in d["logical_volumes"]}
assert set(lvs) == {"$ROOT_LV", "$SWAP_LV"}, lvs

fs = {f["device"]: f for f in d["filesystems"]}
root, boot, swap = fs["$ROOT_LV"], fs[img + ":p1"], fs["$SWAP_LV"]
for f, uuid in ((root, "$ROOT_UUID"), (boot, "$BOOT_UUID")):
    assert f["type"] == "xfs", f
    assert f["backend"] == "guestfs", f
    assert f["uuid"] == uuid, f
    assert "error" not in f, f
assert swap["type"] == "swap" and "backend" not in swap, swap
assert fs[img + ":p2"]["type"] == "LVM2_member"

oses = d["operating_systems"]
assert len(oses) == 1, oses
os = oses[0]
assert os["type"] == "linux", os
assert os["root"] == "$ROOT_LV", os["root"]
assert os["distro"]["id"] == "$DISTRO_ID", os["distro"]
assert os["distro"]["version"] == "$DISTRO_VERSION", os["distro"]
assert os["distro"]["family"] == "rhel", os["distro"]

fstab = {e["mountpoint"]: e for e in os["fstab"]}
assert fstab["/"]["resolves_to"] == "$ROOT_LV", fstab["/"]
assert fstab["/boot"]["resolved_by"] == "UUID", fstab["/boot"]
assert fstab["/boot"]["resolves_to"] == img + ":p1", fstab["/boot"]

# /boot's contents come from the second guestfs filesystem.
kernels = {k["version"]: k for k in os["kernels"]}
k = kernels["$KERNEL_VERSION"]
assert k["initramfs"] == "/boot/initramfs-$KERNEL_VERSION.img", k
assert k["modules_dir"], k
for m in ("hv_vmbus", "hv_storvsc", "hv_netvsc"):
    assert k["profile_modules"][m]["state"] == "module", k["profile_modules"]
EOF
pass "xfs-on-LVM inspected through libguestfs (rhel/root, /boot, RHEL $DISTRO_VERSION)"
