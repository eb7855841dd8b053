#!/bin/bash
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
    assert k[0]["hyperv_modules"][m]["state"] == "module", k[0]["hyperv_modules"]
assert k[0]["initramfs"] == "/boot/initrd.img-" + f["KERNEL_VERSION"]
assert os["initramfs_generator"] == "initramfs-tools"
i = [i for i in os["initramfs"] if i["kernel"] == f["KERNEL_VERSION"]][0]
assert i["contents_generator"] == "initramfs-tools" and i["segments"], i
assert all(v == "present" for v in i["hyperv_modules"].values()), i
assert {"type": "grub2", "config": "/boot/grub/grub.cfg"} in os["bootloaders"]
assert os["firmware"] == ["bios"] and os["azure_generations"][0]["generation"] == "azure-gen1"
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
assert k["hyperv_modules"]["hv_vmbus"]["state"] == "module"
# The initramfs was rebuilt without them, as on a VMware guest.
i = [i for i in os["initramfs"] if i["kernel"] == f["KERNEL_VERSION"]][0]
assert all(v == "absent" for v in i["hyperv_modules"].values()), i
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
    d = c["boot_drivers"]
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
