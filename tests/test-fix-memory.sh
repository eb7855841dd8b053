#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bounded memory in the initramfs work (issue 13, item 5), on the
# VMware-like Debian guest:
#   - the whole Linux fix peaks under 128 MiB RSS (main held the image
#     decoded, twice: 415 MB);
#   - a bomb in place of its initramfs: a ~9 MB gzip image holding two
#     950 MiB zero-filled entries, each under every limit.  inspect, fix
#     and verify read it (and the fix rewrites it, adding the Hyper-V
#     modules) under 256 MiB, and the rewritten image holds both entries
#     whole;
#   - an image whose one entry declares 1.9 GiB (and holds it): refused at
#     its header (INITRAMFS_MAX_ENTRY_SIZE), before its data is decoded,
#     and left as it was.
# Normal build: each run is limited to 1 GiB of address space, the
# appliance's memory (so main fails with ENOMEM rather than take the
# machine's), and its peak RSS (GNU time) is checked.  Under ASan (SAN=1)
# address space and RSS say nothing about landfall: behaviour only.
source "$(dirname "$0")/functions.sh"
requires debugfs python3 gzip cpio
TIME=/usr/bin/time
[ -x $TIME ] || { echo "SKIP: GNU time (package 'time') is needed" >&2; exit 77; }

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
K=$KERNEL_VERSION
cd "$tmp"
fs="guest.img?offset=$ROOT_OFFSET"
ird=/boot/initrd.img-$K
asan=${SAN:-}
# under TEXT: what a pass message adds about memory.
under () { if [ -n "$asan" ]; then echo " (ASan: RSS not checked)"; else echo " $1"; fi; }

# measured NAME LIMIT_KIB CMD...: run CMD (output in NAME.out, NAME.err)
# and, in the normal build, under 1 GiB of address space, with its peak
# RSS checked against LIMIT_KIB.  Returns CMD's status.
measured () {
    local name=$1 limit=$2 r=0 rss; shift 2
    if [ -n "$asan" ]; then
        "$@" >"$name.out" 2>"$name.err" || r=$?
    else
        (ulimit -v $((1024 * 1024)); exec $TIME -f %M -o "$name.rss" "$@") \
            >"$name.out" 2>"$name.err" || r=$?
        rss=$(tail -n1 "$name.rss")
        case $rss in *[!0-9]*|'') fail "$name: no RSS measured: $(cat "$name.rss")" ;; esac
        [ "$rss" -le "$limit" ] ||
            fail "$name: peak RSS $rss KiB, over $limit KiB (exit $r: $(tail -c 300 "$name.err"))"
        echo "$name: peak RSS $((rss / 1024)) MiB (limit $((limit / 1024)) MiB)"
    fi
    if grep -q "AddressSanitizer\|runtime error:\|Segmentation" "$name.err"; then
        cat "$name.err" >&2
        fail "$name: crashed"
    fi
    return $r
}

# The normal fix.
cp --sparse=always "$img" guest.img
measured debian $((128 * 1024)) "$LANDFALL" fix --json guest.img ||
    fail "fix failed: $(cat debian.out debian.err)"
pass "the whole Linux fix of the Debian guest$(under "peaks under 128 MiB")"

# bomb KIND FILE: a gzip initramfs, streamed (never whole in memory).
#   two:  two 950 MiB zero-filled entries (each under the 1 GiB limit,
#         together under the 2 GiB image limit);
#   big:  one entry declaring (and holding) 1.9 GiB.
bomb () {
    python3 - "$1" "$2" <<'EOF'
import sys, zlib
kind, path = sys.argv[1], sys.argv[2]
# Level 1: ~200:1, under the 1000:1 ratio cap (a bomb within every limit).
z = zlib.compressobj(1, zlib.DEFLATED, 31)
out = open(path, 'wb')
pos = 0
def put(b):
    global pos
    out.write(z.compress(b)); pos += len(b)
def pad():
    put(b'\0' * ((4 - pos % 4) % 4))
def entry(name, mode, size, ino):
    n = name.encode() + b'\0'
    put(b'070701' + b''.join(b'%08X' % v for v in
        (ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(n), 0)) + n)
    pad()
def zeros(n):
    chunk = bytes(1 << 20)
    while n:
        k = min(n, len(chunk)); put(chunk[:k]); n -= k
    pad()
entry('.', 0o40755, 0, 1)
sizes = [950 << 20, 950 << 20] if kind == 'two' else [1900 << 20]
for i, s in enumerate(sizes):
    entry('zero%d' % i, 0o100644, s, 2 + i)
    zeros(s)
entry('TRAILER!!!', 0, 0, 0)
put(b'\0' * ((512 - pos % 512) % 512))
out.write(z.flush())
EOF
}

# put_initrd FILE: FILE becomes the guest's initramfs for kernel K.
put_initrd () {
    cp --sparse=always "$img" guest.img
    debugfs -w -R "rm $ird" "$fs" >/dev/null 2>&1
    debugfs -w -R "write $1 $ird" "$fs" >/dev/null 2>&1
    debugfs -R "dump $ird check.img" "$fs" >/dev/null 2>&1
    cmp -s "$1" check.img || fail "cannot put $1 into the guest"
}

# Two 950 MiB entries: read, fixed and written under 256 MiB.
bomb two two.img
echo "bomb: $(stat -c %s two.img) bytes of gzip, 1.9 GiB decoded"
put_initrd two.img
measured inspect $((256 * 1024)) "$LANDFALL" inspect --json guest.img ||
    fail "inspect failed: $(cat inspect.err)"
python3 - inspect.out "$ird" <<'EOF' || fail "inspect did not read the image: $(cat inspect.out)"
import json, sys
def walk(o):
    if isinstance(o, dict):
        if o.get('path') == sys.argv[2] and 'segments' in o:
            yield o
        for v in o.values(): yield from walk(v)
    elif isinstance(o, list):
        for v in o: yield from walk(v)
e = list(walk(json.load(open(sys.argv[1]))))
assert e and e[0]['segments'] == ['gzip'] and 'error' not in e[0], e
EOF
pass "inspect lists what the bombed image holds$(under "under 256 MiB")"

measured fix-two $((256 * 1024)) "$LANDFALL" fix --json guest.img ||
    fail "fix failed: $(cat fix-two.out fix-two.err)"
python3 - fix-two.out "$K" <<'EOF' || fail "fix report: $(cat fix-two.out)"
import json, sys
d = json.load(open(sys.argv[1])); k = sys.argv[2]
f = [x for x in d['findings'] if x['concern'] == 'initramfs']
assert any(x['result'] == 'changed' and 'initrd.img-' + k in x['message'] for x in f), f
assert not any(x['result'] == 'failed' for x in f), f
EOF
debugfs -R "dump $ird after.img" "$fs" >/dev/null 2>&1
gzip -dc after.img | cpio -itv --quiet 2>/dev/null >after.list ||
    fail "cpio cannot read the rewritten image"
for z in zero0 zero1; do
    grep -qE " $((950 << 20)) .* $z\$" after.list || fail "$z lost its 950 MiB: $(grep zero after.list)"
done
grep -q "/hv_vmbus\.ko" after.list || fail "hv_vmbus not in the rewritten image"
pass "fix rewrites it with the modules added and both entries whole$(under "under 256 MiB")"

measured verify $((256 * 1024)) "$LANDFALL" verify --profile azure-gen1 --json guest.img || true
grep -q "linux-initramfs-modules" verify.out || fail "verify did not check the initramfs: $(cat verify.out verify.err)"
python3 - verify.out <<'EOF' || fail "verify report: $(cat verify.out)"
import json, sys
def walk(o):
    if isinstance(o, dict):
        if o.get('id', o.get('check')) == 'linux-initramfs-modules':
            yield o
        for v in o.values(): yield from walk(v)
    elif isinstance(o, list):
        for v in o: yield from walk(v)
c = list(walk(json.load(open(sys.argv[1]))))
assert c and all(x['status'] == 'pass' for x in c), c
EOF
pass "verify reads the rewritten image$(under "under 256 MiB")"

# One entry declaring 1.9 GiB: refused at its header.
bomb big big.img
put_initrd big.img
measured fix-big $((256 * 1024)) "$LANDFALL" fix --json guest.img || true
python3 - fix-big.out <<'EOF' || fail "fix report: $(cat fix-big.out fix-big.err)"
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d['findings'] if x['concern'] == 'initramfs' and x['result'] == 'failed']
assert any('"zero0"' in x['message'] and 'INITRAMFS_MAX_ENTRY_SIZE' in x['message'] for x in f), f
EOF
debugfs -R "dump $ird after.img" "$fs" >/dev/null 2>&1
cmp -s big.img after.img || fail "the refused image was changed"
pass "an entry declaring 1.9 GiB is refused at its header, image unchanged$(under "under 256 MiB")"
