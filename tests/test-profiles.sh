#!/bin/bash
# A target is one JSON file: a profile added in a temporary LANDFALL_HW_DIR
# (no C change) is listed by verify --list-profiles and drives fix --profile
# (the Linux modules it wants land in the initramfs; its Windows boot
# drivers, a set of alternatives here, are made boot start), verify
# --profile and a job's `profile = NAME`, whose verify step runs its checks.
# The shipped vmware profile fails clearly on a Windows guest with no
# VMware-bootable storage driver.
source "$(dirname "$0")/functions.sh"
requires python3 debugfs

deb=$("$top/tests/fixtures/build.sh" debian12-ext4 "$top/$BUILD/fixtures" | tail -n1)
cd "$tmp"
mkdir hw
cp "$top"/hw/*.json hw/
# "lab": azure-gen1 whose initramfs must also hold dummy (in the fixture's
# kernel, not in its initramfs), and may hold a module no kernel has; its
# Windows storage is "any of" a driver no guest has and atapi.
python3 - "$top/hw/azure-gen1.json" hw/lab.json <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["name"] = "lab"
p["description"] = "a test target"
p["linux"]["modules"] = ["dummy"]
p["linux"]["modules_optional"] = ["no_such_module_lab"]
p["windows"]["boot_drivers"] = [
    {"service": "nosuchdrv", "file": "nosuchdrv.sys", "any_of": "lab-storage"},
    {"service": "atapi", "file": "atapi.sys", "needs": ["ataport.sys"],
     "group": "SCSI Miniport", "any_of": "lab-storage"}]
json.dump(p, open(sys.argv[2], "w"), indent=1)
EOF
export LANDFALL_HW_DIR=$tmp/hw

"$LANDFALL" verify --list-profiles >list.out 2>&1 || { cat list.out >&2; fail "verify --list-profiles failed"; }
grep -q "^lab" list.out || fail "the new profile is not listed: $(cat list.out)"
pass "verify --list-profiles shows the new profile"

cp --sparse=always "$deb" d.img
"$LANDFALL" fix --profile lab --json d.img >fix.json 2>fix.err ||
    { cat fix.err >&2; fail "fix --profile lab failed"; }
python3 - fix.json <<'EOF' || fail "fix --profile lab did not act on the profile"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["profile"] == "lab", r.get("profile")
msgs = [f["message"] for f in r["findings"] if f["concern"] == "initramfs"]
assert any("added dummy" in m for m in msgs), msgs
assert any("no_such_module_lab" in m and "optional" in m for m in msgs), msgs
assert not [f for f in r["findings"] if f["result"] == "failed"], r["findings"]
EOF
pass "fix --profile lab adds the profile's module (dummy) to the initramfs, reports the optional one it lacks"

"$LANDFALL" verify --profile lab --json d.img >verify.json 2>verify.err || true
python3 - verify.json <<'EOF' || fail "verify --profile lab does not check the profile's modules"
import json, sys
r = json.load(open(sys.argv[1]))
c = [c for c in r["checks"] if c["check"] == "linux-initramfs-modules"]
assert c and all(x["status"] == "pass" for x in c), c
assert "dummy" in c[0]["reason"], c
EOF
pass "verify --profile lab finds the profile's module in the fixed initramfs"

# A job names the profile; its verify step checks the output against it.
mkdir job
cp --sparse=always "$deb" job/vm-disk1.img
cat >job/vm.job <<'EOF'
machine = vm
source = vmware
profile = lab
os-disk = vm-disk1.img
output = out
EOF
r=0; "$LANDFALL" run --json job/vm.job >run.json 2>run.err || r=$?
[ $r = 0 ] || [ $r = 3 ] || { cat run.err >&2; fail "a job with profile = lab failed (exit $r)"; }
python3 - run.json <<'EOF' || fail "the job did not use the profile"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["profile"] == "lab", r["profile"]
assert any("added dummy" in f["message"] for f in r["findings"]), "dummy not added"
EOF
pass "a job with profile = lab fixes and verifies for it"

# Windows: atapi, present, is made boot start; the absent alternative is
# skipped, not a failure.  The vmware profile finds none of its drivers
# in this Windows 7 sample (no lsi_sas, pvscsi or storahci) and says so.
if [ "$(id -u)" = 0 ] && [ -e /dev/fuse ]; then
    win=$("$top/tests/fixtures/build.sh" windows-ntfs "$top/$BUILD/fixtures" | tail -n1)
    cp --sparse=always "$win" w.img
    "$LANDFALL" fix --profile lab -n --json w.img >wlab.json 2>wlab.err ||
        { cat wlab.err >&2; fail "fix --profile lab failed on Windows"; }
    python3 - wlab.json <<'EOF' || fail "the lab profile's driver set was not applied"
import json, sys
r = json.load(open(sys.argv[1]))
f = [f for f in r["findings"] if f["concern"] == "boot-drivers"]
assert any("Services\\atapi\\Start" in x["message"] for x in f), f
assert any("nosuchdrv" in x["message"] and x["result"] == "skipped" for x in f), f
assert not any("storvsc" in x["message"] for x in f), "azure's drivers set for lab"
assert not [x for x in f if x["result"] == "failed"], f
EOF
    pass "Windows: the lab profile's any-of set makes atapi boot start, skips the absent driver"
    r=0; "$LANDFALL" fix --profile vmware -n w.img >wvm.out 2>wvm.err || r=$?
    [ $r = 1 ] || fail "fix --profile vmware on a guest without VMware storage drivers exited $r"
    grep -q 'none of the drivers of vmware.s "vmware-storage" boot controllers (LSI_SAS, pvscsi, storahci)' wvm.err ||
        fail "no clear failure for the missing VMware drivers: $(cat wvm.err)"
    pass "Windows: fix --profile vmware fails clearly when no VMware-bootable storage driver exists"
else
    echo "note: Windows part skipped (the windows-ntfs fixture is built as root with FUSE)"
fi

unset LANDFALL_HW_DIR
expect_fail "an unknown profile" "$LANDFALL" fix --profile lab d.img
pass "without the directory, the profile is unknown again"
