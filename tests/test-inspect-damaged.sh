#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# inspect on damaged or hostile disks: a broken partition table, an
# unknown or truncated filesystem, an encrypted volume, and guest symlinks
# that point outside the guest.  Each gives a clear error or a finding in
# the report; nothing crashes (make check runs this under ASan too) and no
# host file is ever read.
source "$(dirname "$0")/functions.sh"
requires sfdisk mkfs.ext4 python3

cd "$tmp"
inspect_json () { "$LANDFALL" inspect --json "$@" >report.json 2>err.txt; }
field () { json_get report.json "$1"; }

# 1. GPT with both headers destroyed: a clear error naming the disk.
truncate -s 64M gpt.img
printf 'label: gpt\nstart=2048, size=20480, type=L\n' | sfdisk -q gpt.img
python3 - <<'PY'
with open("gpt.img", "r+b") as f:
    f.seek(512); f.write(b"\xff" * 92)           # primary header
    f.seek(-512, 2); f.write(b"\xff" * 92)       # backup header
PY
expect_fail "destroyed GPT" "$LANDFALL" inspect gpt.img
grep -q "gpt.img" "$tmp/err" && grep -qi "gpt" "$tmp/err" ||
    fail "GPT error unclear: $(cat "$tmp/err")"
pass "destroyed GPT: $(cat "$tmp/err")"

# 2. Partitions with no filesystem, random bytes, and a truncated ext4.
truncate -s 96M mixed.img
printf 'label: dos\nstart=2048, size=20480, type=83\nstart=22528, size=20480, type=83\nstart=43008, size=40960, type=83\n' |
    sfdisk -q mixed.img
python3 - <<'PY'
import os
with open("mixed.img", "r+b") as f:
    f.seek(22528 * 512); f.write(os.urandom(1 << 20))
PY
mkdir -p root/etc && echo hi >root/etc/motd
mkfs.ext4 -q -F -d root -E offset=$((43008 * 512)) mixed.img 20M
# Cut the filesystem short: say it is 20 MiB, give it 1 MiB of partition.
printf 'label: dos\nstart=2048, size=20480, type=83\nstart=22528, size=20480, type=83\nstart=43008, size=2048, type=83\n' |
    sfdisk -q --no-reread mixed.img
inspect_json mixed.img || fail "mixed: inspect failed: $(cat err.txt)"
[ "$(field filesystems.0.type)" = "" ] || fail "empty partition typed as $(field filesystems.0.type)"
[ "$(field filesystems.2.type)" = ext4 ] || fail "truncated ext4 not probed"
python3 -c '
import json,sys
d=json.load(open("report.json"))
f=d["filesystems"][2]
assert "error" in f and ("beyond" in f["error"] or "short" in f["error"] or "truncat" in f["error"] or "size" in f["error"]), f
assert d["operating_systems"] == [], d["operating_systems"]
' || fail "truncated ext4: no clear finding: $(python3 -c 'import json; print(json.load(open("report.json"))["filesystems"][2])')"
pass "empty, random and truncated partitions reported: $(field filesystems.2.error)"

# 3. An encrypted volume (LUKS): found and named, not opened.
if command -v cryptsetup >/dev/null; then
    truncate -s 32M luks.img
    echo -n secret | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 \
        --pbkdf-force-iterations 1000 luks.img - >/dev/null 2>&1 ||
        { echo "SKIP part: cryptsetup luksFormat failed" >&2; }
    if [ -s luks.img ] && inspect_json luks.img; then
        [ "$(field filesystems.0.type)" = crypto_LUKS ] || fail "LUKS not recognised"
        field filesystems.0.error | grep -q "LUKS-encrypted" || fail "LUKS finding missing"
        pass "LUKS volume: $(field filesystems.0.error)"
    fi
else
    echo "note: cryptsetup missing, LUKS case not run" >&2
fi

# 4. Symlink escapes: a guest whose /etc/fstab, /etc/os-release and
# /etc/network/interfaces point at host files.  The host's files must
# never be read: the links resolve inside the guest.
mkdir -p guest/etc/network guest/bin guest/usr/bin guest/boot
ln -s /../../../../../etc/passwd guest/etc/fstab
ln -s ../../../../../../../etc/os-release guest/etc/os-release
ln -s /proc/self/root/etc/shadow guest/etc/network/interfaces
ln -s loop2 guest/etc/loop1; ln -s loop1 guest/etc/loop2
echo 9.9 > guest/etc/debian_version
cp /bin/true guest/bin/sh
truncate -s 64M escape.img
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q escape.img
mkfs.ext4 -q -F -d guest -E offset=$((2048 * 512)) escape.img 63M
inspect_json escape.img || fail "escape: inspect failed: $(cat err.txt)"
! grep -q "root:x:0:0" report.json || fail "a host /etc/passwd line reached the report"
host_name=$(. /etc/os-release && echo "$PRETTY_NAME")
! grep -qF "\"$host_name\"" report.json || fail "the host's os-release reached the report"
[ "$(field operating_systems.0.type)" = linux ] || fail "guest not found"
python3 -c '
import json
o=json.load(open("report.json"))["operating_systems"][0]
e = o.get("fstab_error", "")
# The link resolved to /etc/passwd inside the guest, which has none.
assert o["fstab"] == [] and "/etc/passwd" in e and "no such file" in e.lower(), e
assert o["distro"]["source"] == "/etc/debian_version", o["distro"]
assert o["network"] == [], o["network"]
' || fail "escape links not confined to the guest: $(cat report.json)"
pass "symlinks to host files resolve inside the guest (fstab: $(field operating_systems.0.fstab_error))"

# 5. Not a disk at all, and a missing file.
head -c 1000 /dev/urandom > small.bin
inspect_json small.bin || true
expect_fail "missing disk" "$LANDFALL" inspect does-not-exist.img
grep -q "does-not-exist.img" "$tmp/err" || fail "missing disk: unclear error"
pass "missing disk: $(cat "$tmp/err")"
