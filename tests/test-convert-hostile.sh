#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hostile inputs from outside (issue 13): what a disk pulls in is confined
# to the directory of the file that names it (or an --allow-backing DIR),
# is a regular file, and an OVA is self-contained; OVA outputs never
# collide; a FIFO never hangs a command.  Every landfall call runs under
# timeout -k: a regression that hangs fails here instead of hanging make.
source "$(dirname "$0")/functions.sh"
requires qemu-img qemu-io python3 timeout mkfifo tar

cd "$tmp"
LF () { timeout -k 5 -s TERM 60 "$LANDFALL" "$@"; }

# The host file a hostile image wants: /etc/shadow where we may read it.
if [ -r /etc/shadow ] && [ -s /etc/shadow ]; then
    secret=/etc/shadow
else
    mkdir host && head -c 4096 /dev/urandom >host/secret && secret=$tmp/host/secret
fi
mkdir -p out host
head -c 1048576 /dev/urandom >host/outside.raw

# refused DESC REGEX CMD...: CMD fails, its message matches REGEX and
# names no output left behind in out/.
refused () {
    local desc=$1 re=$2; shift 2
    rm -rf out && mkdir out
    expect_fail "$desc" "$@"
    grep -Eq "$re" "$tmp/err" ||
        fail "$desc: error does not mention /$re/: $(cat "$tmp/err")"
    grep -q "^landfall: error: " "$tmp/err" ||
        fail "$desc: not in the house format: $(cat "$tmp/err")"
    [ -z "$(ls -A out)" ] || fail "$desc: left output behind: $(ls out)"
    pass "$desc: $(sed 's/^landfall: error: //' "$tmp/err" | head -c 300)"
}

ovf () {    # ovf NAME HREF...: an OVF descriptor naming HREFs as disks
    local name=$1 i=0; shift
    {
        echo '<?xml version="1.0" encoding="UTF-8"?>'
        echo '<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">'
        echo '  <References>'
        for h; do i=$((i + 1)); echo "    <File ovf:href=\"$h\" ovf:id=\"file$i\"/>"; done
        echo '  </References>'
        echo '  <DiskSection>'
        i=0
        for h; do i=$((i + 1)); echo "    <Disk ovf:diskId=\"vmdisk$i\" ovf:fileRef=\"file$i\" ovf:capacity=\"1048576\"/>"; done
        echo '  </DiskSection>'
        echo '</Envelope>'
    } >"$name"
}

# ---- 1. An OVA is self-contained ----------------------------------------
mkdir ova1 && cd ova1
qemu-img create -q -f qcow2 -b "$secret" -F raw -u member.qcow2 1M
ovf vm.ovf member.qcow2
tar --format=ustar -cf shadow.ova vm.ovf member.qcow2
cd ..
refused "ova: qcow2 member backed by $secret" "self-contained" \
    LF convert --no-progress ova1/shadow.ova -o out

# The same by a symlink beside the .ova: still a name outside the archive.
mkdir ova2 && cd ova2
ln -s "$secret" base.raw
qemu-img create -q -f qcow2 -b base.raw -F raw -u member.qcow2 1M
ovf vm.ovf member.qcow2
tar --format=ustar -cf link.ova vm.ovf member.qcow2
cd ..
refused "ova: qcow2 member backed by a symlink to a host file" \
    "self-contained" LF convert --no-progress ova2/link.ova -o out

# A VMDK descriptor member whose extent is not in the archive; a file of
# that name beside the .ova must not be read.
mkdir ova3 && cd ova3
cp ../host/outside.raw flat.raw
cat >vm.vmdk <<'EOF'
# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="monolithicFlat"

# Extent description
RW 2048 FLAT "flat.raw" 0

ddb.adapterType = "lsilogic"
EOF
ovf vm.ovf vm.vmdk
tar --format=ustar -cf extent.ova vm.ovf vm.vmdk
cd ..
refused "ova: VMDK descriptor member with an extent outside the archive" \
    "extent file.*self-contained" LF convert --no-progress ova3/extent.ova -o out

# ---- 2. Backing files and extents stay in their directory ---------------
mkdir d && cd d
qemu-img create -q -f qcow2 -b "$tmp/host/outside.raw" -F raw abs.qcow2
qemu-img create -q -f qcow2 -b ../host/outside.raw -F raw dotdot.qcow2
ln -s "$tmp/host/outside.raw" link.raw
qemu-img create -q -f qcow2 -b link.raw -F raw -u symlink.qcow2 1M
ln -s ../host/outside.raw rlink.raw
qemu-img create -q -f qcow2 -b rlink.raw -F raw -u rsymlink.qcow2 1M
qemu-img create -q -f qcow2 -b "$secret" -F raw -u shadow.qcow2 1M
qemu-img create -q -f qcow2 -b /dev/null -F raw -u devnull.qcow2 1M
cd ..
for c in abs dotdot symlink rsymlink shadow devnull; do
    refused "qcow2 backing file out of its directory ($c)" \
        "qcow2 backing file .*outside the image's directory.*--allow-backing" \
        LF convert --no-progress "d/$c.qcow2" -o out/x.vhd
done
# Allowed, a character device is still no backing file.
refused "qcow2 backing file /dev/null, with --allow-backing /dev" \
    "is a character device, not a regular file" \
    LF convert --no-progress --allow-backing /dev d/devnull.qcow2 -o out/x.vhd

# A block device: allowed as the disk the user names, never as a backing
# file.  Needs a loop device (root, a free /dev/loopN).
if loop=$(losetup -f --show host/outside.raw 2>/dev/null); then
    cleanup_hook "losetup -d '$loop'"
    qemu-img create -q -f qcow2 -b "$loop" -F raw -u d/loop.qcow2 1M
    refused "qcow2 backing file a block device ($loop)" \
        "is a block device, not a regular file" \
        LF convert --no-progress --allow-backing /dev d/loop.qcow2 -o out/x.vhd
    LF convert -q --no-progress "$loop" -o out/loop.vhd ||
        fail "a block device named on the command line: $(cat "$tmp/err")"
    qemu-img compare -q -f raw -F vpc host/outside.raw out/loop.vhd ||
        fail "block device: output differs"
    pass "a block device named on the command line converts"
else
    echo "note: no loop device (losetup -f failed): block-device cases skipped"
fi

# VMDK: the extent is a symlink in the descriptor's directory to a host
# file; the confinement was by name only.
mkdir v && cd v
sed 's/"flat.raw"/"flat-link.raw"/' ../ova3/vm.vmdk >desc.vmdk
ln -s "$tmp/host/outside.raw" flat-link.raw
sed 's/"flat.raw"/"..\/host\/outside.raw"/' ../ova3/vm.vmdk >dotdot.vmdk
cd ..
refused "VMDK extent a symlink to a host file" \
    "extent file \"flat-link.raw\".*outside the image's directory" \
    LF convert --no-progress v/desc.vmdk -o out/x.vhd
refused "VMDK extent ../ out of the directory" \
    "extent file .*outside the image's directory" \
    LF convert --no-progress v/dotdot.vmdk -o out/x.vhd
# A symlink that stays in the directory is fine.
cp host/outside.raw v/real.raw
ln -sf real.raw v/flat-link.raw
LF convert -q --no-progress v/desc.vmdk -o out/x.vhd ||
    fail "VMDK extent a symlink inside its directory: $(cat "$tmp/err")"
qemu-img compare -q -f raw -F vpc host/outside.raw out/x.vhd ||
    fail "VMDK extent via an inner symlink: output differs"
pass "VMDK extent a symlink inside its directory converts"

# --allow-backing DIR makes a chain spread over directories work, and the
# option reaches inspect too.
for c in abs dotdot symlink rsymlink; do
    rm -f out/x.vhd
    LF convert -q --no-progress --allow-backing host "d/$c.qcow2" -o out/x.vhd \
        2>"$tmp/err" || fail "--allow-backing ($c): $(cat "$tmp/err")"
    qemu-img compare -q -f raw -F vpc host/outside.raw out/x.vhd ||
        fail "--allow-backing ($c): output differs"
done
pass "--allow-backing DIR: absolute, ../ and symlinked chains convert"
refused "inspect: a backing file out of its directory" \
    "outside the image's directory" LF inspect d/dotdot.qcow2
LF inspect --allow-backing host d/dotdot.qcow2 >/dev/null 2>"$tmp/err" ||
    fail "inspect --allow-backing: $(cat "$tmp/err")"
pass "inspect --allow-backing DIR"
# The job's allow-backing reaches the disks' opening (the prerequisites
# step): without it the chain is refused, with it the disk opens (and this
# blank disk then has no OS).
printf 'machine = m1\nos-disk = d/dotdot.qcow2\noutput = jout\n' >a.job
printf 'machine = m1\nos-disk = d/dotdot.qcow2\noutput = jout\nallow-backing = host\n' >b.job
LF run -q a.job >run-a.txt 2>&1 && fail "job without allow-backing: succeeded"
grep -q "outside the image's directory" run-a.txt ||
    fail "job without allow-backing: $(cat run-a.txt)"
LF run -q b.job >run-b.txt 2>&1 && fail "job with allow-backing: succeeded on a blank disk"
! grep -q "outside the image's directory\|could not be read" run-b.txt &&
    grep -q "no operating system found" run-b.txt ||
    fail "job with allow-backing: $(cat run-b.txt)"
pass "job: allow-backing = DIR lets the disk's chain open"
refused "--allow-backing: a directory that does not exist" \
    "no-such-dir" LF convert --allow-backing no-such-dir d/abs.qcow2 -o out/x.vhd

# ---- 3. OVA outputs never collide ---------------------------------------
mkdir ova4 && cd ova4
mkdir a b
qemu-img create -q -f raw a.raw 1M
qemu-io -f raw -c "write -P 0x11 0 64k" a.raw >/dev/null
qemu-img create -q -f raw b.raw 2M
qemu-io -f raw -c "write -P 0x22 0 64k" b.raw >/dev/null
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized a.raw a/disk.vmdk
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized b.raw b/disk.vmdk
ovf vm.ovf a/disk.vmdk b/disk.vmdk
tar --format=ustar -cf two.ova vm.ovf a/disk.vmdk b/disk.vmdk
cd ..
rm -rf out && mkdir out
LF convert --json --no-progress ova4/two.ova -o out >report.json 2>"$tmp/err" ||
    fail "ova with two disk.vmdk: $(cat "$tmp/err")"
[ "$(ls out | wc -l)" = 2 ] || fail "ova with two disk.vmdk: outputs: $(ls out)"
o1=$(json_get report.json disks.0.output.path)
o2=$(json_get report.json disks.1.output.path)
[ "$o1" != "$o2" ] || fail "ova with two disk.vmdk: both written to $o1"
qemu-img compare -q -f raw -F vpc ova4/a.raw "$o1" || fail "ova: a/disk.vmdk differs"
qemu-img compare -q -f raw -F vpc ova4/b.raw "$o2" || fail "ova: b/disk.vmdk differs"
pass "ova with a/disk.vmdk and b/disk.vmdk: two outputs, $(basename "$o1") and $(basename "$o2")"

# ---- 7. FIFOs never hang, and SIGTERM ends the command ------------------
mkfifo pipe
# fast CMD...: must end (refused) well before timeout's TERM at 10 s.
fast () {
    local desc=$1 re=$2 t0 rc; shift 2
    t0=$(date +%s)
    rc=0
    timeout -k 3 -s TERM 10 "$@" >/dev/null 2>"$tmp/err" || rc=$?
    [ "$rc" != 0 ] || fail "$desc: succeeded"
    [ "$rc" != 124 ] && [ "$rc" != 137 ] ||
        fail "$desc: still blocked at timeout (exit $rc): $(cat "$tmp/err")"
    [ $(( $(date +%s) - t0 )) -lt 8 ] || fail "$desc: took too long"
    grep -Eq "$re" "$tmp/err" || fail "$desc: error does not mention /$re/: $(cat "$tmp/err")"
    pass "$desc: $(sed 's/^landfall: error: //' "$tmp/err")"
}
fast "convert: a FIFO as input" "is a FIFO" "$LANDFALL" convert --no-progress pipe -o out/x.vhd
fast "convert: a FIFO as input, default output" "is a FIFO" "$LANDFALL" convert --no-progress pipe
fast "inspect: a FIFO as input" "is a FIFO" "$LANDFALL" inspect pipe
fast "run: a FIFO as the job file" "not a regular file" "$LANDFALL" run pipe
qemu-img create -q -f qcow2 -b pipe -F raw -u fifo.qcow2 1M
fast "convert: a FIFO as backing file" "qcow2 backing file \"pipe\".*is a FIFO" \
    "$LANDFALL" convert --no-progress fifo.qcow2 -o out/x.vhd
[ ! -e out/x.vhd ] || fail "FIFO: output left behind"

echo "all hostile-input cases passed"
