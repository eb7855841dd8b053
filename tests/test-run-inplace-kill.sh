#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An in-place job killed with SIGKILL during its fix (the guest journal's
# crash windows: a plan partly applied), then run again: the job must end
# with a successful report, the fix complete (verify re-plans it and finds
# nothing left), and `landfall undo JOB` must still restore every file of
# the guest byte for byte.  In place there is no pristine copy to redo the
# fix on, so the image's bytes are not compared (see README: Resume).
source "$(dirname "$0")/functions.sh"
requires debugfs python3 sha256sum

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cd "$tmp"

# snapshot IMAGE OUT: type, mode, symlink target or hash of every file
# under /etc, /boot and /var (all the fix and its journal touch; the full
# guest is compared by test-fix-linux.sh) and the top-level entries.
snapshot () {
    rm -rf tree && mkdir tree
    local sd
    for sd in etc boot var; do
        debugfs -R "rdump /$sd tree" "$1?offset=$ROOT_OFFSET" >/dev/null 2>&1
    done
    (debugfs -R "ls -p /" "$1?offset=$ROOT_OFFSET" 2>/dev/null | cut -d/ -f3,6 | sort &&
     cd tree && find . -mindepth 1 -printf '%y %m %p %l\n' | sort &&
     find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$2"
    rm -rf tree
}
snapshot "$img" before.txt

# The reference: how many edits the fix makes.
mkdir ref
cp --sparse=always "$img" ref/disk.raw
printf 'machine = m\nos-disk = disk.raw\noutput = in-place\n' >ref/m.job
"$LANDFALL" run -q ref/m.job >/dev/null || [ $? = 3 ] || fail "reference run failed"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["changes"]))' ref/m-landfall-report.json)
[ "$n" -gt 5 ] || fail "the reference fix made only $n changes"

# Each crash window of the guest journal's apply (LANDFALL_TEST_KILL_APPLY,
# bootfix/journal.c): once its directories are made, after the intent, after edit 1, 2, ... and after the
# "done" marks; then a kill at a time inside the planning of the fix.
points="dirs 0 1 2 $((n / 2)) $((n - 1)) $n $((n + 1))"
for p in $points timed; do
    d=k$p
    mkdir "$d"
    cp --sparse=always "$img" "$d/disk.raw"
    cp ref/m.job "$d/m.job"
    r=0
    if [ "$p" = timed ]; then
        "$LANDFALL" run -q "$d/m.job" >/dev/null 2>&1 & pid=$!
        sleep 0.8; kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || r=$?
    else
        # In a subshell, so that bash's "Killed" notice stays out of the log.
        r=$( (LANDFALL_TEST_KILL_APPLY=$p "$LANDFALL" run -q "$d/m.job" >/dev/null 2>&1; echo $?) 2>/dev/null)
        [ "$r" = 137 ] || fail "$d: the run was not killed at apply point $p (exit $r)"
    fi
    at=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"]["fix"]["state"])' "$d/.landfall-job-m.json" 2>/dev/null || echo no-state)
    entries=$(debugfs -R "cat /var/lib/landfall/journal.json" "$d/disk.raw?offset=$ROOT_OFFSET" 2>/dev/null | grep -c '"seq"' || true)
    r=0; "$LANDFALL" run -q "$d/m.job" >"$d.out" 2>&1 || r=$?
    [ "$r" = 3 ] || fail "$d: resumed run: exit $r: $(cat "$d.out")"
    [ "$(json_get "$d/m-landfall-report.json" result)" = success-with-warnings ] || fail "$d: report"
    "$LANDFALL" undo "$d/m.job" >/dev/null || fail "$d: undo failed"
    snapshot "$d/disk.raw" "$d.after"
    diff before.txt "$d.after" >"$d.diff" || fail "$d: undo after a resumed fix left differences: $(head "$d.diff")"
    echo "killed at apply point $p (fix $at, $entries journal entries on the guest): resumed, verified, undone byte for byte"
    rm -rf "$d"
done
pass "in place, SIGKILL in every crash window of the fix's apply: resumed from the guest journal, undo exact"
