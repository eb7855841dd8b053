#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `landfall fix` of the Debian-on-XFS guest (tests/fixtures/debian12-xfs.sh)
# through libguestfs, killed with SIGKILL at two random points of its
# apply and run again each time (issue 17): the third run finishes the
# fix, the guest's fstab and initramfs are fixed, and `xfs_repair -n` finds
# nothing wrong in the root filesystem.  The kill points are the apply's
# crash windows (LANDFALL_TEST_KILL_APPLY, bootfix/journal.c: "dirs", 0
# after the intent is journalled, K after the K-th edit): a timer would
# mostly hit the 30 s launch.  They are printed, and KILL_POINTS="a b"
# replays them.  Three launches (~2 min under TCG): run in the ASan pass
# only, which the rest of test-fix-xfs.sh keeps lighter than the normal one.
source "$(dirname "$0")/functions.sh"
requires python3 losetup mount guestfish xfs_repair fuser lsinitramfs

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
if [ "${SAN:-}" != 1 ] && [ "$BUILD" = build ]; then
    echo "SKIP: $(basename "$0"): runs in the ASan pass (this is $BUILD; the normal pass runs test-fix-xfs.sh's job, boot and undo)" >&2
    exit 77
fi
img=$("$top/tests/fixtures/build.sh" debian12-xfs "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cd "$tmp"
cp --sparse=always "$img" guest.img

# Until no process holds the image: the killed landfall's libguestfs
# appliance (its qemu) shuts down once its channel to landfall is gone.
wait_released () {
    for _ in $(seq 120); do
        fuser -s "$tmp/guest.img" 2>/dev/null || return 0
        sleep 0.5
    done
    fail "60 s after the kill, a process still holds guest.img: $(fuser "$tmp/guest.img" 2>&1)"
}
if [ -n "${KILL_POINTS:-}" ]; then
    read -r p1 p2 <<<"$KILL_POINTS"
else
    first=(dirs 0 1 2)
    p1=${first[RANDOM % 4]} p2=$((3 + RANDOM % 3))
fi
echo "kill points: $p1 $p2 (KILL_POINTS=\"$p1 $p2\" replays them)"
start=$SECONDS
n=0
for p in "$p1" "$p2"; do
    n=$((n + 1))
    r=0; LANDFALL_TEST_KILL_APPLY=$p "$LANDFALL" -v fix guest.img >kill$n.out 2>kill$n.err || r=$?
    if grep -q "built without it" kill$n.err; then
        echo "SKIP: $(basename "$0"): $LANDFALL was built without libguestfs (libguestfs-dev)" >&2
        exit 77
    fi
    ! grep -q "AddressSanitizer\|runtime error:" kill$n.err ||
        { grep -A20 "AddressSanitizer\|runtime error:" kill$n.err >&2; fail "run $n: sanitizer report"; }
    case $r in
        137) grep -q "LANDFALL_TEST_KILL_APPLY=$p: killing myself" kill$n.err ||
                 fail "run $n: killed, but not at point $p" ;;
        0) echo "run $n: point $p is past this run's last edit: it finished" ;;
        *) grep -v "debug: libguestfs" kill$n.err | tail -n 20 >&2; fail "run $n (kill at $p): exit $r" ;;
    esac
    wait_released
done
[ "$(grep -c "killing myself" kill1.err kill2.err | awk -F: '{s += $2} END {print s}')" -ge 1 ] ||
    fail "no run was killed"

r=0; "$LANDFALL" -v fix --json guest.img >fix.json 2>fix.err || r=$?
secs=$((SECONDS - start))
! grep -q "AddressSanitizer\|runtime error:" fix.err ||
    { grep -A20 "AddressSanitizer\|runtime error:" fix.err >&2; fail "re-run: sanitizer report"; }
[ $r = 0 ] || { grep -v "debug: libguestfs" fix.err | tail -n 20 >&2; cat fix.json >&2; fail "the re-run after the kills failed (exit $r)"; }
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"], r' fix.json || fail "the re-run's report is not ok"
wait_released

# The root filesystem, read-only through the host kernel's XFS.
lp=$(losetup -r -f --show -o "$PART1_OFFSET" --sizelimit "$PART1_SIZE" guest.img)
cleanup_hook "losetup -d $lp 2>/dev/null || true"
xfs_repair -n "$lp" >repair.out 2>&1 || { cat repair.out >&2; fail "xfs_repair -n finds damage after the kills and the re-run"; }
mkdir m
mount -t xfs -o ro,norecovery "$lp" m || fail "mounting the fixed XFS root"
cleanup_hook "umount $tmp/m 2>/dev/null || true"
! grep -q "^/dev/sda" m/etc/fstab || fail "fstab still names /dev/sda after the re-run"
grep -q "^UUID=$ROOT_UUID" m/etc/fstab || fail "fstab does not name the root by UUID after the re-run"
lsinitramfs_ok=$(python3 - "m/boot/initrd.img-$KERNEL_VERSION" <<'EOF'
import subprocess, sys
out = subprocess.run(["lsinitramfs", sys.argv[1]], capture_output=True, text=True).stdout
print(sum(1 for m in ("hv_vmbus", "hv_storvsc", "hv_netvsc") if "/%s.ko" % m in out))
EOF
)
[ "$lsinitramfs_ok" = 3 ] || fail "the initramfs holds $lsinitramfs_ok of the three Hyper-V modules after the re-run"
umount m
pass "fix through libguestfs killed at apply points $p1 and $p2, run again: fixed, xfs_repair -n clean ($secs s, three launches)"
