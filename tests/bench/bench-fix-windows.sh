#!/bin/bash
# make bench: the whole Windows fix (landfall fix: open, inspect, plan,
# journal, write) on the windows-ntfs fixture (the real VMware Windows 7
# SYSTEM hive, 11 MiB, and a real BCD store), and its undo.  Issue 5's goal
# is under 1 s.  Each run works on a fresh copy of the fixture, made
# outside the timing.  Timings are wall-clock on a noisy 2-core machine.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
LANDFALL="$top/$BUILD/landfall"
dir=${BENCH_DIR:-/var/tmp/landfall-bench}
RUNS=${BENCH_RUNS:-5}
TIME=/usr/bin/time
[ -x $TIME ] || { echo "bench: GNU time (package 'time') is needed" >&2; exit 1; }
mkdir -p "$dir"

echo
echo "(c) landfall fix on a Windows guest (windows-ntfs fixture)"
if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ]; then
    echo "  skipped: the windows-ntfs fixture is built as root with ntfs-3g (FUSE)"
    exit 0
fi
img=$("$top/tests/fixtures/build.sh" windows-ntfs "$top/$BUILD/fixtures" 2>/dev/null | tail -n1)
cd "$dir"

# run NAME PREP CMD...: PREP (untimed), then CMD; the median of RUNS wall
# times with the range, and the peak RSS, as bench-convert.sh prints them.
run () {
    local name=$1 prep=$2; shift 2
    local t0 t1 times=() rss=0 r
    for ((i = 0; i < RUNS; i++)); do
        eval "$prep"
        sync
        t0=$(date +%s%N)
        $TIME -f "%M" -o time.out "$@" >/dev/null 2>run.err || {
            cat run.err >&2; echo "bench: $name failed" >&2; exit 1; }
        t1=$(date +%s%N)
        read -r r <time.out
        [ "$r" -gt "$rss" ] && rss=$r
        times+=("$((t1 - t0))")
    done
    read -r last lo hi < <(python3 -c "import sys; t=sorted(int(x)/1e9 for x in sys.argv[1:]); print(t[len(t)//2], t[0], t[-1])" "${times[@]}")
    printf '  %-46s %8.3f s  (%.3f-%.3f)  %7d KiB max RSS\n' "$name" "$last" "$lo" "$hi" "$rss"
}

fresh='rm -f win.img; cp --sparse=always "$img" win.img'
run "landfall fix --dry-run (Windows)" "$fresh" "$LANDFALL" fix --dry-run win.img
run "landfall fix (Windows, durable)" "$fresh" "$LANDFALL" fix win.img
fix=$last
run "landfall undo (Windows)" "$fresh; \"\$LANDFALL\" fix win.img >/dev/null" "$LANDFALL" undo win.img
rm -f win.img time.out run.err
python3 -c 'import sys; t = float(sys.argv[1]); print("  whole Windows fix: %.3f s (goal: < 1 s)%s" % (t, "" if t < 1 else "  ** over the goal **"))' "$fix"
