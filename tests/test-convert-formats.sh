#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every input format and subformat, made by qemu-img (or, for differencing
# VHDs and OVAs, by a small generator) from one random sparse source, must
# convert to a fixed VHD that qemu-img compare finds identical to the
# source, that qemu-img info -f vpc sizes as landfall reports, and whose
# footer an independent checker (tests/tools/vhd-check.py) accepts.
source "$(dirname "$0")/functions.sh"
requires qemu-img qemu-io python3 tar

cd "$tmp"
# 48 MiB + 96 KiB: not a whole MiB, so every output must be rounded up.
python3 - <<'PY'
import os, random
rng = random.Random(42)
size = 48 * 1024 * 1024 + 96 * 1024
with open("src.raw", "wb") as f:
    f.truncate(size)
    for i in range(24):
        off = rng.randrange(0, size - 65536) // 512 * 512
        n = rng.randrange(512, 400000) // 512 * 512
        f.seek(off)
        # Half random, half compressible, like real disks.
        f.write(os.urandom(n) if i % 2 else bytes([i]) * n)
    f.seek(size - 512)
    f.write(b"end of disk".ljust(512, b"!"))
PY

check_output () {  # check_output NAME SRC_IMAGE SRC_FMT OUT
    local name=$1 img=$2 fmt=$3 out=$4
    local vsize expected got
    vsize=$(qemu-img info -f "$fmt" --output=json "$img" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
    expected=$(( (vsize + 1048575) / 1048576 * 1048576 ))
    got=$(qemu-img info -f vpc --output=json "$out" |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
    [ "$got" = "$expected" ] ||
        fail "$name: qemu-img info -f vpc says $got, expected $expected"
    [ "$(json_get report.json disks.0.output.virtual_size)" = "$expected" ] ||
        fail "$name: landfall reported $(json_get report.json disks.0.output.virtual_size), expected $expected"
    python3 "$top/tests/tools/vhd-check.py" "$out" "$expected" ||
        fail "$name: footer check failed"
    qemu-img compare -q -f "$fmt" -F vpc "$img" "$out" ||
        fail "$name: qemu-img compare: content differs"
    pass "$name ($(json_get report.json disks.0.source.format) $(json_get report.json disks.0.source.subformat), $vsize -> $expected bytes)"
}

convert_and_check () {  # convert_and_check NAME IMAGE QEMU_FMT
    "$LANDFALL" convert --json --no-progress "$2" -o "out-$1.vhd" >report.json ||
        fail "$1: landfall convert failed: $(cat report.json)"
    check_output "$1" "$2" "$3" "out-$1.vhd"
}

convert_and_check raw src.raw raw

# VHD: dynamic, fixed (qemu's CHS size), fixed with force_size, differencing.
qemu-img convert -f raw -O vpc -o subformat=dynamic src.raw dyn.vhd
convert_and_check vhd-dynamic dyn.vhd vpc
qemu-img convert -f raw -O vpc -o subformat=fixed src.raw fixed.vhd
convert_and_check vhd-fixed fixed.vhd vpc
qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on src.raw fixed-fs.vhd
convert_and_check vhd-fixed-force-size fixed-fs.vhd vpc
qemu-img convert -f raw -O vpc -o subformat=dynamic,force_size=on src.raw parent.vhd
qemu-img convert -f vpc -O raw parent.vhd parent.raw
python3 "$top/tests/tools/mkvhd-diff.py" parent.vhd parent.raw child.vhd child-expected.raw 7
"$LANDFALL" convert --json --no-progress child.vhd -o out-vhd-diff.vhd >report.json ||
    fail "vhd-differencing: convert failed"
[ "$(json_get report.json disks.0.source.subformat)" = differencing ] ||
    fail "vhd-differencing: not read as differencing"
qemu-img compare -q -f raw -F vpc child-expected.raw out-vhd-diff.vhd ||
    fail "vhd-differencing: content differs from the generator's expectation"
python3 "$top/tests/tools/vhd-check.py" out-vhd-diff.vhd || fail "vhd-differencing: footer"
# The parent found through the relative locator from another directory.
mkdir sub && cd sub && "$LANDFALL" convert -q ../child.vhd -o ../out-vhd-diff2.vhd && cd ..
cmp out-vhd-diff.vhd out-vhd-diff2.vhd >/dev/null 2>&1 ||
    qemu-img compare -q -F vpc -f vpc out-vhd-diff.vhd out-vhd-diff2.vhd ||
    fail "vhd-differencing: different result from another directory"
pass "vhd-differencing (parent through W2ru locator, partial bitmaps)"

# VMDK subformats.
for sub in monolithicSparse streamOptimized monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat; do
    qemu-img convert -f raw -O vmdk -o subformat=$sub src.raw "vmdk-$sub.vmdk"
    convert_and_check "vmdk-$sub" "vmdk-$sub.vmdk" vmdk
done

# qcow2: v2, v3, compressed (zlib and zstd), small clusters, a backing chain.
qemu-img convert -f raw -O qcow2 -o compat=0.10 src.raw v2.qcow2
convert_and_check qcow2-v2 v2.qcow2 qcow2
qemu-img convert -f raw -O qcow2 -o compat=1.1 src.raw v3.qcow2
convert_and_check qcow2-v3 v3.qcow2 qcow2
qemu-img convert -c -f raw -O qcow2 src.raw zlib.qcow2
convert_and_check qcow2-compressed-zlib zlib.qcow2 qcow2
if qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd src.raw zstd.qcow2 2>/dev/null; then
    convert_and_check qcow2-compressed-zstd zstd.qcow2 qcow2
fi
qemu-img convert -f raw -O qcow2 -o cluster_size=4096 src.raw small.qcow2
convert_and_check qcow2-4k-clusters small.qcow2 qcow2
qemu-img create -q -f qcow2 -b v3.qcow2 -F qcow2 top.qcow2
qemu-io -f qcow2 -c "write -P 0xab 1M 2M" -c "write -z 20M 1M" -c "write -P 0xcd 47M 64k" top.qcow2 >/dev/null
convert_and_check qcow2-backing top.qcow2 qcow2
[ "$(json_get report.json disks.0.source.backing_chain.0.format)" = qcow2 ] ||
    fail "qcow2-backing: chain not reported"

# VHDX: dynamic and fixed.
qemu-img convert -f raw -O vhdx -o subformat=dynamic src.raw dyn.vhdx
convert_and_check vhdx-dynamic dyn.vhdx vhdx
qemu-img convert -f raw -O vhdx -o subformat=fixed src.raw fixed.vhdx
convert_and_check vhdx-fixed fixed.vhdx vhdx

# OVA: an OVF descriptor and two streamOptimized disks, as VMware exports.
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized src.raw vm-disk1.vmdk
qemu-img create -q -f raw small.raw 3M
qemu-io -f raw -c "write -P 0x42 1M 1M" small.raw >/dev/null
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized small.raw vm-disk2.vmdk
cat > vm.ovf <<'OVF'
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References>
    <File ovf:href="vm-disk1.vmdk" ovf:id="file1"/>
    <File ovf:href="vm-disk2.vmdk" ovf:id="file2"/>
  </References>
  <DiskSection>
    <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="50429952"/>
    <Disk ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:capacity="3145728"/>
  </DiskSection>
</Envelope>
OVF
tar --format=ustar -cf vm.ova vm.ovf vm-disk1.vmdk vm-disk2.vmdk
mkdir ova-out
"$LANDFALL" convert --json --no-progress vm.ova -o ova-out >report.json ||
    fail "ova: convert failed: $(cat report.json)"
[ -f ova-out/vm-disk1.vhd ] && [ -f ova-out/vm-disk2.vhd ] || fail "ova: outputs missing"
qemu-img compare -q -f raw -F vpc src.raw ova-out/vm-disk1.vhd || fail "ova: disk1 differs"
qemu-img compare -q -f raw -F vpc small.raw ova-out/vm-disk2.vhd || fail "ova: disk2 differs"
python3 "$top/tests/tools/vhd-check.py" ova-out/vm-disk2.vhd 3145728 || fail "ova: disk2 footer"
pass "ova (two streamOptimized disks)"

# --checksum: the report's SHA-256 is the output's.
"$LANDFALL" convert --json --checksum --no-progress v3.qcow2 -o sum.vhd >report.json
[ "$(json_get report.json disks.0.output.sha256)" = "$(sha256sum sum.vhd | cut -d' ' -f1)" ] ||
    fail "--checksum: report and sha256sum disagree"
pass "--checksum"

# Holes stay holes: the output allocates about what the source holds.
src_kb=$(du -k src.raw | cut -f1)
out_kb=$(du -k out-vmdk-streamOptimized.vhd | cut -f1)
[ "$out_kb" -le $((src_kb + 1024)) ] ||
    fail "sparse: output allocates $out_kb KiB for $src_kb KiB of source"
pass "sparse output ($out_kb KiB allocated for $src_kb KiB of source data)"
