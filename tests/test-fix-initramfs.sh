#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The initramfs concern of the Linux fix (reference/linux.md §2) on the
# VMware-like Debian guest, whose initramfs-tools image lacks every
# Hyper-V module, checked with the real tools, never with our own reader:
#   - Debian's lsinitramfs lists hv_vmbus, hv_storvsc, hv_netvsc and their
#     dependencies (from the guest's modules.dep);
#   - kmod (modprobe -d, modinfo -b) resolves them, their aliases and
#     their symbols through the image's own binary indexes;
#   - depmod -b over the extracted image gives the same indexes: the same
#     lines (modules.dep: the same dependency sets; depmod orders a line by
#     its own sort) and byte-identical .bin files where the order allows;
#   - conf/modules and /etc/initramfs-tools/modules name the three;
#   - a second fix reports the initramfs already right and changes nothing;
#   - undo restores the image byte for byte.
# Then the same guest with a dracut-built image (fixture debian12-dracut),
# checked with dracut's lsinitrd.
source "$(dirname "$0")/functions.sh"
requires debugfs python3 sha256sum lsinitramfs modprobe modinfo depmod cpio zstd

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
K=$KERNEL_VERSION
cp --sparse=always "$img" "$tmp/guest.img"
cd "$tmp"
fs="guest.img?offset=$ROOT_OFFSET"
cat_guest () { debugfs -R "cat $1" "$fs" 2>/dev/null; }
dump_guest () { rm -f "$2"; debugfs -R "dump $1 $2" "$fs" >/dev/null 2>&1; [ -s "$2" ] || fail "cannot dump $1"; }

# The guest's own view of what is needed: the three and their closure.
dump_guest "/lib/modules/$K/modules.dep" guest.dep
needed=$(python3 - guest.dep <<'EOF'
import sys
dep = {}
for l in open(sys.argv[1]):
    if ':' in l:
        k, v = l.split(':', 1)
        dep[k.rsplit('/', 1)[-1].split('.')[0].replace('-', '_')] = [k] + v.split()
out = set()
for m in ('hv_vmbus', 'hv_storvsc', 'hv_netvsc'):
    out.update(dep[m])
print('\n'.join(sorted(out)))
EOF
)
[ "$(echo "$needed" | wc -l)" -gt 3 ] || fail "no dependencies found in the guest's modules.dep: $needed"

dump_guest "/boot/initrd.img-$K" before.img
orig_sum=$(sha256sum <before.img)
lsinitramfs before.img >before.list
! grep -qE '/hv_(vmbus|storvsc|netvsc)\.ko' before.list || fail "the fixture already has the Hyper-V modules"

"$LANDFALL" fix --json guest.img >fix.json || fail "fix failed: $(cat fix.json)"
python3 - fix.json "$K" <<'EOF' || fail "fix report: $(cat fix.json)"
import json, sys
d = json.load(open(sys.argv[1])); k = sys.argv[2]
f = [x for x in d['findings'] if x['concern'] == 'initramfs']
assert any(x['result'] == 'changed' and 'initrd.img-' + k in x['message'] and 'hv_storvsc' in x['message'] for x in f), f
assert not any(x['result'] == 'failed' for x in f), f
e = [x['path'] for x in d['edits'] if x['concern'] == 'initramfs']
assert '/boot/initrd.img-' + k in e and '/etc/initramfs-tools/modules' in e, e
EOF
dump_guest "/boot/initrd.img-$K" after.img

# Debian's own lister.
lsinitramfs after.img >after.list
for rel in $needed; do
    grep -qx "usr/lib/modules/$K/$rel" after.list || grep -qx "lib/modules/$K/$rel" after.list ||
        fail "lsinitramfs does not list $rel"
done
pass "lsinitramfs lists the three modules and their $(($(echo "$needed" | wc -l) - 3)) dependencies"

# Extract the main segment with cpio and ask kmod.
mkdir x && (cd x && zstd -dc ../after.img | cpio -id --quiet) || fail "cpio cannot extract the fixed image"
for m in hv_vmbus hv_storvsc hv_netvsc; do
    modprobe -d x --set-version="$K" --show-depends "$m" >dep.$m 2>&1 || fail "modprobe: $m: $(cat dep.$m)"
    grep -q "/$m\.ko" dep.$m || fail "modprobe --show-depends $m: $(cat dep.$m)"
    modprobe -n -v -d x -S "$K" "$m" >/dev/null 2>&1 || fail "modprobe -n $m fails"
    modinfo -b x -k "$K" "$m" | grep -q '^alias:' || fail "modinfo -b: $m has no alias"
done
for dep in $(echo "$needed" | grep -v 'hv_'); do
    grep -q "$dep" dep.hv_storvsc dep.hv_netvsc dep.hv_vmbus || fail "modprobe does not load $dep"
done
# udev coldplug: the VMBus class ids and the ACPI id resolve by alias.
for m in hv_storvsc hv_netvsc; do
    a=$(awk -v m="$m" '$1 == "alias" && $3 == m && $2 ~ /^vmbus:/ { print $2; exit }' "x/lib/modules/$K/modules.alias")
    [ -n "$a" ] || fail "modules.alias has no vmbus alias for $m"
    [ "$(modprobe -d x -S "$K" -R "$a")" = "$m" ] || fail "alias $a does not resolve to $m"
done
[ "$(modprobe -d x -S "$K" -R 'acpi:VMBUS:')" = hv_vmbus ] || fail "acpi:VMBUS: does not resolve to hv_vmbus"
s=$(awk '$1 == "alias" && $3 == "hv_vmbus" && $2 ~ /^symbol:/ { print $2; exit }' "x/lib/modules/$K/modules.symbols")
modprobe -d x -S "$K" --show-depends "$s" | grep -q hv_vmbus.ko || fail "symbol $s does not resolve to hv_vmbus"
pass "modprobe/modinfo resolve the modules, their dependencies, aliases and symbols in the image"

# depmod -b over the extracted image must agree with the indexes written.
cp -a x dm
depmod -b dm "$K" 2>depmod.err || fail "depmod -b: $(cat depmod.err)"
M=x/lib/modules/$K D=dm/lib/modules/$K
python3 - "$M/modules.dep" "$D/modules.dep" <<'EOF' || fail "modules.dep differs from depmod's"
import sys
def load(f):
    return {l.split(':')[0]: set(l.split(':', 1)[1].split()) for l in open(f) if ':' in l}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a == b, (set(a) ^ set(b), [k for k in a if a[k] != b.get(k)][:5])
EOF
for f in modules.alias modules.symbols modules.softdep modules.devname modules.builtin; do
    diff <(sort "$M/$f") <(sort "$D/$f") >/dev/null || fail "$f differs from depmod's"
done
for f in modules.alias.bin modules.symbols.bin modules.builtin.bin modules.builtin.alias.bin; do
    cmp -s "$M/$f" "$D/$f" || fail "$f is not byte-identical to depmod's"
done
pass "depmod -b over the image gives the same indexes (alias, symbols, builtin .bin byte-identical)"

grep -qx hv_vmbus x/conf/modules && grep -qx hv_storvsc x/conf/modules && grep -qx hv_netvsc x/conf/modules ||
    fail "conf/modules: $(cat x/conf/modules)"
for m in hv_vmbus hv_storvsc hv_netvsc; do
    cat_guest /etc/initramfs-tools/modules | grep -qx "$m" || fail "/etc/initramfs-tools/modules lacks $m"
done
pass "conf/modules and /etc/initramfs-tools/modules list the three"

"$LANDFALL" fix --json guest.img >again.json || fail "second fix failed"
python3 - again.json <<'EOF' || fail "second fix: $(cat again.json)"
import json, sys
d = json.load(open(sys.argv[1]))
assert not [x for x in d['edits'] if x['concern'] == 'initramfs'], d['edits']
f = [x for x in d['findings'] if x['concern'] == 'initramfs']
assert any(x['result'] == 'already-right' and 'initrd.img' in x['message'] for x in f), f
EOF
pass "a second fix finds the initramfs already right"

"$LANDFALL" undo guest.img >/dev/null || fail "undo failed"
dump_guest "/boot/initrd.img-$K" undone.img
[ "$(sha256sum <undone.img)" = "$orig_sum" ] || fail "undo did not restore the initramfs"
cat_guest /etc/initramfs-tools/modules | grep -q hv_vmbus && fail "undo left /etc/initramfs-tools/modules edited"
pass "undo restores the initramfs byte for byte"

# --- dracut ---------------------------------------------------------------
if ! command -v lsinitrd >/dev/null; then
    echo "SKIP (part): no lsinitrd (dracut-core) on the host: dracut variant not run" >&2
    exit 0
fi
"$top/tests/fixtures/build.sh" debian12-dracut "$top/$BUILD/fixtures" >dbuild.log 2>&1 ||
    fail "cannot build the debian12-dracut fixture: $(tail -5 dbuild.log)"
dimg=$(tail -n1 dbuild.log)
(. "$dimg.facts"; echo "$ROOT_OFFSET $KERNEL_VERSION") >dfacts
read -r doff dk <dfacts
cp --sparse=always "$dimg" dracut.img
dfs="dracut.img?offset=$doff"
rm -f d-before.img d-after.img
debugfs -R "dump /boot/initrd.img-$dk d-before.img" "$dfs" >/dev/null 2>&1
dsum=$(sha256sum <d-before.img)
"$LANDFALL" fix --json dracut.img >dfix.json || fail "fix (dracut) failed: $(cat dfix.json)"
debugfs -R "dump /boot/initrd.img-$dk d-after.img" "$dfs" >/dev/null 2>&1
lsinitrd d-after.img >d-after.list || fail "lsinitrd cannot read the fixed image"
for m in hv_vmbus hv_storvsc hv_netvsc; do
    grep -q "/$m\.ko" d-after.list || fail "lsinitrd does not list $m"
done
lsinitrd -f etc/cmdline.d/20-force_drivers.conf d-after.img >force.conf
for m in hv_vmbus hv_storvsc hv_netvsc; do
    grep -qx "rd.driver.pre=$m" force.conf || fail "20-force_drivers.conf: $(cat force.conf)"
done
debugfs -R "cat /etc/dracut.conf.d/90-landfall.conf" "$dfs" 2>/dev/null |
    grep -q '^add_drivers+=" hv_vmbus hv_storvsc hv_netvsc "' || fail "no dracut.conf.d drop-in"
mkdir dx && (cd dx && lsinitrd --unpack ../d-after.img >/dev/null 2>&1) || fail "lsinitrd --unpack failed"
for m in hv_vmbus hv_storvsc hv_netvsc; do
    modprobe -d dx -S "$dk" --show-depends "$m" | grep -q "/$m\.ko" || fail "dracut image: modprobe cannot resolve $m"
done
pass "dracut image: lsinitrd lists the modules, rd.driver.pre= for each, kmod resolves them"
"$LANDFALL" fix --json dracut.img >dagain.json || fail "second fix (dracut) failed"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert not [x for x in d["edits"] if x["concern"] == "initramfs"], d["edits"]' dagain.json ||
    fail "second fix (dracut) planned initramfs edits"
"$LANDFALL" undo dracut.img >/dev/null || fail "undo (dracut) failed"
rm -f d-undone.img
debugfs -R "dump /boot/initrd.img-$dk d-undone.img" "$dfs" >/dev/null 2>&1
[ "$(sha256sum <d-undone.img)" = "$dsum" ] || fail "undo did not restore the dracut initramfs"
pass "dracut image: second fix changes nothing, undo restores it byte for byte"
