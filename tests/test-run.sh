#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall run over the VMware-like Debian guest (with a data disk): the
# job succeeds, the report matches what was done (checksums are the
# outputs' SHA-256, the changes listed are in the guest), a second run
# changes nothing, undo JOB reverts the fix and a re-run fixes again; an
# in-place job; --json; a bad job file names its line.
source "$(dirname "$0")/functions.sh"
requires debugfs python3 sha256sum qemu-img mkfs.ext4

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cd "$tmp"
mkdir job
# The OS disk as VMware exports it; a data disk in qcow2.
qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$img" job/web01-disk1.vmdk
truncate -s 64M data.raw
mkfs.ext4 -q -F -L data data.raw
qemu-img convert -f raw -O qcow2 data.raw job/web01-disk2.qcow2
cat >job/web01.job <<'EOF'
# web01, moved from VMware
machine = web01
source = vmware
profile = auto
os-disk = web01-disk1.vmdk
disk = web01-disk2.qcow2
output = out
checksum = yes
EOF

r=0; "$LANDFALL" run job/web01.job >summary.txt 2>log.txt || r=$?
cat summary.txt log.txt
# The fixture has no waagent: a warning, so "success with warnings" (3).
[ "$r" = 3 ] || fail "run: exit $r, expected 3 (success with warnings)"
rep=job/out/landfall-report.json
[ -f "$rep" ] || fail "no report"
python3 - "$rep" "$ROOT_UUID" <<'EOF' || fail "report fields"
import json, sys, hashlib, os
r = json.load(open(sys.argv[1]))
assert r["result"] == "success-with-warnings" and r["ok"] and r["exit_status"] == 3, r["result"]
assert r["machine"] == "web01" and r["source"] == "vmware", r
assert r["profile"] == "azure-gen1" and r["profile_requested"] == "auto", r["profile"]
assert [s["name"] for s in r["steps"]] == ["prerequisites", "convert", "fix", "verify", "report"]
assert all(s["state"] == "done" and s["seconds"] >= 0 for s in r["steps"]), r["steps"]
assert len(r["disks"]) == 2 and r["disks"][0]["role"] == "os" and r["disks"][1]["role"] == "data"
for d in r["disks"]:
    h = hashlib.sha256()
    with open(d["output"], "rb") as f:
        for b in iter(lambda: f.read(1 << 22), b""):
            h.update(b)
    assert d["sha256"] == h.hexdigest(), (d["output"], d["sha256"], h.hexdigest())
    assert d["file_size"] == os.path.getsize(d["output"]) == d["size"] + 512
    assert d["size"] % (1 << 20) == 0
assert r["disks"][0]["source_format"] == "vmdk monolithicSparse", r["disks"][0]
assert r["disks"][1]["source_format"].startswith("qcow2"), r["disks"][1]
ch = {c["path"]: c for c in r["changes"]}
f = ch["/etc/fstab"]
assert f["action"] == "replace" and f["old"]["sha256"] != f["new"]["sha256"]
assert any(l.startswith("/dev/sda1") for l in f["old_lines"]), f
assert any(l.startswith("UUID=" + sys.argv[2]) for l in f["new_lines"]), f
assert ch["/etc/udev/rules.d/70-persistent-net.rules"]["new"] is None
assert any(p.startswith("/boot/initrd.img-") for p in ch)
assert r["warnings"] and all(isinstance(w, str) for w in r["warnings"])
assert any("waagent" in w for w in r["warnings"]), r["warnings"]
assert r["errors"] == [], r["errors"]
assert r["timings"]["total_seconds"] > 0 and r["runs"] == 1
assert r["journal"] == "/var/lib/landfall"
print("report: %d changes, %d warnings" % (len(r["changes"]), len(r["warnings"])))
EOF
grep -q "^  changes:  $(json_get "$rep" changes | python3 -c 'import sys,ast; print(len(ast.literal_eval(sys.stdin.read())))') " summary.txt ||
    fail "summary does not show the number of changes"
grep -q "sha256 $(json_get "$rep" disks.0.sha256)" summary.txt || fail "summary without the checksum"
pass "job over the Debian VMware guest: report matches the outputs (sha256, sizes, changes)"

# The changes listed are in the guest.
os=job/out/web01-os.vhd
cat_guest () { debugfs -R "cat $1" "$os?offset=$ROOT_OFFSET" 2>/dev/null; }
cat_guest /etc/fstab | grep -q "^UUID=$ROOT_UUID" || fail "fstab not fixed in the output"
cat_guest /var/lib/landfall/journal.json | grep -q '"path": "/etc/fstab"' || fail "no guest journal"
qemu-img compare -q -f raw -F vpc data.raw job/out/web01-data1.vhd || fail "data disk differs from its source"
pass "the output holds the fix; the data disk is its source"

# A second run: everything already done, same bytes, same report result.
sum=$(sha256sum "$os" | cut -d' ' -f1)
r=0; "$LANDFALL" run --json job/web01.job >again.json 2>again.log || r=$?
[ "$r" = 3 ] || fail "second run: exit $r"
grep -q "already done" again.log || fail "second run redid work: $(cat again.log)"
[ "$sum" = "$(sha256sum "$os" | cut -d' ' -f1)" ] || fail "second run changed the output"
[ "$(json_get again.json runs)" = 2 ] || fail "runs is not 2"
[ "$(json_get again.json disks.0.sha256)" = "$sum" ] || fail "--json report checksum"
pass "a second run does nothing and reports the same ($(json_get again.json result))"

# undo JOB: the guest as converted; run again: fixed again.
"$LANDFALL" undo job/web01.job >undo.txt || fail "undo JOB failed"
cat undo.txt
cat_guest /etc/fstab | grep -q "^/dev/sda1" || fail "undo did not restore fstab"
[ -z "$(cat_guest /var/lib/landfall/journal.json)" ] || fail "journal left after undo"
r=0; "$LANDFALL" run -q job/web01.job >/dev/null || r=$?
[ "$r" = 3 ] || fail "run after undo: exit $r"
cat_guest /etc/fstab | grep -q "^UUID=$ROOT_UUID" || fail "run after undo did not fix again"
pass "undo JOB reverts the fix; run fixes again"

# In place: a raw copy becomes the fixed VHD itself.
mkdir ip
cp --sparse=always "$img" ip/disk.raw
printf 'machine = ip1\nos-disk = disk.raw\noutput = in-place\nprofile = azure-gen1\n' >ip/ip.job
r=0; "$LANDFALL" run -q ip/ip.job >ip.txt || r=$?
[ "$r" = 3 ] || fail "in-place run: exit $r: $(cat ip.txt)"
python3 "$top/tests/tools/vhd-check.py" ip/disk.raw >/dev/null || fail "in place: not a valid fixed VHD"
[ -f ip/ip1-landfall-report.json ] && [ -f ip/.landfall-job-ip1.json ] || fail "in place: report/state not beside the job"
debugfs -R "cat /etc/fstab" "ip/disk.raw?offset=$ROOT_OFFSET" 2>/dev/null | grep -q "^UUID=$ROOT_UUID" || fail "in place: not fixed"
pass "in-place job: footer appended, guest fixed, report beside the job"

# A bad job file: the line and key are named, exit 2, nothing written.
printf 'machine = web01\nos-disk = web01-disk1.vmdk\noutput = out2\nprofile = gen2\n' >job/bad.job
r=0; "$LANDFALL" run job/bad.job 2>bad.err || r=$?
[ "$r" = 2 ] || fail "bad job: exit $r"
grep -q "bad.job:4: profile: 'gen2' is not auto or a usable profile: .*(profiles in .*: azure-gen1, azure-gen2, .*vmware)" bad.err || fail "bad job message: $(cat bad.err)"
[ ! -e job/out2 ] || fail "bad job wrote its output"
pass "a bad job file: $(cat bad.err)"
