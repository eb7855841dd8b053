#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Damaged inputs: truncated files, wrong magics, tables pointing outside
# the file or into metadata, bad checksums, sizes that overflow, backing
# loops, missing parents.  Each must fail with an error naming the file and
# the structure, exit non-zero, leave no output behind and the source
# untouched; under ASan (make check's second pass) none may crash.
source "$(dirname "$0")/functions.sh"
requires qemu-img qemu-io python3

cd "$tmp"
qemu-img create -q -f raw src.raw 20M
qemu-io -f raw -c "write -P 0x5a 0 3M" -c "write -P 0xa5 12M 5M" src.raw >/dev/null
qemu-img convert -f raw -O vpc src.raw dyn.vhd
qemu-img convert -f raw -O qcow2 src.raw v3.qcow2
qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse src.raw sparse.vmdk
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized src.raw stream.vmdk
qemu-img convert -f raw -O vhdx src.raw dyn.vhdx

# must_fail FILE FORMAT REGEX: fail cleanly, message names file and REGEX.
must_fail () {
    local file=$1 fmt=$2 re=$3 sum
    sum=$(sha256sum "$file")
    mkdir -p out
    expect_fail "$(basename "$file")" "$LANDFALL" convert --no-progress \
        ${fmt:+-f "$fmt"} "$file" -o out/result.vhd
    grep -q "$(basename "$file")" "$tmp/err" ||
        fail "$(basename "$file"): error does not name the file: $(cat "$tmp/err")"
    # The file's name holds the case's name: match the rest of the message.
    sed "s|$(basename "$file")||g" "$tmp/err" | grep -Eq "$re" ||
        fail "$(basename "$file"): error does not mention /$re/: $(cat "$tmp/err")"
    [ -z "$(ls -A out)" ] || fail "$(basename "$file"): left output behind: $(ls out)"
    [ "$sum" = "$(sha256sum "$file")" ] || fail "$(basename "$file"): source changed"
    pass "$(basename "$file"): $(sed 's/^landfall: error: //' "$tmp/err")"
}

python3 "$top/tests/tools/mkdamaged.py" . >cases.tsv
while IFS=$'\t' read -r file fmt re; do
    must_fail "$file" "$fmt" "$re"
done <cases.tsv

# Backing chains: a loop, a missing backing file, a missing VHD parent, a
# parent that was replaced (different unique id).
qemu-img create -q -f qcow2 a.qcow2 10M
qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2
qemu-img rebase -u -f qcow2 -b b.qcow2 -F qcow2 a.qcow2
must_fail b.qcow2 "" "loop"
qemu-img create -q -f qcow2 -u -b gone.qcow2 -F qcow2 orphan.qcow2 10M
must_fail orphan.qcow2 "" "gone.qcow2"
qemu-img convert -f raw -O vpc -o force_size=on src.raw parent.vhd
qemu-img convert -f vpc -O raw parent.vhd parent.raw
python3 "$top/tests/tools/mkvhd-diff.py" parent.vhd parent.raw child.vhd expected.raw
mv parent.vhd parent.vhd.away
must_fail child.vhd "" "parent .*not found"
qemu-img convert -f raw -O vpc -o force_size=on src.raw parent.vhd
must_fail child.vhd "" "different unique id"

# Shorter than a sector and starting with a format's magic: that format,
# truncated, when probed (not a raw disk).
printf conectix >short.vhd
must_fail short.vhd "" "truncated VHD \(8 bytes\)"
printf 'QFI\373\0\0\0\3' >short.qcow2
must_fail short.qcow2 "" "truncated qcow2 \(8 bytes\)"
{ printf vhdxfile; head -c 100 /dev/zero; } >short.vhdx
must_fail short.vhdx "" "truncated VHDX \(108 bytes\)"
{ printf KDMV; head -c 200 /dev/zero; } >short.vmdk
must_fail short.vmdk "" "truncated VMDK \(204 bytes\)"

# A file that is no image at all, forced as each format.
head -c 3000 /dev/urandom >noise.bin
for f in vhd vmdk qcow2 vhdx; do
    must_fail noise.bin "$f" "."
done
