#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Make a differencing VHD over PARENT, as Hyper-V would (no tool here can).

Usage: mkvhd-diff.py PARENT.vhd PARENT.raw CHILD.vhd EXPECTED.raw [SEED]

PARENT.raw is the parent's content (from qemu-img convert -O raw).  The
child gets a few blocks: some fully written, some with only part of their
sector bitmap set (those sectors come from the child, the rest from the
parent).  EXPECTED.raw is the parent's content with the child's sectors
applied: what any correct reader of CHILD.vhd must return.  Locators: W2ru
(relative, ".\\name") and W2ku (absolute Windows path), both UTF-16LE.
Written from the VHD specification; shares no code with landfall.
"""
import ntpath
import os
import random
import shutil
import struct
import sys
import time
import uuid

SECTOR = 512


def checksum(buf, off):
    return (~(sum(buf[:off]) + sum(buf[off + 4:]))) & 0xFFFFFFFF


def footer(size, dtype, uid, data_offset):
    c, h, s = 65535, 16, 255      # saturated: size comes from current size
    ts = int(time.time()) - 946684800
    f = bytearray(struct.pack(">8sIIQI4sI4sQQHBBII16sB", b"conectix", 2,
                              0x10000, data_offset, ts, b"win ", 0x000a0000,
                              b"Wi2k", size, size, c, h, s, dtype, 0,
                              uid, 0))
    f += bytes(512 - len(f))
    struct.pack_into(">I", f, 64, checksum(f, 64))
    return bytes(f)


def main():
    parent, parent_raw, child, expected = sys.argv[1:5]
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    with open(parent, "rb") as f:
        head = f.read(512)
        f.seek(-512, 2)
        tail = f.read(512)
    pf = head if head[:8] == b"conectix" else tail
    puid = pf[68:84]
    size = os.path.getsize(parent_raw)
    block = 2 << 20
    spb = block // SECTOR
    bitmap = 512
    nblocks = (size + block - 1) // block

    name = os.path.basename(parent)
    w2ru = (".\\" + name).encode("utf-16-le")
    w2ku = ntpath.join("C:\\VMs\\disks", name).encode("utf-16-le")
    hdr_off = 512
    loc1 = hdr_off + 1024
    loc2 = loc1 + 512
    bat_off = loc2 + 512
    bat_bytes = (nblocks * 4 + 511) // 512 * 512
    data = bat_off + bat_bytes

    dh = bytearray(1024)
    struct.pack_into(">8sQQIIII16sI", dh, 0, b"cxsparse", 0xFFFFFFFFFFFFFFFF,
                     bat_off, 0x10000, nblocks, block, 0, puid,
                     int(time.time()) - 946684800)
    pname = name.encode("utf-16-be")[:510]
    dh[64:64 + len(pname)] = pname
    struct.pack_into(">IIIIQ", dh, 576, 0x57327275, 512, len(w2ru), 0, loc1)
    struct.pack_into(">IIIIQ", dh, 600, 0x57326B75, 512, len(w2ku), 0, loc2)
    struct.pack_into(">I", dh, 36, checksum(dh, 36))

    shutil.copyfile(parent_raw, expected)
    bat = [0xFFFFFFFF] * nblocks
    chosen = sorted(rng.sample(range(nblocks), min(nblocks, 6)))
    uid = uuid.uuid4().bytes
    with open(child, "wb") as out, open(expected, "r+b") as exp:
        out.write(footer(size, 4, uid, hdr_off))
        out.write(dh)
        out.write(w2ru.ljust(512, b"\0"))
        out.write(w2ku.ljust(512, b"\0"))
        pos = data
        for i, b in enumerate(chosen):
            bm = bytearray(bitmap)
            payload = bytearray(block)
            full = i % 2 == 0
            for s in range(spb):
                if b * spb + s >= size // SECTOR:
                    break
                if full or rng.random() < 0.3:
                    bm[s // 8] |= 0x80 >> (s % 8)
                    chunk = os.urandom(SECTOR)
                    payload[s * SECTOR:(s + 1) * SECTOR] = chunk
                    exp.seek(b * block + s * SECTOR)
                    exp.write(chunk)
            bat[b] = pos // SECTOR
            out.seek(pos)
            out.write(bm)
            out.write(payload)
            pos += bitmap + block
        out.seek(bat_off)
        out.write(b"".join(struct.pack(">I", e) for e in bat).ljust(bat_bytes,
                                                                     b"\xff"))
        out.seek(pos)
        out.write(footer(size, 4, uid, hdr_off))


main()
