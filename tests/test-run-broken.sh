#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall run with broken inputs: a missing disk, a corrupted image (a
# qcow2 with a garbled header, a VHD with a garbled footer), an OS disk
# with no OS (an empty ext4 filesystem), and an OS disk of 3 TiB for
# azure-gen1 (2 TiB at most).  Step 1 must fail with every problem
# listed, and nothing may be written: the output directory stays as it
# was (or absent), no state file, no report.
source "$(dirname "$0")/functions.sh"
requires qemu-img mkfs.ext4 python3

cd "$tmp"
mkdir job
# An empty ext4 filesystem: no operating system on it.
truncate -s 64M job/empty.raw
mkfs.ext4 -q -F job/empty.raw
# A 3 TiB OS disk, sparse, and a qcow2 one of the same size.
truncate -s 3T job/huge.raw
qemu-img create -q -f qcow2 job/huge.qcow2 3T
# A qcow2 with its header garbled (cluster_bits = 99).
qemu-img create -q -f qcow2 job/bad.qcow2 64M
printf '\x63' | dd of=job/bad.qcow2 bs=1 seek=23 conv=notrunc status=none
# A fixed VHD with its footer garbled (checksum no longer matches).
truncate -s 16M job/bad.vhd.raw
"$LANDFALL" convert -q job/bad.vhd.raw -o job/bad.vhd
size=$(stat -c %s job/bad.vhd)
printf 'XXXX' | dd of=job/bad.vhd bs=1 seek=$((size - 512 + 48)) conv=notrunc status=none

# run_broken JOB: must fail in step 1 (exit 1) and write nothing.
run_broken () {
    local before after r=0
    before=$(cd job && find . -printf '%p %s %T@\n' | sort)
    "$LANDFALL" run --json "job/$1" >"$1.json" 2>"$1.err" || r=$?
    cat "$1.err"
    [ "$r" = 1 ] || fail "$1: exit $r, expected 1"
    grep -q "AddressSanitizer\|runtime error" "$1.err" && fail "$1: crashed"
    after=$(cd job && find . -printf '%p %s %T@\n' | sort)
    [ "$before" = "$after" ] || fail "$1: the job's directory changed: $(diff <(echo "$before") <(echo "$after"))"
    [ "$(json_get "$1.json" steps.0.state)" = failed ] || fail "$1: step 1 is not failed"
    [ "$(json_get "$1.json" steps.1.state)" = pending ] || fail "$1: step 2 is not pending"
    [ "$(json_get "$1.json" result)" = failed ] || fail "$1: result"
}

# 1. Everything at once, on azure-gen1: all four problems listed.
cat >job/all.job <<'JOB'
machine = broken
profile = azure-gen1
os-disk = huge.qcow2
disk = missing.vhd
disk = bad.qcow2
disk = bad.vhd
disk = empty.raw
output = out
JOB
run_broken all.job
[ ! -e job/out ] || fail "all.job: output directory created"
python3 - all.job.json <<'PY' || fail "all.job: problems not all listed: $(cat all.job.json)"
import json, sys
e = json.load(open(sys.argv[1]))["errors"]
def has(*words):
    assert any(all(w in m for w in words) for m in e), (words, e)
has("prerequisites", "data disk 1", "missing.vhd", "No such file")
has("data disk 2", "bad.qcow2", "cluster")
has("data disk 3", "bad.vhd", "checksum")
has("OS disk", "over azure-gen1's limit of 2.0 TiB")
has("no operating system found")
print("%d problems listed:" % len(e))
for m in e: print("   ", m)
PY
pass "missing disk, garbled qcow2 header, garbled VHD footer, 3 TiB gen1 OS disk, no OS: all listed, nothing written"

# 2. An OS disk with an empty ext4 filesystem, into an existing output
# directory holding a file: the directory is left exactly as it was.
mkdir job/out2
echo keep >job/out2/notes.txt
printf 'machine = e\nos-disk = empty.raw\noutput = out2\n' >job/empty.job
run_broken empty.job
grep -q "no operating system found" empty.job.json || fail "empty.job: no OS not reported"
[ "$(ls -A job/out2)" = notes.txt ] || fail "empty.job: output directory changed"
pass "unsupported OS (an empty ext4 disk): $(json_get empty.job.json errors.0)"

# 3. A 3 TiB raw OS disk is over gen1's limit; the same job on gen2 is
# past the size check (and fails only for the missing OS).
printf 'machine = h\nos-disk = huge.raw\noutput = out3\nprofile = azure-gen1\n' >job/huge1.job
run_broken huge1.job
grep -q "over azure-gen1's limit of 2.0 TiB" huge1.job.json || fail "huge1.job: size not reported"
printf 'machine = h\nos-disk = huge.raw\noutput = out3\nprofile = azure-gen2\n' >job/huge2.job
run_broken huge2.job
grep -q "limit" huge2.job.json && fail "huge2.job: a 3 TiB OS disk is within gen2's limit"
pass "3 TiB OS disk: refused for azure-gen1, accepted (size-wise) for azure-gen2"
