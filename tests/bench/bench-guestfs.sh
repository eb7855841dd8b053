#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make bench: (e) the whole fix of a guest no native backend reads, through
# libguestfs: the VMware-like Debian 12 with / on XFS (debian12-xfs
# fixture), 'landfall fix' from start to exit, with the appliance's launch
# apart.  Goal under TCG: < 60 s in all, one launch.  One run (BENCH_RUNS
# runs if set): each is a minute of TCG.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
LANDFALL="$top/$BUILD/landfall"
dir=${BENCH_DIR:-/var/tmp/landfall-bench}
RUNS=${BENCH_RUNS:-1}
mkdir -p "$dir"
cd "$dir"

echo
echo "(e) landfall fix through libguestfs (debian12-xfs fixture: / on XFS)"
if [ "$(id -u)" != 0 ] || ! command -v guestfish >/dev/null; then
    echo "  skipped: the fixture is built as root, and libguestfs is needed"
    exit 0
fi
img=$("$top/tests/fixtures/build.sh" debian12-xfs "$top/$BUILD/fixtures" 2>/dev/null | tail -n1)
for ((i = 0; i < RUNS; i++)); do
    rm -f xfs.img
    cp --sparse=always "$img" xfs.img
    sync
    t0=$(date +%s%N)
    "$LANDFALL" -v fix xfs.img >/dev/null 2>fix.err || {
        grep -v "debug: libguestfs" fix.err | tail -n 20 >&2; echo "bench: fix failed" >&2; exit 1; }
    t1=$(date +%s%N)
    n=$(grep -c "appliance launched in" fix.err || true)
    launch=$(grep -o "appliance launched in [0-9.]*" fix.err | head -n1 | awk '{print $4}')
    python3 -c 'import sys
t = (int(sys.argv[2]) - int(sys.argv[1])) / 1e9; l = float(sys.argv[3] or 0); n = int(sys.argv[4])
print("  whole fix: %.1f s = launch %.1f s + the rest %.1f s; %d launch%s (goal: < 60 s, one launch)%s"
      % (t, l, t - l, n, "" if n == 1 else "es", "" if t < 60 and n == 1 else "  ** over the goal **"))' \
        "$t0" "$t1" "$launch" "$n"
done
rm -f xfs.img fix.err
