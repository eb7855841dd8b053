#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# btrfs with subvolumes through the libguestfs backend (issue 17).
#   debian12-btrfs (Ubuntu's layout: / in @, /home in @home, fstab and
#   rootflags by subvol=, /boot inside @): 'landfall fix' killed at a
#   random point of its apply (LANDFALL_TEST_KILL_APPLY, as
#   test-run-inplace-kill.sh; KILL_POINT= replays one), then run again;
#   btrfs check --readonly is clean after both; the fstab's subvol= lines
#   are kept; 'landfall verify' passes; the fixed guest boots under QEMU to
#   a login with a DHCP address (normal build only: under SAN=1 the same
#   code already ran); 'landfall undo' gives back the whole file tree of
#   both subvolumes and the initramfs byte for byte.
#   btrfs-suse (SUSE's: / in @/.snapshots/1/snapshot, the default
#   subvolume, no rootflags, @/home and @/.snapshots by subvol=/..., an
#   older read-only snapshot): fixed in the default subvolume, @/home and
#   @/.snapshots mounted as subvolumes (fstab's subvol= to them:
#   guest/test-guestfs.c), the old snapshot left out and untouched; the same image with an fstab
#   line naming a subvolume that is not there is refused by name, and no
#   file is changed.
# Each command is one appliance launch (25-60 s under TCG), so the passes
# split the work (saying so): the normal build runs Ubuntu's layout, SAN=1
# SUSE's and the refusal, through the same btrfs code (subvolumes listed,
# mounted, fstab resolved) under the sanitizers.
source "$(dirname "$0")/functions.sh"
requires python3 sha256sum losetup mount btrfs guestfish

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-btrfs "$top/$BUILD/fixtures" | tail -n1)
suse=$("$top/tests/fixtures/build.sh" btrfs-suse "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cd "$tmp"
t_start=$SECONDS

# btrfs_at IMG: a read-only loop device on IMG's partition 1.  Two btrfs
# with one UUID must not be mounted at once: the kernel takes them for
# devices of one filesystem.  So one at a time, and forgotten after.
btrfs_at () {
    local l
    l=$(losetup -r -f --show -o "$PART1_OFFSET" --sizelimit "$PART1_SIZE" "$1")
    cleanup_hook "losetup -d $l 2>/dev/null || true"
    echo "$l"
}
btrfs_done () {
    losetup -d "$1"
    btrfs device scan --forget >/dev/null 2>&1 || true
}
# check_clean IMG WHAT: btrfs check --readonly finds nothing.
check_clean () {
    local l r=0
    l=$(btrfs_at "$1")
    btrfs check --readonly "$l" >check.log 2>&1 || r=$?
    btrfs_done "$l"
    [ "$r" = 0 ] || { cat check.log >&2; fail "$2: btrfs check --readonly: exit $r"; }
}
# tree IMG OUT: every entry of the top level (so every subvolume) with
# mode, owner, link target or content hash; and /etc/fstab of @ as OUT.fstab.
tree () {
    local l
    l=$(btrfs_at "$1")
    mkdir -p mnt
    mount -t btrfs -o ro,subvolid=5 "$l" mnt || fail "mounting $1's btrfs"
    cleanup_hook "umount $tmp/mnt 2>/dev/null || true"
    python3 - mnt "$2" <<'EOF'
import hashlib, json, os, stat, sys
top, out = sys.argv[1], sys.argv[2]
t = {}
for d, dirs, files in os.walk(top):
    for n in dirs + files:
        p = os.path.join(d, n)
        st = os.lstat(p)
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
        t[os.path.relpath(p, top)] = (st.st_mode, st.st_uid, st.st_gid, what)
json.dump(t, open(out, "w"))
EOF
    cp "mnt/$ROOT_SUBVOL/etc/fstab" "$2.fstab"
    umount mnt
    btrfs_done "$l"
}
compare () {   # compare A B: the trees tree wrote are the same
    python3 - "$1" "$2" <<'EOF'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
diff = sorted(p for p in set(a) & set(b) if a[p] != b[p])
for p in only_a[:20]: print("only in the source:", p)
for p in only_b[:20]: print("only after undo:", p)
for p in diff[:20]: print("differs:", p, a[p], b[p])
assert not (only_a or only_b or diff)
print("%d entries compared" % len(a))
EOF
}
launches () { grep -c "appliance launched in" "$1"; }

if [ "${SAN:-}" = 1 ]; then
    echo "SKIP (part): $(basename "$0"): Ubuntu's layout (kill, fix, verify, QEMU boot, undo) runs in the normal build only (the CI budget); SAN=1 runs SUSE's" >&2
else
# --- Ubuntu's layout ------------------------------------------------------
cp --sparse=always "$img" guest.img

# Without libguestfs: the root is unread, the fix refused, nothing written.
r=0; "$LANDFALL" fix --guestfs=never guest.img >never.out 2>&1 || r=$?
[ "$r" = 1 ] || { cat never.out; fail "fix --guestfs=never: exit $r, expected 1"; }
grep -q "no native backend reads btrfs" never.out || fail "fix --guestfs=never does not say why"
cmp -s "$img" guest.img || fail "fix --guestfs=never changed the image"
pass "fix --guestfs=never: btrfs root refused, image unchanged"

# A kill at a random point of the apply (the fix makes 6 edits: points
# "dirs", 0 (intent journalled) and after edit 1..5 all fall inside it).
points=(dirs 0 1 2 3 4 5)
kp=${KILL_POINT:-${points[RANDOM % ${#points[@]}]}}
echo "kill point: $kp (KILL_POINT=$kp replays it)"
start=$SECONDS
r=$( (LANDFALL_TEST_KILL_APPLY=$kp "$LANDFALL" -v fix guest.img >kill.out 2>kill.err; echo $?) 2>/dev/null)
if grep -q "built without it" kill.err; then
    echo "SKIP: $(basename "$0"): $LANDFALL was built without libguestfs (libguestfs-dev)" >&2
    exit 77
fi
[ "$r" = 137 ] || { grep -v "debug: libguestfs" kill.err | tail -n 20 >&2; fail "fix was not killed at apply point $kp (exit $r)"; }
# libguestfs' recovery process ends the appliance with us: wait for it
# before reading the disk.
for _ in $(seq 60); do
    ls -l /proc/[0-9]*/fd 2>/dev/null | grep -q "$tmp/guest.img" || break
    sleep 1
done
check_clean guest.img "killed at apply point $kp"
pass "fix killed at apply point $kp ($((SECONDS - start)) s): btrfs check --readonly clean"

start=$SECONDS
"$LANDFALL" -v fix --json guest.img >fix.json 2>fix.err || {
    grep -v "debug: libguestfs" fix.err | tail -n 30 >&2; cat fix.json >&2; fail "the re-run of fix failed"; }
secs=$((SECONDS - start))
[ "$(launches fix.err)" = 1 ] || fail "fix: not exactly one appliance launch"
python3 - fix.json <<'EOF' || fail "fix report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"], r
paths = [e["path"] for e in r["edits"]]
print("fix after the kill: %d changes left: %s" % (len(paths), ", ".join(paths)))
EOF
grep -q "subvol=@ mounted at" fix.err && grep -q "subvol=@home mounted at" fix.err ||
    fail "fix did not mount the subvolumes @ and @home"
check_clean guest.img "killed at $kp, then fixed"
pass "fix re-run after the kill, through libguestfs: one launch, $secs s; btrfs check --readonly clean"

tree "$img" src.json
tree guest.img fixed.json
grep -v '^#' src.json.fstab | grep subvol= >src.subvol
grep -v '^#' fixed.json.fstab | grep subvol= >fixed.subvol
[ "$(wc -l <src.subvol)" = 2 ] && diff src.subvol fixed.subvol ||
    fail "the fstab's subvol= lines changed: $(cat fixed.json.fstab)"
pass "fstab's subvol=@ and subvol=@home lines kept"
# What the two runs did together: every file of the fix changed (the
# re-run planned only what the killed one had not done).
python3 - src.json fixed.json "$ROOT_SUBVOL" "$KERNEL_VERSION" <<'EOF' || fail "the fixed guest"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
sv, kv = sys.argv[3], sys.argv[4]
for p in ("boot/grub/grub.cfg", "boot/initrd.img-" + kv, "etc/network/interfaces"):
    p = sv + "/" + p
    assert a[p] != b[p], p + " unchanged"
assert sv + "/var/lib/landfall" in b
EOF

start=$SECONDS
r=0; "$LANDFALL" -v verify --json --profile azure-gen1 guest.img >verify.json 2>verify.err || r=$?
python3 - verify.json <<'EOF' || { grep -v "debug: libguestfs" verify.err | tail -n 20 >&2; fail "verify (exit $r)"; }
import json, sys
r = json.load(open(sys.argv[1]))
bad = [c for c in r["checks"] if c["status"] == "fail"]
assert r["ok"] and not bad, bad
root = [c for c in r["checks"] if c["check"] == "linux-root"][0]
assert "[subvol=@]" in root["reason"], root
print(root["reason"])
EOF
[ "$r" = 0 ] || fail "verify: exit $r"
pass "verify --profile azure-gen1 passes on the fixed guest ($((SECONDS - start)) s), root= read as subvolume @"

python3 "$top/tests/tools/qemu-login.py" --timeout 400 --nic e1000 \
    --log boot.log guest.img root landfall \
    "cat /proc/cmdline" "findmnt -n -o FSTYPE,OPTIONS /" "findmnt -n -o OPTIONS /home" \
    "ip -4 -o addr show scope global" >login.out 2>&1 ||
    { cat login.out; tail -n 40 boot.log | tr -d '\r'; fail "the fixed btrfs guest did not boot to a login"; }
cat login.out
tr -d '\r' <login.out | grep -Eq "^btrfs +.*subvol=/@$|^btrfs +.*subvol=/@(,|$)" || fail "/ is not btrfs subvolume @ in the booted guest"
tr -d '\r' <login.out | grep -q "subvol=/@home" || fail "/home is not subvolume @home in the booted guest"
grep -Eq "inet 10\.0\.2\.[0-9]+/24 .*dynamic" login.out || fail "no DHCP address on the e1000 NIC"
pass "the fixed btrfs guest boots under QEMU to a login: / on @, /home on @home, DHCP address on an e1000 NIC"

start=$SECONDS
"$LANDFALL" -v undo guest.img >undo.out 2>undo.err || {
    grep -v "debug: libguestfs" undo.err | tail -n 30 >&2; fail "undo failed"; }
[ "$(launches undo.err)" = 1 ] || fail "undo: not exactly one appliance launch"
check_clean guest.img "undone"
tree guest.img undone.json
compare src.json undone.json || fail "after undo, the file tree differs from the source"
kv=$KERNEL_VERSION
grep -q "\"$ROOT_SUBVOL/boot/initrd.img-$kv\"" src.json || fail "no initramfs in the tree compared"
pass "undo through libguestfs ($((SECONDS - start)) s): both subvolumes' trees and initrd.img-$kv are the source's; btrfs check clean"
fi

if [ "${SAN:-}" != 1 ]; then
    echo "SKIP (part): $(basename "$0"): SUSE's layout and the refusal run under SAN=1 only (the CI budget: one launch each)" >&2
    echo "$(basename "$0"): $((SECONDS - t_start)) s in all"
    exit 0
fi
# --- SUSE's layout --------------------------------------------------------
. "$suse.facts"
cp --sparse=always "$suse" suse.img
start=$SECONDS
"$LANDFALL" -v fix --json suse.img >suse.json 2>suse.err || {
    grep -v "debug: libguestfs" suse.err | tail -n 30 >&2; cat suse.json >&2; fail "fix of the SUSE layout failed"; }
if grep -q "built without it" suse.err; then
    echo "SKIP: $(basename "$0"): $LANDFALL was built without libguestfs (libguestfs-dev)" >&2
    exit 77
fi
if grep -q "AddressSanitizer\|runtime error:" suse.err; then
    grep -A20 "AddressSanitizer\|runtime error:" suse.err >&2
    fail "sanitizer report"
fi
secs=$((SECONDS - start))
[ "$(launches suse.err)" = 1 ] || fail "fix (SUSE): not exactly one appliance launch"
grep -q "subvolume @/.snapshots/2/snapshot skipped (a snapshot)" suse.err ||
    fail "the old snapshot was not left out"
grep -q "subvol=@/home mounted at" suse.err && grep -q "subvol=@/.snapshots mounted at" suse.err ||
    fail "fix did not mount the subvolumes @/home and @/.snapshots"
python3 - suse.json <<'EOF' || fail "fix report (SUSE)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"], r
paths = [e["path"] for e in r["edits"]]
assert any(p.startswith("/boot/initrd.img-") for p in paths), paths
EOF
l=$(btrfs_at suse.img)
mkdir -p m2 && mount -t btrfs -o ro,subvolid=5 "$l" m2 || fail "mounting the SUSE image"
cleanup_hook "umount $tmp/m2 2>/dev/null || true"
[ -d "m2/$ROOT_SUBVOL/var/lib/landfall" ] || fail "the fix's journal is not in the default subvolume $ROOT_SUBVOL"
[ ! -e m2/@/.snapshots/2/snapshot/var/lib/landfall ] || fail "the old snapshot was written"
[ ! -e m2/@/var/lib/landfall ] || fail "subvolume @ was written"
grep -q "subvol=/@/home" "m2/$ROOT_SUBVOL/etc/fstab" || fail "fstab's subvol=/@/home changed"
umount m2
btrfs_done "$l"
pass "SUSE layout: fixed in the default subvolume $ROOT_SUBVOL, one launch, $secs s; the old snapshot untouched"

# An fstab line on a subvolume that is not there: refused by name, nothing
# written.  (The image is edited through the host kernel, then checked.)
cp --sparse=always "$suse" bad.img
l=$(losetup -f --show -o "$PART1_OFFSET" --sizelimit "$PART1_SIZE" bad.img)
cleanup_hook "losetup -d $l 2>/dev/null || true"
mount -t btrfs -o subvolid=5 "$l" m2 || fail "mounting the SUSE copy"
printf 'UUID=%s  /var  btrfs  subvol=/@/var  0  0\n' "$ROOT_UUID" >>"m2/$ROOT_SUBVOL/etc/fstab"
umount m2
btrfs_done "$l"
tree bad.img bad-before.json
r=0; "$LANDFALL" fix bad.img >bad.out 2>&1 || r=$?
cat bad.out
[ "$r" = 1 ] || fail "fix with fstab on a missing subvolume: exit $r, expected 1"
grep -q "line 4 (/var).*no subvolume subvol=/@/var" bad.out || fail "the refusal does not name the line and the subvolume"
# Mounting btrfs writable commits a transaction at unmount: its metadata's
# bytes change, so files are compared, not bytes.
check_clean bad.img "the refused fix"
tree bad.img bad-after.json
compare bad-before.json bad-after.json || fail "the refused fix changed files"
pass "fstab on a subvolume that is not there (@/var): refused by name, no file changed, btrfs check clean"

echo "$(basename "$0"): $((SECONDS - t_start)) s in all"
