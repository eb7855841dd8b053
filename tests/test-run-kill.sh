#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall run killed with SIGKILL at many points across a job over the
# VMware-like Debian guest, then run again: every re-run must end with a
# successful report and output images byte-identical (SHA-256) to those
# of an uninterrupted run.  Kill points are spread evenly over the
# uninterrupted run's time T (k*T/(N+1)); a few runs are killed twice.
# Then SIGTERM: the job stops at a safe point with exit 4, and resumes.
source "$(dirname "$0")/functions.sh"
requires sha256sum python3 qemu-img mkfs.ext4

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
cd "$tmp"
cp --sparse=always "$img" web01.raw
truncate -s 64M data.raw
mkfs.ext4 -q -F -L data data.raw
qemu-img convert -f raw -O qcow2 data.raw data.qcow2
# Same mtimes in every run: they fix the footers' ids and the fix's clock.
touch -d '2024-05-01 12:00:00' web01.raw data.qcow2

mkjob () {   # mkjob NAME: a job writing to out-NAME
    printf 'machine = web01\nsource = vmware\nos-disk = web01.raw\ndisk = data.qcow2\noutput = out-%s\nchecksum = yes\n' "$1" >"$1.job"
}
# The outputs' SHA-256 as the report gives them (landfall hashes holes
# without reading them; sha256sum would read 3 GiB each time).  The
# reference run's are checked against sha256sum once, below.
sums () {
    echo "$(json_get "out-$1/landfall-report.json" disks.0.sha256) $(json_get "out-$1/landfall-report.json" disks.1.sha256)"
}

# The reference: an uninterrupted run.
mkjob ref
t0=$(date +%s%N)
r=0; "$LANDFALL" run -q ref.job >/dev/null || r=$?
t1=$(date +%s%N)
[ "$r" = 3 ] || fail "reference run: exit $r"
T=$(( (t1 - t0) / 1000000 ))
ref=$(sums ref)
[ "$ref" = "$(sha256sum out-ref/web01-os.vhd out-ref/web01-data1.vhd | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//')" ] ||
    fail "the report's checksums are not sha256sum's"
echo "uninterrupted run: ${T} ms; outputs $ref"

# Two fresh runs agree (nothing depends on the time of day).
mkjob ref2
"$LANDFALL" run -q ref2.job >/dev/null || [ $? = 3 ] || fail "second reference run failed"
[ "$(sums ref2)" = "$ref" ] || fail "two uninterrupted runs differ: $(sums ref2) vs $ref"
pass "two uninterrupted runs give the same images"

# check_resumed NAME: run to the end; same images, successful report.
check_resumed () {
    local r=0
    "$LANDFALL" run -q "$1.job" >"$1.out" 2>&1 || r=$?
    [ "$r" = 3 ] || fail "$1: resumed run: exit $r: $(cat "$1.out")"
    [ "$(sums "$1")" = "$ref" ] || fail "$1: resumed output differs: $(sums "$1") vs $ref"
    [ "$(json_get "out-$1/landfall-report.json" result)" = success-with-warnings ] ||
        fail "$1: report result $(json_get "out-$1/landfall-report.json" result)"
    ls "out-$1" | grep -q 'landfall-[A-Za-z0-9]\{6\}$\|\.tmp$' &&
        fail "$1: temporaries left: $(ls -a "out-$1")"
    # Each output holds the guest's 700 MiB of data: keep one at a time.
    rm -rf "out-$1"
    return 0
}

# kill_at NAME MS: start the job, SIGKILL it after MS ms; the step it was in.
kill_at () {
    "$LANDFALL" run -q "$1.job" >/dev/null 2>&1 &
    local pid=$!
    sleep "$(printf '%d.%03d' $(($2 / 1000)) $(($2 % 1000)))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    python3 -c 'import json,sys
try:
    d = json.load(open(sys.argv[1]))
    print(next((k for k, v in d["steps"].items() if v["state"] != "done"), "all-done"))
except FileNotFoundError:
    print("no-state")' "out-$1/.landfall-job.json"
}

# Fewer points under ASan, where a run takes several times longer.
case "$BUILD" in *asan*) dflt=4 ;; *) dflt=10 ;; esac
N=${KILL_POINTS:-$dflt}
seen=""
for k in $(seq 1 "$N"); do
    ms=$(( k * T / (N + 1) ))
    mkjob "k$k"
    step=$(kill_at "k$k" "$ms")
    check_resumed "k$k"
    echo "killed at ${ms} ms (in $step): resumed to the same images"
    seen="$seen $step"
done
# Twice in one job: a kill during the resumed run too.
for k in 1 2 3; do
    mkjob "d$k"
    s1=$(kill_at "d$k" $(( k * T / 4 )))
    s2=$(kill_at "d$k" $(( T / 5 )))
    check_resumed "d$k"
    echo "killed at $(( k * T / 4 )) ms (in $s1), then after $(( T / 5 )) ms of the resumed run (in $s2): same images"
done
for s in convert fix; do
    [[ " $seen " == *" $s "* ]] || echo "note: no kill point fell in the $s step this time"
done
pass "SIGKILL at $N points (steps:$seen) and 3 double kills: same images, successful reports"

# SIGTERM: stop at a safe point, exit 4, state resumable.  A run on a
# warm page cache can end before the signal: then try again sooner.
for div in 4 10 25; do
    rm -rf out-term
    mkjob term
    "$LANDFALL" run -q term.job >term.out 2>&1 &
    pid=$!
    ms=$((T / div))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    sent=1; kill -TERM "$pid" 2>/dev/null || sent=0
    r=0; wait "$pid" || r=$?
    [ $sent = 1 ] && [ "$r" = 4 ] && break
done
[ "$r" = 4 ] || [ "$r" = 3 ] || [ "$r" = 0 ] ||
    fail "SIGTERM: exit $r (expected 4, or 0/3 if it had finished): $(tail -n 5 term.out)"
[ "$r" = 4 ] && [ "$(json_get out-term/landfall-report.json result)" != interrupted ] &&
    fail "SIGTERM: report does not say interrupted"
check_resumed term
pass "SIGTERM: exit $r, report says so, the same command resumes to the same images"
