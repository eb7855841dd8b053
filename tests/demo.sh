#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make demo: build a small VMware-style sample (an OVA holding a
# streamOptimized VMDK of an MBR disk with an ext4 filesystem), convert it
# for Azure, and show the result checked by qemu-img and an independent
# footer check; then run a whole failover job (landfall run) over the
# VMware-like Debian guest of the tests and show its summary.  Everything
# happens under build/demo/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
L="$top/${BUILD:-build}/landfall"
dir="$top/${BUILD:-build}/demo"
# Built here rather than by make demo's recipe: see the Makefile.
make -C "$top" --no-print-directory BUILD="${BUILD:-build}" all
rm -rf "$dir"
mkdir -p "$dir/root/etc" "$dir/root/home/azure"
cd "$dir"

say () { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Making the sample: web01, a VMware VM exported as an OVA"
echo "web01" > root/etc/hostname
printf '/dev/sda1 / ext4 defaults 0 1\n' > root/etc/fstab
head -c 3M /dev/urandom > root/home/azure/data.bin
truncate -s 200M web01.raw
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q web01.raw
mkfs.ext4 -q -F -L web01-root -d root -E offset=$((2048 * 512)) web01.raw $(( (200 - 1) * 1024 ))k
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic web01.raw web01-disk1.vmdk
cat > web01.ovf <<'OVF'
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References><File ovf:href="web01-disk1.vmdk" ovf:id="file1"/></References>
  <DiskSection><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="209715200"/></DiskSection>
</Envelope>
OVF
tar --format=ustar -cf web01.ova web01.ovf web01-disk1.vmdk
ls -l web01.ova

say "landfall convert web01.ova -o azure/ --checksum"
"$L" convert --checksum web01.ova -o azure

say "What Azure will see (qemu-img info -f vpc azure/web01-disk1.vhd)"
qemu-img info -f vpc azure/web01-disk1.vhd
python3 "$top/tests/tools/vhd-check.py" azure/web01-disk1.vhd &&
    echo "footer: valid fixed VHD, size a whole MiB, file = size + 512 (independent check)"
qemu-img compare -f raw -F vpc web01.raw azure/web01-disk1.vhd

say "landfall inspect azure/web01-disk1.vhd (read through libblkid and libext2fs, no mount)"
"$L" inspect azure/web01-disk1.vhd

say "In place: a raw disk becomes a fixed VHD by appending a footer"
cp --sparse=always web01.raw inplace.raw
"$L" convert --in-place inplace.raw
"$L" convert --in-place inplace.raw

say "The report as JSON (landfall convert --json)"
"$L" convert --json --no-progress web01-disk1.vmdk -o azure/again.vhd

say "A failover job: the VMware-like Debian guest (landfall run)"
if [ "$(id -u)" != 0 ]; then
    echo "(skipped: building the sample guest needs root)"
elif ! guest=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/${BUILD:-build}/fixtures" | tail -n1); then
    echo "(skipped: the sample guest could not be built; see above)"
else
    mkdir -p job
    # As VMware keeps it: a sparse VMDK.
    qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse "$guest" job/deb12-disk1.vmdk
    cat >job/deb12.job <<'JOB'
# A Debian 12 VM leaving VMware for Azure.
machine = deb12
source = vmware
profile = auto
os-disk = deb12-disk1.vmdk
output = azure
checksum = yes
JOB
    cat job/deb12.job
    echo
    r=0; "$L" run job/deb12.job || r=$?
    echo "(exit status $r: 0 success, 3 success with warnings)"
    say "Running the same job again: everything is already done"
    "$L" run -q job/deb12.job | head -n 8 || true
fi

say "A failover job: a Windows sample (the real VMware Windows 7 SYSTEM hive and BCD store)"
if [ "$(id -u)" != 0 ] || [ ! -e /dev/fuse ]; then
    echo "(skipped: building the Windows sample needs root and FUSE)"
elif ! win=$("$top/tests/fixtures/build.sh" windows-ntfs "$top/${BUILD:-build}/fixtures" | tail -n1); then
    echo "(skipped: the Windows sample could not be built; see above)"
else
    mkdir -p job
    cp --sparse=always "$win" job/win7-disk1.img
    printf 'machine = win7\nsource = vmware\nprofile = azure-gen1\nos-disk = win7-disk1.img\noutput = azure-win7\n' >job/win7.job
    cat job/win7.job
    echo
    r=0; "$L" run job/win7.job || r=$?
    echo "(exit status $r: 0 success, 3 success with warnings)"
    say "Every value it changed (the report's findings)"
    python3 -c 'import json,sys; [print("  " + f["message"]) for f in json.load(open(sys.argv[1]))["findings"] if f["result"] == "changed"]' \
        job/azure-win7/landfall-report.json | head -n 20
    echo "  ..."
fi
echo
echo "demo: done; files are in $dir"
