#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boot the landfall appliance under QEMU with a guest disk and a job disk,
# and wait until it powers itself off.
#
#   tests/appliance/boot.sh bios|uefi|kernel APPLIANCE_DIR GUEST.img JOB.img LOG [TIMEOUT]
#
#   bios    the appliance VHD on IDE, i440fx + SeaBIOS (Azure Gen1's shape)
#   uefi    the appliance VHD on AHCI, q35 + OVMF (Azure Gen2's shape)
#   kernel  QEMU loads vmlinuz + initrd.img itself (the PXE pair); $APPEND
#           adds to its command line
# The guest disk and the job disk are virtio disks (/dev/vda, /dev/vdb in
# the appliance), or, as Azure attaches data disks, SCSI disks at LUNs of
# a virtio-scsi controller: $LUN_GUEST and $LUN_JOB set their LUNs (the
# disks get the serials LF-GUEST and LF-JOB).  The appliance image itself
# is opened with snapshot=on.
# Exit 0 when QEMU exits on its own (the appliance powered off) within
# TIMEOUT (default 900 s), 1 if it had to be killed.  The serial console
# goes to LOG; the wall time to the supervisor's first line and to power
# off are printed.
set -eu
mode=$1 dir=$2 guest=$3 job=$4 log=$5 timeout=${6:-900}
accel=${LANDFALL_QEMU_ACCEL:-tcg}
case $mode in
    bios)   boot=(-machine "pc,accel=$accel" -drive "file=$dir/landfall-appliance.vhd,format=raw,if=ide,snapshot=on") ;;
    uefi)   boot=(-machine "q35,accel=$accel" -bios /usr/share/ovmf/OVMF.fd
                  -drive "file=$dir/landfall-appliance.vhd,format=raw,if=ide,snapshot=on") ;;
    kernel) boot=(-machine "pc,accel=$accel" -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img"
                  -append "console=ttyS0,115200n8 quiet loglevel=3 panic=10 landfall.job=LABEL=LANDFALLJOB ${APPEND:-}") ;;
    *) echo "boot.sh: mode is bios, uefi or kernel" >&2; exit 2 ;;
esac
disks=()
# attach FILE ID LUN: virtio-blk without a LUN, else at LUN of scsi1.
attach () {
    if [ -z "$3" ]; then
        disks+=(-drive "file=$1,format=raw,if=virtio")
    else
        [ ${#disks[@]} -gt 0 ] && [ "${disks[0]}" = -device ] && [ "${disks[1]}" = virtio-scsi-pci,id=scsi1 ] ||
            disks=(-device virtio-scsi-pci,id=scsi1 "${disks[@]}")
        disks+=(-drive "file=$1,format=raw,if=none,id=$2"
                -device "scsi-hd,drive=$2,bus=scsi1.0,channel=0,scsi-id=0,lun=$3,serial=LF-${2^^}")
    fi
}
[ "$guest" = - ] || attach "$guest" guest "${LUN_GUEST:-}"
attach "$job" job "${LUN_JOB:-}"
: >"$log"
t0=$(date +%s%N)
qemu-system-x86_64 "${boot[@]}" -m 1024 -smp 2 -nographic -no-reboot -nic none \
    "${disks[@]}" -serial mon:stdio </dev/null >"$log" 2>&1 &
qpid=$!
trap 'kill $qpid 2>/dev/null || true' EXIT INT TERM
first=
while kill -0 $qpid 2>/dev/null; do
    if [ -z "$first" ] && grep -aq "appliance supervisor started" "$log"; then
        first=$(( ($(date +%s%N) - t0) / 1000000 ))
    fi
    if [ $(( ($(date +%s%N) - t0) / 1000000000 )) -ge "$timeout" ]; then
        kill $qpid 2>/dev/null || true
        wait $qpid 2>/dev/null || true
        echo "boot.sh: $mode: no power-off within $timeout s (log $log)" >&2
        exit 1
    fi
    sleep 0.2
done
wait $qpid 2>/dev/null || true
t=$(( ($(date +%s%N) - t0) / 1000000 ))
kt=$(grep -ao "appliance supervisor started [0-9.]* s after the kernel" "$log" | head -1 | awk '{print $4}')
echo "boot.sh: $mode: supervisor's first line after ${first:-?} ms (kernel: ${kt:-?} s after its start), powered off after $t ms"
