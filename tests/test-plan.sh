#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall plan: a three-group recovery plan over real jobs (the Windows
# sample, converted and fixed for real) with a machine that fails (its
# disk is missing), a script that fails (it writes on stderr), a script
# that times out and a manual action.
#   - unplanned: every group runs; the report lists both failures; the
#     manual action suspends the plan (exit 5) and --resume finishes it;
#   - planned: the plan stops at the first error (exit 1), nothing after
#     it runs; fixed and run again, it does only what was left;
#   - the scripts get the runbook context (plan, type, group, the
#     machines failed over so far), and a changed plan is refused.
source "$(dirname "$0")/functions.sh"
requires python3

[ "$(id -u)" = 0 ] && [ -e /dev/fuse ] || { echo "SKIP: the windows-ntfs fixture is built as root with ntfs-3g (FUSE)" >&2; exit 77; }
win=$("$top/tests/fixtures/build.sh" windows-ntfs "$top/$BUILD/fixtures" | tail -n1)
cd "$tmp"
mkdir p
cp --sparse=always "$win" p/win.img

for m in app1 db1 db2 web1; do
    printf 'machine = %s\nsource = vmware\nprofile = azure-gen1\nos-disk = win.img\noutput = out-%s\n' \
        "$m" "$m" >"p/$m.job"
done
printf 'machine = broken\nos-disk = missing.vhd\noutput = out-broken\n' >p/broken.job

# Scripts: each appends its name to a shared trace and keeps its context.
cat >p/ok.sh <<'EOF'
#!/bin/sh
echo "$LANDFALL_PLAN_GROUP $1 $(basename "$LANDFALL_PLAN_CONTEXT")" >>trace
cat >"ctx-$(basename "$LANDFALL_PLAN_CONTEXT")"
echo "on stdout: fine"
EOF
cat >p/noisy.sh <<'EOF'
#!/bin/sh
echo noisy >>trace
printf 'warning: DNS record not updated \377\001\n' >&2
exit 0
EOF
cat >p/slow.sh <<'EOF'
#!/bin/sh
echo slow >>trace
sleep 60 &
wait
EOF
chmod +x p/*.sh
# The scripts' children are found by their command line: a duration of
# this test's own (60.PID seconds), so no other sleep on the machine counts.
nap=60.$$
sed -i "s/sleep 60 &/sleep $nap \\&/" p/slow.sh

write_plan () {   # write_plan NAME OUTPUT
cat >"p/$1" <<EOF
{
  "name": "shop",
  "output": "$2",
  "pre": [ { "name": "announce", "script": "ok.sh" } ],
  "groups": [
    { "machines": ["db1.job", "db2.job"],
      "post": [ { "name": "db up", "script": "ok.sh" } ] },
    { "pre": [ { "name": "dns", "script": "noisy.sh" } ],
      "machines": ["app1.job", "broken.job"],
      "post": [ { "name": "warm caches", "script": "slow.sh", "timeout": 2 } ] },
    { "pre": [ { "name": "check the database", "manual": "Log on to db1 and check the replica is consistent.",
                 "applies-to": ["unplanned", "planned"] } ],
      "machines": ["web1.job"] }
  ],
  "post": [ { "name": "done", "script": "ok.sh", "applies-to": ["test"] } ]
}
EOF
}

# 1. Unplanned: runs to the end, stopping only for the manual action.
write_plan shop.plan out-unplanned
r=0; "$LANDFALL" plan -j 2 p/shop.plan >u1.out 2>u1.err || r=$?
cat u1.err
[ $r = 5 ] || fail "unplanned: exit $r before the manual action, expected 5 (waiting)"
report=p/out-unplanned/landfall-plan-report.json
python3 - "$report" <<'EOF' || fail "unplanned, first part: wrong report"
import json, sys
r = json.load(open(sys.argv[1]))
st = {t["id"]: t["state"] for t in r["tasks"]}
assert r["result"] == "suspended" and r["state_description"] == "WaitingForManualAction", r["result"]
assert st["pre.0"] == "done", st
assert st["group1.machine.db1"] in ("done", "warnings") and st["group1.machine.db2"] in ("done", "warnings"), st
assert st["group2.pre.0"] == "failed", st                 # stderr output
assert st["group2.machine.app1"] in ("done", "warnings"), st   # ran despite it
assert st["group2.machine.broken"] == "failed", st
assert st["group2.post.0"] == "failed", st                # timed out
assert st["group3.pre.0"] == "waiting", st
assert st["group3.machine.web1"] == "pending", st
assert r["waiting_for"]["instructions"].startswith("Log on to db1"), r["waiting_for"]
EOF
grep -q 'landfall plan --resume' u1.err || fail "the manual action does not say how to resume"
[ -e p/out-web1 ] && fail "web1 ran before the manual action was confirmed"
pass "unplanned: groups 1 and 2 ran despite the failures, the plan waits for the manual action (exit 5)"

# Running it again without --resume keeps waiting and does nothing else.
r=0; "$LANDFALL" plan p/shop.plan >u2.out 2>&1 || r=$?
[ $r = 5 ] || fail "without --resume: exit $r, expected 5"
[ "$(grep -c . p/trace)" = 4 ] || fail "without --resume, scripts ran again: $(cat p/trace)"

r=0; "$LANDFALL" plan --resume --comment "replica checked" p/shop.plan >u3.out 2>u3.err || r=$?
cat u3.err
[ $r = 1 ] || fail "unplanned after --resume: exit $r, expected 1 (two tasks failed)"
python3 - "$report" <<'EOF' || fail "unplanned, final: wrong report"
import json, sys
r = json.load(open(sys.argv[1]))
st = {t["id"]: t for t in r["tasks"]}
assert r["result"] == "failed" and r["state_description"] == "CompletedWithErrors", r["result"]
assert st["group3.pre.0"]["state"] == "done" and st["group3.pre.0"]["comment"] == "replica checked"
assert st["group3.machine.web1"]["state"] in ("done", "warnings"), st["group3.machine.web1"]
assert st["post.0"]["state"] == "skipped", st["post.0"]   # test failovers only
errs = r["errors"]
assert len(errs) == 3, errs
assert any("Group 2: Pre-steps: dns" in e and "wrote to stderr: warning: DNS record not updated ??" in e for e in errs), errs
assert any("Group 2: Start: broken" in e and "missing.vhd" in e for e in errs), errs
assert any("Group 2: Post-steps: warm caches" in e and "timed out after 2 s" in e for e in errs), errs
# The machines' own reports are aggregated.
for m in ("db1", "db2", "app1", "web1"):
    assert r["machines"][m]["result"].startswith("success"), (m, r["machines"][m]["result"])
assert r["machines"]["broken"]["result"] == "failed"
assert r["machines"]["broken"]["steps"][0]["state"] == "failed"
EOF
for m in db1 db2 app1 web1; do
    [ -s "p/out-$m/$m-os.vhd" ] || fail "no output for $m"
done
grep -q 'error: Group 2: Start: broken' u3.out || fail "the summary does not list the failed machine: $(cat u3.out)"
pass "unplanned: --resume finished the plan; the report lists the failed script, the failed machine and the timeout; 4 machines converted"

# The context: the group 1 post-step sees group 1's machines failed over,
# with their outputs, and nothing of group 3 yet.
python3 - p/ctx-group1.post.0.context.json <<'EOF' || fail "wrong runbook context"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["RecoveryPlanName"] == "shop" and c["FailoverType"] == "Unplanned", c
assert c["GroupId"] == "Group1" and c["ActionName"] == "db up", c
vm = c["VmMap"]
assert vm["db1"]["RoleName"] == "db1" and vm["db1"]["Outputs"][0].endswith("db1-os.vhd"), vm["db1"]
assert vm["web1"]["RoleName"] == "" and vm["web1"]["State"] == "pending", vm["web1"]
EOF
# A timed-out script's process group is gone (the sleep too).
sleep 1
pgrep -xf "sleep $nap" >/dev/null && fail "the timed-out script's child is still running"
pass "scripts get the runbook context; a timed-out script is killed with its children"

# 2. Planned: the first error stops the plan.
write_plan planned.plan out-planned
rm -f p/trace
rm -rf p/out-db1 p/out-db2 p/out-app1 p/out-web1
r=0; "$LANDFALL" plan --type planned --json p/planned.plan >pl1.json 2>pl1.err || r=$?
cat pl1.err
[ $r = 1 ] || fail "planned: exit $r, expected 1"
python3 - pl1.json <<'EOF' || fail "planned: wrong report"
import json, sys
r = json.load(open(sys.argv[1]))
st = {t["id"]: t["state"] for t in r["tasks"]}
assert r["state_description"] == "StoppedAtFirstError", r["state_description"]
assert st["group1.machine.db1"] in ("done", "warnings"), st
assert st["group2.pre.0"] == "failed", st
for t in ("group2.machine.app1", "group2.machine.broken", "group2.post.0",
          "group3.pre.0", "group3.machine.web1", "post.0"):
    assert st[t] == "pending", (t, st)
assert len(r["errors"]) == 1, r["errors"]
EOF
[ -e p/out-app1 ] && fail "planned: app1 ran after the failed pre-step"
pass "planned: stopped at the failed pre-step of group 2; nothing after it ran"

# Fixed (the script no longer complains) and run again: group 1 is not
# redone; the plan goes on to the next error (the missing disk).
printf '#!/bin/sh\necho dns >>trace\n' >p/noisy.sh
before=$(stat -c %Y p/out-db1/db1-os.vhd)
r=0; "$LANDFALL" plan --type planned p/planned.plan >pl2.out 2>pl2.err || r=$?
[ $r = 1 ] || fail "planned, again: exit $r, expected 1 (broken still fails)"
[ "$before" = "$(stat -c %Y p/out-db1/db1-os.vhd)" ] || fail "planned, again: group 1 was redone"
grep -q '^  done *Group 2: Pre-steps: dns' pl2.out || fail "planned, again: dns not done: $(cat pl2.out)"
grep -q '^  failed *Group 2: Start: broken' pl2.out || fail "planned, again: broken did not fail: $(cat pl2.out)"
grep -q '^  pending *Group 3: Start: web1' pl2.out || fail "planned, again: went past the failed machine: $(cat pl2.out)"
[ "$(grep -c ' pre\.0\.context' p/trace)" = 1 ] || fail "planned, again: the done pre-step ran again: $(cat p/trace)"
pass "planned, run again after the fix: done tasks kept, stopped at the next error (the failed machine)"

# 3. A changed plan is refused (its tasks would not be the recorded ones).
sed -i 's/"announce"/"announce it"/' p/planned.plan
r=0; "$LANDFALL" plan p/planned.plan >ch.out 2>ch.err || r=$?
[ $r = 2 ] || fail "changed plan: exit $r, expected 2"
grep -q 'changed since the plan was started' ch.err || fail "changed plan: $(cat ch.err)"

# 4. Preflight: a machine twice, a bad plan: refused before anything runs.
cat >p/twice.plan <<'EOF'
{ "name": "twice", "groups": [ { "machines": ["db1.job"] }, { "machines": ["db1.job"] } ] }
EOF
r=0; "$LANDFALL" plan p/twice.plan >tw.out 2>tw.err || r=$?
[ $r = 2 ] && grep -q 'machine db1 is in the plan twice' tw.err || fail "a machine twice: exit $r: $(cat tw.err)"
[ -e p/twice-plan ] && fail "a refused plan created its output"
cat >p/bad.plan <<'EOF'
{ "name": "bad", "groups": [ { "machines": [], "pre": [ { "name": "x", "script": "ok.sh", "manual": "y" } ] } ] }
EOF
r=0; "$LANDFALL" plan p/bad.plan >bad.out 2>bad.err || r=$?
[ $r = 2 ] && grep -q 'groups\[0\].pre\[0\]: needs "script" or "manual"' bad.err || fail "bad plan: exit $r: $(cat bad.err)"
pass "a changed plan, a machine in two groups and a malformed action are refused with the file and field named"

# 5. SIGTERM while a script runs: the script's process group is stopped,
# the plan exits 4 (interrupted), and running it again does the rest.
cat >p/long.sh <<'EOF2'
#!/bin/sh
echo started >>long.trace
[ -e long.ok ] && exit 0
sleep 60 &
wait
EOF2
sed -i "s/sleep 60 &/sleep $nap \\&/" p/long.sh
chmod +x p/long.sh
cat >p/intr.plan <<'EOF2'
{ "name": "intr", "groups": [ { "machines": [],
  "pre": [ { "name": "long", "script": "long.sh" } ],
  "post": [ { "name": "after", "script": "ok.sh" } ] } ] }
EOF2
"$LANDFALL" plan p/intr.plan >in1.out 2>in1.err &
pid=$!
for _ in $(seq 100); do [ -e p/long.trace ] && break; sleep 0.1; done
[ -e p/long.trace ] || fail "interrupt: the script never started"
kill -TERM $pid
r=0; wait $pid || r=$?
[ $r = 4 ] || fail "interrupt: exit $r, expected 4: $(cat in1.err)"
grep -q '^  interrupted *Group 1: Pre-steps: long' in1.out || fail "interrupt: $(cat in1.out)"
sleep 1
pgrep -xf "sleep $nap" >/dev/null && fail "interrupt: the script's child is still running"
touch p/long.ok
r=0; "$LANDFALL" plan p/intr.plan >in2.out 2>&1 || r=$?
[ $r = 0 ] || fail "interrupt, run again: exit $r: $(cat in2.out)"
grep -q '^  done *Group 1: Post-steps: after' in2.out || fail "interrupt, run again: $(cat in2.out)"
pass "SIGTERM stops the running script with its children (exit 4); running the plan again finishes it"
