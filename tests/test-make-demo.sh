#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A new user's first command on a fresh Debian 12 machine is `make demo`:
# it must reach its own dependency install before anything asks
# pkg-config for a -dev package.  A fresh machine is stood in for by an
# empty pkg-config search path (no .pc file is found), and make -n shows
# what would run without running it.  Building without the packages must
# still fail at once, naming `make deps`.
source "$(dirname "$0")/functions.sh"
requires make pkg-config

nopc () { PKG_CONFIG_LIBDIR="$tmp/no-pc" PKG_CONFIG_PATH= make -C "$top" -n "$@"; }
mkdir "$tmp/no-pc"

nopc demo >"$tmp/demo.out" 2>"$tmp/demo.err" ||
    fail "make -n demo without the -dev packages failed: $(head -c 300 "$tmp/demo.err")"
first=$(grep -v '^make' "$tmp/demo.out" | head -n 1)
[ "$first" = tests/install-deps.sh ] ||
    fail "make demo's first step is '$first', not the dependency install"
pass "make -n demo without the -dev packages: installs them first"

nopc deps >/dev/null 2>"$tmp/deps.err" ||
    fail "make -n deps without the -dev packages failed: $(head -c 300 "$tmp/deps.err")"
pass "make -n deps without the -dev packages"

if nopc all >/dev/null 2>"$tmp/all.err"; then
    fail "make all without the -dev packages did not fail"
fi
grep -q "make deps" "$tmp/all.err" || fail "make all without packages: no hint: $(head -c 300 "$tmp/all.err")"
pass "make all without the -dev packages fails at once, naming make deps"
