#!/bin/bash
# Run landfall's unit suites, integration scripts and fuzz-corpus replay
# for one build directory ($BUILD), and print one summary line.
#   PARTS="unit fuzz integration"   which of the three to run (default all)
#   TESTS="test-a.sh test-b.sh"     only these integration scripts
set -u
: "${BUILD:=build}"
: "${PARTS:=unit fuzz integration}"
part () { [[ " $PARTS " == *" $1 "* ]]; }
cd "$(dirname "$0")/.."

pass=0 fail=0 skip=0 failed=()
log_dir="$BUILD/test-logs"
mkdir -p "$log_dir"

run () {   # run NAME CMD...
    local name=$1; shift
    local log="$log_dir/$(echo "$name" | tr '/ ' '__').log"
    local start=$SECONDS
    "$@" >"$log" 2>&1
    local r=$?
    local t=$((SECONDS - start))
    case $r in
        0)  pass=$((pass + 1)); echo "PASS: $name (${t}s)" ;;
        77) skip=$((skip + 1)); echo "SKIP: $name: $(grep -m1 SKIP "$log")" ;;
        *)  fail=$((fail + 1)); failed+=("$name"); echo "FAIL: $name (exit $r)"
            tail -n 30 "$log" | sed 's/^/    /' ;;
    esac
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

# Integration scripts.
for t in tests/test-*.sh; do
    part integration || break
    [ -e "$t" ] || continue
    if [ -n "${TESTS:-}" ] && [[ " $TESTS " != *" $(basename "$t") "* ]]; then
        continue
    fi
    run "$(basename "$t")" env BUILD="$BUILD" bash "$t"
done

echo
echo "$BUILD: $pass passed, $fail failed, $skip skipped"
for f in "${failed[@]}"; do echo "  failed: $f"; done
[ "$fail" -eq 0 ]
