#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Independent check of an Azure fixed VHD footer (disks.md §1-§4).

Written from the specification, sharing no code with landfall's writer, so
that a bug in one is not hidden by the same bug in the other.
Usage: vhd-check.py FILE [EXPECTED_VIRTUAL_SIZE]   (exit 0 = valid)
"""
import os
import struct
import sys


def chs(size):
    total = min(size // 512, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = total // spt
    else:
        spt = 17
        cth = total // spt
        heads = max((cth + 1023) // 1024, 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = total // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = total // spt
    return cth // heads, heads, spt


def main():
    path = sys.argv[1]
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(size - 512)
        ft = f.read(512)
    errs = []
    (cookie, features, version, data_offset, timestamp, creator, cver, chost,
     orig, cur, cyl, heads, spt, dtype, csum) = struct.unpack(
        ">8sIIQI4sI4sQQHBBII", ft[:68])
    if cookie != b"conectix":
        errs.append("cookie %r" % cookie)
    computed = (~(sum(ft[:64]) + sum(ft[68:]))) & 0xFFFFFFFF
    if computed != csum:
        errs.append("checksum 0x%08x, computed 0x%08x" % (csum, computed))
    if features & 2 == 0:
        errs.append("features 0x%x lacks the reserved bit" % features)
    if version != 0x00010000:
        errs.append("version 0x%x" % version)
    if data_offset != 0xFFFFFFFFFFFFFFFF:
        errs.append("data offset 0x%x" % data_offset)
    if dtype != 2:
        errs.append("disk type %d is not fixed" % dtype)
    if cur % (1 << 20):
        errs.append("current size %d is not a whole MiB" % cur)
    if size - 512 != cur:
        errs.append("file size %d is not current size + 512" % size)
    if orig != cur:
        errs.append("original size %d != current size %d" % (orig, cur))
    if (cyl, heads, spt) != chs(cur):
        errs.append("CHS %s, spec gives %s" % ((cyl, heads, spt), chs(cur)))
    if creator not in (b"win ", b"qem2", b"d2v ", b"CTXS", b"tap\0") and \
            (cyl, heads, spt) != (65535, 16, 255):
        errs.append("creator %r: qemu would use the CHS size" % creator)
    if any(ft[85:]):
        errs.append("reserved bytes are not zero")
    if len(sys.argv) > 2 and cur != int(sys.argv[2]):
        errs.append("virtual size %d, expected %s" % (cur, sys.argv[2]))
    if len(ft) != 512 or ft[84] != 0:
        errs.append("saved state set")
    for e in errs:
        print("%s: %s" % (path, e), file=sys.stderr)
    return 1 if errs else 0


sys.exit(main())
