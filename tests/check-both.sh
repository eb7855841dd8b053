#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make check: the normal build's pass and the ASan build's pass, side by
# side.  Each pass is mostly one busy thread (a QEMU boot under TCG, or one
# landfall process under ASan), so on CI's two cores running them together
# takes about as long as the longer one instead of their sum.  Every line
# is prefixed with its build; both summaries are repeated at the end, and
# a failure in one pass no longer hides the other pass's results.
# The normal pass, longer by its QEMU boots, also runs two integration
# scripts at a time (JOBS_NORMAL, JOBS_ASAN override), so that both passes
# end near the same time.
set -u
cd "$(dirname "$0")/.."
: "${MAKE:=make}"

pass () {   # pass BUILD [VAR=VALUE...]
    local b=$1; shift
    set -o pipefail
    $MAKE --no-print-directory check-one BUILD="$b" "$@" 2>&1 |
        sed -u "s/^/[$b] /"
}

rm -f build/test-logs/summary.txt build-asan/test-logs/summary.txt
start=$SECONDS
JOBS=${JOBS_NORMAL:-2} pass build & p1=$!
JOBS=${JOBS_ASAN:-1} pass build-asan SAN=1 & p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?

echo
for b in build build-asan; do
    log=$b/test-logs/summary.txt
    if [ -s "$log" ]; then cat "$log"; else echo "$b: no summary (the build failed?)"; fi
done
echo "check: $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s for both passes"
[ "$r1" -eq 0 ] && [ "$r2" -eq 0 ]
