#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Damage good images (made by qemu-img) in the ways the issue lists.

Usage: mkdamaged.py DIR   (DIR holds dyn.vhd, v3.qcow2, sparse.vmdk,
stream.vmdk, dyn.vhdx made by the calling test)

Writes DIR/bad-*.img and prints one line per case:
  FILE<TAB>FORMAT<TAB>REGEX
where REGEX is what the error must mention (the structure at fault).
"""
import os
import re
import shutil
import struct
import sys

d = sys.argv[1]
cases = []


def case(name, src, fmt, regex, patch):
    out = os.path.join(d, "bad-" + name + ".img")
    shutil.copyfile(os.path.join(d, src), out)
    with open(out, "r+b") as f:
        patch(f)
    cases.append((out, fmt, regex))


def put(f, off, fmt, *v):
    f.seek(off)
    f.write(struct.pack(fmt, *v))


def get(f, off, fmt):
    f.seek(off)
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))


def vhd_fix_checksum(f, off):
    f.seek(off)
    b = bytearray(f.read(512))
    b[64:68] = b"\0\0\0\0"
    put(f, off + 64, ">I", (~sum(b)) & 0xFFFFFFFF)


def truncate(frac):
    def p(f):
        f.seek(0, 2)
        f.truncate(int(f.tell() * frac) // 512 * 512)
    return p


def vhd_size(f):
    f.seek(0, 2)
    return f.tell()


# --- VHD (dynamic, made by qemu: footer copy @0, header @512, BAT @1536)
case("vhd-truncated", "dyn.vhd", "vhd", "beyond end of file|footer", truncate(0.4))
case("vhd-magic", "dyn.vhd", "vhd", "cookie",
     lambda f: (f.seek(vhd_size(f) - 512), f.write(b"XXXXXXXX"),
                f.seek(0), f.write(b"XXXXXXXX")))
case("vhd-footer-checksum", "dyn.vhd", "vhd", "checksum",
     lambda f: (put(f, vhd_size(f) - 512 + 64, ">I", 0x12345678),
                put(f, 64, ">I", 0x12345678)))
case("vhd-header-checksum", "dyn.vhd", "vhd", "dynamic disk header: checksum",
     lambda f: put(f, 512 + 36, ">I", 0x12345678))
case("vhd-header-cookie", "dyn.vhd", "vhd", "cxsparse",
     lambda f: f.write(b"") or (f.seek(512), f.write(b"notspars")))
case("vhd-bat-beyond-eof", "dyn.vhd", "vhd", "BAT entry 0: block .* beyond end of file",
     lambda f: put(f, 1536, ">I", 0x7FFFFFF0))
case("vhd-bat-overlaps-header", "dyn.vhd", "vhd", "BAT entry 0: block .* overlaps",
     lambda f: put(f, 1536, ">I", 1))


def vhd_huge(f):
    n = vhd_size(f)
    for off in (0, n - 512):
        put(f, off + 48, ">Q", 1 << 62)     # current size
        put(f, off + 28, "4s", b"win ")     # trusted: size comes from it
        vhd_fix_checksum(f, off)


case("vhd-size-overflow", "dyn.vhd", "vhd", "BAT entries|limit|size", vhd_huge)


def vhd_block_size(f):
    put(f, 512 + 32, ">I", 3)
    f.seek(512)
    b = bytearray(f.read(1024))
    b[36:40] = b"\0\0\0\0"
    put(f, 512 + 36, ">I", (~sum(b)) & 0xFFFFFFFF)


case("vhd-block-size", "dyn.vhd", "vhd", "block size 3", vhd_block_size)

# --- qcow2 v3 (big-endian header)
case("qcow2-truncated", "v3.qcow2", "qcow2", "beyond end of file|truncat", truncate(0.4))
case("qcow2-magic", "v3.qcow2", "qcow2", "magic", lambda f: f.write(b"XXXX"))
case("qcow2-cluster-bits", "v3.qcow2", "qcow2", "cluster",
     lambda f: put(f, 20, ">I", 40))
case("qcow2-size-overflow", "v3.qcow2", "qcow2", "size|L1",
     lambda f: put(f, 24, ">Q", 1 << 63))


def qcow2_l1_beyond(f):
    (l1,) = get(f, 40, ">Q")
    put(f, l1, ">Q", (1 << 63) | 0x7FFF0000)


case("qcow2-l2-beyond-eof", "v3.qcow2", "qcow2", "L2|beyond", qcow2_l1_beyond)


def qcow2_l1_offset(f):
    put(f, 40, ">Q", 0x7FFFFFFF0000)


case("qcow2-l1-beyond-eof", "v3.qcow2", "qcow2", "L1|beyond", qcow2_l1_offset)


def qcow2_l2_over_l1(f):
    (l1,) = get(f, 40, ">Q")
    put(f, l1, ">Q", (1 << 63) | l1)


case("qcow2-l2-over-l1", "v3.qcow2", "qcow2",
     "metadata overlaps: .*(L1 table|L2 table) at", qcow2_l2_over_l1)


def qcow2_data_over_refcount_table(f):
    (l1,) = get(f, 40, ">Q")
    (rt,) = get(f, 48, ">Q")
    (l2,) = get(f, l1, ">Q")
    put(f, l2 & 0x00FFFFFFFFFFFE00, ">Q", (1 << 63) | rt)


case("qcow2-data-over-refcount-table", "v3.qcow2", "qcow2",
     "data cluster at 0x[0-9a-f]+ overlaps the refcount table",
     qcow2_data_over_refcount_table)

# --- VMDK monolithicSparse (little-endian header, offsets in sectors)
case("vmdk-truncated", "sparse.vmdk", "vmdk", "beyond end of file|truncat|grain", truncate(0.3))
case("vmdk-magic", "sparse.vmdk", "vmdk", "magic|descriptor", lambda f: f.write(b"XXXX"))
case("vmdk-grain-size", "sparse.vmdk", "vmdk", "grain",
     lambda f: put(f, 20, "<Q", 3))
case("vmdk-capacity-overflow", "sparse.vmdk", "vmdk", "capacity|size|grain",
     lambda f: put(f, 12, "<Q", 1 << 62))
case("vmdk-gd-beyond-eof", "sparse.vmdk", "vmdk", "grain directory|beyond",
     lambda f: (put(f, 56, "<Q", 0x7FFFFFFF), put(f, 48, "<Q", 0x7FFFFFFF)))
case("vmdk-stream-truncated", "stream.vmdk", "vmdk",
     "beyond end of file|truncat|footer|marker|grain", truncate(0.5))

# --- VHDX: both headers' CRCs broken
def vhdx_headers(f):
    for off in (64 * 1024, 128 * 1024):
        put(f, off + 4, "<I", 0xDEADBEEF)


case("vhdx-header-crc", "dyn.vhdx", "vhdx", "header|CRC|checksum", vhdx_headers)
case("vhdx-truncated", "dyn.vhdx", "vhdx", "beyond end of file|truncat|region|BAT|metadata",
     lambda f: f.truncate(300 * 1024))

for c in cases:
    print("\t".join(c))
