#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall run over a Windows sample (the windows-ntfs fixture: the real
# VMware Windows 7 SYSTEM hive and BCD store on NTFS): the job succeeds,
# the report matches what was done (the hives it changed, every value's
# finding, the output's SHA-256), the output passes `landfall verify`
# against azure-gen1, a second run changes nothing, and `undo JOB`
# restores the hives byte for byte.  The job's verify step is the
# profile's verify: the same sample with its MBR boot code wiped, which
# the fix does not touch, fails the job as `landfall verify` fails it.
source "$(dirname "$0")/functions.sh"
requires python3 sha256sum

[ "$(id -u)" = 0 ] && [ -e /dev/fuse ] || { echo "SKIP: the windows-ntfs fixture is built as root with ntfs-3g (FUSE)" >&2; exit 77; }
win=$("$top/tests/fixtures/build.sh" windows-ntfs "$top/$BUILD/fixtures" | tail -n1)
cd "$tmp"
mkdir job
cp --sparse=always "$win" job/win7-disk1.img
cat >job/win7.job <<'EOF'
machine = win7
source = vmware
profile = azure-gen1
os-disk = win7-disk1.img
output = azure
checksum = yes
EOF
r=0; "$LANDFALL" run --json job/win7.job >run.json 2>run.err || r=$?
[ $r = 0 ] || [ $r = 3 ] || { cat run.err >&2; fail "the Windows job failed (exit $r)"; }
out=job/azure/win7-os.vhd
python3 - run.json "$out" "$(sha256sum <"$out" | cut -d' ' -f1)" <<'EOF' || fail "the report does not match what was done"
import json, sys
r = json.load(open(sys.argv[1])); out, sha = sys.argv[2], sys.argv[3]
assert r["result"] in ("success", "success-with-warnings"), r["result"]
assert [s["state"] for s in r["steps"]] == ["done"] * 5, r["steps"]
assert r["os"]["type"] if isinstance(r["os"], dict) else "windows" in r["os"], r["os"]
paths = {c["path"].lower() for c in r["changes"]}
assert "/windows/system32/config/system" in paths, paths
assert any(p.endswith("/boot/bcd") for p in paths), paths
d = r["disks"][0]
assert d["output"].endswith("win7-os.vhd") and d["sha256"] == sha, (d, sha)
changed = [f for f in r["findings"] if f["result"] == "changed"]
storvsc = [f for f in changed if "Services\\storvsc\\Start" in f["message"]]
assert storvsc, "no storvsc Start change in the findings"
assert not [f for f in r["findings"] if f["result"] == "failed"], "failed findings"
print("report: %d edits, %d changed values, output sha256 %s..." % (len(r["changes"]), len(changed), sha[:12]))
EOF
pass "Windows job: success, report lists the SYSTEM and BCD edits, value changes and the output's SHA-256"

"$LANDFALL" verify --profile azure-gen1 "$out" >verify.out 2>&1 || { cat verify.out >&2; fail "verify fails on the job's output"; }
pass "the output passes landfall verify --profile azure-gen1"

sum=$(sha256sum <"$out")
r=0; "$LANDFALL" run job/win7.job >again.txt 2>/dev/null || r=$?
[ $r = 0 ] || [ $r = 3 ] || fail "second run failed (exit $r)"
[ "$sum" = "$(sha256sum <"$out")" ] || fail "a second run changed the output"
pass "a second run changes nothing"

# Issue 14: the summary counts each concern's changes (here every change
# is a registry value or key, one "changed" finding each), though the
# concerns share the SYSTEM hive's one edit; the files are the edits.
want=$(python3 - run.json <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
counts = {}
for f in r["findings"]:
    if f["result"] == "changed":
        counts[f["concern"]] = counts.get(f["concern"], 0) + 1
print("  changes:  %d files (by concern: %s)" % (len(r["changes"]),
      ", ".join("%s %d" % kv for kv in counts.items())))
EOF
)
grep -qxF -- "$want" again.txt || fail "summary: expected '$want', got '$(grep 'changes:' again.txt)'"
pass "the summary counts changes per concern:$(echo "$want" | cut -d: -f2-)"

"$LANDFALL" undo job/win7.job >undo.out 2>&1 || { cat undo.out >&2; fail "undo JOB failed"; }
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["changes"]))' run.json)
grep -q "^win7: $n changes\? undone$" undo.out || fail "undo JOB: expected $n changes undone: $(cat undo.out)"
pass "undo JOB reverts the Windows fix ($n edits undone; test-fix-windows.sh checks the hives byte for byte)"

# Without boot code in the MBR, Azure gen1 cannot start the disk: the
# profile's check fails, and so does the job (it used to end
# success-with-warnings while verify of its own output failed).
mkdir bad
cp --sparse=always "$win" bad/win7-disk1.img
dd if=/dev/zero of=bad/win7-disk1.img bs=440 count=1 conv=notrunc status=none
sed 's/^output = azure$/output = out/' job/win7.job >bad/win7.job
r=0; "$LANDFALL" run --json bad/win7.job >bad.json 2>bad.err || r=$?
[ $r = 1 ] || { cat bad.err >&2; fail "a job whose output fails a profile check exited $r, not 1"; }
python3 - bad.json <<'EOF' || fail "the failed verify step is not reported"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["result"] == "failed", r["result"]
steps = {s["name"]: s["state"] for s in r["steps"]}
assert steps["verify"] == "failed", steps
assert any("azure-gen1: boot-code" in e and "boot code area is empty" in e for e in r["errors"]), r["errors"]
EOF
r=0; "$LANDFALL" verify --profile azure-gen1 bad/out/win7-os.vhd >bad-verify.out 2>&1 || r=$?
[ $r != 0 ] || fail "landfall verify passes an output the job failed"
pass "a job whose output fails a profile check (empty MBR boot code) fails, as landfall verify does"
