#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run landfall's unit suites, integration scripts and fuzz-corpus replay
# for one build directory ($BUILD), and print one summary line.
#   PARTS="unit fuzz integration"   which of the three to run (default all)
#   TESTS="test-a.sh test-b.sh"     only these integration scripts
#   JOBS=N                          integration scripts N at a time
set -u
: "${BUILD:=build}"
: "${PARTS:=unit fuzz integration}"
part () { [[ " $PARTS " == *" $1 "* ]]; }
cd "$(dirname "$0")/.."

pass=0 fail=0 skip=0 failed=()
log_dir="$BUILD/test-logs"
mkdir -p "$log_dir"

tally () {   # tally NAME EXIT SECONDS LOG
    local name=$1 r=$2 t=$3 log=$4
    case $r in
        0)  pass=$((pass + 1)); echo "PASS: $name (${t}s)" ;;
        77) skip=$((skip + 1)); echo "SKIP: $name: $(grep -m1 SKIP "$log")" ;;
        *)  fail=$((fail + 1)); failed+=("$name"); echo "FAIL: $name (exit $r, ${t}s)"
            tail -n 30 "$log" | sed 's/^/    /' ;;
    esac
}

logname () { echo "$log_dir/$(echo "$1" | tr '/ ' '__').log"; }

run () {   # run NAME CMD...
    local name=$1; shift
    local log; log=$(logname "$name")
    local start=$SECONDS
    "$@" >"$log" 2>&1
    tally "$name" $? $((SECONDS - start)) "$log"
}

# Background runs (JOBS > 1) leave "EXIT SECONDS" in LOG.result; the
# parent reports each as it ends, so the counts stay in one shell.
declare -A pending=()
run_bg () {   # run_bg NAME CMD...
    local name=$1; shift
    local log; log=$(logname "$name")
    rm -f "$log.result"
    pending[$name]=$log
    (
        start=$SECONDS
        "$@" >"$log" 2>&1
        echo "$? $((SECONDS - start))" >"$log.result"
    ) &
}
collect () {
    local name r t
    for name in "${!pending[@]}"; do
        [ -e "${pending[$name]}.result" ] || continue
        read -r r t <"${pending[$name]}.result"
        tally "$name" "$r" "$t" "${pending[$name]}"
        rm -f "${pending[$name]}.result"
        unset "pending[$name]"
    done
}

# Include discipline: no layer includes a higher one (DESIGN.md).
part unit && run "unit/check-layers" tests/check-layers.sh

# Unit suites (check prints "100%: Checks: N, Failures: 0, Errors: 0").
for t in "$BUILD"/*/test-*; do
    part unit || break
    [ -x "$t" ] || continue
    run "unit/$(basename "$t")" "$t"
    grep -h "Checks:" "$log_dir/unit_$(basename "$t").log" | sed 's/^/    /'
done

# Fuzz corpus replay: every seed and every past crash, under this build.
# Seeds that must be large but are mostly zeros (VHDX puts its metadata
# past 1 MiB) are stored xz-compressed and replayed decompressed.
replay_dir="$BUILD/fuzz-replay"
for f in "$BUILD"/fuzz/fuzz-*; do
    part fuzz || break
    [ -x "$f" ] || continue
    n=$(basename "$f"); n=${n#fuzz-}
    compgen -G "tests/fuzz/corpus/$n/*" >/dev/null || continue
    rm -rf "$replay_dir/$n" && mkdir -p "$replay_dir/$n"
    for s in tests/fuzz/corpus/"$n"/*; do
        case "$s" in
            *.xz) xz -dc "$s" >"$replay_dir/$n/$(basename "$s" .xz)" ;;
            *) cp "$s" "$replay_dir/$n/" ;;
        esac
    done
    run "fuzz-replay/$n" "$f" "$replay_dir/$n"/*
done

# Integration scripts, JOBS at a time (default 1).  Each makes its own
# temporary directory, loop devices and QEMU; fixtures are built under a
# lock.  Scripts that boot QEMU or libguestfs take longest: they start
# first, so that the slots end together.
scripts=()
for t in tests/test-*.sh; do
    part integration || break
    [ -e "$t" ] || continue
    if [ -n "${TESTS:-}" ] && [[ " $TESTS " != *" $(basename "$t") "* ]]; then
        continue
    fi
    scripts+=("$t")
done
if [ "${JOBS:-1}" -le 1 ]; then
    for t in "${scripts[@]}"; do
        run "$(basename "$t")" env BUILD="$BUILD" bash "$t"
    done
else
    # The longest (minutes under TCG) by name, then whatever boots QEMU
    # or libguestfs, then the rest.
    long="test-appliance.sh test-fix-vmware-qemu.sh test-run-kill.sh test-verify-boot.sh"
    ordered=()
    for t in "${scripts[@]}"; do
        [[ " $long " == *" $(basename "$t") "* ]] && ordered+=("$t")
    done
    for t in "${scripts[@]}"; do
        [[ " $long " == *" $(basename "$t") "* ]] && continue
        grep -q 'qemu-system\|qemu-login\|guestfs\|--boot' "$t" && ordered+=("$t")
    done
    for t in "${scripts[@]}"; do
        [[ " $long " == *" $(basename "$t") "* ]] && continue
        grep -q 'qemu-system\|qemu-login\|guestfs\|--boot' "$t" || ordered+=("$t")
    done
    for t in "${ordered[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
            wait -n
            collect
        done
        run_bg "$(basename "$t")" env BUILD="$BUILD" bash "$t"
    done
    wait
    collect
fi

# The summary also goes to a file: check-both.sh repeats it at the end.
{
    echo "$BUILD: $pass passed, $fail failed, $skip skipped"
    for f in "${failed[@]}"; do echo "  failed: $f"; done
} >"$log_dir/summary.txt"
echo
cat "$log_dir/summary.txt"
[ "$fail" -eq 0 ]
