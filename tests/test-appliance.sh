#!/bin/bash
# The bootable appliance (issue 7), booted under QEMU (TCG here) with a
# guest disk and a job disk, as the helper VM is during failover:
#   - BIOS (SeaBIOS, the VHD on IDE) and UEFI (OVMF, q35) with the
#     VMware-like Debian guest: the VM powers itself off, the job disk
#     holds a successful report, the guest is fixed (fstab by UUID, serial
#     console, Hyper-V modules in the initramfs, DHCP);
#   - the kernel + initramfs pair with a bad job file, and with a guest
#     disk that cannot be fixed: the VM still powers off and the report
#     says why.
# Built once per make check, by `make appliance`, and booted only in the
# normal pass (the appliance has its own build; ASan adds nothing here).
source "$(dirname "$0")/functions.sh"
requires qemu-system-x86_64 debugfs mcopy mkfs.fat python3 lsinitramfs

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
if [ "${SAN:-}" = 1 ] || [ "$BUILD" != build ]; then
    echo "SKIP: the appliance is booted once, in the normal pass (this is $BUILD)" >&2
    exit 77
fi
[ -f /usr/share/ovmf/OVMF.fd ] || { echo "SKIP: no OVMF (package ovmf)" >&2; exit 77; }
make -C "$top" -s appliance >"$tmp/appliance.log" 2>&1 || { cat "$tmp/appliance.log" >&2; fail "make appliance failed"; }
A=$top/images/out
size=$(stat -c %s "$A/landfall-appliance.vhd")
[ "$size" -lt $((64 << 20)) ] || fail "appliance image is $size bytes: over 64 MiB"
pass "make appliance: $(tail -1 "$tmp/appliance.log")"

img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cd "$tmp"
export MTOOLS_SKIP_CHECK=1

# mkjob IMG TEXT: a job disk (vfat, label LANDFALLJOB) holding landfall.job.
mkjob () {
    rm -f "$1"
    truncate -s 64M "$1"
    mkfs.fat -n LANDFALLJOB "$1" >/dev/null
    printf '%s\n' "$2" >landfall.job
    mcopy -i "$1" landfall.job ::/
}
good_job='machine = deb
source = vmware
profile = azure-gen1
os-disk = /dev/vda
output = in-place'
# report JOBIMG FILE: the report's field (python expression on r) or fail.
field () { mcopy -n -i "$1" "::/$2" report.json 2>/dev/null || return 1; python3 -c "import json,sys; r=json.load(open('report.json')); print($3)"; }
cat_guest () { debugfs -R "cat $1" "guest.img?offset=$ROOT_OFFSET" 2>/dev/null; }

check_fixed () {   # check_fixed MODE
    ! cat_guest /etc/fstab | grep -q "^/dev/sda1" || fail "$1: fstab still by /dev/sda1"
    cat_guest /etc/fstab | grep -q "^UUID=$ROOT_UUID" || fail "$1: fstab not by UUID"
    cat_guest /boot/grub/grub.cfg | grep -E "^\s*linux\s" | grep -q "console=ttyS0,115200n8" ||
        fail "$1: grub.cfg without the serial console"
    cat_guest /etc/network/interfaces | grep -q "^iface eth0 inet dhcp" || fail "$1: eth0 not on DHCP"
    cat_guest "/boot/initrd.img-$KERNEL_VERSION" >initrd
    mods=$(lsinitramfs initrd | grep -E '/(hv_vmbus|hv_storvsc|hv_netvsc)\.ko' | wc -l)
    [ "$mods" = 3 ] || fail "$1: the initramfs holds $mods of the three Hyper-V modules"
    # And what QA would run: every static check of the target profile.
    "$LANDFALL" verify --profile azure-gen1 guest.img >verify.out 2>&1 ||
        { cat verify.out >&2; fail "$1: landfall verify --profile azure-gen1 fails on the fixed guest"; }
}

for mode in bios uefi; do
    cp --sparse=always "$img" guest.img
    mkjob job.img "$good_job"
    bash "$top/tests/appliance/boot.sh" "$mode" "$A" guest.img job.img "$mode.log" 900 >"$mode.out" ||
        { tail -40 "$mode.log" >&2; fail "$mode: the appliance did not power off"; }
    cat "$mode.out"
    res=$(field job.img deb-landfall-report.json 'r["result"]') || { tail -40 "$mode.log" >&2; fail "$mode: no report on the job disk"; }
    case $res in success|success-with-warnings) ;; *) tail -40 "$mode.log" >&2; fail "$mode: job result $res" ;; esac
    k2s=$(field job.img deb-landfall-report.json 'r["appliance"]["kernel_to_supervisor_s"]')
    ib=$(field job.img deb-landfall-report.json 'r["appliance"]["image_bytes"]')
    [ "$ib" = "$size" ] || fail "$mode: report says the image is $ib bytes, it is $size"
    plat=$(field job.img deb-landfall-report.json 'r["appliance"]["host"]["platform"]')
    [ "$plat" = qemu ] || fail "$mode: the appliance says it runs on '$plat', not qemu"
    nch=$(field job.img deb-landfall-report.json 'len(r["changes"])')
    [ "$nch" -gt 5 ] || fail "$mode: only $nch changes reported"
    mcopy -n -i job.img ::/landfall.log landfall.log || fail "$mode: no log on the job disk"
    grep -q "job done: powering off" "$mode.log" || fail "$mode: no power-off line on the console"
    check_fixed "$mode"
    pass "$mode: powered off by itself, report $res ($nch changes; supervisor ${k2s} s after the kernel), guest fixed"
done

# A bad job file: the report names the line, the VM still powers off.
mkjob job.img 'machine = deb
profile = azure-gen3
os-disk = /dev/vda
output = in-place'
bash "$top/tests/appliance/boot.sh" kernel "$A" - job.img bad.log 600 >/dev/null ||
    { tail -30 bad.log >&2; fail "bad job: the appliance did not power off"; }
err=$(field job.img landfall-report.json 'r["result"] + ": " + r["error"]') || { tail -30 bad.log >&2; fail "bad job: no report"; }
grep -q "^failed: .*landfall.job:2: profile" <<<"$err" || fail "bad job: report says: $err"
pass "bad job: powered off, report '$err'"

# The job process crashing (landfall.test=crash): PID 1 survives it,
# reports it and powers off -- no kernel panic, no reboot loop.
mkjob job.img "$good_job"
APPEND=landfall.test=crash bash "$top/tests/appliance/boot.sh" kernel "$A" - job.img crash.log 600 >/dev/null ||
    { tail -30 crash.log >&2; fail "crash: the appliance did not power off"; }
! grep -aq "Kernel panic" crash.log || fail "crash: the kernel panicked"
err=$(field job.img landfall-report.json 'r["result"] + ": " + r["error"]') || { tail -30 crash.log >&2; fail "crash: no report"; }
grep -q "^failed: the job process died of signal 11" <<<"$err" || fail "crash: report says: $err"
pass "the job process crashing: powered off, report '$err'"

# A disk with no operating system: failed in prerequisites, powered off.
rm -f blank.img && truncate -s 256M blank.img && mkfs.ext4 -q -F blank.img
mkjob job.img "$good_job"
bash "$top/tests/appliance/boot.sh" kernel "$A" blank.img job.img blank.log 600 >/dev/null ||
    { tail -30 blank.log >&2; fail "no OS: the appliance did not power off"; }
res=$(field job.img deb-landfall-report.json 'r["result"] + " | " + "; ".join(r["errors"])') ||
    { tail -30 blank.log >&2; fail "no OS: no report"; }
grep -q "^failed | prerequisites: .*operating system\|^failed | .*no operating system" <<<"$res" ||
    grep -qi "^failed | .*OS" <<<"$res" || fail "no OS: report says: $res"
pass "no OS on the disk: powered off, report '$res'"
