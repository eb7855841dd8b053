#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall verify --boot: the VMware-like Debian guest, after landfall fix,
# boots under QEMU configured as azure-gen1 (i440fx, SeaBIOS, IDE disk,
# e1000 NIC, Hyper-V enlightenments) to a login prompt on the serial
# console, through an overlay: the disk's bytes are unchanged.  One TCG
# boot takes 50-90 s here, so this runs in the normal build only: under
# ASan (SAN=1, set by make check) it skips loudly, since the boot runs
# QEMU, not more of landfall's code than the static test does.
source "$(dirname "$0")/functions.sh"
requires qemu-system-x86_64 qemu-img python3 sha256sum

if [ "${SAN:-}" = 1 ]; then
    echo "SKIP: $(basename "$0"): the QEMU boot runs in the normal build only (SAN=1 here)" >&2
    exit 77
fi
[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
cp --sparse=always "$img" "$tmp/guest.img"
cd "$tmp"

"$LANDFALL" fix --json guest.img >fix.json || fail "fix failed"
sum=$(sha256sum <guest.img)
"$LANDFALL" verify --json --boot --timeout 300 --boot-log console.log \
    --profile azure-gen1 guest.img >boot.json 2>boot.err ||
    { cat boot.err; tail -n 30 console.log | tr -d '\r'; fail "verify --boot failed: $(cat boot.json)"; }
cat boot.err
[ "$sum" = "$(sha256sum <guest.img)" ] || fail "verify --boot changed the disk"
python3 - boot.json <<'PY' || fail "boot check: $(cat boot.json)"
import json, sys
d = json.load(open(sys.argv[1]))
b = [c for c in d["checks"] if c["check"] == "boot"][0]
assert b["status"] == "pass", b
q = " ".join(b["qemu"])
for want in ("-machine pc,accel=", "hv_relaxed", "if=ide", "e1000,netdev", "format=qcow2"):
    assert want in q, (want, q)
print("boot:", b["reason"])
PY
grep -aq "login:" console.log || fail "no login prompt in the kept console log"
pass "fixed guest boots as azure-gen1 under QEMU ($(json_get boot.json summary.pass) checks pass), disk unchanged"
