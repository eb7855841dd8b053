#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# make bench: landfall convert against qemu-img convert, same inputs, same
# run, printing times and ratios (disks.md §10 has the reference numbers).
#   (a) an 8 GiB raw image holding 2 GiB of data in scattered extents:
#       landfall in place, landfall as a copy, qemu-img -O vpc fixed
#   (b) the same as a streamOptimized VMDK: landfall vs qemu-img
# BENCH_GIB (default 8) and BENCH_DATA_GIB (default 2) scale it down;
# BENCH_DIR (default a directory under /var/tmp) must not be tmpfs.
# Timings are wall-clock on a noisy 2-core machine: read them as ratios.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
LANDFALL="$top/${BUILD:-build}/landfall"
GIB=${BENCH_GIB:-8}
DATA_GIB=${BENCH_DATA_GIB:-2}
dir=${BENCH_DIR:-/var/tmp/landfall-bench}
mkdir -p "$dir"
cd "$dir"
command -v qemu-img >/dev/null || { echo "bench: qemu-img is needed" >&2; exit 1; }
TIME=/usr/bin/time
[ -x $TIME ] || { echo "bench: GNU time (package 'time') is needed" >&2; exit 1; }

if [ ! -f src.raw ] || [ "$(cat src.params 2>/dev/null)" != "$GIB $DATA_GIB" ]; then
    echo "bench: making a ${GIB} GiB raw image with ${DATA_GIB} GiB of data..."
    python3 - "$GIB" "$DATA_GIB" <<'PY'
import math, os, random, sys
gib, data_gib = int(sys.argv[1]), float(sys.argv[2])
size, want = gib << 30, int(data_gib * (1 << 30))
rng = random.Random(2026)
# Real files for the compressible half, random bytes for the rest.
corpus = bytearray()
for root, _, files in os.walk("/usr/lib/x86_64-linux-gnu"):
    for f in files:
        try:
            with open(os.path.join(root, f), "rb") as fp:
                corpus += fp.read(1 << 20)
        except OSError:
            pass
        if len(corpus) > 64 << 20:
            break
    if len(corpus) > 64 << 20:
        break
extents, total = [], 0
while total < want:
    n = int(math.exp(rng.uniform(math.log(64 << 10), math.log(64 << 20))))
    n = min(n // 65536 * 65536 or 65536, want - total)
    extents.append(n)
    total += n
gap = (size - total) // (len(extents) + 1) // 65536 * 65536
with open("src.raw", "wb") as f:
    f.truncate(size)
    off = gap
    for i, n in enumerate(extents):
        f.seek(off)
        if i % 2:
            f.write(rng.randbytes(n))
        else:
            s = rng.randrange(0, max(1, len(corpus) - n))
            chunk = bytes(corpus[s:s + n])
            f.write(chunk + bytes(n - len(chunk)))
        off += n + gap
print("bench: %d extents, %d bytes of data" % (len(extents), total))
PY
    echo "$GIB $DATA_GIB" > src.params
    rm -f src.vmdk
fi
if [ ! -f src.vmdk ]; then
    echo "bench: making the streamOptimized VMDK (qemu-img, single-threaded; slow)..."
    qemu-img convert -f raw -O vmdk -o subformat=streamOptimized src.raw src.vmdk
fi

# run NAME CMD...: wall seconds (nanosecond clock: GNU time rounds to
# 10 ms, too coarse for the in-place case) and peak RSS, BENCH_RUNS times
# (default 3); the median is reported with the range, since one run on
# this machine varies by +-40 %.
RUNS=${BENCH_RUNS:-3}
run () {
    local name=$1; shift
    local t0 t1 times=() rss=0 r
    for ((i = 0; i < RUNS; i++)); do
        rm -f out.vhd
        [ "$name" != "${name%in-place*}" ] && { rm -f inplace.raw; cp --sparse=always src.raw inplace.raw; }
        sync
        t0=$(date +%s%N)
        $TIME -f "%M" -o time.out "$@" >/dev/null 2>run.err || {
            cat run.err >&2; echo "bench: $name failed" >&2; exit 1; }
        t1=$(date +%s%N)
        read -r r <time.out
        [ "$r" -gt "$rss" ] && rss=$r
        times+=("$((t1 - t0))")
    done
    read -r last lo hi < <(python3 -c "import sys; t=sorted(int(x)/1e9 for x in sys.argv[1:]); print(t[len(t)//2], t[0], t[-1])" "${times[@]}")
    printf '  %-46s %8.3f s  (%.3f-%.3f)  %7d KiB max RSS\n' "$name" "$last" "$lo" "$hi" "$rss"
}

# Each tool twice: as it comes (qemu-img's default cache mode leaves the
# data in the page cache; landfall --no-sync likewise) and durable (qemu-img
# followed by sync; landfall by default fsyncs before its rename).
echo
echo "(a) raw, ${GIB} GiB with ${DATA_GIB} GiB of data -> fixed VHD"
run "qemu-img convert -O vpc fixed,force_size" \
    qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on src.raw out.vhd
qa=$last
run "qemu-img convert ... && sync (durable)" \
    sh -c 'qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on src.raw out.vhd && sync'
qad=$last
run "landfall convert --no-sync" "$LANDFALL" convert -q --no-progress --no-sync src.raw -o out.vhd
la=$last
run "landfall convert (durable)" "$LANDFALL" convert -q --no-progress src.raw -o out.vhd
lad=$last
qemu-img compare -q -f raw -F vpc src.raw out.vhd || { echo "bench: (a) output differs" >&2; exit 1; }
run "landfall convert --in-place (durable)" "$LANDFALL" convert -q --in-place inplace.raw
lip=$last
rm -f inplace.raw

echo
echo "(b) streamOptimized VMDK ($(du -h src.vmdk | cut -f1)) -> fixed VHD"
run "qemu-img convert -O vpc fixed,force_size" \
    qemu-img convert -f vmdk -O vpc -o subformat=fixed,force_size=on src.vmdk out.vhd
qb=$last
run "qemu-img convert ... && sync (durable)" \
    sh -c 'qemu-img convert -f vmdk -O vpc -o subformat=fixed,force_size=on src.vmdk out.vhd && sync'
qbd=$last
run "landfall convert --no-sync" "$LANDFALL" convert -q --no-progress --no-sync src.vmdk -o out.vhd
lb=$last
run "landfall convert (durable)" "$LANDFALL" convert -q --no-progress src.vmdk -o out.vhd
lbd=$last
qemu-img compare -q -f raw -F vpc src.raw out.vhd || { echo "bench: (b) output differs" >&2; exit 1; }
rm -f out.vhd

echo
python3 - "$qa" "$la" "$qad" "$lad" "$lip" "$qb" "$lb" "$qbd" "$lbd" <<'PY'
import sys
qa, la, qad, lad, lip, qb, lb, qbd, lbd = map(float, sys.argv[1:])
r = lambda a, b: a / b if b > 0 else float("inf")
print("ratios (qemu-img time / landfall time; > 1 means landfall is faster):")
print("  (a) copy, page cache:  %6.2fx   durable: %6.2fx   (goal: >= 1)" % (r(qa, la), r(qad, lad)))
print("  (a) in place:          %6.0fx   (%.3f s, durable; goal: milliseconds)" % (r(qad, lip), lip))
print("  (b) stream, page cache:%6.2fx   durable: %6.2fx   (goal: >= 2)" % (r(qb, lb), r(qbd, lbd)))
PY
