#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Windows fix (issue 5) on NTFS images holding the real hives from the
# test data: the VMware Windows 7 SYSTEM hive and a real BCD store (the
# windows-ntfs fixture), synthetic hives built from it with
# hivexregedit --merge (several control sets, Select\Current not 1, static
# IPs, VMware Tools, RDP off, missing service keys, a page file on a
# letter that will not exist), and the refusals (a missing driver file,
# BitLocker, hibernation, a dirty hive with its logs, a corrupted hive),
# each of which must leave the image byte-identical.
#
# The oracle is independent of landfall: the hives are read back with
# ntfscat and exported with hivexregedit --export; check-exports.py (below)
# applies reference/windows.md's edits to the BEFORE export and requires
# the AFTER export to equal it exactly (every intended value in every
# control set, MountedDevices byte-identical, nothing else changed).
source "$(dirname "$0")/functions.sh"
requires hivexregedit hivexget mkntfs ntfscat ntfs-3g fusermount python3 sha256sum xz

[ "$(id -u)" = 0 ] || { echo "SKIP: $(basename "$0"): fixtures need root" >&2; exit 77; }
[ -e /dev/fuse ] || { echo "SKIP: $(basename "$0"): no /dev/fuse for ntfs-3g" >&2; exit 77; }
img=$("$top/tests/fixtures/build.sh" windows-ntfs "$top/$BUILD/fixtures" | tail -n1)
. "$img.facts"
cd "$tmp"

SYS=/Windows/System32/config
# The partition as a file (ntfs-3g's tools want a device or a file).
part_out () { dd if="$1" of="$2" iflag=skip_bytes,count_bytes skip="$PART1_OFFSET" \
                 count="$PART1_SIZE" conv=sparse status=none; }
part_in () { dd if="$1" of="$2" oflag=seek_bytes seek="$PART1_OFFSET" conv=sparse,notrunc \
                status=none; }
# extract IMG DIR: SYSTEM, SOFTWARE and BCD of IMG into DIR.
extract () {
    mkdir -p "$2"
    part_out "$1" x.ntfs
    ntfscat -f x.ntfs "$SYS/SYSTEM" >"$2/SYSTEM" || fail "ntfscat SYSTEM from $1"
    ntfscat -f x.ntfs "$SYS/SOFTWARE" >"$2/SOFTWARE" || fail "ntfscat SOFTWARE from $1"
    ntfscat -f x.ntfs /Boot/BCD >"$2/BCD" || fail "ntfscat BCD from $1"
    rm -f x.ntfs
}
# modify IMG FUNCTION: run FUNCTION with the volume mounted (ntfs-3g) at mnt.
modify () {
    part_out "$1" m.ntfs
    mkdir -p mnt
    ntfs-3g -o no_def_opts,silent m.ntfs mnt || fail "ntfs-3g mount"
    cleanup_hook "mountpoint -q '$tmp/mnt' && fusermount -u '$tmp/mnt'"
    "$2" mnt || { fusermount -u mnt; fail "modify $1: $2 failed"; }
    fusermount -u mnt
    part_in m.ntfs "$1"
    rm -f m.ntfs
}
hivesums () { (cd "$1" && sha256sum SYSTEM SOFTWARE BCD); }
export_hives () { for h in SYSTEM BCD; do hivexregedit --export "$1/$h" '\' >"$1/$h.reg"; done; }
# refused DESC IMG PATTERN [OPTIONS]: fix must fail with PATTERN in its
# message, planning nothing, and leave IMG byte-identical.
refused () {
    local desc=$1 image=$2 pat=$3; shift 3
    local sum; sum=$(sha256sum <"$image")
    expect_fail "$desc" "$LANDFALL" fix "$@" "$image"
    grep -q -- "$pat" "$tmp/err" "$tmp/stdout" ||
        fail "$desc: message does not say '$pat': $(cat "$tmp/err" "$tmp/stdout")"
    [ "$sum" = "$(sha256sum <"$image")" ] || fail "$desc: the image changed"
    pass "$desc: refused ($(grep -o -m1 -- "$pat" "$tmp/err" "$tmp/stdout" | head -n1 | cut -d: -f2-)), image unchanged"
}
cat >check-exports.py <<'PYEOF'
# check-exports.py MODE BEFORE.reg AFTER.reg [--rdp-no-nla]
# MODE system|bcd: apply the reference's edits (reference/windows.md) to
# the BEFORE export and require the AFTER export to equal the result:
# every intended value as specified, nothing else changed.
import re, sys

def unescape(s):
    out, i = '', 0
    while i < len(s):
        if s[i] == '\\' and i + 1 < len(s):
            i += 1
        out += s[i]
        i += 1
    return out

def parse(path):
    keys, cur = {}, None
    for line in open(path, encoding='utf-8', errors='surrogateescape'):
        line = line.rstrip('\n')
        if line.startswith('[') and line.endswith(']'):
            cur = {}
            keys[line[1:-1].lower()] = (line[1:-1], cur)
        elif cur is not None and (line.startswith('"') or line.startswith('@=')):
            if line.startswith('@='):
                name, rest = '@', line[2:]
            else:
                i, name = 1, ''
                while line[i] != '"':
                    if line[i] == '\\':
                        i += 1
                    name += line[i]
                    i += 1
                rest = line[i + 2:]
            cur[name.lower()] = [name, ('raw', rest)]
    return keys

def decode(t):
    if t.startswith('dword:'):
        return (4, int(t[6:], 16).to_bytes(4, 'little'))
    if t.startswith('"'):
        return (1, unescape(t[1:-1]).encode('utf-16le'))
    m = re.match(r'hex(?:\((\w+)\))?:(.*)$', t)
    if not m:
        raise ValueError('cannot decode %r' % t)
    typ = int(m.group(1), 16) if m.group(1) else 3
    return (typ, bytes(int(x, 16) for x in m.group(2).split(',') if x))

def norm(v):
    typ, d = v
    if typ in (1, 2):
        while len(d) >= 2 and d[-2:] == b'\0\0':
            d = d[:-2]
    return (typ, d)

def sem(v):
    return norm(decode(v[1])) if v[0] == 'raw' else v[1]

def dword(n): return (4, n.to_bytes(4, 'little'))
def sz(s, t=1): return (t, s.encode('utf-16le'))
def multi(l): return (7, b''.join(s.encode('utf-16le') + b'\0\0' for s in l) + b'\0\0')
def qword(n): return (3, n.to_bytes(8, 'little'))

class Hive:
    def __init__(self, keys):
        self.k = keys
    def key(self, path):
        return self.k.get(path.lower())
    def get(self, path, name):
        k = self.key(path)
        v = k[1].get(name.lower()) if k else None
        return sem(v[1]) if v else None
    def set(self, path, name, val):
        k = self.key(path)
        assert k, 'no key ' + path
        old = k[1].get(name.lower())
        k[1][name.lower()] = [old[0] if old else name, ('sem', norm(val))]
    def delete(self, path, name):
        self.key(path)[1].pop(name.lower(), None)
    def mkkey(self, path):
        if not self.key(path):
            self.k[path.lower()] = (path, {})
    def children(self, path):
        pre = path.lower() + '\\'
        return sorted({p[len(pre):].split('\\')[0] for p in self.k
                       if p.startswith(pre)})

DRIVERS = [('storvsc', 'storvsc.sys', 'Base'), ('vmbus', 'vmbus.sys', 'System Bus Extender'),
           ('storflt', 'vmstorfl.sys', 'Extended Base'),
           ('intelide', 'intelide.sys', 'System Bus Extender'),
           ('atapi', 'atapi.sys', 'SCSI Miniport')]
VMWARE = {s.lower() for s in ['VMTools', 'VGAuthService', 'vmvss', 'VMUpgradeHelper',
          'VMUSBArbService', 'VMwareCAFManagementAgentHost', 'VMwareCAFCommAmqpListener',
          'vmwTimeProvider']}
AZURE = {'windowsazureguestagent', 'windowsazuretelemetryservice', 'rdagent'}
RULE = re.compile(r'^(RemoteDesktop-UserMode-In-TCP|RemoteDesktop-UserMode-In-UDP|'
                  r'RemoteDesktop-In-TCP)(_\d+)?$', re.I)

def apply_system(h, no_nla, kept_letters):
    sets = [c for c in h.children('') if re.match(r'^controlset\d{3}$', c, re.I)]
    assert sets, 'no control sets'
    for cs in sets:
        S = '\\%s\\Services' % cs
        for name, f, group in DRIVERS:
            p = S + '\\' + name
            if h.key(p):
                h.set(p, 'Start', dword(0))
            else:
                h.mkkey(p)
                h.set(p, 'Type', dword(1)); h.set(p, 'Start', dword(0))
                h.set(p, 'ErrorControl', dword(1))
                h.set(p, 'ImagePath', sz('system32\\drivers\\' + f, 2))
                h.set(p, 'Group', sz(group))
        if h.key(S + '\\partmgr'):
            h.mkkey(S + '\\partmgr\\Parameters')
            h.set(S + '\\partmgr\\Parameters', 'SanPolicy', dword(1))
        if h.key(S + '\\Dhcp'):
            h.set(S + '\\Dhcp', 'Start', dword(2))
        ifs = S + '\\Tcpip\\Parameters\\Interfaces'
        for i in h.children(ifs):
            p = ifs + '\\' + i
            if h.get(p, 'EnableDHCP') == dword(0):
                h.set(p, 'EnableDHCP', dword(1))
                for v in ['IPAddress', 'SubnetMask', 'DefaultGateway',
                          'DefaultGatewayMetric', 'NameServer']:
                    h.delete(p, v)
        pr = h.key(S + '\\Tcpip\\Parameters\\PersistentRoutes')
        if pr:
            pr[1].clear()
        ts = '\\%s\\Control\\Terminal Server' % cs
        if h.key(ts):
            h.set(ts, 'fDenyTSConnections', dword(0))
        if no_nla and h.key(ts + '\\WinStations\\RDP-Tcp'):
            h.set(ts + '\\WinStations\\RDP-Tcp', 'UserAuthentication', dword(0))
        if h.get(S + '\\TermService', 'Start') == dword(4):
            h.set(S + '\\TermService', 'Start', dword(3))
        fr = h.key(S + '\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules')
        if fr:
            for lname, (name, v) in list(fr[1].items()):
                if RULE.match(name):
                    t, d = sem(v)
                    s = d.decode('utf-16le').replace('|Active=FALSE|', '|Active=TRUE|')
                    fr[1][lname] = [name, ('sem', norm(sz(s)))]
        for svc in h.children(S):
            p = S + '\\' + svc
            t = h.get(p, 'Type')
            if t is None or t[0] != 4:
                continue
            t = int.from_bytes(t[1], 'little')
            ip = h.get(p, 'ImagePath')
            ip = ip[1].decode('utf-16le', 'replace').lower() if ip and ip[0] in (1, 2) else ''
            if svc.lower() in VMWARE or '\\vmware\\' in ip:
                if t & 0x30:
                    h.set(p, 'Start', dword(4))
            elif svc.lower() in AZURE:
                h.set(p, 'Start', dword(2))
        # W70, W71 (time.c): the key created if absent, W32Time where installed.
        if h.key('\\%s\\Control' % cs):
            tz = '\\%s\\Control\\TimeZoneInformation' % cs
            h.mkkey(tz)
            h.set(tz, 'RealTimeIsUniversal', dword(1))
        if h.key(S + '\\W32Time'):
            h.set(S + '\\W32Time', 'Start', dword(2))
        mm = '\\%s\\Control\\Session Manager\\Memory Management' % cs
        pf = h.get(mm, 'PagingFiles')
        if pf and pf[0] == 7:
            l = [s for s in pf[1].decode('utf-16le').split('\0') if s]
            n = []
            for s in l:
                if len(s) > 1 and s[1] == ':' and s[0].upper() not in kept_letters and s[0] != '?':
                    s = 'C' + s[1:]
                    if any(x.split(' ')[0].lower() == s.split(' ')[0].lower() for x in n):
                        continue
                n.append(s)
            if n != l:
                h.set(mm, 'PagingFiles', multi(n))

BOOTMGR = '\\Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}'
EMS = '\\Objects\\{0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9}'

def element(h, obj, typ, val):
    h.mkkey(obj + '\\Elements')
    h.mkkey(obj + '\\Elements\\%08x' % typ)
    h.set(obj + '\\Elements\\%08x' % typ, 'Element', val)

def apply_bcd(h):
    def estr(obj, typ):
        v = h.get(obj + '\\Elements\\%08x' % typ, 'Element')
        return v[1].decode('utf-16le').rstrip('\0') if v else None
    default = estr(BOOTMGR, 0x23000003)
    root = estr('\\Objects\\' + default, 0x22000002)
    loaders = [default]
    dl = h.get(BOOTMGR + '\\Elements\\24000001', 'Element')
    for g in (dl[1].decode('utf-16le').split('\0') if dl else []):
        if g and g.lower() not in [x.lower() for x in loaders] and \
           h.get('\\Objects\\%s\\Description' % g, 'Type') == dword(0x10200003) and \
           (estr('\\Objects\\' + g, 0x22000002) or '').lower() == root.lower():
            loaders.append(g)
    element(h, BOOTMGR, 0x26000020, (3, b'\1'))   # B01 displaybootmenu
    element(h, BOOTMGR, 0x25000004, qword(5))      # B02 timeout 5
    element(h, BOOTMGR, 0x16000020, (3, b'\1'))
    if not h.key(EMS):
        h.mkkey(EMS); h.mkkey(EMS + '\\Description')
        h.set(EMS + '\\Description', 'Type', dword(0x20100000))
    element(h, EMS, 0x15000022, qword(1))
    element(h, EMS, 0x15000023, qword(115200))
    for g in loaders:
        element(h, '\\Objects\\' + g, 0x260000b0, (3, b'\1'))
        element(h, '\\Objects\\' + g, 0x250000e0, qword(1))
        element(h, '\\Objects\\' + g, 0x16000009, (3, b'\0'))  # B07 recovery off
    return loaders

def main():
    mode, before, after = sys.argv[1:4]
    no_nla = '--rdp-no-nla' in sys.argv
    kept = set(a[len('--kept='):] for a in sys.argv if a.startswith('--kept='))
    kept = set(''.join(kept))
    exp, got = Hive(parse(before)), Hive(parse(after))
    if mode == 'system':
        md0 = exp.key('\\MountedDevices')
        apply_system(exp, no_nla, kept or {'C'})
        md1 = got.key('\\MountedDevices')
        if (md0 is None) != (md1 is None) or (md0 and md0[1] != md1[1]):
            print('MountedDevices changed'); sys.exit(1)
    else:
        print('loaders edited:', apply_bcd(exp))
    bad = 0
    for p in sorted(set(exp.k) | set(got.k)):
        if p not in got.k or p not in exp.k:
            print('key %s: %s' % ('missing' if p not in got.k else 'unexpected', p)); bad += 1
            continue
        e, g = exp.k[p][1], got.k[p][1]
        for n in sorted(set(e) | set(g)):
            if n not in g:
                print('%s\\%s: missing (expected %r)' % (p, n, e[n][1])); bad += 1
            elif n not in e:
                print('%s\\%s: unexpected %r' % (p, n, g[n][1])); bad += 1
            elif e[n][1][0] == 'raw' and e[n][1] != g[n][1]:
                print('%s\\%s: changed %r -> %r' % (p, n, e[n][1][1], g[n][1][1])); bad += 1
            elif e[n][1][0] == 'sem' and e[n][1][1] != sem(g[n][1]):
                print('%s\\%s: expected %r, got %r' % (p, n, e[n][1][1], sem(g[n][1]))); bad += 1
        if bad > 40:
            break
    changed = sum(1 for p in exp.k for n in exp.k[p][1] if exp.k[p][1][n][1][0] == 'sem')
    print('%d keys, %d intended values checked, %d differences' % (len(exp.k), changed, bad))
    sys.exit(1 if bad else 0)

main()
PYEOF

cp --sparse=always "$img" base.img

############################################################################
# 1. The fixture: the real VMware Windows 7 SYSTEM hive and the real BCD.
cp --sparse=always base.img guest.img
extract guest.img before
hivesums before >before.sums
[ "$(sha256sum <before/SYSTEM | cut -d' ' -f1)" = "$SYSTEM_SHA256" ] || fail "fixture SYSTEM hive is not the test data's"

sum=$(sha256sum <guest.img)
"$LANDFALL" fix --dry-run guest.img >plan.txt 2>&1 || fail "dry run failed: $(cat plan.txt)"
grep -qF 'SYSTEM\ControlSet001\Services\storvsc\Start: 3 -> 0' plan.txt ||
    fail "dry run does not list storvsc's Start: $(head -20 plan.txt)"
grep -qF 'SYSTEM\ControlSet002\Services\storvsc\Start: 3 -> 0' plan.txt || fail "dry run: ControlSet002"
grep -qF 'IPAddress: ["192.168.1.123"] -> deleted' plan.txt || fail "dry run does not show the static IP removed"
grep -qF 'SYSTEM\ControlSet002\Control\TimeZoneInformation\RealTimeIsUniversal: absent -> 1' plan.txt ||
    fail "dry run does not list RealTimeIsUniversal"
grep -qF 'SYSTEM\ControlSet001\Services\W32Time\Start: 3 -> 2' plan.txt || fail "dry run does not list W32Time's Start"
grep -qF 'Elements\25000004\Element: type 3 hex:1e,00,00,00,00,00,00,00 -> type 3 hex:05,00,00,00,00,00,00,00' plan.txt ||
    fail "dry run does not list the boot menu timeout"
[ "$sum" = "$(sha256sum <guest.img)" ] || fail "--dry-run changed the image"
pass "--dry-run lists $(grep -c ': changed: ' plan.txt) value changes, old and new, and changes nothing"

# Issue 14: each hive is opened once for the whole fix (inspection reads
# it once more, read-only) and committed once, whatever the number of
# concerns editing it; the adapter logs every open and commit.
"$LANDFALL" fix -v --dry-run guest.img >/dev/null 2>opens.log || fail "dry run -v failed: $(tail opens.log)"
python3 - opens.log <<'PY' || fail "hive opens and commits: $(grep -E 'hive (open|commit):' opens.log)"
import collections, re, sys
opens, commits = collections.Counter(), collections.Counter()
for l in open(sys.argv[1]):
    m = re.search(r"hive (open|commit): (\S+)(?: \((read-only|writable))?", l)
    if m:
        (opens if m.group(1) == "open" else commits)[(m.group(2), m.group(3))] += 1
S = "/Windows/System32/config/SYSTEM"
assert opens[(S, "writable")] == 1 and commits[(S, None)] == 1, (opens, commits)
assert all(n == 1 for n in opens.values()), opens
assert all(n == 1 for n in commits.values()), commits
print("hive opens %d, commits %d" % (sum(opens.values()), sum(commits.values())))
PY
pass "each hive opened once by the fix and once by inspection, SYSTEM committed once ($(python3 -c '
import re, sys; t = open(sys.argv[1]).read()
print(len(re.findall("hive open:", t)), "opens,", len(re.findall("hive commit:", t)), "commits")' opens.log))"

t0=$(date +%s%N)
"$LANDFALL" fix --json guest.img >fix.json || fail "fix failed: $(cat fix.json)"
t1=$(date +%s%N)
echo "Windows fix (whole command: open, inspect, plan, journal, write): $(( (t1 - t0) / 1000000 )) ms;" \
     "landfall's own count: $(json_get fix.json seconds) s (goal < 1 s)"
[ "$(json_get fix.json ok)" = True ] || fail "fix not ok: $(cat fix.json)"
python3 - fix.json <<'PY' || fail "fix report: edits not as expected: $(json_get fix.json edits)"
import json, sys
e = {x["path"]: x for x in json.load(open(sys.argv[1]))["edits"]}
assert sorted(e) == ["/Boot/BCD", "/Windows/System32/config/SYSTEM"], sorted(e)
# Every concern that changed a SYSTEM value, in the order they ran.
order = ["boot-drivers", "san-policy", "drive-letters", "network", "rdp", "agents", "time"]
changed = {f["concern"] for f in json.load(open(sys.argv[1]))["findings"]
           if f["result"] == "changed" and f["message"].startswith("SYSTEM\\")}
want = ", ".join(c for c in order if c in changed)
assert len(changed) >= 3 and e["/Windows/System32/config/SYSTEM"]["concern"] == want, (want, e)
assert e["/Boot/BCD"]["concern"] == "bcd", e
PY
extract guest.img after
export_hives before
export_hives after
python3 check-exports.py system before/SYSTEM.reg after/SYSTEM.reg >sys.check ||
    fail "SYSTEM hive not as specified: $(head -40 sys.check)"
pass "SYSTEM: $(tail -n1 sys.check); MountedDevices byte-identical"
python3 check-exports.py bcd before/BCD.reg after/BCD.reg >bcd.check ||
    fail "BCD not as specified: $(head -40 bcd.check)"
pass "BCD: $(tail -n1 bcd.check) ($(head -n1 bcd.check))"
cmp -s before/SOFTWARE after/SOFTWARE || fail "SOFTWARE changed (nothing there needed it)"
for v in Current Default LastKnownGood; do
    [ "$(hivexget before/SYSTEM Select "$v")" = "$(hivexget after/SYSTEM Select "$v")" ] || fail "Select\\$v changed"
done
pass "SOFTWARE and Select unchanged"
[ "$(hivexget after/SYSTEM 'ControlSet001\Control\TimeZoneInformation' RealTimeIsUniversal)" = 1 ] ||
    fail "RealTimeIsUniversal not set"
python3 - fix.json <<'PY' || fail "class filters: a failure or warning on the fixture's present filters"
import json, sys
bad = [f["message"] for f in json.load(open(sys.argv[1]))["findings"]
       if "lists filter driver" in f["message"] or f["result"] == "failed"]
assert not bad, bad
PY
pass "class filters PartMgr, fvevol, rdyboost present and enabled: no failure"

"$LANDFALL" fix --json guest.img >again.json || fail "second fix failed: $(cat again.json)"
[ "$(json_get again.json edits)" = "[]" ] || fail "a second fix planned changes: $(json_get again.json edits)"
pass "a second fix changes nothing"

"$LANDFALL" undo guest.img >undo.txt || fail "undo failed"
extract guest.img undone
hivesums undone | diff before.sums - >/dev/null || fail "undo: hives differ: $(hivesums undone)"
part_out guest.img u.ntfs
! ntfscat -f u.ntfs /landfall/journal.json >/dev/null 2>&1 || fail "undo left the journal"
rm -f u.ntfs
pass "undo: SYSTEM, SOFTWARE and BCD byte-identical to before ($(cat undo.txt))"

############################################################################
# 2. Synthetic: ControlSet003 current (Select 3/3/2) with service keys
# missing, static IPs, Dhcp disabled, RDP off and TermService disabled,
# an inactive RDP firewall rule, VMware Tools and the Azure agent, a page
# file on D: (a CD-ROM letter here), a disk class filter (partmgr, whose
# key has no ImagePath: its file is drivers\partmgr.sys), no
# TimeZoneInformation key and no W32Time; RDP off in ControlSet001 too.
cp before/SYSTEM synth-SYSTEM
cat >synth.reg <<'REG'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000003
"Default"=dword:00000003
"LastKnownGood"=dword:00000002

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server]
"fDenyTSConnections"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Control]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Control\Class]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Control\Class\{4D36E967-E325-11CE-BFC1-08002BE10318}]
"UpperFilters"=hex(7):70,00,61,00,72,00,74,00,6d,00,67,00,72,00,00,00,00,00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Control\Session Manager]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Control\Session Manager\Memory Management]
"PagingFiles"=hex(7):44,00,3a,00,5c,00,70,00,61,00,67,00,65,00,66,00,69,00,6c,00,65,00,2e,00,73,00,79,00,73,00,20,00,30,00,20,00,30,00,00,00,00,00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Control\Terminal Server]
"fDenyTSConnections"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Control\Terminal Server\WinStations]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Control\Terminal Server\WinStations\RDP-Tcp]
"PortNumber"=dword:00000d3d
"UserAuthentication"=dword:00000001
"SecurityLayer"=dword:00000002

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\storvsc]
"Type"=dword:00000001
"Start"=dword:00000003
"ErrorControl"=dword:00000001
"ImagePath"=hex(2):5c,00,53,00,79,00,73,00,74,00,65,00,6d,00,52,00,6f,00,6f,00,74,00,5c,00,73,00,79,00,73,00,74,00,65,00,6d,00,33,00,32,00,5c,00,64,00,72,00,69,00,76,00,65,00,72,00,73,00,5c,00,73,00,74,00,6f,00,72,00,76,00,73,00,63,00,2e,00,73,00,79,00,73,00,00,00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\vmbus]
"Type"=dword:00000001
"ErrorControl"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\partmgr]
"Type"=dword:00000001
"Start"=dword:00000000

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\Dhcp]
"Type"=dword:00000020
"Start"=dword:00000004

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\TermService]
"Type"=dword:00000020
"Start"=dword:00000004

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\VMTools]
"Type"=dword:00000110
"Start"=dword:00000002
"ImagePath"="\"C:\\Program Files\\VMware\\VMware Tools\\vmtoolsd.exe\""

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\VGAuthService]
"Type"=dword:00000010
"Start"=dword:00000002
"ImagePath"="\"C:\\Program Files\\VMware\\VMware Tools\\VMware VGAuth\\VGAuthService.exe\""

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\vmxnet3ndis6]
"Type"=dword:00000001
"Start"=dword:00000003
"ImagePath"="system32\\DRIVERS\\vmxnet3n61x86.sys"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\WindowsAzureGuestAgent]
"Type"=dword:00000010
"Start"=dword:00000003
"ImagePath"="C:\\WindowsAzure\\GuestAgent\\WindowsAzureGuestAgent.exe"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\RdAgent]
"Type"=dword:00000010
"Start"=dword:00000004

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\SharedAccess]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\SharedAccess\Parameters]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\SharedAccess\Parameters\FirewallPolicy]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\SharedAccess\Parameters\FirewallPolicy\FirewallRules]
"RemoteDesktop-UserMode-In-TCP"="v2.20|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=3389|App=%SystemRoot%\\system32\\svchost.exe|Svc=termservice|Name=@FirewallAPI.dll,-28775|"
"RemoteDesktop-UserMode-In-UDP"="v2.20|Action=Allow|Active=FALSE|Dir=In|Protocol=17|LPort=3389|App=%SystemRoot%\\system32\\svchost.exe|Svc=termservice|Name=@FirewallAPI.dll,-28776|"
"FPS-SMB-In-TCP"="v2.20|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=445|App=System|Name=@FirewallAPI.dll,-28502|"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\Tcpip]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\Tcpip\Parameters]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\Tcpip\Parameters\PersistentRoutes]
"10.0.0.0,255.0.0.0,10.1.2.1,1"=""

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\Tcpip\Parameters\Interfaces]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\Tcpip\Parameters\Interfaces\{11111111-2222-3333-4444-555555555555}]
"EnableDHCP"=dword:00000000
"IPAddress"=hex(7):31,00,30,00,2e,00,31,00,2e,00,32,00,2e,00,33,00,00,00,00,00
"SubnetMask"=hex(7):32,00,35,00,35,00,2e,00,32,00,35,00,35,00,2e,00,32,00,35,00,35,00,2e,00,30,00,00,00,00,00
"DefaultGateway"=hex(7):31,00,30,00,2e,00,31,00,2e,00,32,00,2e,00,31,00,00,00,00,00
"NameServer"="10.1.2.53,10.1.2.54"
"Domain"="corp.example"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\Tcpip\Parameters\Interfaces\{66666666-7777-8888-9999-000000000000}]
"EnableDHCP"=dword:00000001
"NameServer"="10.1.2.53"
REG
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' synth-SYSTEM synth.reg
[ "$(hivexget synth-SYSTEM Select Current)" = 3 ] || fail "synthetic hive: merge did not take"
put_synth () { cp synth-SYSTEM "$1/Windows/System32/config/SYSTEM"; }
cp --sparse=always base.img synth.img
modify synth.img put_synth
extract synth.img sbefore
"$LANDFALL" fix --json --rdp-no-nla synth.img >synth.json || fail "synthetic fix failed: $(cat synth.json)"
extract synth.img safter
export_hives sbefore
export_hives safter
python3 check-exports.py system sbefore/SYSTEM.reg safter/SYSTEM.reg --rdp-no-nla >ssys.check ||
    fail "synthetic SYSTEM hive not as specified: $(head -40 ssys.check)"
[ "$(hivexget safter/SYSTEM 'ControlSet003\Services\storflt' ImagePath)" = 'system32\drivers\vmstorfl.sys' ] ||
    fail "storflt service key not created"
[ "$(hivexget safter/SYSTEM 'ControlSet003\Services\Dhcp' Start)" = 2 ] || fail "Dhcp not automatic"
[ "$(hivexget safter/SYSTEM 'ControlSet003\Services\VMTools' Start)" = 4 ] || fail "VMTools not disabled"
[ "$(hivexget safter/SYSTEM 'ControlSet003\Services\vmxnet3ndis6' Start)" = 3 ] || fail "a VMware driver was changed"
[ "$(hivexget safter/SYSTEM 'ControlSet003\Services\RdAgent' Start)" = 2 ] || fail "RdAgent not automatic"
[ "$(hivexget safter/SYSTEM 'ControlSet003\Control\Terminal Server\WinStations\RDP-Tcp' UserAuthentication)" = 0 ] ||
    fail "--rdp-no-nla did not turn NLA off"
[ "$(hivexget safter/SYSTEM 'ControlSet003\Control\Session Manager\Memory Management' PagingFiles)" = 'C:\pagefile.sys 0 0' ] ||
    fail "page file on D: (a CD-ROM) not moved to C:"
[ "$(hivexget safter/SYSTEM 'ControlSet003\Services\Tcpip\Parameters\Interfaces\{66666666-7777-8888-9999-000000000000}' NameServer)" = 10.1.2.53 ] ||
    fail "an interface already on DHCP was changed"
grep -q 'NameServer: \\"10.1.2.53,10.1.2.54\\" -> deleted' synth.json || fail "old DNS servers not in the report"
[ "$(hivexget safter/SYSTEM Select Current)" = 3 ] || fail "Select changed"
[ "$(hivexget safter/SYSTEM 'ControlSet003\Control\TimeZoneInformation' RealTimeIsUniversal)" = 1 ] ||
    fail "TimeZoneInformation not created with RealTimeIsUniversal"
grep -q 'ControlSet003\\\\Services\\\\W32Time: the Windows Time service is not installed' synth.json ||
    fail "a missing W32Time not reported"
grep -q '"failed"' synth.json && fail "synthetic: a failed finding (the partmgr filter is present): $(grep -m3 failed synth.json)"
pass "synthetic (3 control sets, Current=3, static IPs, RDP off, VMware Tools, agent, missing keys): $(tail -n1 ssys.check)"
"$LANDFALL" fix --json --rdp-no-nla synth.img >synth2.json || fail "second synthetic fix failed"
[ "$(json_get synth2.json edits)" = "[]" ] || fail "second synthetic fix planned changes: $(json_get synth2.json edits)"
"$LANDFALL" undo synth.img >/dev/null || fail "synthetic undo failed"
extract synth.img sundone
hivesums sbefore | diff - <(hivesums sundone) >/dev/null || fail "synthetic undo: hives differ"
pass "synthetic: second fix changes nothing, undo byte-identical"

############################################################################
# 3. Refusals: each a clear error, the image byte-identical.
# A volume class filter whose driver file is missing (W10): a 0x7B.
cp synth-SYSTEM filter-SYSTEM
cat >filter.reg <<'REG'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Control\Class\{71A27CDD-812A-11D0-BEC7-08002BE2092F}]
"UpperFilters"=hex(7):76,00,73,00,65,00,70,00,66,00,6c,00,74,00,00,00,00,00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet003\Services\vsepflt]
"Type"=dword:00000001
"Start"=dword:00000000
"ImagePath"="system32\\DRIVERS\\vsepflt.sys"
REG
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' filter-SYSTEM filter.reg
put_filter () { cp filter-SYSTEM "$1/Windows/System32/config/SYSTEM"; }
cp --sparse=always base.img filter.img
modify filter.img put_filter
refused "class filter driver file missing" filter.img \
    'ControlSet003\\Control\\Class\\{71A27CDD-812A-11D0-BEC7-08002BE2092F}\\UpperFilters lists filter driver "vsepflt", whose file /Windows/System32/drivers/vsepflt.sys is missing'
grep -q 'INACCESSIBLE_BOOT_DEVICE (0x7B)' "$tmp/err" || fail "class filter: the failure does not say 0x7B"

no_vmbus () { rm "$1/Windows/System32/drivers/vmbus.sys"; }
cp --sparse=always base.img nodriver.img
modify nodriver.img no_vmbus
refused "driver file missing" nodriver.img "vmbus.sys is missing: needs driver injection"
# Each failed finding on stderr, in both control sets, and what it meant.
grep -qi '^landfall: error: boot-drivers: ControlSet001\\Services\\vmbus: driver file /Windows/System32/drivers/vmbus.sys is missing' "$tmp/err" &&
grep -q '^landfall: error: boot-drivers: ControlSet002\\Services\\vmbus: ' "$tmp/err" &&
grep -qx 'landfall: nothing was changed' "$tmp/err" || fail "driver file missing: stderr: $(cat "$tmp/err")"
# A port driver missing fails the same way (intelide loads pciidex.sys).
no_pciidex () { rm "$1/Windows/System32/drivers/pciidex.sys"; }
cp --sparse=always base.img noport.img
modify noport.img no_pciidex
refused "port driver file missing" noport.img "intelide needs /Windows/System32/drivers/pciidex.sys, which is missing: needs driver injection"

cp --sparse=always base.img bitlocker.img
printf -- '-FVE-FS-' | dd of=bitlocker.img bs=1 seek=$((PART1_OFFSET + 3)) conv=notrunc status=none
refused "BitLocker volume" bitlocker.img "BitLocker-encrypted volume"

hibernate () { { printf 'HIBR'; head -c 65532 /dev/zero; } >"$1/hiberfil.sys"; }
cp --sparse=always base.img hibernated.img
modify hibernated.img hibernate
refused "hibernated volume" hibernated.img "volume is hibernated"

B=$(testdata_file windows/SYSTEM_B.xz)
L1=$(testdata_file windows/SYSTEM_B.LOG1.xz)
L2=$(testdata_file windows/SYSTEM_B.LOG2.xz)
put_dirty () {
    cp "$B" "$1/Windows/System32/config/SYSTEM"
    cp "$L1" "$1/Windows/System32/config/SYSTEM.LOG1"
    cp "$L2" "$1/Windows/System32/config/SYSTEM.LOG2"
}
cp --sparse=always base.img dirty.img
modify dirty.img put_dirty
refused "dirty hive with transaction logs" dirty.img "transaction logs (.*SYSTEM.LOG1 and .LOG2) hold changes"

C=$(testdata_file windows/corrupted_system_hive.xz)
put_corrupt () { cp "$C" "$1/Windows/System32/config/SYSTEM"; }
cp --sparse=always base.img corrupt.img
modify corrupt.img put_corrupt
refused "corrupted hive" corrupt.img "the SYSTEM hive cannot be used"

put_truncated () { head -c 2000000 before/SYSTEM >"$1/Windows/System32/config/SYSTEM"; }
cp --sparse=always base.img truncated.img
modify truncated.img put_truncated
refused "truncated hive" truncated.img "the SYSTEM hive cannot be used"

############################################################################
# 4. Select naming a control set the hive lacks: fix refuses (Current,
# Default) or warns (LastKnownGood) by name, and verify says the same words
# (one reader, lf_win_select_check).
# sel_image NAME CURRENT DEFAULT LKG: the synthetic hive with that Select.
sel_image () {
    cp synth-SYSTEM "sel-$1-SYSTEM"
    printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n"Current"=dword:%08x\n"Default"=dword:%08x\n"LastKnownGood"=dword:%08x\n' \
        "$2" "$3" "$4" >"sel-$1.reg"
    hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "sel-$1-SYSTEM" "sel-$1.reg"
    [ "$(hivexget "sel-$1-SYSTEM" Select Current)" = "$2" ] || fail "sel-$1: merge did not take"
    eval "put_sel_$1 () { cp '$tmp/sel-$1-SYSTEM' \"\$1/Windows/System32/config/SYSTEM\"; }"
    cp --sparse=always base.img "sel-$1.img"
    modify "sel-$1.img" "put_sel_$1"
}
# verify_sets IMG STATUS TEXT: verify's windows-control-sets check has
# STATUS and its reason contains TEXT (fixed string).
verify_sets () {
    "$LANDFALL" verify --json --profile azure-gen1 "$1" >"$1.verify.json" || true
    /usr/bin/python3 - "$1.verify.json" "$2" "$3" <<'PYEOF' || fail "$1: verify: $(cat "$1.verify.json")"
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["checks"] if c["check"] == "windows-control-sets"]
assert c, "no windows-control-sets check"
assert c[0]["status"] == sys.argv[2], "status %s, expected %s" % (c[0]["status"], sys.argv[2])
assert sys.argv[3] in c[0]["reason"], "reason %r lacks %r" % (c[0]["reason"], sys.argv[3])
PYEOF
}
sel_image current 5 3 2
refused "Select\\Current names a missing control set" sel-current.img \
    'Select\\Current is 5, but the hive has no ControlSet005 (it has ControlSet001, ControlSet002, ControlSet003)'
verify_sets sel-current.img fail 'Select\Current is 5, but the hive has no ControlSet005 (it has ControlSet001, ControlSet002, ControlSet003)'
pass "verify fails the missing current control set with the fix's words"
sel_image default 3 7 2
refused "Select\\Default names a missing control set" sel-default.img \
    'Select\\Default is 7, but the hive has no ControlSet007'
verify_sets sel-default.img fail 'Select\Default is 7, but the hive has no ControlSet007'
pass "verify fails the missing default control set with the fix's words"
sel_image lkg 3 3 9
"$LANDFALL" fix --json sel-lkg.img >sel-lkg.json 2>"$tmp/err" || fail "missing LastKnownGood: fix failed: $(cat "$tmp/err")"
/usr/bin/python3 - sel-lkg.json <<'PYEOF' || fail "missing LastKnownGood: no warning naming it: $(cat sel-lkg.json)"
import json, sys
d = json.load(open(sys.argv[1]))
w = [f for f in d["findings"] if f["result"] == "warning" and f["concern"] == "control-sets"]
assert w and "Select\\LastKnownGood is 9, but the hive has no ControlSet009" in w[0]["message"], w
PYEOF
verify_sets sel-lkg.img note 'Select\LastKnownGood is 9, but the hive has no ControlSet009'
verify_sets synth.img pass 'name control sets that exist'
pass "a missing LastKnownGood: fix warns and verify notes it by name; the synthetic hive passes"
