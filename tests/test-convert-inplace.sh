#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# In-place conversion: a raw image gets a footer (O(1): the I/O done is the
# same for 1 GiB and 1 TiB), an already-right disk is left untouched, a
# fixed VHD of the wrong size is fixed, and the limits are enforced.
source "$(dirname "$0")/functions.sh"
requires qemu-img qemu-io python3 strace

cd "$tmp"

# A raw image whose size is not a whole MiB.
truncate -s 10000000 disk.raw
qemu-io -f raw -c "write -P 0x11 0 1M" -c "write -P 0x22 9000000 1000000" disk.raw >/dev/null
cp --sparse=always disk.raw orig.raw
"$LANDFALL" convert --in-place --json disk.raw >report.json
[ "$(json_get report.json disks.0.action)" = footer-appended ] || fail "raw: action"
[ "$(json_get report.json disks.0.output.original_file_size)" = 10000000 ] || fail "raw: original size"
python3 "$top/tests/tools/vhd-check.py" disk.raw 10485760 || fail "raw: footer"
qemu-img compare -q -f raw -F vpc orig.raw disk.raw || fail "raw: content differs"
pass "raw, 10000000 bytes: grown to 10485760 and footer appended"

# A second run leaves it byte for byte as it is.
sum1=$(sha256sum disk.raw)
stat1=$(stat -c %Y.%s disk.raw)
"$LANDFALL" convert --in-place --json disk.raw >report.json
[ "$(json_get report.json disks.0.action)" = already-azure-ready ] || fail "rerun: action"
[ "$sum1" = "$(sha256sum disk.raw)" ] && [ "$stat1" = "$(stat -c %Y.%s disk.raw)" ] ||
    fail "rerun: the file changed"
pass "already right: left untouched"

# Constant work: count the bytes landfall reads and writes on the image
# (strace -P: only that file, not the ASan runtime's own reads), for a
# 1 GiB and a 1 TiB sparse raw disk.  Not a timing: the machine is noisy.
io_bytes () {
    strace -f -qq -P "$1" -e trace=read,pread64,write,pwrite64 -o trace.log \
        "$LANDFALL" convert --in-place -q "$1"
    python3 - <<'PY'
import re
total = 0
for line in open("trace.log"):
    m = re.search(r"= (\d+)$", line.strip())
    if m and re.search(r"\b(p?read|p?write)(64)?\(", line):
        total += int(m.group(1))
print(total)
PY
}
truncate -s 1G small.raw
truncate -s 1T big.raw
qemu-io -f raw -c "write -P 0x33 512M 1M" small.raw >/dev/null
small_io=$(io_bytes small.raw)
big_io=$(io_bytes big.raw)
echo "bytes of I/O: 1 GiB disk $small_io, 1 TiB disk $big_io"
[ "$small_io" -lt 262144 ] && [ "$big_io" -lt 262144 ] ||
    fail "in-place did $small_io / $big_io bytes of I/O: not constant"
[ $((big_io - small_io)) -le 4096 ] && [ $((small_io - big_io)) -le 4096 ] ||
    fail "in-place I/O depends on the disk size ($small_io vs $big_io)"
python3 "$top/tests/tools/vhd-check.py" big.raw $((1 << 40)) || fail "1 TiB footer"
[ "$(du -k big.raw | cut -f1)" -le 64 ] || fail "1 TiB disk is no longer sparse"
pass "constant work: $small_io bytes of I/O for 1 GiB, $big_io for 1 TiB"

# 4 TiB (qemu's vpc stops at 2040 GiB; we don't) as an OS disk, and over.
truncate -s 4T os.raw
"$LANDFALL" convert --in-place --os-disk -q os.raw || fail "4 TiB OS disk refused"
python3 "$top/tests/tools/vhd-check.py" os.raw $((4 << 40)) || fail "4 TiB footer"
truncate -s $(( (4 << 40) + 1048576 )) os2.raw
expect_fail "4 TiB + 1 MiB OS disk" "$LANDFALL" convert --in-place --os-disk os2.raw
grep -q "over Azure's limit for OS disks" "$tmp/err" || fail "OS limit message: $(cat "$tmp/err")"
[ "$(stat -c %s os2.raw)" = $(( (4 << 40) + 1048576 )) ] || fail "refused disk was changed"
# ext4 stops at 16 TiB per file; tmpfs holds sparse files of any size.
big_dir=.
truncate -s 32767G $big_dir/data.raw 2>/dev/null || {
    big_dir=$(mktemp -d /dev/shm/landfall-test.XXXXXX)
    cleanup_hook "rm -rf '$big_dir'"
}
truncate -s 32767G $big_dir/data.raw
"$LANDFALL" convert --in-place -q $big_dir/data.raw || fail "32767 GiB data disk refused"
python3 "$top/tests/tools/vhd-check.py" $big_dir/data.raw $((32767 << 30)) || fail "32767 GiB footer"
truncate -s 32768G $big_dir/data2.raw
expect_fail "32 TiB data disk" "$LANDFALL" convert --in-place $big_dir/data2.raw
grep -q "over Azure's limit for data disks" "$tmp/err" || fail "data limit message"
pass "limits: 4 TiB OS and 32767 GiB data disks accepted, larger refused untouched"

# A fixed VHD of the wrong size (qemu's CHS rounding) is fixed in place.
qemu-img create -q -f vpc -o subformat=fixed vpc.vhd 10M
qemu-io -f vpc -c "write -P 0x44 0 64k" vpc.vhd >/dev/null
qemu-img convert -f vpc -O raw vpc.vhd vpc-orig.raw
"$LANDFALL" convert --in-place --json vpc.vhd >report.json
[ "$(json_get report.json disks.0.action)" = footer-rewritten ] || fail "vhd: action"
python3 "$top/tests/tools/vhd-check.py" vpc.vhd || fail "vhd: footer"
qemu-img compare -q -f raw -F vpc vpc-orig.raw vpc.vhd || fail "vhd: content differs"
pass "fixed VHD of $(stat -c %s vpc-orig.raw) bytes: footer rewritten"

# Formats that need a copy are refused, the source untouched.
qemu-img convert -f raw -O vpc orig.raw dyn.vhd
sum=$(sha256sum dyn.vhd)
expect_fail "in-place on a dynamic VHD" "$LANDFALL" convert --in-place dyn.vhd
grep -q "only a raw image or a fixed VHD" "$tmp/err" || fail "dynamic: message"
[ "$sum" = "$(sha256sum dyn.vhd)" ] || fail "dynamic: source changed"
pass "in-place refuses formats that need a copy"
