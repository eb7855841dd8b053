#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Offline BIOS -> UEFI for Linux (issue 15): the VMware-like Debian guest
# (BIOS, MBR) fixed for azure-gen2, whose firmware is UEFI.
#  - fix --dry-run shows the conversion and writes nothing;
#  - fix --profile azure-gen2: GPT with every partition where it was, a
#    new FAT32 ESP in the space the disk grew by, with
#    \EFI\BOOT\BOOTX64.EFI (a grub built from the host's
#    grub-efi-amd64-bin: the fixture has no shim), /boot/efi in fstab;
#    verify --profile azure-gen2 passes; undo gives the BIOS disk back:
#    its MBR, gap and size byte for byte, every file byte for byte;
#  - landfall run with profile = azure-gen2: the output VHD (grown, a whole
#    MiB, footer at its end) boots under OVMF on q35 to a login with a
#    DHCP address (one TCG boot, normal build only).
source "$(dirname "$0")/functions.sh"
requires debugfs python3 sha256sum sfdisk mdir mkfs.fat grub-mkimage cmp

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cp --sparse=always "$img" "$tmp/guest.img"
cd "$tmp"
fs="guest.img?offset=$ROOT_OFFSET"
cat_guest () { debugfs -R "cat $1" "$fs" 2>/dev/null; }
# What the fix writes (found from a dry run's report): each path's type,
# mode, link target and content hash.  test-fix-linux.sh compares the whole
# tree after undo; here the files the conversion adds to are enough, and
# cheaper.
snapshot () {
    while read -r p; do
        echo "$p $(debugfs -R "stat $p" "$fs" 2>/dev/null | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p')" \
             "$(cat_guest "$p" | sha256sum)"
    done <paths.txt >"$1"
}
size0=$(stat -c %s guest.img)
first=$((PART1_OFFSET / 512))
head -c "$PART1_OFFSET" guest.img >gap.before
"$LANDFALL" fix --dry-run --json --profile azure-gen2 guest.img >plan.json 2>/dev/null ||
    fail "dry run (--json) failed"
python3 -c 'import json,sys; [print(e["path"]) for e in json.load(open(sys.argv[1]))["edits"]]' plan.json |
    sort -u >paths.txt
grep -qx /etc/fstab paths.txt || fail "the plan does not edit /etc/fstab: $(cat paths.txt)"
grep -qx /boot/efi paths.txt || fail "the plan does not make /boot/efi: $(cat paths.txt)"
snapshot before.txt
sfdisk -d guest.img | grep -q '^label: dos' || fail "the fixture is not MBR"

# The plan shows the conversion; nothing is written.
sum=$(sha256sum <guest.img)
"$LANDFALL" fix --dry-run --profile azure-gen2 guest.img >plan.txt || fail "dry run failed"
grep -q "^convert guest.img: MBR -> GPT, 1 partition kept (start and size), EFI system partition 2" plan.txt ||
    fail "the dry run does not show the conversion: $(grep -i gpt plan.txt)"
grep -q "sectors 0-$((first - 1)) journalled" plan.txt || fail "the dry run does not say what is journalled"
[ "$sum" = "$(sha256sum <guest.img)" ] || fail "--dry-run changed the image"
pass "dry run shows the MBR -> GPT conversion and changes nothing"

# Trusted Launch boots only a signed chain: the fixture has no shim, so
# azure-gen2-tl is refused by name, before anything is written.
"$LANDFALL" fix --profile azure-gen2-tl guest.img >tl.out 2>tl.err && fail "fix --profile azure-gen2-tl passed without a shim"
grep -q "azure-gen2-tl boots with Secure Boot, and the guest has no signed shim (/usr/lib/shim/shimx64.efi.signed)" tl.err ||
    fail "the refusal does not name the shim: $(cat tl.err)"
[ "$sum" = "$(sha256sum <guest.img)" ] || fail "the refused fix changed the image"
mkdir tljob
ln -s "$img" tljob/web01-disk1.img
printf 'machine = web01\nprofile = azure-gen2-tl\nos-disk = web01-disk1.img\noutput = out\n' >tljob/web01.job
"$LANDFALL" run tljob/web01.job >tl-run.out 2>&1 && fail "run with azure-gen2-tl passed without a shim"
grep -q "prerequisites: azure-gen2-tl boots with Secure Boot, and the guest has no signed shim (/usr/lib/shim/shimx64.efi.signed)" tl-run.out ||
    fail "run: no refusal naming the shim in step 1: $(cat tl-run.out)"
[ ! -e tljob/out/web01-os.vhd ] || fail "run wrote an output before refusing"
pass "azure-gen2-tl without the guest's signed shim: fix and run (step 1) refuse, naming it"

"$LANDFALL" fix --json --profile azure-gen2 guest.img >fix.json || fail "fix failed: $(cat fix.json)"
python3 - fix.json "$PART1_SIZE" <<'EOF' || fail "fix report"
import json, sys
r = json.load(open(sys.argv[1]))
d = r["disk_conversion"]
assert d["from"] == "dos" and d["to"] == "gpt", d
assert d["partitions"] == [{"number": 1, "start": 2048, "sectors": int(sys.argv[2]) // 512, "kept": "start and size"}], d
assert d["esp"]["number"] == 2 and d["new_size"] % (1 << 20) == 0, d
EOF
sfdisk -d guest.img >gpt.txt
grep -q '^label: gpt' gpt.txt || fail "not GPT after the fix: $(cat gpt.txt)"
grep -Eq "^guest.img1 : start= *$first, size= *$((PART1_SIZE / 512)), type=0FC63DAF" gpt.txt ||
    fail "partition 1 moved or changed: $(cat gpt.txt)"
esp=$(sed -n 's/^guest.img2 : start= *\([0-9]*\), size= *\([0-9]*\), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B.*/\1 \2/p' gpt.txt)
[ -n "$esp" ] || fail "no EFI system partition 2: $(cat gpt.txt)"
set -- $esp
[ $(($1 * 512)) -ge "$size0" ] || fail "the ESP is not in new space (sector $1, disk was $size0 bytes)"
size1=$(stat -c %s guest.img)
[ $((size1 % 1048576)) = 0 ] && [ "$size1" -gt "$size0" ] || fail "disk size $size1 (was $size0)"
mdir -i "guest.img@@$(($1 * 512))" ::/EFI/BOOT >esp.txt || fail "the ESP is not FAT"
grep -q "BOOTX64  EFI" esp.txt || fail "no \\EFI\\BOOT\\BOOTX64.EFI: $(cat esp.txt)"
espuuid=$(blkid -p -o value -s UUID -O $(($1 * 512)) guest.img)
cat_guest /etc/fstab | grep -q "^UUID=$espuuid /boot/efi vfat umask=0077,nofail " ||
    fail "no /boot/efi by UUID $espuuid with nofail in fstab: $(cat_guest /etc/fstab)"
mcopy -i "guest.img@@$(($1 * 512))" ::/EFI/BOOT/grub.cfg esp-grub.cfg || fail "no grub.cfg on the ESP"
grep -q "search --no-floppy --fs-uuid --set=root $ROOT_UUID" esp-grub.cfg || fail "ESP grub.cfg: $(cat esp-grub.cfg)"
pass "fix: GPT with partition 1 where it was, ESP $2 sectors at $1 in new space (FAT32, BOOTX64.EFI), disk $size0 -> $size1, /boot/efi in fstab"

"$LANDFALL" verify --json --profile azure-gen2 guest.img >verify.json || fail "verify --profile azure-gen2 failed: $(cat verify.json)"
python3 - verify.json <<'EOF' || fail "verify checks"
import json, sys
r = json.load(open(sys.argv[1]))
st = {c["check"]: c["status"] for c in r["checks"]}
assert st["partition-table"] == "pass", st
assert all(s != "fail" for s in st.values()), st
EOF
"$LANDFALL" fix --profile azure-gen2 guest.img >again.txt || fail "second fix failed"
grep -q "^0 changes" again.txt || fail "a second fix changed something: $(cat again.txt)"
pass "verify --profile azure-gen2 passes; a second fix changes nothing"

"$LANDFALL" undo guest.img >undo.txt 2>&1 || fail "undo failed: $(cat undo.txt)"
[ "$(stat -c %s guest.img)" = "$size0" ] || fail "undo left the disk at $(stat -c %s guest.img) bytes, was $size0"
head -c "$PART1_OFFSET" guest.img | cmp - gap.before || fail "undo: the MBR and its gap differ"
snapshot after.txt
diff before.txt after.txt >undo.diff || fail "undo left differences: $(head -20 undo.diff)"
pass "undo: size, MBR boot code, table and gap byte for byte; the $(wc -l <paths.txt) files the fix wrote as before"

# landfall run with the Gen2 NVMe profile (the same conversion, and the
# NVMe modules and kernel parameter), and one boot under OVMF with the
# disk on an NVMe controller.
mkdir job
cp --sparse=always "$img" job/web01-disk1.img
cat >job/web01.job <<'EOF'
machine = web01
source = vmware
profile = azure-gen2-nvme
os-disk = web01-disk1.img
output = out
EOF
r=0; "$LANDFALL" run job/web01.job >summary.txt 2>log.txt || r=$?
[ "$r" = 0 ] || [ "$r" = 3 ] || { cat summary.txt log.txt; fail "run: exit $r"; }
out=job/out/web01-os.vhd
python3 - job/out/landfall-report.json "$out" <<'EOF' || fail "run report"
import json, sys, os
r = json.load(open(sys.argv[1]))
assert r["profile"] == "azure-gen2-nvme" and r["ok"], r["profile"]
d = r["disks"][0]
assert d["file_size"] == os.path.getsize(sys.argv[2]) == d["size"] + 512, d
assert d["size"] % (1 << 20) == 0, d
assert any(c["concern"] == "uefi" for c in r["changes"] if "concern" in c) or \
       any("/boot/efi" in " ".join(c.get("new_lines", [])) for c in r["changes"]), r["changes"]
EOF
"$LANDFALL" verify --json --profile azure-gen2-nvme "$out" >verify-run.json ||
    fail "verify --profile azure-gen2-nvme of the run's output failed: $(cat verify-run.json)"
pass "run with profile = azure-gen2-nvme: a fixed VHD of a whole MiB, converted, verify passes"

if [ "${SAN:-}" = 1 ]; then
    echo "SKIP (part): the OVMF boot runs in the normal build only (SAN=1 here)" >&2
    exit 0
fi
requires qemu-system-x86_64
[ -f /usr/share/ovmf/OVMF.fd ] || { echo "SKIP: no OVMF (install ovmf)" >&2; exit 77; }
python3 "$top/tests/tools/qemu-login.py" --timeout 420 --uefi --machine q35 \
    --format vpc --nvme --log boot.log "$out" root landfall \
    "for i in \$(seq 60); do ip -4 -o addr show scope global | grep -q dynamic && break; sleep 2; done; ip -4 -o addr show scope global" \
    "test -d /sys/firmware/efi && echo BOOTED-UEFI" \
    "echo ROOT=\$(findmnt -n -o SOURCE /); cat /proc/cmdline" \
    "for i in \$(seq 30); do findmnt /boot/efi >/dev/null && break; sleep 2; done; findmnt -n -o FSTYPE /boot/efi || systemctl status --no-pager boot-efi.mount" >login.out 2>&1 ||
    { cat login.out; tail -n 40 boot.log | tr -d '\r'; fail "the converted guest did not boot to a login under OVMF"; }
cat login.out
grep -q "^BOOTED-UEFI" login.out || fail "not booted with UEFI"
grep -q "^vfat" login.out || fail "/boot/efi not mounted"
grep -q "^ROOT=/dev/nvme0n1p" login.out || fail "the root is not on the NVMe disk"
grep -q "nvme_core.io_timeout=240" login.out || fail "no nvme_core.io_timeout=240 on the kernel command line"
grep -Eq "inet 10\.0\.2\.[0-9]+/24 .*dynamic" login.out || fail "no DHCP address"
pass "the converted guest boots under OVMF (q35) from an NVMe disk to a login, / on nvme0n1, nvme_core.io_timeout=240, /boot/efi mounted, DHCP address"
