#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall inspect on real guests built by tests/fixtures/ (debootstrap,
# mkfs, lvm2, mkntfs, real hives): the report's fields are asserted, not
# just its success.  Fixtures are cached (tests/fixtures/README.md); the
# first build on a fresh machine takes a few minutes.
source "$(dirname "$0")/functions.sh"
requires debootstrap sfdisk mkfs.ext4 mkntfs hivexregedit python3

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root (debootstrap, chroot)" >&2; exit 77; }
fix="$top/$BUILD/fixtures"
mkdir -p "$fix"
for n in debian12-ext4 debian12-lvm debian12-vmware windows-ntfs; do
    "$top/tests/fixtures/build.sh" "$n" "$fix" >/dev/null ||
        fail "fixture $n did not build"
done
cd "$tmp"

# check IMAGE PYTHON: run inspect --json on IMAGE, then assertions in
# Python over r (the report), os (the first OS) and f (the facts file).
check () {
    local img=$1 code=$2
    "$LANDFALL" inspect --json "$img" >report.json 2>err.txt ||
        fail "$(basename "$img"): inspect failed: $(cat err.txt)"
    python3 - "$img.facts" <<PY || fail "$(basename "$img"): report does not match"
import json, shlex, sys
r = json.load(open("report.json"))
f = dict(l.split("=", 1) for l in open(sys.argv[1]).read().split("\n") if "=" in l)
f = {k: shlex.split(v)[0] if v else "" for k, v in f.items()}
os = r["operating_systems"][0] if r["operating_systems"] else {}
$code
PY
}

check "$fix/debian12-ext4.img" '
d = r["disks"][0]
assert d["format"] == "raw" and d["partition_table"]["type"] == "dos", d
assert d["partition_table"]["id"] == f["DISK_ID"], d["partition_table"]
p = d["partition_table"]["partitions"][0]
assert p["number"] == 1 and p["bootable"] and p["offset"] == int(f["PART1_OFFSET"]), p
fs = [x for x in r["filesystems"] if x["type"] == "ext4"]
assert len(fs) == 1 and fs[0]["uuid"] == f["ROOT_UUID"] and fs[0]["backend"] == "ext2fs", fs
assert len(r["operating_systems"]) == 1 and os["type"] == "linux"
assert os["distro"]["id"] == "debian" and os["distro"]["version"] == "12", os["distro"]
assert os["distro"]["family"] == "debian" and os["arch"] == "x86_64"
k = [k for k in os["kernels"] if k["version"] == f["KERNEL_VERSION"]]
assert k and k[0]["modules_dir"], os["kernels"]
for m in ("hv_vmbus", "hv_storvsc", "hv_netvsc"):
    assert k[0]["profile_modules"][m]["state"] == "module", k[0]["profile_modules"]
assert k[0]["initramfs"] == "/boot/initrd.img-" + f["KERNEL_VERSION"]
assert os["initramfs_generator"] == "initramfs-tools"
i = [i for i in os["initramfs"] if i["kernel"] == f["KERNEL_VERSION"]][0]
assert i["contents_generator"] == "initramfs-tools" and i["segments"], i
assert all(v == "present" for v in i["profile_modules"].values()), i
assert {"type": "grub2", "config": "/boot/grub/grub.cfg"} in os["bootloaders"]
assert os["firmware"] == ["bios"] and "azure_generations" not in os, os.get("azure_generations")
root = [e for e in os["fstab"] if e["mountpoint"] == "/"][0]
assert root["resolved_by"] == "UUID" and root["resolves_to"].endswith(":p1"), root
n = [x for x in os["network"] if x["stack"] == "ifupdown"]
assert n and n[0]["interface"] == "ens192" and n[0]["mode"] == "static", os["network"]
assert os["persistent_net_rules"] == [] and os["selinux"] == "absent"
'
pass "debian12-ext4: distro, kernel $(json_get report.json operating_systems.0.kernels.0.version), Hyper-V modules, fstab, grub2, BIOS, static ens192"

check "$fix/debian12-lvm.img" '
lv = {x["vg"] + "/" + x["name"]: x for x in r["logical_volumes"]}
assert lv["vg0/root"]["mapped"] and lv["vg0/swap_1"]["mapped"], lv
fs = {x["device"]: x for x in r["filesystems"]}
assert fs["vg0/root"]["type"] == "ext4" and fs["vg0/root"]["uuid"] == f["ROOT_UUID"], fs["vg0/root"]
assert fs["vg0/swap_1"]["type"] == "swap"
assert os["root"] == "vg0/root" and os["distro"]["id"] == "debian"
boot = [e for e in os["fstab"] if e["mountpoint"] == "/boot"][0]
assert boot["resolves_to"] and boot["resolves_to"].endswith(":p1"), boot
rootm = [e for e in os["fstab"] if e["mountpoint"] == "/"][0]
assert rootm["resolves_to"] == "vg0/root", rootm
# The kernels live on the separate /boot: found through the fstab mount.
assert any(k["version"] == f["KERNEL_VERSION"] for k in os["kernels"]), os["kernels"]
'
pass "debian12-lvm: vg0/root mapped natively, /boot on p1 through fstab, kernels found there"

check "$fix/debian12-vmware.img" '
rootm = [e for e in os["fstab"] if e["mountpoint"] == "/"][0]
assert rootm["spec"] == "/dev/sda1" and rootm["resolved_by"] == "device name", rootm
assert rootm["resolves_to"].endswith(":p1"), rootm
assert os["persistent_net_rules"] == ["/etc/udev/rules.d/70-persistent-net.rules"]
assert os["vmware_tools"], os["vmware_tools"]
k = [k for k in os["kernels"] if k["version"] == f["KERNEL_VERSION"]][0]
assert k["profile_modules"]["hv_vmbus"]["state"] == "module"
# The initramfs was rebuilt without them, as on a VMware guest.
i = [i for i in os["initramfs"] if i["kernel"] == f["KERNEL_VERSION"]][0]
assert all(v == "absent" for v in i["profile_modules"].values()), i
'
pass "debian12-vmware: fstab by /dev/sda1 resolved, persistent-net rules, VMware tools, initramfs without Hyper-V modules"

check "$fix/windows-ntfs.img" '
assert os["type"] == "windows" and os["systemroot"] == "/Windows"
p = os["product"]
assert p["name"] == f["PRODUCT_NAME"] and p["build"] == "7601" and p["version"] == "6.1", p
assert p["edition"] == "Professional" and p["installation_type"] == "Client", p
assert os["arch"] == "i386", os["arch"]         # the real hive: Windows 7 x86
assert os["select"]["current"] == 1 and os["select"]["last_known_good"] == 2
cs = os["control_sets"]
assert sorted(cs) == ["ControlSet001", "ControlSet002"], sorted(cs)
for name, c in cs.items():
    d = c["profile_drivers"]
    assert d["storvsc"]["start"] == 3 and d["storvsc"]["file"], d["storvsc"]
    for drv in ("vmbus", "storflt", "intelide", "atapi"):
        assert d[drv]["service"] and d[drv]["start"] == 0, (drv, d[drv])
    assert c["san_policy"] == 1
    assert any(v["service"] == "VMTools" for v in c["vmware_tools"])
nics = cs["ControlSet001"]["nics"]
# Two NICs with static addresses; the third has never been configured.
static = [n for n in nics if n["IPAddress"]]
assert len(nics) == 3 and len(static) == 2, nics
assert all(n["dhcp"] is False for n in static), static
assert "10.3.58.5" in nics[0]["IPAddress"], nics[0]
c = [x for x in os["drive_letters"] if x["letter"] == "C:"][0]
assert c["mbr_signature"] == f["DISK_SIGNATURE"] and c["partition"].endswith(":p1"), c
assert os["bitlocker"] is False and os["hibernated"] is False and os["ntfs_dirty"] is False
assert os["system_hive"]["dirty"] is False
'
pass "windows-ntfs: product, 2 control sets, storvsc Start=3, SAN policy 1, static NICs, C: mapped, VMware Tools"

# The drivers and modules reported are the profile's (guest/ reads, the
# profile decides what matters): vmware's for a failback.
"$LANDFALL" inspect --profile vmware --json "$fix/debian12-vmware.img" >vreport.json ||
    fail "inspect --profile vmware failed"
"$LANDFALL" inspect --profile vmware --json "$fix/windows-ntfs.img" >wreport.json ||
    fail "inspect --profile vmware failed on Windows"
python3 - <<'PY' || fail "inspect --profile vmware does not report the profile's drivers"
import json
r = json.load(open("vreport.json"))
assert r["profile"] == "vmware"
os = r["operating_systems"][0]
k = os["kernels"][0]["profile_modules"]
assert sorted(k) == ["ahci", "vmw_pvscsi", "vmxnet3"], k
assert "hv_vmbus" not in os["initramfs"][0]["profile_modules"], os["initramfs"][0]
w = json.load(open("wreport.json"))["operating_systems"][0]["control_sets"]["ControlSet001"]
assert sorted(w["profile_drivers"]) == ["LSI_SAS", "pvscsi", "storahci"], w["profile_drivers"]
assert not w["profile_drivers"]["pvscsi"]["service"], w["profile_drivers"]
PY
pass "inspect --profile vmware reports vmware's modules and drivers, not Azure's"

# A multi-disk guest: the LVM fixture's disk given with another disk, in
# both orders; /dev/sdX names follow the order given.
"$LANDFALL" inspect --json "$fix/windows-ntfs.img" "$fix/debian12-lvm.img" >report.json ||
    fail "two disks: inspect failed"
python3 -c '
import json
r = json.load(open("report.json"))
t = sorted(o["type"] for o in r["operating_systems"])
assert t == ["linux", "windows"], t
assert len(r["disks"]) == 2
' || fail "two disks: both systems not found"
pass "two disks given together: both systems found"

# One Linux guest spread over two disks: / on the first, /var (by UUID) and
# /srv (by the device name /dev/sdb2) on the second.
mkdir -p mroot/etc mroot/bin mroot/var mroot/srv mvar/lib/landfall msrv
printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="split guest"\n' > mroot/etc/os-release
cp /bin/true mroot/bin/sh
echo marker-on-var > mvar/lib/landfall/where
cat > mroot/etc/fstab <<FSTAB
UUID=11111111-2222-3333-4444-555555555555 / ext4 defaults 0 1
UUID=66666666-7777-8888-9999-000000000000 /var ext4 defaults 0 2
/dev/sdb2 /srv ext4 defaults 0 2
FSTAB
truncate -s 64M d1.img d2.img
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q d1.img
printf 'label: dos\nstart=2048, size=40960, type=83\nstart=43008, type=83\n' | sfdisk -q d2.img
mkfs.ext4 -q -F -U 11111111-2222-3333-4444-555555555555 -d mroot -E offset=1048576 d1.img 60M
mkfs.ext4 -q -F -U 66666666-7777-8888-9999-000000000000 -d mvar -E offset=1048576 d2.img 20M
mkfs.ext4 -q -F -d msrv -E offset=$((43008 * 512)) d2.img 20M
"$LANDFALL" inspect --json d1.img d2.img >report.json || fail "split guest: inspect failed"
python3 -c '
import json
o = json.load(open("report.json"))["operating_systems"]
assert len(o) == 1 and o[0]["distro"]["name"] == "split guest", o
m = {e["mountpoint"]: e for e in o[0]["fstab"]}
assert m["/var"]["resolves_to"] == "d2.img:p1" and m["/var"]["resolved_by"] == "UUID", m["/var"]
assert m["/srv"]["resolves_to"] == "d2.img:p2" and m["/srv"]["resolved_by"] == "device name", m["/srv"]
' || fail "split guest: fstab across disks not resolved: $(cat report.json)"
pass "one guest over two disks: /var by UUID and /srv by /dev/sdb2 resolve to the second disk"
