#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Recovery points (issue 9, failover.md 7): a chain of qcow2 overlays and a
# chain of VHD differencing disks, each point written with known data;
# every selection option picks the expected point, and converting that
# point's overlay (one pass through its chain) gives exactly that point's
# data, compared with qemu-img against references built independently
# (qemu-img convert of the qcow2 overlay; mkvhd-diff.py's own expectation
# for VHD).  A two-machine replication group whose members recorded their
# shared bookmarks at different times; chain errors; commit.
source "$(dirname "$0")/functions.sh"
requires qemu-img qemu-io python3
cd "$tmp"
M=$((1024 * 1024))

# --- qcow2 machine "web": base + 4 points ------------------------------
mkdir web && cd web
qemu-img create -q -f raw base.raw 32M
qemu-io -f raw -c "write -P 0x10 0 4M" base.raw >/dev/null
prev=base.raw pfmt=raw
for i in 1 2 3 4; do
    qemu-img create -q -f qcow2 -b "$prev" -F "$pfmt" p$i.qcow2
    # Each point overwrites one MiB of its own and the first MiB (so the
    # newest write wins over older ones).
    qemu-io -f qcow2 -c "write -P 0x2$i $((i * 4))M 1M" \
            -c "write -P 0x3$i 0 64k" p$i.qcow2 >/dev/null
    qemu-img convert -f qcow2 -O raw p$i.qcow2 ref$i.raw
    prev=p$i.qcow2 pfmt=qcow2
done
cd ..
pt () {  # pt ID MIN CONSISTENCY PROCESSED GROUP OVERLAY
    printf '{"id":"%s","time":"2026-11-27T04:%s:00Z","consistency":"%s","processed":%s%s,"overlays":["%s"]}' \
        "$1" "$2" "$3" "$4" "${5:+,\"group\":\"$5\"}" "$6"
}
cat >web/points.json <<EOF2
{"machine":"web","group":"shop","bases":["base.raw"],"points":[
$(pt g1 00 app true shop p1.qcow2),
$(pt g2 05 crash true shop p2.qcow2),
$(pt g3 10 app true shop p3.qcow2),
$(pt w4 12 crash false "" p4.qcow2)]}
EOF2

# --- VHD machine "db": base + 3 differencing points --------------------
mkdir db && cd db
qemu-img create -q -f raw src.raw 32M
qemu-io -f raw -c "write -P 0x40 0 8M" src.raw >/dev/null
qemu-img convert -f raw -O vpc -o subformat=dynamic,force_size=on src.raw base.vhd
qemu-img convert -f vpc -O raw base.vhd ref0.raw
prev=base.vhd
for i in 1 2 3; do
    python3 "$top/tests/tools/mkvhd-diff.py" "$prev" ref$((i - 1)).raw \
        p$i.vhd ref$i.raw $((i + 10))
    prev=p$i.vhd
done
cd ..
cat >db/points.json <<EOF2
{"machine":"db","group":"shop","bases":["base.vhd"],"points":[
$(pt g1 01 app true shop p1.vhd),
$(pt g2 06 crash true shop p2.vhd),
$(pt g3 11 app false shop p3.vhd)]}
EOF2

# A machine outside the group: the qcow2 chain again, named points.
mkdir solo
cp web/base.raw web/p1.qcow2 web/p2.qcow2 web/p3.qcow2 web/p4.qcow2 solo/
cat >solo/points.json <<EOF2
{"bases":["base.raw"],"points":[
$(pt s1 00 app true "" p1.qcow2),
$(pt s2 05 crash true "" p2.qcow2),
$(pt s3 10 app false "" p3.qcow2),
$(pt s4 15 crash false "" p4.qcow2)]}
EOF2

# check MACHINE OPTION EXPECTED-ID [OTHER-MANIFESTS...]: the option picks
# the expected point, and the conversion of its overlay is its data.
n=0
check () {
    local m=$1 opt=$2 want=$3; shift 3
    local got
    got=$("$LANDFALL" points --select "$opt" $m/points.json "$@" | head -n1 |
          sed 's/^[^:]*: \([^ ]*\) .*/\1/')
    [ "$got" = "$want" ] || fail "$m $opt: chose '$got', expected $want"
    local ov ref
    ov=$(python3 -c 'import json,sys
m=json.load(open(sys.argv[1]))
print([p for p in m["points"] if p["id"]==sys.argv[2]][0]["overlays"][0])' $m/points.json "$want")
    case $ov in
        p*.qcow2) ref=web/ref${ov#p}; ref=${ref%.qcow2}.raw ;;
        p*.vhd)   ref=db/ref${ov#p}; ref=${ref%.vhd}.raw ;;
    esac
    n=$((n + 1))
    "$LANDFALL" convert -q --no-progress $m/$ov -o out$n.vhd ||
        fail "$m $opt: convert of $ov failed"
    qemu-img compare -q -f raw -F vpc "$ref" out$n.vhd ||
        fail "$m $opt ($want, $ov): converted data differ from $ref"
    pass "$m: $opt -> $want ($ov) = $ref"
}

# One machine alone.
check solo latest s4
check solo latest-processed s2
check solo latest-app-consistent s1
check solo latest-multivm-processed s2
check solo latest-multivm-app-consistent s1
check solo s3 s3
# The group: g3 is processed in web but not in db, so the common
# processed point is g2; the common app-consistent one is g1.
check web latest-multivm-processed g2 db/points.json
check db latest-multivm-processed g2 web/points.json
check web latest-multivm-app-consistent g1 db/points.json
check db latest-multivm-app-consistent g1 web/points.json
check web latest w4
check db latest g3
check web latest-processed g3
check db latest-processed g2
check web latest-app-consistent g3
# A machine outside the group, given with it, takes its own latest.
check solo latest-multivm-processed s2 web/points.json db/points.json
# Source unavailable: latest cannot process, falls back.
sed 's/"bases"/"source-available":false,"bases"/' solo/points.json >solo/gone.json
got=$("$LANDFALL" points --select latest solo/gone.json)
[[ "$got" == *": s2 (source unavailable"* ]] || fail "source gone: $got"
pass "source unavailable: latest -> s2"
# Custom points are refused for group members.
expect_fail "custom point for a group member" \
    "$LANDFALL" points --select g1 web/points.json

# The listing marks the options' picks; --json carries them.
"$LANDFALL" points web/points.json db/points.json >list.txt
grep -q '^  g2 .*<latest-multivm-processed' list.txt || fail "listing: $(cat list.txt)"
"$LANDFALL" points --json web/points.json db/points.json >list.json
[ "$(json_get list.json 1.selections.latest-multivm-app-consistent.id)" = g1 ] ||
    fail "--json selections"
pass "listing"

# Chains checked against the manifest: a point whose overlay does not
# lead to the base, and points listed out of chain order.
cat >solo/bad.json <<EOF2
{"bases":["p1.qcow2"],"points":[$(pt x 00 app true "" p3.qcow2)]}
EOF2
"$LANDFALL" points solo/bad.json 2>err.txt && fail "bad chain accepted"
grep -q "points\[0\].overlays\[0\]: its chain at link 1, .*p2.qcow2, is neither" err.txt || fail "bad chain: $(cat err.txt)"
cat >solo/bad2.json <<EOF2
{"bases":["base.raw"],"points":[$(pt a 00 app true "" p2.qcow2),$(pt b 01 app true "" p1.qcow2)]}
EOF2
"$LANDFALL" points solo/bad2.json 2>err.txt && fail "chain order accepted"
grep -q "points\[0\].overlays\[0\]: its chain at link 1" err.txt || fail "chain order: $(cat err.txt)"
pass "chain errors name the field"

# Commit: lists first, deletes only with --yes; the chosen point's chain
# stays and still converts to its data.
"$LANDFALL" points --commit solo/points.json --point s2 >commit.txt
grep -q "would delete point s3 .*p3.qcow2" commit.txt || fail "commit dry run: $(cat commit.txt)"
[ -e solo/p3.qcow2 ] || fail "dry run deleted"
"$LANDFALL" points --commit solo/points.json --point s2 --yes >commit.txt
[ ! -e solo/p3.qcow2 ] && [ ! -e solo/p4.qcow2 ] && [ -e solo/p1.qcow2 ] &&
    [ -e solo/p2.qcow2 ] || fail "commit deleted the wrong files: $(ls solo)"
check solo latest s2
expect_fail "a deleted point after commit" "$LANDFALL" points --select s3 solo/points.json
pass "commit"

# --- The job: recovery-point and manifest ------------------------------
# The fixture guest is the OS disk's base (its overlays stay empty: the
# guest must boot); the points differ on the data disk, the qcow2 chain
# above.  A changed point re-runs from the new point.
if [ "$(id -u)" != 0 ]; then
    echo "SKIP (part): the job needs the guest fixture, which needs root" >&2
    exit 0
fi
img=$("$top/tests/fixtures/build.sh" debian12-vmware "$top/$BUILD/fixtures" | tail -n1)
mkdir vm && cd vm
cp ../web/base.raw ../web/p1.qcow2 ../web/p2.qcow2 .
for i in 1 2; do
    qemu-img create -q -f qcow2 -b "$img" -F raw os$i.qcow2
    [ $i = 1 ] || qemu-img rebase -u -b os1.qcow2 -F qcow2 os2.qcow2
done
cat >points.json <<EOF2
{"machine":"vm","bases":["$img","base.raw"],"points":[
{"id":"r1","time":"2026-11-27T05:00:00Z","consistency":"app","processed":true,"overlays":["os1.qcow2","p1.qcow2"]},
{"id":"r2","time":"2026-11-27T05:05:00Z","consistency":"crash","processed":true,"overlays":["os2.qcow2","p2.qcow2"]}]}
EOF2
cat >vm.job <<EOF2
machine = vm
source = vmware
output = out
manifest = points.json
recovery-point = latest-app-consistent
EOF2
r=0; "$LANDFALL" run vm.job >summary.txt 2>log.txt || r=$?
[ "$r" = 0 ] || [ "$r" = 3 ] || { cat summary.txt log.txt; fail "job at r1: exit $r"; }
grep -q "recovery point r1" log.txt || fail "job log: no point: $(cat log.txt)"
qemu-img compare -q -f raw -F vpc ../web/ref1.raw out/vm-data1.vhd || fail "job r1: data disk"
[ "$(json_get out/landfall-report.json recovery_point.id)" = r1 ] || fail "report: point"
pass "job: latest-app-consistent -> r1, data disk = point r1"
# Change recovery point before commit: edit the job, run again.
sed -i 's/^recovery-point = .*/recovery-point = latest-processed/' vm.job
r=0; "$LANDFALL" run vm.job >summary.txt 2>log.txt || r=$?
[ "$r" = 0 ] || [ "$r" = 3 ] || { cat summary.txt log.txt; fail "job at r2: exit $r"; }
grep -q "recovery point changed from r1 to r2" log.txt || fail "change not noticed: $(cat log.txt)"
qemu-img compare -q -f raw -F vpc ../web/ref2.raw out/vm-data1.vhd || fail "job r2: data disk"
# The same point again: resumes, nothing redone.
r=0; "$LANDFALL" run vm.job >summary.txt 2>log.txt || r=$?
grep -q "convert: .*already done" log.txt || fail "same point re-ran: $(cat log.txt)"
pass "job: changed point re-runs from r2; the same point resumes"
# Job errors name the line.
printf 'machine = vm\noutput = o\nmanifest = points.json\nos-disk = a.raw\n' >bad.job
expect_fail "manifest with os-disk" "$LANDFALL" run bad.job
grep -q "bad.job:4: os-disk: not with 'manifest ='" "$tmp/err" || fail "$(cat "$tmp/err")"
pass "job errors"

# --- A replication group in a recovery plan ------------------------------
# gw and gd are members of group "shop"; g3 is processed in gw only.  A
# job alone sees only its own manifest, so gw alone takes g3; in a plan
# with gd, both take the newest common point, g2 (the plan passes it to
# each member's run).
cd "$tmp" && mkdir grp && cd grp
cp ../web/base.raw ../web/p1.qcow2 ../web/p2.qcow2 ../web/p3.qcow2 .
for i in 1 2 3; do
    qemu-img create -q -f qcow2 -b "$img" -F raw os$i.qcow2
    [ $i = 1 ] || qemu-img rebase -u -b os$((i - 1)).qcow2 -F qcow2 os$i.qcow2
done
gpt () {  # gpt ID MIN CONSISTENCY PROCESSED
    printf '{"id":"%s","time":"2026-11-27T06:%s:00Z","consistency":"%s","processed":%s,"group":"shop","overlays":["os%s.qcow2","p%s.qcow2"]}' \
        "$1" "$2" "$3" "$4" "${1#g}" "${1#g}"
}
for m in gw gd; do
    p3=true; [ $m = gd ] && p3=false
    printf '{"machine":"%s","group":"shop","bases":["%s","base.raw"],"points":[%s,%s,%s]}\n' \
        $m "$img" "$(gpt g1 00 app true)" "$(gpt g2 05 crash true)" "$(gpt g3 10 app $p3)" >$m.json
    printf 'machine = %s\nsource = vmware\noutput = out-%s\nmanifest = %s.json\nrecovery-point = latest-multivm-processed\n' \
        $m $m $m >$m.job
done
cat >grp.plan <<'EOF2'
{ "name": "grp", "groups": [ { "machines": ["gw.job", "gd.job"] } ] }
EOF2
r=0; "$LANDFALL" plan -j 1 grp.plan >plan.out 2>plan.err || r=$?
[ $r = 0 ] || [ $r = 3 ] || { cat plan.out plan.err; fail "group plan: exit $r"; }
for m in gw gd; do
    [ "$(json_get out-$m/landfall-report.json recovery_point.id)" = g2 ] ||
        fail "group plan: $m did not take the common point g2: $(json_get out-$m/landfall-report.json recovery_point)"
done
qemu-img compare -q -f raw -F vpc ../web/ref2.raw out-gw/gw-data1.vhd || fail "group plan: gw's data disk is not point g2"
# Alone, a member can only take its own newest multi-VM point.
alone=$("$LANDFALL" points --select latest-multivm-processed gw.json | head -n1 |
        sed 's/^[^:]*: \([^ ]*\) .*/\1/')
[ "$alone" = g3 ] || fail "gw alone: chose '$alone', expected g3"
# A point that is not a multi-VM point of the group is refused by run.
expect_fail "--group-point of another kind" "$LANDFALL" run --group-point nope gw.job
grep -q "'nope' is not a multi-VM point" "$tmp/err" || fail "$(cat "$tmp/err")"
pass "plan: both members of the group take their newest common point g2 (gw alone would take g3); data = point g2"
