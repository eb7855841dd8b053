#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The must-show of the Linux fix: the VMware-like Debian guest, fixed by
# landfall, boots under QEMU with a NIC unlike VMware's (e1000 instead of
# vmxnet3) and reaches userspace with an address from DHCP, read through
# the serial console (which the fix turned on).  TCG here (KVM where it
# works: LANDFALL_KVM=1); a boot takes 30-60 s.
source "$(dirname "$0")/functions.sh"
requires qemu-system-x86_64 python3 debugfs

[ "$(id -u)" = 0 ] || { echo "SKIP: fixtures need root" >&2; exit 77; }
# The fix itself runs under ASan in test-fix-linux.sh; what is left here is
# a minute of QEMU, which ASan does not look into.
if [ "${SAN:-}" = 1 ]; then
    echo "SKIP: $(basename "$0"): the QEMU boot runs in the normal build only (SAN=1 here)" >&2
    exit 77
fi
fix="$top/$BUILD/fixtures"
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$fix" | tail -n1)
cp --sparse=always "$img" "$tmp/guest.img"
cd "$tmp"

"$LANDFALL" fix --json guest.img >fix.json || fail "fix failed: $(cat fix.json)"
python3 "$top/tests/tools/qemu-login.py" --timeout 300 --nic e1000 \
    --log boot.log guest.img root landfall \
    "cat /proc/cmdline" \
    "ip -4 -o addr show scope global" \
    "lsmod | grep -c . ; true" >login.out 2>&1 ||
    { cat login.out; tail -n 40 boot.log | tr -d '\r'; fail "the fixed guest did not boot to a login"; }
cat login.out
grep -q "console=ttyS0" login.out || fail "no serial console on the kernel command line"
grep -Eq "inet 10\.0\.2\.[0-9]+/24 .*dynamic" login.out ||
    fail "no DHCP address on the e1000 NIC"
pass "fixed guest boots under QEMU ($(head -n1 login.out)) and gets a DHCP address on an e1000 NIC"
