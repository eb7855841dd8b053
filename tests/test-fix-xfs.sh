#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The libguestfs path of fix, run and undo (issue 17): a VMware-like
# Debian 12 with / on XFS (tests/fixtures/debian12-xfs.sh), which no native
# backend reads.  Under --guestfs=never the fix is refused and nothing
# changes.  Each launch is 25-40 s under TCG, so the passes split the work:
#   normal: the guest as a 'landfall run' job (one launch for step 1's
#     check of the source, one for fix and verify's planning again); the
#     output boots under QEMU to a login and gets a DHCP address; 'landfall
#     undo JOB' (one launch) gives back the source's file tree exactly
#     (contents, modes, owners, symlinks) and its initramfs byte for byte;
#   SAN=1 (saying so): 'landfall fix' under ASan, one launch.
source "$(dirname "$0")/functions.sh"
requires python3 sha256sum losetup mount guestfish

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-xfs "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cd "$tmp"
cp --sparse=always "$img" guest.img

# Without libguestfs: the root is unread, the fix refused, nothing written.
r=0; "$LANDFALL" fix --guestfs=never guest.img >never.out 2>&1 || r=$?
cat never.out
[ "$r" = 1 ] || fail "fix --guestfs=never: exit $r, expected 1"
grep -q "no native backend reads xfs" never.out || fail "fix --guestfs=never does not say why"
cmp -s "$img" guest.img || fail "fix --guestfs=never changed the image"
pass "fix --guestfs=never: XFS root refused, image unchanged"

if [ "${SAN:-}" = 1 ]; then
    echo "SKIP (part): $(basename "$0"): the job, the QEMU boot and undo run in the normal build only; SAN=1 runs fix" >&2
start=$SECONDS
"$LANDFALL" -v fix --json guest.img >fix.json 2>fix.err || {
    grep -v "debug: libguestfs" fix.err | tail -n 30 >&2; cat fix.json >&2; fail "fix failed"; }
secs=$((SECONDS - start))
if grep -q "built without it" fix.err; then
    echo "SKIP: $(basename "$0"): $LANDFALL was built without libguestfs (libguestfs-dev)" >&2
    exit 77
fi
if grep -q "AddressSanitizer\|runtime error:" fix.err; then
    grep -A20 "AddressSanitizer\|runtime error:" fix.err >&2
    fail "sanitizer report"
fi
[ "$(grep -c "appliance launched in" fix.err)" = 1 ] || fail "fix: not exactly one appliance launch"
python3 - fix.json <<'EOF' || fail "fix report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"], r
paths = [e["path"] for e in r["edits"]]
assert "/etc/fstab" in paths and any(p.startswith("/boot/initrd.img-") for p in paths), paths
print("fix: %d changes: %s" % (len(paths), ", ".join(paths)))
EOF
pass "fix through libguestfs: one launch, $secs s in all ($(grep -o 'appliance launched in [0-9.]* s' fix.err))"
    exit 0
fi

# The guest as a job: one launch for the source's checks in step 1, one for
# fix and verify's planning again.
mkdir job
cp --sparse=always "$img" job/xfs01.raw
cat >job/xfs01.job <<'EOF'
machine = xfs01
source = vmware
profile = auto
os-disk = xfs01.raw
output = out
guestfs = auto
EOF
start=$SECONDS
r=0; "$LANDFALL" -v run --no-progress job/xfs01.job >run.out 2>run.err || r=$?
secs=$((SECONDS - start))
cat run.out
if grep -q "built without it" run.err; then
    echo "SKIP: $(basename "$0"): $LANDFALL was built without libguestfs (libguestfs-dev)" >&2
    exit 77
fi
case $r in 0|3) ;; *) grep -v "debug: libguestfs" run.err | tail -n 30 >&2; fail "run on the XFS guest: exit $r" ;; esac
[ "$(grep -c "appliance launched in" run.err)" = 2 ] ||
    fail "run: not two appliance launches (step 1's, and fix with verify)"
python3 - job/out/landfall-report.json <<'EOF' || fail "run report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["errors"] == [], (r["result"], r["errors"])
assert all(s["state"] == "done" for s in r["steps"]), r["steps"]
paths = [c["path"] for c in r["changes"]]
assert "/etc/fstab" in paths and any(p.startswith("/boot/initrd.img-") for p in paths), paths
EOF
pass "run job on the XFS guest: fixed and verified through libguestfs, two launches, $secs s"

# The output is a fixed VHD: the disk's bytes, then a 512-byte footer,
# which QEMU's raw driver shows as one more sector.
out=job/out/xfs01-os.vhd
python3 "$top/tests/tools/qemu-login.py" --timeout 400 --nic e1000 \
    --log boot.log "$out" root landfall \
    "cat /proc/cmdline" "findmnt -n -o FSTYPE /" \
    "ip -4 -o addr show scope global" >login.out 2>&1 ||
    { cat login.out; tail -n 40 boot.log | tr -d '\r'; fail "the fixed XFS guest did not boot to a login"; }
cat login.out
grep -qx "xfs" <(tr -d '\r' <login.out) || fail "/ is not XFS in the booted guest"
grep -Eq "inet 10\.0\.2\.[0-9]+/24 .*dynamic" login.out || fail "no DHCP address on the e1000 NIC"
pass "the fixed XFS guest boots under QEMU to a login, DHCP address on an e1000 NIC"

"$LANDFALL" -v undo job/xfs01.job >undo.out 2>undo.err || {
    grep -v "debug: libguestfs" undo.err | tail -n 30 >&2; fail "undo JOB failed"; }
[ "$(grep -c "appliance launched in" undo.err)" = 1 ] || fail "undo: not exactly one appliance launch"

# Both XFS roots, read-only through the host kernel (loop devices at the
# partition's offset; nouuid: they share a UUID; norecovery: write nothing).
mkdir a b
la=$(losetup -r -f --show -o "$PART1_OFFSET" --sizelimit "$PART1_SIZE" "$img")
cleanup_hook "losetup -d $la 2>/dev/null || true"
lb=$(losetup -r -f --show -o "$PART1_OFFSET" --sizelimit "$PART1_SIZE" "$out")
cleanup_hook "losetup -d $lb 2>/dev/null || true"
mount -t xfs -o ro,norecovery,nouuid "$la" a || fail "mounting the source's XFS"
cleanup_hook "umount $tmp/a 2>/dev/null || true"
mount -t xfs -o ro,norecovery,nouuid "$lb" b || fail "mounting the undone XFS"
cleanup_hook "umount $tmp/b 2>/dev/null || true"
python3 - a b <<'EOF' || fail "after undo, the file tree differs from the source"
import hashlib, os, stat, sys
def tree(top):
    t = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            if stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for b in iter(lambda: f.read(1 << 20), b""):
                        h.update(b)
                what = h.hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(p)
            else:
                what = ""
            t[rel] = (st.st_mode, st.st_uid, st.st_gid, what)
    return t
a, b = tree(sys.argv[1]), tree(sys.argv[2])
only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
diff = sorted(p for p in set(a) & set(b) if a[p] != b[p])
for p in only_a[:20]: print("only in the source:", p)
for p in only_b[:20]: print("only after undo:", p)
for p in diff[:20]: print("differs:", p, a[p], b[p])
assert not (only_a or only_b or diff)
print("%d entries compared" % len(a))
EOF
kv=$KERNEL_VERSION
[ "$(sha256sum <a/boot/initrd.img-$kv)" = "$(sha256sum <b/boot/initrd.img-$kv)" ] ||
    fail "the initramfs differs after undo"
pass "undo JOB through libguestfs: one launch; the file tree and initrd.img-$kv are the source's"

