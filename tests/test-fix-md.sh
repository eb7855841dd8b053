#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Linux md RAID1 root and /boot across two disks, as physical servers have
# them (issue 17; tests/fixtures/debian12-md.sh: md0 / with metadata 1.2,
# md1 /boot with metadata 1.0, grub on both disks).  The members are fixed
# together, through libguestfs (its appliance assembles the arrays):
#   both passes: one member alone is refused by name and nothing written,
#     by fix and by a job's step 1 (no launch); --guestfs=never refuses;
#   normal: a 'landfall run' job with both disks (step 1's launch, then one
#     for fix and verify): both output mirrors identical, verify's checks
#     pass, the initramfs still assembles the arrays (md-mod, raid1, mdadm,
#     mdadm.conf); the output pair boots under QEMU to a login with DHCP,
#     / on md0; 'landfall undo JOB' gives back the file trees of / and
#     /boot and the initramfs byte for byte, on both members;
#   SAN=1: 'landfall fix A B' under ASan (one launch), no boot.
source "$(dirname "$0")/functions.sh"
requires python3 sha256sum losetup mount guestfish cmp

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-md "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
imgb=${img%.img}-b.img
[ -f "$imgb" ] || fail "no second member $imgb"
cd "$tmp"
cp --sparse=always "$img" a.img
cp --sparse=always "$imgb" b.img
kv=$KERNEL_VERSION

# mirrors_same X Y: the data areas of md0 and md1 are the same bytes.
mirrors_same () {
    cmp -s -i "$ROOT_OFFSET:$ROOT_OFFSET" -n "$ROOT_SIZE" "$1" "$2" &&
        cmp -s -i "$BOOT_OFFSET:$BOOT_OFFSET" -n "$BOOT_SIZE" "$1" "$2"
}
mirrors_same a.img b.img || fail "the fixture's mirrors differ"

# One member alone: refused by name before anything is written.
r=0; "$LANDFALL" fix a.img >one.out 2>&1 || r=$?
cat one.out
[ "$r" = 1 ] || fail "fix of one member: exit $r, expected 1"
grep -Eq "md[01] is a RAID1 of 2 members; 1 given: a.img:p[12] \(member 0\); missing: member 1" one.out ||
    fail "fix of one member does not name the array and what was given"
cmp -s "$img" a.img || fail "fix of one member changed it"
mkdir job1
cp --sparse=always "$img" job1/md01-a.raw
printf 'machine = md01\nsource = vmware\nprofile = auto\nos-disk = md01-a.raw\noutput = out\n' >job1/md01.job
r=0; "$LANDFALL" run --no-progress job1/md01.job >job1.out 2>&1 || r=$?
cat job1.out
[ "$r" != 0 ] && [ "$r" != 3 ] || fail "a job with one member succeeded"
grep -Eq "prerequisites: md[01] is a RAID1 of 2 members; 1 given" job1.out ||
    fail "step 1 does not name the array missing a member"
[ ! -e job1/out ] || fail "a job that failed its prerequisites left output"
cmp -s "$img" job1/md01-a.raw || fail "the job changed its one member"
pass "one member alone: refused by fix and by step 1 ($(grep -o 'md[01] is a RAID1 of 2 members; 1 given' one.out | head -n1)), nothing written"

r=0; "$LANDFALL" fix --guestfs=never a.img b.img >never.out 2>&1 || r=$?
cat never.out
[ "$r" = 1 ] || fail "fix --guestfs=never: exit $r, expected 1"
grep -q "no native backend assembles md arrays" never.out || fail "fix --guestfs=never does not say why"
cmp -s "$img" a.img && cmp -s "$imgb" b.img || fail "fix --guestfs=never changed a member"
pass "fix --guestfs=never: the md members refused, nothing written"

if [ "${SAN:-}" = 1 ]; then
    echo "SKIP (part): $(basename "$0"): the job, the QEMU boot and undo run in the normal build; SAN=1 runs fix" >&2
    start=$SECONDS
    "$LANDFALL" -v fix --json a.img b.img >fix.json 2>fix.err || {
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
assert "/etc/network/interfaces" in paths and any(p.startswith("/boot/initrd.img-") for p in paths), paths
EOF
    mirrors_same a.img b.img || fail "after the fix, the mirrors differ"
    pass "fix A B through libguestfs: one launch, $secs s, both mirrors the same bytes"
    exit 0
fi

# Both members as a job: step 1's launch, then one for fix and verify.
mkdir job
cp --sparse=always "$img" job/md01-a.raw
cp --sparse=always "$imgb" job/md01-b.raw
printf 'machine = md01\nsource = vmware\nprofile = auto\nos-disk = md01-a.raw\ndisk = md01-b.raw\noutput = out\n' >job/md01.job
start=$SECONDS
r=0; "$LANDFALL" -v run --no-progress job/md01.job >run.out 2>run.err || r=$?
secs=$((SECONDS - start))
cat run.out
if grep -q "built without it" run.err; then
    echo "SKIP: $(basename "$0"): $LANDFALL was built without libguestfs (libguestfs-dev)" >&2
    exit 77
fi
case $r in 0|3) ;; *) grep -v "debug: libguestfs" run.err | tail -n 30 >&2; fail "run on the md guest: exit $r" ;; esac
[ "$(grep -c "appliance launched in" run.err)" = 2 ] ||
    fail "run: not two appliance launches (step 1's, and fix with verify)"
state=job/out/.landfall-job.json
[ -f "$state" ] || fail "no job state file $state"
python3 - job/out/landfall-report.json "$state" <<'EOF' || fail "run report"
import json, sys
r = json.load(open(sys.argv[1]))
st = json.load(open(sys.argv[2]))
assert r["ok"] and r["errors"] == [], (r["result"], r["errors"])
assert all(s["state"] == "done" for s in r["steps"]), r["steps"]
paths = [c["path"] for c in r["changes"]]
assert "/etc/network/interfaces" in paths and any(p.startswith("/boot/initrd.img-") for p in paths), paths
def checks(o):
    if isinstance(o, dict):
        if "check" in o and "status" in o:
            yield o
        for v in o.values():
            yield from checks(v)
    elif isinstance(o, list):
        for v in o:
            yield from checks(v)
c = {x["check"]: x for x in checks(st.get("verify", {}))}
assert c["linux-initramfs-md"]["status"] == "pass", c.get("linux-initramfs-md")
for w in ("md_mod", "raid1", "mdadm.conf", "2 md arrays"):
    assert w in c["linux-initramfs-md"]["reason"], c["linux-initramfs-md"]
assert c["linux-initramfs-modules"]["status"] == "pass", c["linux-initramfs-modules"]
assert "md0" in c["linux-root"]["reason"], c["linux-root"]
print(c["linux-initramfs-md"]["reason"])
EOF
oa=job/out/md01-os.vhd
ob=$(ls job/out/*.vhd | grep -v md01-os.vhd)
[ -f "$ob" ] || fail "no output VHD for the second member"
mirrors_same "$oa" "$ob" || fail "after the fix, the output's mirrors differ"
pass "run job with both members: fixed and verified through libguestfs (the initramfs still assembles the arrays), two launches, $secs s, both mirrors the same bytes"

# The outputs are fixed VHDs: the disks' bytes, then a 512-byte footer,
# which QEMU's raw driver shows as one more sector.
python3 "$top/tests/tools/qemu-login.py" --timeout 400 --nic e1000 \
    --log boot.log --disk "$ob" "$oa" root landfall \
    "cat /proc/mdstat" "findmnt -n -o SOURCE,FSTYPE /" \
    "ip -4 -o addr show scope global" >login.out 2>&1 ||
    { cat login.out; tail -n 40 boot.log | tr -d '\r'; fail "the fixed md guest did not boot to a login"; }
cat login.out
tr -d '\r' <login.out >login.txt
grep -Eq "^/dev/md[0-9]+ +ext4" login.txt || fail "/ is not on an md array in the booted guest"
grep -Eq "raid1 .*sd[ab]2\[[01]\].*sd[ab]2\[[01]\]" login.txt || fail "md0 not assembled from both disks"
grep -Eq "inet 10\.0\.2\.[0-9]+/24 .*dynamic" login.txt || fail "no DHCP address on the e1000 NIC"
pass "the fixed pair boots under QEMU to a login: / on md0 (RAID1 of both disks), DHCP address"

"$LANDFALL" -v undo job/md01.job >undo.out 2>undo.err || {
    grep -v "debug: libguestfs" undo.err | tail -n 30 >&2; fail "undo JOB failed"; }
[ "$(grep -c "appliance launched in" undo.err)" = 1 ] || fail "undo: not exactly one appliance launch"
mirrors_same "$oa" "$ob" || fail "after undo, the mirrors differ"
# Each member's / and /boot, read-only through the host kernel at the data
# offset, against the source's (noload: replay nothing).
mnt () {  # IMG OFFSET SIZE DIR
    local l
    l=$(losetup -r -f --show -o "$2" --sizelimit "$3" "$1")
    cleanup_hook "losetup -d $l 2>/dev/null || true"
    mkdir -p "$4"
    mount -t ext4 -o ro,noload "$l" "$4" || fail "mounting $1 at $2"
    cleanup_hook "umount $tmp/$4 2>/dev/null || true"
}
mnt "$img" "$ROOT_OFFSET" "$ROOT_SIZE" src
mnt "$img" "$BOOT_OFFSET" "$BOOT_SIZE" src-boot
mnt "$oa" "$ROOT_OFFSET" "$ROOT_SIZE" a
mnt "$oa" "$BOOT_OFFSET" "$BOOT_SIZE" a-boot
mnt "$ob" "$ROOT_OFFSET" "$ROOT_SIZE" b
mnt "$ob" "$BOOT_OFFSET" "$BOOT_SIZE" b-boot
python3 - src a b src-boot a-boot b-boot <<'EOF' || fail "after undo, a file tree differs from the source"
import hashlib, os, stat, sys
def tree(top):
    t = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            if rel == "lost+found":
                continue
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
src, a, b, sb, ab, bb = (tree(x) for x in sys.argv[1:])
bad = False
for name, x, y in (("/ of member A", src, a), ("/ of member B", src, b),
                   ("/boot of member A", sb, ab), ("/boot of member B", sb, bb)):
    only_x, only_y = sorted(set(x) - set(y)), sorted(set(y) - set(x))
    diff = sorted(p for p in set(x) & set(y) if x[p] != y[p])
    for p in only_x[:10]: print(name, "lacks", p)
    for p in only_y[:10]: print(name, "has more:", p)
    for p in diff[:10]: print(name, "differs:", p, x[p], y[p])
    bad |= bool(only_x or only_y or diff)
assert not bad
print("%d + %d entries compared on each member" % (len(src), len(sb)))
EOF
for m in a b; do
    [ "$(sha256sum <src-boot/initrd.img-$kv)" = "$(sha256sum <$m-boot/initrd.img-$kv)" ] ||
        fail "the initramfs of member $m differs after undo"
done
pass "undo JOB: one launch; / and /boot on both members are the source's file trees, initrd.img-$kv byte for byte"
