#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Boot a disk image under QEMU, log in on the serial console, run commands.

Usage: qemu-login.py [--timeout S] [--nic MODEL] [--scsi CONTROLLER] [--uefi]
                     [--log FILE] [--disk FILE]... IMG USER PASSWORD COMMAND...

--scsi puts the disk on that SCSI controller (pvscsi: VMware's paravirtual
one) instead of IDE; the firmware boots from it (SeaBIOS knows pvscsi).
--disk adds a raw disk on IDE after IMG (the second member of an md
mirror, a data disk).

The disk is opened with -snapshot (never changed).  Prints each command's
output; exits 0 if the login and every command worked, 1 on a timeout or
a failed boot, 77 if QEMU is missing.  KVM is used only if LANDFALL_KVM=1
(on the project's machines it does not work: TCG is the default).
"""
import argparse
import os
import re
import select
import shutil
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--nic", default="e1000")
    ap.add_argument("--uefi", action="store_true")
    ap.add_argument("--scsi")
    ap.add_argument("--nvme", action="store_true",
                    help="the disk on an NVMe controller")
    ap.add_argument("--machine", default="pc")
    ap.add_argument("--format", default="raw")
    ap.add_argument("--log")
    ap.add_argument("--disk", action="append", default=[],
                    help="another disk (raw), after IMG")
    ap.add_argument("img")
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("commands", nargs="+")
    a = ap.parse_args()
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        print("SKIP: qemu-system-x86_64 not found", file=sys.stderr)
        return 77
    accel = "kvm" if os.environ.get("LANDFALL_KVM") == "1" else "tcg"
    cmd = [qemu, "-machine", a.machine + ",accel=" + accel, "-m", "1024", "-smp", "2",
           "-nographic", "-no-reboot", "-snapshot",
           "-nic", "user,model=" + a.nic, "-serial", "stdio",
           "-monitor", "none"]
    if a.nvme:
        cmd += ["-drive", "file=%s,format=%s,if=none,id=d0" % (a.img, a.format),
                "-device", "nvme,serial=landfall0,drive=d0,bootindex=0"]
    elif a.scsi:
        cmd += ["-device", a.scsi + ",id=scsi0",
                "-drive", "file=%s,format=%s,if=none,id=d0" % (a.img, a.format),
                "-device", "scsi-hd,drive=d0,bus=scsi0.0,bootindex=0"]
    else:
        cmd += ["-drive", "file=%s,format=%s,if=ide" % (a.img, a.format)]
    for d in a.disk:
        cmd += ["-drive", "file=%s,format=raw,if=ide" % d]
    if a.uefi:
        cmd += ["-bios", "/usr/share/ovmf/OVMF.fd"]
    log = open(a.log or a.img + ".login.log", "wb")
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    buf = b""
    deadline = time.time() + a.timeout

    def wait_for(pattern, t=None):
        nonlocal buf
        end = min(deadline, time.time() + t) if t else deadline
        rx = re.compile(pattern)
        while time.time() < end:
            m = rx.search(buf)
            if m:
                out = buf[:m.end()]
                buf = buf[m.end():]
                return out
            r, _, _ = select.select([p.stdout], [], [], 1)
            if r:
                data = os.read(p.stdout.fileno(), 65536)
                if not data:
                    break
                log.write(data)
                log.flush()
                buf += data
        return None

    def send(s):
        p.stdin.write(s.encode() + b"\r")
        p.stdin.flush()

    t0 = time.time()
    ok = False
    try:
        if wait_for(rb"login: $|login: ") is None:
            print("no login prompt within %d s" % a.timeout, file=sys.stderr)
            return 1
        print("login prompt after %.1f s" % (time.time() - t0))
        send(a.user)
        if wait_for(rb"[Pp]assword: ", 60) is None:
            print("no password prompt", file=sys.stderr)
            return 1
        send(a.password)
        if wait_for(rb"[#$] $|[#$] ", 60) is None:
            print("login failed", file=sys.stderr)
            return 1
        for c in a.commands:
            send(c + "; echo LANDFALL-RC=$?")
            out = wait_for(rb"LANDFALL-RC=(\d+)\r?\n", 120)
            if out is None:
                print("command timed out: " + c, file=sys.stderr)
                return 1
            text = out.decode("utf-8", "replace").replace("\r", "")
            # Terminal control sequences (bracketed paste and the like).
            text = re.sub(r"\x1b\[[?0-9;]*[a-zA-Z]", "", text)
            # Drop the echoed command line.
            text = text.split("\n", 1)[1] if "\n" in text else text
            print("$ " + c)
            print(text.rstrip())
            if not text.rstrip().endswith("LANDFALL-RC=0"):
                return 1
        ok = True
        send("poweroff")
        wait_for(rb"reboot: Power down|System halted", 60)
    finally:
        p.kill()
        p.wait()
        log.close()
    return 0 if ok else 1


sys.exit(main())
