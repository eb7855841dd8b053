#!/bin/bash
# `landfall fix` killed with SIGKILL at points spread over a run, then run
# again: every time, the filesystem is consistent (e2fsck), the re-run ends
# with exactly the files of an uninterrupted fix, and undo brings back
# every file byte for byte.  The kill points are printed so that a failure
# can be replayed (KILL_POINTS="ms ms ..." overrides them).
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
# flushed steps of the ext2 backend leaves (guest/ext2.c documents each
# window) -- an entry naming a deleted inode (a new inode is written
# dead and made live after its name; a replaced one dies under a second
# name), a link count one too high, leaked allocations and the free and
# directory counts that go with them, and a "+" bitmap difference (a
# directory grown by libext2fs before the bitmaps are flushed).  Anything
# else (an unattached inode, an unconnected directory, blocks claimed
# twice, a damaged directory) fails.  Then the claim that e2fsck -p
# repairs it all by itself is checked: -fp on a copy must exit below 4
# and leave the filesystem clean.  Returns 0 when e2fsck found nothing.
fsck_check () {   # fsck_check IMAGE WHAT
    e2fsck -fn "$1?offset=$ROOT_OFFSET" >fsck.log 2>&1 && return 0
    grep -vE '^(Pass [0-9A-Z]+:|e2fsck |.*\?offset=|[a-z]+\.img: |Fix\? no|Clear\? no|Inode bitmap differences:|Block bitmap differences:|Free (blocks|inodes) count wrong|Directories count wrong for group #[0-9]+ \([0-9]+, counted=[0-9]+\)\.|Entry .* in .* \([0-9]+\) has deleted/unused inode [0-9]+\.  Clear\? no|Inode [0-9]+ ref count is [0-9]+, should be [0-9]+\.  Fix\? no|Padding at end of inode bitmap is not set\.|\s*$|\s*[-+(][-+0-9 ()]*$)' \
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

cp --sparse=always "$img" orig.img

# The reference: one uninterrupted fix, timed to place the kill points.
cp --sparse=always orig.img ref.img
t0=$(date +%s%N)
"$LANDFALL" fix --json ref.img >ref.json || fail "uninterrupted fix failed"
t1=$(date +%s%N)
T=$(( (t1 - t0) / 1000000 ))
python3 -c 'import json,sys; [print(e["path"]) for e in json.load(open(sys.argv[1]))["edits"]]' \
    ref.json | sort -u >paths.txt
[ "$(wc -l <paths.txt)" -gt 5 ] || fail "the fix planned too few edits: $(cat paths.txt)"
snapshot orig.img before.txt
snapshot ref.img ref.txt
cmp -s before.txt ref.txt && fail "the fix changed nothing; nothing to test"
echo "uninterrupted fix: $T ms"

# Kill points: spread over the run, each with a random offset in its slot.
# Fewer under ASan, where every run is slower; the normal pass has 8.
case "$BUILD" in *asan*) dflt=4 ;; *) dflt=8 ;; esac
N=${KILL_N:-$dflt}
if [ -z "${KILL_POINTS:-}" ]; then
    KILL_POINTS=
    for k in $(seq 0 $((N - 1))); do
        KILL_POINTS="$KILL_POINTS $(( k * T / N + RANDOM % (T / N + 1) ))"
    done
fi
echo "kill points (ms): $KILL_POINTS"

killed=0 finished=0 clean=0
for ms in $KILL_POINTS; do
    cp --sparse=always orig.img run.img
    "$LANDFALL" fix run.img >run.out 2>&1 &
    pid=$!
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        killed=$((killed + 1))
        what="killed at $ms ms"
    else
        wait "$pid" || fail "fix failed on its own before the kill at $ms ms: $(cat run.out)"
        finished=$((finished + 1))
        what="finished before $ms ms"
    fi
    # What the crash left: at worst what the ext2 backend documents, all
    # of it repaired by e2fsck -p; never a damaged file.
    fsck_check run.img "$what" && clean=$((clean + 1))
    "$LANDFALL" fix run.img >rerun.out 2>&1 || fail "$what: the re-run failed: $(cat rerun.out)"
    fsck_check run.img "$what, then re-run" || true
    snapshot run.img run.txt
    diff ref.txt run.txt >run.diff || fail "$what: the re-run differs from an uninterrupted fix: $(head -20 run.diff)"
    "$LANDFALL" undo run.img >/dev/null 2>undo.err || fail "$what: undo failed: $(cat undo.err)"
    snapshot run.img undone.txt
    diff before.txt undone.txt >undo.diff || fail "$what: undo left differences: $(head -20 undo.diff)"
    echo "$what: re-run identical to the uninterrupted fix, undo byte-identical"
done
[ "$killed" -gt 0 ] || fail "no run was killed (T=$T ms): the points missed the run"
pass "$killed kills and $finished finished runs: each re-run identical to an uninterrupted fix, undo restores every file (e2fsck after the kill: $clean clean, the rest repaired by e2fsck -p)"
