#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall run with disks named as Azure attaches them (issue 18): lun:N,
# lun:H:N, serial:S, /dev/disk/by-id/..., resolved from sysfs -- here a
# fake tree ($LANDFALL_SYSFS_ROOT) laid out as a helper VM's: the
# system's own disk on host0, data disks at LUNs 1 and 3 of host2 and at
# LUN 1 of host3.  A name that matches no disk, or several, fails step 1
# with what was found, and nothing is written; a name that resolves is
# reported with the node it was found at.  tests/test-appliance.sh does
# the same with real disks under QEMU; supervisor/test-disks.c covers
# the syntax and the sysfs values.
source "$(dirname "$0")/functions.sh"
requires python3

cd "$tmp"
sys=$tmp/fake/sys
# scsi NAME H:C:T:L SECTORS
scsi () {
    local h=${2%%:*}
    mkdir -p "$sys/devices/host$h/$2" "$sys/class/block/$1"
    echo "$3" >"$sys/class/block/$1/size"
    ln -s "../../../devices/host$h/$2" "$sys/class/block/$1/device"
}
scsi sda 0:0:0:0 69632
mkdir -p "$sys/class/block/sda1" && echo 1 >"$sys/class/block/sda1/partition"
scsi sdb 2:0:0:1 2097152
scsi sdc 2:0:0:3 4194304
printf '\0\x80\0\x08SER-0003' >"$sys/devices/host2/2:0:0:3/vpd_pg80"
scsi sdd 3:0:0:1 2097152
export LANDFALL_SYSFS_ROOT=$tmp/fake LANDFALL_OWN_DISK=sda

mkdir job
# run_refused DESC JOBTEXT PATTERN: step 1 fails naming PATTERN; nothing written.
run_refused () {
    printf '%s\n' "$2" >job/m.job
    local r=0
    "$LANDFALL" run --json job/m.job >out.json 2>err.txt || r=$?
    [ $r = 1 ] || { cat err.txt >&2; fail "$1: exit $r, not 1"; }
    python3 - out.json "$3" >said.txt <<'EOF' || { cat out.json err.txt >&2; fail "$1: the report does not say '$3'"; }
import json, re, sys
r = json.load(open(sys.argv[1]))
assert r["result"] == "failed" and r["steps"][0]["state"] == "failed", r["steps"]
said = [e for e in r["errors"] if re.search(sys.argv[2], e)]
assert said, r["errors"]
print(said[0])
EOF
    [ "$(ls -A job)" = m.job ] || fail "$1: something was written: $(ls -A job)"
    pass "$1: step 1 refuses it: $(cat said.txt)"
}

run_refused "a LUN that is not there" 'machine = m
os-disk = lun:4
output = in-place' \
    'OS disk: lun:4: no such disk \(LUNs seen: host0 \(the system.s own\): 0; host2: 1 3; host3: 1\)'

run_refused "LUN 1 on two controllers" 'machine = m
os-disk = lun:3
disk = lun:1
output = in-place' \
    'data disk 1: lun:1: ambiguous: 2 disks match \(/dev/sdb, /dev/sdd\): name the controller too, lun:H:N'

run_refused "a serial that is not there" 'machine = m
os-disk = serial:SER-0004
output = in-place' 'OS disk: serial:SER-0004: no such disk \(serials seen: .*sdc=SER-0003'

run_refused "two names for one disk" 'machine = m
os-disk = lun:3
disk = serial:SER-0003
output = in-place' 'data disk 1: serial:SER-0003 is /dev/sdc, which lun:3 already names'

# Names that resolve: the report shows each name beside its node (the
# nodes are the fake tree's, absent here, so step 1 still fails on them,
# which is what tells us where each name led).
printf 'machine = m\nos-disk = lun:3\ndisk = lun:3:1\ndisk = /dev/disk/azure/scsi1/lun1\ndisk = /dev/disk/by-id/scsi-0Msft_Virtual_Disk_SER-0003\noutput = in-place\n' >job/m.job
r=0; "$LANDFALL" run --json job/m.job >out.json 2>err.txt || r=$?
python3 - out.json <<'EOF' || { cat out.json err.txt >&2; fail "the names did not resolve as expected"; }
import json, sys
r = json.load(open(sys.argv[1]))
got = [(d.get("name"), d["source"]) for d in r["disks"]]
want = [("lun:3", "/dev/sdc"), ("lun:3:1", "/dev/sdd"), ("/dev/disk/azure/scsi1/lun1", None),
        ("/dev/disk/by-id/scsi-0Msft_Virtual_Disk_SER-0003", "/dev/sdc")]
assert [g[0] for g in got] == [w[0] for w in want], got
assert got[0][1] == "/dev/sdc" and got[1][1] == "/dev/sdd", got
# LUN 1 is on host2 and host3: Azure's scsi1 name is ambiguous here too.
assert any("lun1: ambiguous" in e for e in r["errors"]), r["errors"]
assert any("scsi-0Msft_Virtual_Disk_SER-0003 is /dev/sdc, which lun:3 already names" in e for e in r["errors"]), r["errors"]
EOF
grep -q "OS disk lun:3: /dev/sdc scsi 2:0:0:3, 2.0 GiB, serial SER-0003" err.txt ||
    { cat err.txt >&2; fail "the step line does not describe the disk lun:3 found"; }
pass "lun:3, lun:3:1 and by-id names resolve to their SCSI disks, reported with the name and the node"
