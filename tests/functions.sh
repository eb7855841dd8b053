# SPDX-License-Identifier: LGPL-2.1-or-later
# landfall integration tests: shared helpers.  Each tests/test-*.sh sources
# this file.  Exit 0 = pass, 77 = skip (say why), anything else = fail.
set -eu

: "${BUILD:=build}"
top=$(cd "$(dirname "$0")/.." && pwd)
LANDFALL="$top/$BUILD/landfall"
SHARED="${LANDFALL_SHARED:-$top/../shared}"
TESTDATA="$SHARED/testdata"
export LANDFALL top SHARED TESTDATA

# A scratch directory per test, removed by the exit trap.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/landfall-test.XXXXXX")
cleanup_hooks="rm -rf '$tmp'"
cleanup_fn () { eval "$cleanup_hooks"; }
trap cleanup_fn EXIT INT TERM
# cleanup_hook CMD: run CMD at exit, before removing the scratch directory.
cleanup_hook () { cleanup_hooks="$*; $cleanup_hooks"; }

# requires CMD...: skip loudly when a tool is missing.
requires () {
    for c in "$@"; do
        if ! command -v "$c" >/dev/null 2>&1; then
            echo "SKIP: $(basename "$0"): required command '$c' not found" >&2
            exit 77
        fi
    done
}

fail () { echo "FAIL: $(basename "$0"): $*" >&2; exit 1; }
pass () { echo "ok: $*"; }

# expect_fail DESC CMD...: CMD must exit non-zero with a message on stderr.
expect_fail () {
    desc=$1; shift
    if "$@" >"$tmp/stdout" 2>"$tmp/err"; then
        fail "$desc: expected failure, got success"
    fi
    [ -s "$tmp/err" ] || fail "$desc: failed without an error message"
    if grep -q "AddressSanitizer\|runtime error:\|Segmentation" "$tmp/err"; then
        cat "$tmp/err" >&2
        fail "$desc: crashed"
    fi
}

# testdata_file REL: a decompressed copy of ../shared/testdata/REL in $tmp.
testdata_file () {
    src="$TESTDATA/$1"
    base=$(basename "$1")
    case "$base" in
        *.xz)  out="$tmp/${base%.xz}";  xz -dc "$src" >"$out" ;;
        *.bz2) out="$tmp/${base%.bz2}"; bzip2 -dc "$src" >"$out" ;;
        *.gz)  out="$tmp/${base%.gz}";  gzip -dc "$src" >"$out" ;;
        *)     out="$tmp/$base"; cp "$src" "$out" ;;
    esac
    echo "$out"
}

# json_get FILE EXPR: a field from a JSON document (python3's json).
json_get () {
    /usr/bin/python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if k.isdigit() else d[k]
print(d)' "$1" "$2"
}
