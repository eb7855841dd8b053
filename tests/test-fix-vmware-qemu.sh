#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The failback proof of the profile model (issue 14, part 7): a Debian guest
# as it runs on Azure (debian12-azure: its initramfs holds the Hyper-V
# drivers and none of VMware's), fixed for Azure and then with
# `fix --profile vmware`, boots under QEMU on a PVSCSI disk with a vmxnet3
# NIC to a login with a DHCP address.  Before the vmware fix, verify
# --profile vmware fails on the missing modules, so the boot proves what
# the fix added.  TCG here; a boot takes about a minute.
source "$(dirname "$0")/functions.sh"
requires qemu-system-x86_64 python3

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
if [ "${SAN:-}" = 1 ]; then
    echo "SKIP: $(basename "$0"): the QEMU boot runs in the normal build only (SAN=1 here); test-profiles.sh runs the fix under ASan" >&2
    exit 77
fi
img=$("$top/tests/fixtures/build.sh" debian12-azure "$top/$BUILD/fixtures" | tail -n1)
cp --sparse=always "$img" "$tmp/guest.img"
cd "$tmp"

"$LANDFALL" fix --json guest.img >azure.json || fail "fix for Azure failed: $(cat azure.json)"
"$LANDFALL" verify --json --profile vmware guest.img >before.json && fail "verify --profile vmware passed before the vmware fix"
python3 - before.json <<'EOF' || fail "the fixture's initramfs already holds VMware's drivers: the boot would prove nothing"
import json, sys
r = json.load(open(sys.argv[1]))
c = [c for c in r["checks"] if c["check"] == "linux-initramfs-modules"]
assert c and c[0]["status"] == "fail", c
for m in ("vmw_pvscsi", "vmxnet3"):
    assert m in c[0]["reason"], c[0]["reason"]
EOF
pass "fixed for Azure, the guest's initramfs lacks vmw_pvscsi and vmxnet3 (verify --profile vmware fails)"

"$LANDFALL" fix --profile vmware --json guest.img >vmware.json || fail "fix --profile vmware failed: $(cat vmware.json)"
"$LANDFALL" verify --json --profile vmware guest.img >after.json ||
    { cat after.json; fail "verify --profile vmware fails after the vmware fix"; }
pass "after fix --profile vmware, verify --profile vmware passes"

python3 "$top/tests/tools/qemu-login.py" --timeout 420 --scsi pvscsi --nic vmxnet3 \
    --log boot.log guest.img root landfall \
    "ip -4 -o addr show scope global" \
    "lsmod | grep -E '^(vmw_pvscsi|vmxnet3) ' ; true" >login.out 2>&1 ||
    { cat login.out; tail -n 40 boot.log | tr -d '\r'; fail "the guest did not boot to a login on PVSCSI"; }
cat login.out
grep -q "^vmw_pvscsi " login.out || fail "vmw_pvscsi not loaded"
grep -q "^vmxnet3 " login.out || fail "vmxnet3 not loaded"
grep -Eq "inet 10\.0\.2\.[0-9]+/24 .*dynamic" login.out || fail "no DHCP address on the vmxnet3 NIC"
pass "the failed-back guest boots on a PVSCSI disk to a login, DHCP on vmxnet3"
