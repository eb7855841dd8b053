#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A target is one JSON file: a profile added in a temporary LANDFALL_HW_DIR
# (no C change) is listed by verify --list-profiles and drives fix --profile
# (the Linux modules it wants land in the initramfs; its Windows boot
# drivers, a set of alternatives here, are made boot start), verify
# --profile and a job's `profile = NAME`, whose verify step runs its checks.
# The shipped vmware profile fails clearly on a Windows guest with no
# VMware-bootable storage driver.
source "$(dirname "$0")/functions.sh"
requires python3 debugfs sha256sum

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
# Its own kernel parameter, and one it removes (the fixture has panic=-1).
p["linux"]["kernel_params"]["add"].append("lab.param=1")
p["linux"]["kernel_params"]["remove"].append("panic=")
# Its own registry edit: atapi's DisplayName deleted in every control set.
p["windows"]["registry"] = [{"key": "Services\\atapi", "value": "DisplayName",
                             "delete": True, "why": "a test"}]
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
new = [l for e in r["edits"] if e["path"] == "/boot/grub/grub.cfg" for l in e["new_lines"]]
assert new and all("lab.param=1" in l and "panic=" not in l for l in new), new
EOF
pass "fix --profile lab adds the profile's module (dummy) to the initramfs, reports the optional one it lacks, sets its kernel parameter and removes panic="

"$LANDFALL" verify --profile lab --json d.img >verify.json 2>verify.err || true
python3 - verify.json <<'EOF' || fail "verify --profile lab does not check the profile's modules"
import json, sys
r = json.load(open(sys.argv[1]))
c = [c for c in r["checks"] if c["check"] == "linux-initramfs-modules"]
assert c and all(x["status"] == "pass" for x in c), c
assert "dummy" in c[0]["reason"], c
k = [c for c in r["checks"] if c["check"] == "linux-kernel-params"]
assert k and k[0]["status"] == "pass", k
EOF
pass "verify --profile lab finds the profile's module in the fixed initramfs, and its kernel parameters"
"$LANDFALL" verify --profile lab --json "$deb" >vbefore.json 2>/dev/null || true
python3 - vbefore.json <<'EOF' || fail "verify --profile lab does not check the profile's kernel parameters"
import json, sys
k = [c for c in json.load(open(sys.argv[1]))["checks"] if c["check"] == "linux-kernel-params"]
assert k and k[0]["status"] == "fail", k
assert "lacks" in k[0]["reason"] and "lab.param=1" in k[0]["reason"], k
assert "panic=-1" in k[0]["reason"], k
EOF
pass "verify --profile lab fails the unfixed guest: lab.param=1 missing, panic=-1 present"

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
for cs in ("ControlSet001", "ControlSet002"):
    assert any("%s\\Services\\atapi\\DisplayName" % cs in x["message"] and
               "deleted" in x["message"] for x in f), (cs, f)
EOF
    pass "Windows: the lab profile's any-of set makes atapi boot start, skips the absent driver, deletes its registry value in both control sets"
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

############################################################################
# azure-gen2-nvme (issue 15), Linux: the VMware-like Debian guest, whose
# initramfs lacks pci-hyperv and whose fstab names /dev/sda1, gets nvme,
# nvme-core and pci-hyperv with their modules.dep closure into its
# initramfs, nvme_core.io_timeout=240 in every grub configuration, fstab
# by UUID; verify's checks for the profile pass (but for the partition
# table and ESP, which are the BIOS->UEFI conversion's); undo restores
# every edited file.
vmw=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$vmw.facts"
cp --sparse=always "$vmw" n.img
fs="n.img?offset=$ROOT_OFFSET"
cat_guest () { debugfs -R "cat $1" "$fs" 2>/dev/null; }
"$LANDFALL" verify --profile azure-gen2-nvme --json n.img >nbefore.json 2>/dev/null || true
python3 - nbefore.json <<'PY' || fail "verify --profile azure-gen2-nvme passes the unfixed guest"
import json, sys
c = {x["check"]: x for x in json.load(open(sys.argv[1]))["checks"]}
assert c["linux-initramfs-modules"]["status"] == "fail", c["linux-initramfs-modules"]
assert "pci-hyperv" in c["linux-initramfs-modules"]["reason"], c["linux-initramfs-modules"]
assert c["linux-kernel-params"]["status"] == "fail", c["linux-kernel-params"]
assert "nvme_core.io_timeout=240" in c["linux-kernel-params"]["reason"], c["linux-kernel-params"]
assert c["linux-fstab"]["status"] == "fail" and "/dev/sda1" in c["linux-fstab"]["reason"], c["linux-fstab"]
PY
pass "azure-gen2-nvme: verify fails the unfixed guest (no pci-hyperv, no io_timeout, /dev/sda1 in fstab)"

for f in /etc/default/grub /boot/grub/grub.cfg /etc/fstab /etc/initramfs-tools/modules; do
    cat_guest "$f" | sha256sum
done >nsums.before
debugfs -R "cat /boot/initrd.img-$KERNEL_VERSION" "$fs" 2>/dev/null | sha256sum >>nsums.before
"$LANDFALL" fix --profile azure-gen2-nvme --json n.img >nfix.json 2>nfix.err ||
    { cat nfix.err >&2; fail "fix --profile azure-gen2-nvme failed"; }
python3 - nfix.json <<'PY' || fail "fix --profile azure-gen2-nvme did not act on the profile"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["profile"] == "azure-gen2-nvme", r["profile"]
msgs = [f["message"] for f in r["findings"]]
assert any(m.startswith("added ") and "pci_hyperv," in m and "pci_hyperv_intf" in m for m in msgs), [m for m in msgs if "initrd" in m]
assert not [f for f in r["findings"] if f["result"] == "failed"], r["findings"]
assert any(f["concern"] == "readiness" and "80-azure-disk.rules" in f["message"] and
           f["result"] == "warning" for f in r["findings"]), "no udev rules warning"
assert any(f["concern"] == "readiness" and "mana:" in f["message"] for f in r["findings"]), \
    "no accelerated networking note"
PY
for f in /etc/default/grub /boot/grub/grub.cfg; do
    cat_guest "$f" | grep -E '^\s*(linux\s|GRUB_CMDLINE_LINUX=)' | grep -qw 'nvme_core.io_timeout=240' ||
        fail "$f: no nvme_core.io_timeout=240: $(cat_guest "$f" | grep -E '^\s*(linux\s|GRUB_CMDLINE_LINUX=)')"
done
! cat_guest /etc/fstab | grep -q '^/dev/sd' || fail "fstab: /dev/sd* left"
cat_guest /etc/initramfs-tools/modules | grep -qx pci-hyperv || fail "pci-hyperv not in the early-load list"
"$LANDFALL" verify --profile azure-gen2-nvme --json n.img >nafter.json 2>/dev/null || true
python3 - nafter.json <<'PY' || fail "verify --profile azure-gen2-nvme after the fix"
import json, sys
c = json.load(open(sys.argv[1]))["checks"]
bad = [x for x in c if x["status"] == "fail" and x["check"] not in ("partition-table", "boot-code")]
assert not bad, bad
m = [x for x in c if x["check"] == "linux-initramfs-modules"][0]
for mod in ("nvme (+", "nvme-core (+", "pci-hyperv (+"):
    assert mod in m["reason"], m
assert "closure inside the image" in m["reason"], m
assert [x for x in c if x["check"] == "linux-kernel-params"][0]["status"] == "pass"
assert [x for x in c if x["check"] == "linux-readiness"][0]["status"] == "note"
PY
pass "azure-gen2-nvme: fix adds pci-hyperv (nvme, nvme-core there with their closure), io_timeout in grub, fstab by UUID; verify passes (BIOS->UEFI aside)"

"$LANDFALL" undo n.img >/dev/null || fail "undo after azure-gen2-nvme failed"
for f in /etc/default/grub /boot/grub/grub.cfg /etc/fstab /etc/initramfs-tools/modules; do
    cat_guest "$f" | sha256sum
done >nsums.after
debugfs -R "cat /boot/initrd.img-$KERNEL_VERSION" "$fs" 2>/dev/null | sha256sum >>nsums.after
cmp -s nsums.before nsums.after || fail "undo: files differ: $(diff nsums.before nsums.after)"
pass "azure-gen2-nvme: undo restores grub, grub.cfg, fstab, the modules list and the initramfs byte for byte"

# Windows: stornvme and pci boot start with their StartOverride keys (as
# Windows writes them when it boots from SCSI) deleted in every control
# set; without stornvme.sys the fix fails and says so.
if [ "$(id -u)" = 0 ] && [ -e /dev/fuse ] && command -v hivexregedit >/dev/null; then
    win=$("$top/tests/fixtures/build.sh" windows-ntfs "$top/$BUILD/fixtures" | tail -n1)
    . "$win.facts"
    cp --sparse=always "$win" nw.img
    sum=$(sha256sum <nw.img)
    r=0; "$LANDFALL" fix --profile azure-gen2-nvme nw.img >nw.out 2>nw.err || r=$?
    [ $r = 1 ] || fail "fix --profile azure-gen2-nvme without stornvme.sys exited $r"
    grep -q 'Services\\stornvme: driver file /Windows/System32/drivers/stornvme.sys is missing' nw.err nw.out ||
        fail "no clear failure for the missing stornvme.sys: $(cat nw.err nw.out)"
    [ "$sum" = "$(sha256sum <nw.img)" ] || fail "the refused fix changed the image"
    pass "Windows: fix --profile azure-gen2-nvme fails clearly without stornvme.sys, image unchanged"

    part_out () { dd if="$1" of="$2" iflag=skip_bytes,count_bytes skip="$PART1_OFFSET" \
                     count="$PART1_SIZE" conv=sparse status=none; }
    part_in () { dd if="$1" of="$2" oflag=seek_bytes seek="$PART1_OFFSET" conv=sparse,notrunc \
                    status=none; }
    sys_of () { part_out "$1" x.ntfs; ntfscat -f x.ntfs /Windows/System32/config/SYSTEM >"$2" ||
                    fail "ntfscat SYSTEM from $1"; rm -f x.ntfs; }
    sys_of nw.img nSYSTEM
    {
        echo 'Windows Registry Editor Version 5.00'
        for cs in ControlSet001 ControlSet002; do
            printf '\n[HKEY_LOCAL_MACHINE\\SYSTEM\\%s\\Services\\stornvme]\n' $cs
            printf '"Type"=dword:00000001\n"Start"=dword:00000003\n"ErrorControl"=dword:00000001\n'
            printf '"Group"="SCSI Miniport"\n'
            for svc in stornvme pci; do
                printf '\n[HKEY_LOCAL_MACHINE\\SYSTEM\\%s\\Services\\%s\\StartOverride]\n"0"=dword:00000003\n' $cs $svc
            done
        done
    } >nvme.reg
    hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' nSYSTEM nvme.reg
    [ "$(hivexget nSYSTEM 'ControlSet002\Services\pci\StartOverride' 0)" = 3 ] || fail "seeding StartOverride did not take"
    put_nvme () {
        cp nSYSTEM "$1/Windows/System32/config/SYSTEM" &&
        for d in stornvme storport pci; do
            printf 'MZ landfall test: stand-in for %s.sys\n' $d >"$1/Windows/System32/drivers/$d.sys"
        done
    }
    part_out nw.img m.ntfs
    mkdir -p mnt
    ntfs-3g -o no_def_opts,silent m.ntfs mnt || fail "ntfs-3g mount"
    cleanup_hook "mountpoint -q '$tmp/mnt' && fusermount -u '$tmp/mnt'"
    put_nvme mnt || { fusermount -u mnt; fail "could not seed the NVMe guest"; }
    fusermount -u mnt
    part_in m.ntfs nw.img
    rm -f m.ntfs
    sys_of nw.img nbefore.SYSTEM
    "$LANDFALL" verify --profile azure-gen2-nvme --json nw.img >nwv0.json 2>/dev/null || true
    python3 - nwv0.json <<'PY' || fail "verify --profile azure-gen2-nvme passes the seeded StartOverride keys"
import json, sys
c = {x["check"]: x for x in json.load(open(sys.argv[1]))["checks"]}
r = c["windows-registry"]
assert r["status"] == "fail", r
for cs in ("ControlSet001", "ControlSet002"):
    for svc in ("stornvme", "pci"):
        assert "%s\\Services\\%s\\StartOverride exists" % (cs, svc) in r["reason"], r
PY

    "$LANDFALL" fix --profile azure-gen2-nvme --json nw.img >nwfix.json 2>nwfix.err ||
        { cat nwfix.err >&2; fail "fix --profile azure-gen2-nvme failed on Windows"; }
    sys_of nw.img nafter.SYSTEM
    for cs in ControlSet001 ControlSet002; do
        for svc in stornvme pci; do
            [ "$(hivexget nafter.SYSTEM "$cs\\Services\\$svc" Start)" = 0 ] ||
                fail "$cs\\Services\\$svc\\Start is not 0"
            ! hivexget nafter.SYSTEM "$cs\\Services\\$svc\\StartOverride" >/dev/null 2>&1 ||
                fail "$cs\\Services\\$svc\\StartOverride is still there"
        done
    done
    grep -q 'StartOverride: key deleted (values: 0 = 3' nwfix.json || fail "the report does not say what was deleted"
    pass "Windows: every control set has stornvme and pci Start=0 and no StartOverride"
    "$LANDFALL" verify --profile azure-gen2-nvme --json nw.img >nwv.json 2>/dev/null || true
    python3 - nwv.json <<'PY' || fail "verify --profile azure-gen2-nvme on the fixed Windows guest"
import json, sys
c = {x["check"]: x for x in json.load(open(sys.argv[1]))["checks"]}
assert c["windows-registry"]["status"] == "pass", c["windows-registry"]
assert c["windows-boot-drivers"]["status"] == "pass", c["windows-boot-drivers"]
assert "stornvme" in c["windows-boot-drivers"]["reason"], c["windows-boot-drivers"]
assert c["windows-readiness"]["status"] == "note" and "mana" in c["windows-readiness"]["reason"]
PY
    pass "Windows: verify --profile azure-gen2-nvme checks the registry edits and the NVMe drivers"
    "$LANDFALL" undo nw.img >/dev/null || fail "undo failed"
    sys_of nw.img nundo.SYSTEM
    cmp -s nbefore.SYSTEM nundo.SYSTEM || fail "undo: SYSTEM differs from before the fix"
    pass "Windows: undo restores the SYSTEM hive byte for byte"
else
    echo "note: Windows NVMe part skipped (the windows-ntfs fixture is built as root with FUSE)"
fi
