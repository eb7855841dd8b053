#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install what landfall needs to build, test and run its demo on Debian 12.
# Idempotent: does nothing when every package is already installed.
set -e

PKGS="build-essential pkg-config clang libclang-rt-14-dev
      check libssl-dev zlib1g-dev libdeflate-dev libjansson-dev
      liblzma-dev libzstd-dev liblz4-dev libbz2-dev
      libblkid-dev libfdisk-dev libext2fs-dev e2fsprogs ntfs-3g-dev ntfs-3g
      libhivex-dev libhivex-bin libwin-hivex-perl
      qemu-utils xz-utils bzip2 fdisk util-linux python3 strace time
      gdisk xfsprogs btrfs-progs dosfstools cryptsetup-bin lvm2 libdevmapper-dev mdadm
      liblz4-dev initramfs-tools-core dracut-core cpio
      debootstrap qemu-system-x86 grub-common grub-pc-bin grub-efi-amd64-bin ovmf mtools
      fuse3 openssl zstd lz4 syslinux
      libguestfs-dev libguestfs-tools linux-image-amd64 libguestfs-xfs"

missing=
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && { echo "install-deps: all packages present"; exit 0; }

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: run as root (or: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -q
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing
