#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every disk image in ../shared/testdata/images/, made by Hyper-V, Virtual
# PC, Disk2vhd, VMware and qemu, some damaged on purpose (its README says
# which): converted to what qemu-img reads from it, at the size its creator
# intended rounded up to a MiB, or refused with a clear error.
source "$(dirname "$0")/functions.sh"
requires qemu-img python3 xz bzip2

[ -d "$TESTDATA/images" ] || {
    echo "SKIP: $TESTDATA/images not found (set LANDFALL_SHARED)" >&2; exit 77; }
cd "$tmp"

vsize () {
    qemu-img info -f "$2" --output=json "$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])'
}

# good REL QEMU_FMT [EXPECTED_SIZE]: converts to the same content.
good () {
    local img size want got
    img=$(testdata_file "$1")
    size=$(vsize "$img" "$2")
    [ -z "${3:-}" ] || [ "$size" = "$3" ] ||
        fail "$1: qemu says $size, README says $3"
    want=$(( (size + 1048575) / 1048576 * 1048576 ))
    "$LANDFALL" convert --json --no-progress "$img" -o out.vhd >report.json ||
        fail "$1: convert failed: $(cat report.json)"
    got=$(json_get report.json disks.0.output.virtual_size)
    [ "$got" = "$want" ] || fail "$1: size $got, expected $want"
    [ "$(json_get report.json disks.0.source.virtual_size)" = "$size" ] ||
        fail "$1: source size $(json_get report.json disks.0.source.virtual_size), qemu says $size"
    python3 "$top/tests/tools/vhd-check.py" out.vhd "$want" || fail "$1: footer"
    qemu-img compare -q -f "$2" -F vpc "$img" out.vhd || fail "$1: content differs"
    pass "$1: $size bytes -> $want, identical"
    rm -f out.vhd "$img"
}

# bad REL REGEX: refused with a message naming the file and matching REGEX.
bad () {
    local img
    img=$(testdata_file "$1")
    expect_fail "$1" "$LANDFALL" convert --no-progress "$img" -o out.vhd
    grep -q "$(basename "$img")" "$tmp/err" || fail "$1: error does not name the file"
    grep -Eq "$2" "$tmp/err" || fail "$1: error does not mention /$2/: $(cat "$tmp/err")"
    [ ! -e out.vhd ] || fail "$1: output left behind"
    pass "$1: refused: $(sed 's/^landfall: error: //' "$tmp/err")"
    rm -f "$img"
}

Q=images/qemu-sample_images
# Hyper-V 2012 R2: size from current_size (CHS would be 2 MiB short).
good $Q/hyperv2012r2-dynamic.vhd.bz2 vpc 136365211648
# Disk2vhd: creator "d2v\0", CHS saturated.
good $Q/d2v-zerofilled.vhd.bz2 vpc 263454720
good $Q/iotest-dynamic-1G.vhdx.bz2 vhdx 1073741824
good $Q/iotest-version3.vmdk.bz2 vmdk 17179869184
good $Q/grub_mbr.raw.bz2 raw 512
bad $Q/afl9.vmdk.bz2 "grain|L1|table|size|limit"

# A VHDX with one log entry not yet replayed: qemu will not read it until
# repaired; landfall either replays the log in memory (and must then agree
# with qemu after repair on a copy) or refuses, naming the log.
img=$(testdata_file $Q/iotest-dirtylog-10G-4M.vhdx.bz2)
if "$LANDFALL" convert --json --no-progress "$img" -o out.vhd >report.json 2>"$tmp/err"; then
    cp "$img" repaired.vhdx
    qemu-img check -q -r all -f vhdx repaired.vhdx >/dev/null 2>&1 || true
    qemu-img compare -q -f vhdx -F vpc repaired.vhdx out.vhd ||
        fail "dirty-log VHDX: replayed content differs from qemu's repair"
    pass "iotest-dirtylog-10G-4M.vhdx: log replayed in memory, identical to qemu's repair"
    rm -f out.vhd repaired.vhdx
else
    grep -qi "log" "$tmp/err" || fail "dirty-log VHDX: error does not mention the log"
    pass "iotest-dirtylog-10G-4M.vhdx: refused: $(cat "$tmp/err")"
fi
rm -f "$img"

D=images/dfvfs
good $D/ext2.qcow2.xz qcow2 4194304
good $D/ext2.vhd.xz vpc 4212736
good $D/ext2.vmdk.xz vmdk 4194304
good $D/windows_volume.qcow2.xz qcow2
bad $D/image.vhd.xz "checksum"
bad $D/fat-differential.vhd.xz "parent .*not found"

bad images/govmomi/ttylinux-pc_i486-16.1-disk1.vmdk.xz "beyond end of file|truncat|footer|marker|end of stream"
