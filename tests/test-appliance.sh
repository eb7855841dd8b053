#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bootable appliance (issues 7 and 18), as the helper VM is during
# failover.
#   1. Its environment, without a boot: the initramfs unpacked and the
#      appliance's own landfall run chrooted into it (only the
#      appliance's libraries and data files) on every guest family the
#      CLI fixes -- the Windows samples (the real VMware Windows 7 SYSTEM
#      hive, and the synthetic one of test-fix-windows.sh: three control
#      sets, the current one 3), and the Debian guests (ext4 with
#      initramfs-tools, ext4 with dracut) -- each job in place, then the
#      registry checked in every control set (boot drivers, SAN policy,
#      DHCP) and the Linux guest checked file by file.  A data file the
#      build forgot (glibc's gconv modules, issue 18) fails here in
#      seconds.
#   2. Booted under QEMU (TCG here), the disks on a virtio-scsi controller
#      at non-zero LUNs and the job naming them lun:N, as Azure attaches
#      data disks: BIOS (SeaBIOS, the VHD on IDE) with the VMware-like
#      Debian guest, UEFI (OVMF, q35) with the Windows 7 sample; the VM
#      powers itself off, the job disk holds a successful report listing
#      every disk with its LUN, and the guest is fixed as in 1 and BIOS
#      again with the xfs-lvm fixture (/ on XFS in LVM: the LV mapped
#      through device-mapper by landfall itself, mounted by the kernel);
#   3. the kernel + initramfs pair, the job disk found by LUN
#      (landfall.job=lun:N), with a job naming a LUN that is not there:
#      step 1 refuses it and names the LUNs it saw; with a bad job file,
#      a crashing job process, a disk with no OS: the VM still powers off
#      and the report says why.
# A failure shows the appliance's console log.  Built once per make
# check, by `make appliance`, and booted only in the normal pass (the
# appliance has its own build; ASan adds nothing here).
source "$(dirname "$0")/functions.sh"
requires qemu-system-x86_64 debugfs mcopy mkfs.fat python3 lsinitramfs zstd cpio chroot \
    ntfscat ntfs-3g fusermount hivexregedit perl sfdisk losetup lvm xfs_repair

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
[ -e /dev/fuse ] || { echo "SKIP: the windows-ntfs fixture needs /dev/fuse" >&2; exit 77; }
perl -MWin::Hivex -e 1 2>/dev/null || { echo "SKIP: no Win::Hivex (libwin-hivex-perl)" >&2; exit 77; }
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
win=$("$top/tests/fixtures/build.sh" windows-ntfs "$top/$BUILD/fixtures" | tail -n1)
dracut=$("$top/tests/fixtures/build.sh" debian12-dracut "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
WIN_PART_OFFSET=$(. "$win.facts"; echo "$PART1_OFFSET")
WIN_PART_SIZE=$(. "$win.facts"; echo "$PART1_SIZE")
cd "$tmp"
export MTOOLS_SKIP_CHECK=1

# show_log LOG [JOBIMG]: what the appliance said, for a failure.
show_log () {
    echo "--- the appliance's console ($1), last lines:" >&2
    tail -60 "$1" >&2
    if [ -n "${2:-}" ] && mcopy -n -i "$2" ::/landfall.log applog.txt 2>/dev/null; then
        echo "--- landfall.log on the job disk, last lines:" >&2
        tail -30 applog.txt >&2
    fi
}

# ---- Windows samples ------------------------------------------------------
# The sample is a registry sample, not a bootable disk: it gets grub's MBR
# boot code (440 bytes, from the Debian fixture) so that azure-gen1's
# boot-code check has something to pass, as in test-run-windows.sh.
win_part_out () { dd if="$1" of="$2" iflag=skip_bytes,count_bytes skip="$WIN_PART_OFFSET" \
                     count="$WIN_PART_SIZE" conv=sparse status=none; }
win_part_in () { dd if="$1" of="$2" oflag=seek_bytes seek="$WIN_PART_OFFSET" conv=sparse,notrunc \
                    status=none; }
win_sample () {   # win_sample OUT real|synthetic
    cp --sparse=always "$win" "$1"
    dd if="$img" of="$1" bs=440 count=1 conv=notrunc status=none
    [ "$2" = synthetic ] || return 0
    # test-fix-windows.sh's synthetic SYSTEM hive: ControlSet003 current
    # (Select 3/3/2), service keys missing, static IPs, Dhcp disabled.
    win_part_out "$1" s.ntfs
    ntfscat -f s.ntfs /Windows/System32/config/SYSTEM >synth-SYSTEM || fail "ntfscat SYSTEM"
    sed -n "/^cat >synth.reg <<'REG'$/,/^REG$/p" "$top/tests/test-fix-windows.sh" | sed '1d;$d' >synth.reg
    grep -q ControlSet003 synth.reg || fail "no synthetic hive in test-fix-windows.sh"
    hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' synth-SYSTEM synth.reg
    mkdir -p mnt
    ntfs-3g -o no_def_opts,silent s.ntfs mnt || fail "ntfs-3g mount"
    cleanup_hook "mountpoint -q '$tmp/mnt' && fusermount -u '$tmp/mnt'"
    cp synth-SYSTEM mnt/Windows/System32/config/SYSTEM
    fusermount -u mnt
    win_part_in s.ntfs "$1"
    rm -f s.ntfs synth-SYSTEM
}
# check_hive DESC IMG: every control set of IMG's SYSTEM hive has the
# azure profile's boot drivers at boot start, the SAN policy
# OnlineAll and DHCP started automatically.
cat >check-hive.pl <<'PERL'
use strict; use Win::Hivex;
my $h = Win::Hivex->open($ARGV[0]);
my (@bad, @sets);
sub get { my ($n, @path) = @_; my $v = pop @path;
          for my $p (@path) { $n = $h->node_get_child($n, $p) or return "absent" }
          my $x = $h->node_get_value($n, $v) or return "absent"; return $h->value_dword($x) }
for my $cs ($h->node_children($h->root)) {
    my $name = $h->node_name($cs);
    next unless $name =~ /^ControlSet\d{3}$/i;
    push @sets, $name;
    for my $d (qw(vmbus storvsc storflt intelide atapi)) {
        my $s = get($cs, "Services", $d, "Start");
        push @bad, "$name\\Services\\$d\\Start is $s, not 0" unless $s eq "0";
    }
    my $san = get($cs, "Services", "partmgr", "Parameters", "SanPolicy");
    push @bad, "$name\\Services\\partmgr\\Parameters\\SanPolicy is $san, not 1" unless $san eq "1";
    my $dhcp = get($cs, "Services", "Dhcp", "Start");
    push @bad, "$name\\Services\\Dhcp\\Start is $dhcp, not 2" unless $dhcp eq "2";
}
push @bad, "no control set" unless @sets;
die join("\n", @bad) . "\n" if @bad;
print scalar(@sets), " control sets (", join(", ", @sets), ")\n";
PERL
check_hive () {
    win_part_out "$2" h.ntfs
    ntfscat -f h.ntfs /Windows/System32/config/SYSTEM >h-SYSTEM || fail "$1: ntfscat SYSTEM"
    rm -f h.ntfs
    perl check-hive.pl h-SYSTEM >hive.out 2>&1 || { cat hive.out >&2; fail "$1: the SYSTEM hive is not fixed"; }
    cat hive.out
}

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
cat_guest () { debugfs -R "cat $1" "${GUEST:-guest.img}?offset=$ROOT_OFFSET" 2>/dev/null; }

check_fixed () {   # check_fixed MODE (the guest is $GUEST, default guest.img)
    ! cat_guest /etc/fstab | grep -q "^/dev/sda1" || fail "$1: fstab still by /dev/sda1"
    cat_guest /etc/fstab | grep -q "^UUID=$ROOT_UUID" || fail "$1: fstab not by UUID"
    cat_guest /boot/grub/grub.cfg | grep -E "^\s*linux\s" | grep -q "console=ttyS0,115200n8" ||
        fail "$1: grub.cfg without the serial console"
    cat_guest /etc/network/interfaces | grep -q "^iface eth0 inet dhcp" || fail "$1: eth0 not on DHCP"
    cat_guest "/boot/initrd.img-$KERNEL_VERSION" >initrd
    mods=$(lsinitramfs initrd | grep -E '/(hv_vmbus|hv_storvsc|hv_netvsc)\.ko' | wc -l)
    [ "$mods" = 3 ] || fail "$1: the initramfs holds $mods of the three Hyper-V modules"
    # And what QA would run: every static check of the target profile.
    "$LANDFALL" verify --profile azure-gen1 "${GUEST:-guest.img}" >verify.out 2>&1 ||
        { cat verify.out >&2; fail "$1: landfall verify --profile azure-gen1 fails on the fixed guest"; }
}

# ---- 1. The appliance's environment, chrooted: every guest family ---------
root=$tmp/root
mkdir -p "$root"
(cd "$root" && zstd -dc "$A/initrd.img" | cpio -id --quiet) || fail "cannot unpack the initramfs"
# in_appliance NAME IMG JOBTEXT: the appliance's landfall runs the job on
# IMG (moved into the tree and back), with nothing of this machine's
# files: its own libraries, gconv modules and hardware profiles.
in_appliance () {
    mkdir -p "$root/tmp/$1"
    mv "$2" "$root/tmp/$1/disk.img"
    printf '%s\n' "$3" >"$root/tmp/$1/landfall.job"
    local r=0
    env -i LANDFALL_HW_DIR=/usr/share/landfall/hw LANDFALL_GUESTFS=never \
        "$(command -v chroot)" "$root" /init run --no-progress "/tmp/$1/landfall.job" >"$1.out" 2>&1 || r=$?
    mv "$root/tmp/$1/disk.img" "$2"
    [ $r = 0 ] || [ $r = 3 ] || { cat "$1.out" >&2; fail "$1: the appliance's landfall failed (exit $r) where the CLI fixes the guest"; }
    grep -q "\[3/5\] fix: done" "$1.out" || { cat "$1.out" >&2; fail "$1: no fix step done"; }
}
job_for () { printf 'machine = %s\nsource = vmware\nprofile = azure-gen1\nos-disk = disk.img\noutput = in-place' "$1"; }
for sample in real synthetic; do
    win_sample "win-$sample.img" "$sample"
    in_appliance "win-$sample" "win-$sample.img" "$(job_for "win-$sample")"
    sets=$(check_hive "chroot, Windows $sample" "win-$sample.img")
    pass "chroot: the appliance's landfall fixes the Windows $sample sample: $sets fixed"
done
rm -f win-real.img win-synthetic.img
cp --sparse=always "$img" deb.img
in_appliance deb deb.img "$(job_for deb)"
GUEST=deb.img check_fixed "chroot, Debian (initramfs-tools)"
rm -f deb.img
pass "chroot: the appliance's landfall fixes the Debian guest (ext4, initramfs-tools)"
cp --sparse=always "$dracut" dracut.img
in_appliance dracut dracut.img "$(job_for dracut)"
"$LANDFALL" verify --profile azure-gen1 dracut.img >verify.out 2>&1 ||
    { cat verify.out >&2; fail "chroot, Debian (dracut): landfall verify fails on the fixed guest"; }
rm -f dracut.img
pass "chroot: the appliance's landfall fixes the Debian guest (ext4, dracut): verify passes"

# ---- 2. Booted: the disks at LUNs of a virtio-scsi controller ---------------
# boot_good MODE GUEST-IMG MACHINE: job disk at LUN 1, the guest at LUN 3,
# the job names it lun:3.
boot_good () {
    local mode=$1 g=$2 m=$3 rep=$3-landfall-report.json
    mkjob job.img "machine = $m
source = vmware
profile = azure-gen1
os-disk = lun:3
output = in-place"
    LUN_JOB=1 LUN_GUEST=3 bash "$top/tests/appliance/boot.sh" "$mode" "$A" "$g" job.img "$mode.log" 900 >"$mode.out" ||
        { show_log "$mode.log" job.img; fail "$mode: the appliance did not power off"; }
    cat "$mode.out"
    res=$(field job.img "$rep" 'r["result"]') || { show_log "$mode.log" job.img; fail "$mode: no report on the job disk"; }
    case $res in success|success-with-warnings) ;; *) show_log "$mode.log" job.img; fail "$mode: job result $res" ;; esac
    k2s=$(field job.img "$rep" 'r["appliance"]["kernel_to_supervisor_s"]')
    ib=$(field job.img "$rep" 'r["appliance"]["image_bytes"]')
    [ "$ib" = "$size" ] || fail "$mode: report says the image is $ib bytes, it is $size"
    plat=$(field job.img "$rep" 'r["appliance"]["host"]["platform"]')
    [ "$plat" = qemu ] || fail "$mode: the appliance says it runs on '$plat', not qemu"
    nch=$(field job.img "$rep" 'len(r["changes"])')
    # The disk the job named, where it was found, and every disk by LUN.
    src=$(field job.img "$rep" 'r["disks"][0]["name"] + " " + r["disks"][0]["source"]')
    luns=$(field job.img "$rep" '" ".join("%s@%s=%s" % (d["device"], d.get("lun", "-"), d["serial"]) for d in r["appliance"]["disks"])')
    grep -q "^lun:3 /dev/sd[a-z]$" <<<"$src" || fail "$mode: the OS disk is '$src', not lun:3 on a SCSI disk"
    dev=${src#lun:3 }
    grep -q "$dev@3=LF-GUEST" <<<"$luns" || fail "$mode: the report's disks ($luns) do not show $dev at LUN 3 with the guest's serial"
    grep -q "@1=LF-JOB" <<<"$luns" || fail "$mode: the report's disks ($luns) do not show the job disk at LUN 1"
    mcopy -n -i job.img ::/landfall.log landfall.log || fail "$mode: no log on the job disk"
    grep -q "job done: powering off" "$mode.log" || fail "$mode: no power-off line on the console"
}
cp --sparse=always "$img" guest.img
boot_good bios guest.img deb
check_fixed bios
pass "bios: Debian guest at lun:3 ($dev): powered off by itself, report $res ($nch changes; supervisor ${k2s} s after the kernel), guest fixed; disks $luns"
win_sample guest.img real
boot_good uefi guest.img win
sets=$(check_hive "uefi, Windows" guest.img)
pass "uefi: Windows 7 sample at lun:3 ($dev): powered off by itself, report $res ($nch changes; supervisor ${k2s} s after the kernel), $sets fixed"
rm -f guest.img

# ---- 2b. Booted: / on XFS in LVM (issue 17) ----------------------------------
# The xfs-lvm fixture (RHEL 9's layout: /boot XFS on sda1, / XFS on
# rhel/root of a PV on sda2) at lun:3: no native backend reads XFS and the
# appliance has no lvm2 tools, so the job succeeds only if landfall maps
# the LV through device-mapper itself and the kernel mounts it.  Then, on
# this machine: the initramfs on /boot holds the Hyper-V drivers, and
# xfs_repair -n finds both filesystems clean (the LV read at its offset,
# which the host's lvm2 reports with activation off: no device-mapper here).
if ! command -v guestfish >/dev/null; then
    echo "SKIP (part): the xfs-lvm fixture is built with guestfish (libguestfs-tools)" >&2
else
xl=$("$top/tests/fixtures/build.sh" xfs-lvm "$top/$BUILD/fixtures" | tail -n1)
cp --sparse=always "$xl" guest.img
t0=$SECONDS
boot_good bios guest.img rh
xsecs=$((SECONDS - t0))
parts=$(sfdisk -J guest.img | python3 -c 'import json,sys; p=json.load(sys.stdin)["partitiontable"]["partitions"]; print(" ".join("%d:%d" % (x["start"] * 512, x["size"] * 512) for x in p))')
read -r pb pv <<<"$parts"
lb=$(losetup -r -f --show -o "${pb%:*}" --sizelimit "${pb#*:}" guest.img)
cleanup_hook "losetup -d $lb 2>/dev/null || true"
xfs_repair -n "$lb" >repair.out 2>&1 || { cat repair.out >&2; fail "xfs-lvm: xfs_repair -n: /boot is damaged"; }
mkdir -p xb
mount -t xfs -o ro,norecovery "$lb" xb || fail "xfs-lvm: mounting /boot"
cleanup_hook "umount $tmp/xb 2>/dev/null || true"
(. "$xl.facts"; lsinitramfs "xb/initramfs-$KERNEL_VERSION.img") >xinitrd.txt || fail "xfs-lvm: lsinitramfs"
umount xb
for m in hv_vmbus hv_storvsc hv_netvsc; do
    grep -q "/$m\.ko" xinitrd.txt || fail "xfs-lvm: the initramfs has no $m"
done
mkdir -p lvm/etc lvm/lock
cat >lvm/etc/lvm.conf <<EOF
devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 external_device_info_source = "none" }
global { activation = 0 locking_dir = "$tmp/lvm/lock" use_lvmpolld = 0 event_activation = 0 }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
backup { backup = 0 archive = 0 }
EOF
lp=$(losetup -r -f --show -o "${pv%:*}" --sizelimit "${pv#*:}" guest.img)
cleanup_hook "losetup -d $lp 2>/dev/null || true"
lvq () { LVM_SYSTEM_DIR=$tmp/lvm/etc LVM_SUPPRESS_FD_WARNINGS=1 lvm "$@" --devices "$lp"; }
seg=$(lvq lvs --noheadings --units b --nosuffix -o seg_pe_ranges,vg_extent_size,seg_count rhel/root | tr -s ' ')
pes=$(lvq pvs --noheadings --units b --nosuffix -o pe_start | tr -d ' ')
read -r range esz nseg <<<"$seg"
[ "$nseg" = 1 ] || fail "xfs-lvm: rhel/root has '$nseg' segments (the fixture makes one): $seg"
first=${range#*:}; first=${first%-*}; last=${range##*-}
lr=$(losetup -r -f --show -o $((${pv%:*} + pes + first * esz)) --sizelimit $(((last - first + 1) * esz)) guest.img)
cleanup_hook "losetup -d $lr 2>/dev/null || true"
xfs_repair -n "$lr" >repair.out 2>&1 || { cat repair.out >&2; fail "xfs-lvm: xfs_repair -n: rhel/root is damaged"; }
pass "xfs-lvm: RHEL-like / on XFS in LVM at lun:3: job $res in the appliance ($nch changes, $xsecs s), the initramfs holds the Hyper-V drivers, xfs_repair -n clean on /boot and rhel/root"
rm -f guest.img
fi

# ---- 3. The job disk by LUN, a LUN that is not there ---------------------------
cp --sparse=always "$img" guest.img
mkjob job.img 'machine = deb
source = vmware
profile = azure-gen1
os-disk = lun:4
output = in-place'
LUN_JOB=2 LUN_GUEST=5 APPEND="landfall.job=lun:2 landfall.wait=20" \
    bash "$top/tests/appliance/boot.sh" kernel "$A" guest.img job.img nolun.log 600 >/dev/null ||
    { show_log nolun.log job.img; fail "missing LUN: the appliance did not power off"; }
grep -aq "job disk: /dev/sd[a-z] (vfat)" nolun.log || { show_log nolun.log; fail "missing LUN: the job disk was not found by landfall.job=lun:2"; }
err=$(field job.img deb-landfall-report.json 'r["result"] + " | " + r["steps"][0]["state"] + " | " + "; ".join(r["errors"])') ||
    { show_log nolun.log job.img; fail "missing LUN: no report"; }
grep -q "^failed | failed | prerequisites: OS disk: lun:4: no such disk (LUNs seen: host[0-9]*: 2 5)" <<<"$err" ||
    { show_log nolun.log job.img; fail "missing LUN: report says: $err"; }
cmp -s "$img" guest.img || fail "missing LUN: the guest disk changed"
rm -f guest.img
pass "job disk by landfall.job=lun:2; a job naming lun:4 fails in step 1: '$err'"

# A bad job file: the report names the line, the VM still powers off.
mkjob job.img 'machine = deb
profile = azure-gen3
os-disk = /dev/vda
output = in-place'
bash "$top/tests/appliance/boot.sh" kernel "$A" - job.img bad.log 600 >/dev/null ||
    { show_log bad.log; fail "bad job: the appliance did not power off"; }
err=$(field job.img landfall-report.json 'r["result"] + ": " + r["error"]') || { show_log bad.log; fail "bad job: no report"; }
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
