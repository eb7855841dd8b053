#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make appliance: the bootable landfall appliance, from Debian packages and
# landfall's own binary, without root, loop devices or mounts.
#
#   images/mk-appliance.sh LANDFALL OUTDIR
#
# OUTDIR gets
#   vmlinuz, initrd.img         the pair for PXE and QEMU -kernel/-initrd
#   landfall-appliance.vhd      an Azure-ready fixed VHD: MBR, one FAT
#                               partition (type 0xEF, so UEFI firmware takes
#                               it as the ESP) holding the pair, grub for
#                               BIOS (boot.img + core.img in the post-MBR
#                               gap) and \EFI\BOOT\BOOTX64.EFI for UEFI
#   appliance.json              sizes, kernel version, module count
#
# The kernel and its modules are the Debian kernel installed on the build
# machine (package linux-image-amd64, which tests/install-deps.sh
# installs); grub comes from grub-pc-bin and grub-efi-amd64-bin.  The
# initramfs holds no shell and no other program: /init is landfall, whose
# PID 1 mode (supervisor/pid1.c) loads the modules listed in
# /etc/landfall/modules (resolved here, in load order), finds the job disk,
# runs the job and powers off.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
LANDFALL=$(readlink -f "$1")
OUT=$2
die () { echo "mk-appliance: $*" >&2; exit 1; }
[ -x "$LANDFALL" ] || die "$LANDFALL: not an executable"
for c in cpio zstd grub-mkimage mkfs.fat mcopy sfdisk ldd strings; do
    command -v "$c" >/dev/null || die "'$c' is needed (make deps installs it)"
done
KVER=${APPLIANCE_KVER:-$(dpkg-query -W -f '${Depends}' linux-image-amd64 2>/dev/null |
                         sed -n 's/.*linux-image-\([^ ,]*\).*/\1/p')}
[ -n "$KVER" ] || die "no Debian kernel: install linux-image-amd64 (make deps)"
KIMG=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
[ -r "$KIMG" ] && [ -f "$MODDIR/modules.dep" ] || die "kernel $KVER: $KIMG or $MODDIR/modules.dep missing"
for d in /usr/lib/grub/i386-pc /usr/lib/grub/x86_64-efi; do
    [ -f "$d/moddep.lst" ] || die "$d: missing (grub-pc-bin, grub-efi-amd64-bin)"
done

mkdir -p "$OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/landfall-appliance.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{dev,proc,sys,run,tmp,etc/landfall,usr/share/landfall,lib/modules/"$KVER"}

# --- /init and the libraries it links (ldd: resolved on this machine,
# which is the Debian release the kernel comes from) ---
# Stripped: the debug information is half the binary, and every byte of
# the initramfs is decompressed before the first line we print.
cp "$LANDFALL" "$root/init"
strip --strip-unneeded "$root/init"
ldd "$LANDFALL" | awk '/=> \// {print $3} /^\s*\/lib/ {print $1}' | sort -u | while read -r lib; do
    dest=$root$lib
    mkdir -p "$(dirname "$dest")"
    cp -L "$lib" "$dest"
done
# The dynamic loader under the path the binary names.
interp=$(readelf -l "$LANDFALL" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
mkdir -p "$root$(dirname "$interp")"
cp -L "$interp" "$root$interp"
# glibc's iconv modules for the character sets the libraries convert
# with: hivex turns key and value names from LATIN1 (ASCII-compressed
# names) and UTF-16LE into UTF-8.  Neither is built into glibc; without
# the module every hive fails with "a subkey name cannot be read" (issue
# 18).  Only these modules, and a gconv-modules naming only them (glibc's
# own cache names some 250 that are not here).
# The directory is the one compiled into libc (not where ldd finds libc:
# with merged /usr they differ, and the appliance has no /lib symlink).
libc=$(ldd "$LANDFALL" | awk '$1 ~ /^libc\.so/ {print $3}')
GCONV_SRC=$(strings "$libc" | grep -m1 -x '/.*/gconv') || die "$libc: no gconv directory in it"
GCONV_MODS="ISO8859-1 UTF-16 UTF-32 UNICODE"
[ -f "$GCONV_SRC/gconv-modules" ] || die "$GCONV_SRC/gconv-modules: missing (libc6)"
mkdir -p "$root$GCONV_SRC"
for m in $GCONV_MODS; do
    [ -f "$GCONV_SRC/$m.so" ] || die "$GCONV_SRC/$m.so: missing (libc6)"
    cp -L "$GCONV_SRC/$m.so" "$root$GCONV_SRC/"
done
awk -v mods=" $GCONV_MODS " '
    $1 == "alias" { alias[$3] = alias[$3] $0 "\n"; next }
    $1 == "module" && index(mods, " " $4 " ") {
        if (!done[$2]++) printf "%s", alias[$2]
        if ($3 != "INTERNAL" && !done[$3]++) printf "%s", alias[$3]
        print }' "$GCONV_SRC/gconv-modules" >"$root$GCONV_SRC/gconv-modules"
for cs in ISO-8859-1// UTF-16LE//; do
    grep -q "^module[[:space:]]*$cs" "$root$GCONV_SRC/gconv-modules" ||
        die "gconv-modules: no module for $cs"
done
# The target hardware profiles (PID 1 points LANDFALL_HW_DIR here).
mkdir -p "$root/usr/share/landfall/hw"
cp "$top"/hw/*.json "$root/usr/share/landfall/hw/"

# --- modules, in load order, dependencies first ---
: >"$work/order"
grep -v '^\s*\(#\|$\)' "$here/modules.list" | while read -r m; do
    modprobe --show-depends -S "$KVER" "$m" 2>/dev/null | awk '$1 == "insmod" {print $2}' >>"$work/order" ||
        echo "mk-appliance: note: $m is not a module of $KVER (built in, or absent)" >&2
done
awk '!seen[$0]++' "$work/order" | while read -r ko; do
    rel=${ko#"$MODDIR"/}
    mkdir -p "$root/lib/modules/$KVER/$(dirname "$rel")"
    cp "$ko" "$root/lib/modules/$KVER/$rel"
    echo "/lib/modules/$KVER/$rel"
done >"$root/etc/landfall/modules"
# On demand, per filesystem type: what the base list does not already hold.
grep -v '^\s*\(#\|$\)' "$here/modules-ondemand.list" | while read -r type m; do
    list=$root/etc/landfall/modules.$type
    touch "$list"
    modprobe --show-depends -S "$KVER" "$m" 2>/dev/null | awk '$1 == "insmod" {print $2}' |
        while read -r ko; do
            rel=${ko#"$MODDIR"/}
            grep -qxF "/lib/modules/$KVER/$rel" "$root/etc/landfall/modules" "$list" && continue
            mkdir -p "$root/lib/modules/$KVER/$(dirname "$rel")"
            cp "$ko" "$root/lib/modules/$KVER/$rel"
            echo "/lib/modules/$KVER/$rel" >>"$list"
        done
done
nmods=$(cat "$root"/etc/landfall/modules* | sort -u | wc -l)
[ "$nmods" -gt 10 ] || die "only $nmods modules resolved for $KVER"
cp "$MODDIR/modules.builtin" "$root/lib/modules/$KVER/" 2>/dev/null || true
echo "$KVER" >"$root/etc/landfall/kernel"

# --- the initramfs: newc, zstd (CONFIG_RD_ZSTD), reproducible order ---
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
     cpio --quiet -o -H newc --owner=0:0 --reproducible) | zstd -q -19 -T0 -o "$work/initrd.img"
cp "$KIMG" "$work/vmlinuz"

# --- sizes first: the image's size goes on the kernel command line, for
# the appliance's report ---
content=$(du -cb "$work/vmlinuz" "$work/initrd.img" | tail -1 | cut -f1)
part_mib=$(( (content * 11 / 10 + (4 << 20)) / (1 << 20) + 1 ))
[ "$part_mib" -ge 33 ] || part_mib=33      # FAT32's smallest comfortable size
image_bytes=$(( ((1 + part_mib) << 20) + 512 ))

# --- grub: one configuration for both firmwares ---
cat >"$work/grub.cfg" <<EOF
# landfall appliance: boot at once; the serial console is the only one a
# helper VM has (and the screen, for a USB stick on a physical server).
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=0
set default=0
menuentry "landfall appliance" {
  linux /boot/vmlinuz console=tty0 console=ttyS0,115200n8 quiet loglevel=3 panic=10 landfall.job=LABEL=LANDFALLJOB landfall.image_bytes=$image_bytes
  initrd /boot/initrd.img
}
menuentry "landfall appliance (stay up on error)" {
  linux /boot/vmlinuz console=tty0 console=ttyS0,115200n8 landfall.job=LABEL=LANDFALLJOB landfall.debug=1 landfall.image_bytes=$image_bytes
  initrd /boot/initrd.img
}
EOF
# Embedded in both loaders: find the partition by its label whatever
# the firmware calls the disk, then read the configuration above.
cat >"$work/early.cfg" <<'EOF'
search --no-floppy --label LFBOOT --set=root
set prefix=($root)/boot/grub
configfile $prefix/grub.cfg
EOF
common_mods="part_msdos fat search search_label normal linux configfile echo test serial terminal"
grub-mkimage -O i386-pc -o "$work/core.img" -c "$work/early.cfg" -p /boot/grub \
    biosdisk $common_mods
grub-mkimage -O x86_64-efi -o "$work/BOOTX64.EFI" -c "$work/early.cfg" -p /boot/grub \
    efi_gop $common_mods
csize=$(stat -c %s "$work/core.img")
[ "$csize" -lt $((1024 * 1024 - 512)) ] || die "core.img is $csize bytes: too big for the post-MBR gap"

# --- the disk: 1 MiB gap, then the FAT partition ---
disk=$work/disk.img
truncate -s $(( (1 + part_mib) << 20 )) "$disk"
sfdisk -q "$disk" <<EOF
label: dos
label-id: 0x4c464150
unit: sectors

start=2048, size=$((part_mib * 2048)), type=ef, bootable
EOF
mkfs.fat -F 32 -n LFBOOT -i 4c464150 --offset 2048 "$disk" $((part_mib * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
fat="$disk@@1M"
mmd -i "$fat" ::/boot ::/boot/grub ::/EFI ::/EFI/BOOT
mcopy -i "$fat" "$work/vmlinuz" "$work/initrd.img" ::/boot/
mcopy -i "$fat" "$work/grub.cfg" ::/boot/grub/
mcopy -i "$fat" "$work/BOOTX64.EFI" ::/EFI/BOOT/
# BIOS: boot.img's code into the MBR (the table stays), core.img after it;
# boot.img's defaults already point at sector 1.
dd if=/usr/lib/grub/i386-pc/boot.img of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none
# Azure's format: a fixed VHD (footer appended in place, by landfall).
"$LANDFALL" convert --in-place --no-progress -q "$disk"

[ "$(stat -c %s "$disk")" = "$image_bytes" ] || die "the image is $(stat -c %s "$disk") bytes, not the $image_bytes announced"
mv "$disk" "$OUT/landfall-appliance.vhd"
mv "$work/vmlinuz" "$work/initrd.img" "$OUT/"
python3 - "$OUT" "$KVER" "$nmods" <<'EOF'
import json, os, sys
out, kver, nmods = sys.argv[1], sys.argv[2], int(sys.argv[3])
size = lambda f: os.path.getsize(os.path.join(out, f))
r = {"kernel": kver, "modules": nmods,
     "vmlinuz_bytes": size("vmlinuz"), "initrd_bytes": size("initrd.img"),
     "vhd_bytes": size("landfall-appliance.vhd")}
json.dump(r, open(os.path.join(out, "appliance.json"), "w"), indent=1)
print("appliance: %s (%.1f MiB; kernel %s, initramfs %.1f MiB, %d modules)" %
      (os.path.join(out, "landfall-appliance.vhd"), r["vhd_bytes"] / 2**20, kver,
       r["initrd_bytes"] / 2**20, nmods))
EOF
