#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `landfall fix` killed with SIGKILL at points spread over every write of
# a run, then run again: every time, what the kill left is what e2fsck -p
# repairs, the re-run leaves a filesystem e2fsck -fn finds nothing in and
# exactly the files of an uninterrupted fix, and undo brings back every
# file byte for byte and leaves e2fsck -fn clean too.  The kill points
# are block writes of the ext2 backend (LANDFALL_TEST_KILL_EXT2_WRITE,
# guest/ext2.c): just after a flush, a write or two into the next step,
# chosen among all the flushes of the run (to its last: the journal's
# "done" write, the backup directory's, the superblock marked clean at
# close), so that the few microseconds of a step's window are hit as
# surely as the long initramfs writes.  They are printed so that a
# failure can be replayed (KILL_WRITES="n n ..." overrides them).
source "$(dirname "$0")/functions.sh"
requires debugfs e2fsck python3 sha256sum

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cd "$tmp"

# The state of every path the fix touches: type, mode, link target and
# content hash, read with debugfs in one pass (a full rdump of the 28k
# files per kill would take minutes; test-fix-linux.sh does that once for
# the uninterrupted fix, and e2fsck below covers the rest of the
# filesystem: a block given to two files, a damaged directory).
snapshot () {   # snapshot IMAGE OUT
    rm -rf d && mkdir d
    : >cmds
    i=0
    while read -r p; do
        i=$((i + 1))
        printf 'stat "%s"\ndump "%s" d/%d\n' "$p" "$p" "$i" >>cmds
    done <paths.txt
    debugfs -f cmds "$1?offset=$ROOT_OFFSET" 2>&1 |
        sed -n -e 's/^Inode: [0-9]* *\(Type: [a-z]* *Mode: *[0-7]*\).*/\1/p' \
               -e 's/^Fast link dest: \(.*\)/link \1/p' -e 's/.*File not found.*/absent/p' >"$2"
    (cd d && for f in $(ls | sort -n); do echo "$f $(sha256sum <"$f")"; done) >>"$2"
    rm -rf d
}
# e2fsck -n: what a crash left behind.  Allowed: what a kill between two
# writes of the ext2 backend leaves (guest/ext2.c documents each window)
# -- an entry naming a deleted inode (a new inode is written dead and
# made live after its name; a replaced one dies under a second name), a
# link count one off, leaked allocations and the free and directory
# counts and bitmap checksums that go with them (a commit cut between
# the bitmaps and the group descriptors), and a "+" bitmap difference (a
# directory grown by libext2fs before the bitmaps are written, or an
# indexed one before its size).
# Anything else (an unattached inode, an unconnected directory, blocks
# claimed twice, a damaged directory) fails.  Then the claim that e2fsck
# -p repairs it all by itself (as the guest's boot would: the kill left
# the filesystem marked not clean) is checked: -fp on a copy must exit
# below 4 and leave the filesystem clean.
fsck_check () {   # fsck_check IMAGE WHAT
    e2fsck -fn "$1?offset=$ROOT_OFFSET" >fsck.log 2>&1 && ! grep -qE 'Fix\? no|Clear\? no|IGNORED' fsck.log && return 0
    grep -vE '^(Pass [0-9A-Z]+:|e2fsck |.*\?offset=|[a-z]+\.img: |Fix\? no|Clear\? no|IGNORED\.|Inode bitmap differences:|Block bitmap differences:|Free (blocks|inodes) count wrong|Directories count wrong for group #[0-9]+ \([0-9]+, counted=[0-9]+\)\.|Entry .* in .* \([0-9]+\) has deleted/unused inode [0-9]+\.  Clear\? no|Inode [0-9]+ ref count is [0-9]+, should be [0-9]+\.  Fix\? no|Inode [0-9]+, i_size is [0-9]+, should be [0-9]+\.  Fix\? no|Padding at end of inode bitmap is not set\.|Group [0-9]+ (inode|block) bitmap does not match checksum\.|One or more (block|inode) group descriptor checksums are invalid\.  Fix\? no|Group descriptor [0-9]+ checksum is 0x[0-9a-f]+, should be 0x[0-9a-f]+\.  FIXED\.|\s*$|\s*[-+(][-+0-9 ()]*$|.*(block|inode) bitmap differences: Group [0-9]+ (block|inode) bitmap does not match checksum\.)' \
        fsck.log >fsck.bad || true
    if [ -s fsck.bad ]; then
        cat fsck.log >&2
        fail "$2: e2fsck found more than e2fsck -p repairs: $(head -5 fsck.bad)"
    fi
    cp --sparse=always "$1" preen.img
    local r=0
    e2fsck -fp "preen.img?offset=$ROOT_OFFSET" >preen.log 2>&1 || r=$?
    if [ "$r" -lt 4 ]; then
        e2fsck -fn "preen.img?offset=$ROOT_OFFSET" >>preen.log 2>&1 || r=$((r | 256))
    fi
    rm -f preen.img
    if [ "$r" -ge 4 ]; then
        cat fsck.log preen.log >&2
        fail "$2: e2fsck -p did not repair it (exit $r)"
    fi
    return 1
}
# After a re-run or an undo: nothing at all.
fsck_clean () {   # fsck_clean IMAGE WHAT
    local r=0
    e2fsck -fn "$1?offset=$ROOT_OFFSET" >fsck.log 2>&1 || r=$?
    if [ "$r" != 0 ] || grep -qE 'Fix\? no|Clear\? no|IGNORED' fsck.log; then
        cat fsck.log >&2
        fail "$2: e2fsck -fn is not clean (exit $r): $(grep -vE '^(Pass|e2fsck )' fsck.log | head -5)"
    fi
}

cp --sparse=always "$img" orig.img

# The reference: one uninterrupted fix, its writes and flushes counted.
cp --sparse=always orig.img ref.img
t0=$(date +%s%N)
LANDFALL_DEBUG=2 "$LANDFALL" fix --json ref.img >ref.json 2>ref.log || fail "uninterrupted fix failed: $(tail -5 ref.log)"
t1=$(date +%s%N)
T=$(( (t1 - t0) / 1000000 ))
python3 -c 'import json,sys; [print(e["path"]) for e in json.load(open(sys.argv[1]))["edits"]]' \
    ref.json | sort -u >paths.txt
[ "$(wc -l <paths.txt)" -gt 5 ] || fail "the fix planned too few edits: $(cat paths.txt)"
snapshot orig.img before.txt
snapshot ref.img ref.txt
cmp -s before.txt ref.txt && fail "the fix changed nothing; nothing to test"
fsck_clean ref.img "the uninterrupted fix"
W=$(sed -n 's/.*ext2 writes so far: \([0-9]*\).*/\1/p' ref.log | tail -n1)
sed -n 's/.*ext2 flush after write \([0-9]*\).*/\1/p' ref.log | uniq >flushes.txt
nf=$(wc -l <flushes.txt)
[ -n "$W" ] && [ "$nf" -gt 20 ] || fail "the fix's writes were not counted (writes: '$W', flushes: $nf)"
echo "uninterrupted fix: $T ms, $W writes, $nf flushes"

# Kill points: N flushes spread evenly over all of them, the first and
# the last included, each followed by 1 to 3 writes of the next step;
# and one in the middle of the writes (file content).  Fewer under
# ASan, where every run is slower.
case "$BUILD" in *asan*) dflt=5 ;; *) dflt=12 ;; esac
N=${KILL_N:-$dflt}
if [ -z "${KILL_WRITES:-}" ]; then
    KILL_WRITES=$(( W / 2 ))
    for k in $(seq 0 $((N - 1))); do
        f=$(sed -n "$(( 1 + k * (nf - 1) / (N - 1) ))p" flushes.txt)
        n=$(( f + 1 + RANDOM % 3 ))
        [ "$n" -le "$W" ] || n=$W     # after the last flush: its last write
        KILL_WRITES="$KILL_WRITES $n"
    done
fi
echo "kill points (writes): $KILL_WRITES"

killed=0 finished=0 clean=0
for n in $KILL_WRITES; do
    cp --sparse=always orig.img run.img
    # In a subshell, so that bash's "Killed" notice stays out of the log.
    r=$( (LANDFALL_TEST_KILL_EXT2_WRITE=$n "$LANDFALL" fix run.img >run.out 2>&1; echo $?) 2>/dev/null)
    if [ "$r" = 137 ]; then
        killed=$((killed + 1))
        what="killed before write $n"
    elif [ "$r" = 0 ]; then
        finished=$((finished + 1))
        what="finished before write $n"
    else
        fail "fix failed on its own before write $n (exit $r): $(cat run.out)"
    fi
    fsck_check run.img "$what" && clean=$((clean + 1))
    "$LANDFALL" fix run.img >rerun.out 2>&1 || fail "$what: the re-run failed: $(cat rerun.out)"
    fsck_clean run.img "$what, then re-run"
    snapshot run.img run.txt
    diff ref.txt run.txt >run.diff || fail "$what: the re-run differs from an uninterrupted fix: $(head -20 run.diff)"
    "$LANDFALL" undo run.img >/dev/null 2>undo.err || fail "$what: undo failed: $(cat undo.err)"
    fsck_clean run.img "$what, re-run, then undo"
    snapshot run.img undone.txt
    diff before.txt undone.txt >undo.diff || fail "$what: undo left differences: $(head -20 undo.diff)"
    echo "$what: re-run identical to the uninterrupted fix and e2fsck-clean, undo byte-identical and clean"
done
[ "$killed" -gt 0 ] || fail "no run was killed ($W writes): the points missed the run"
pass "$killed kills and $finished finished runs at writes spread over all $nf flushes: each re-run e2fsck-clean and identical to an uninterrupted fix, each undo clean and restoring every file (e2fsck after the kill: $clean clean, the rest repaired by e2fsck -p)"
