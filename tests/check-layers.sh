#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Include discipline (DESIGN.md, "Who may use whom"): every landfall
# include names its file from the repository root ("guest/guest.h"), and
# no layer includes a header of a higher layer or of a peer:
#
#   supervisor  >  verify, upload  >  bootfix  >  hw, guest  >  initramfs
#               >  convert  >  common
#
# bootfix/linux and bootfix/windows are bootfix.  tests/ may include
# anything (but by its root path too).  Exit 1, naming each offending
# line, if anything breaks the rule.
#   tests/check-layers.sh [ROOT]     (default: this checkout)
set -u
cd "${1:-$(dirname "$0")/..}"

rank () {
    case $1 in
        common) echo 0 ;;
        convert) echo 1 ;;
        initramfs) echo 2 ;;
        guest|hw) echo 3 ;;
        bootfix) echo 4 ;;
        verify|upload) echo 5 ;;
        supervisor) echo 6 ;;
        tests) echo 7 ;;
        *) echo -1 ;;
    esac
}

bad=0 n=0
while IFS= read -r f; do
    from=${f%%/*}
    rf=$(rank "$from")
    [ "$rf" -ge 0 ] || continue
    while IFS=: read -r line inc; do
        n=$((n + 1))
        case $inc in
            */*) ;;
            *) echo "$f:$line: \"$inc\": name it from the root (tests/rewrite-includes.sh does)"
               bad=1; continue ;;
        esac
        if [ ! -e "$inc" ]; then
            echo "$f:$line: \"$inc\": no such file from the root"
            bad=1; continue
        fi
        to=${inc%%/*}
        rt=$(rank "$to")
        [ "$from" = tests ] && continue
        if [ "$rt" -lt 0 ]; then
            echo "$f:$line: \"$inc\": $to/ is not a layer"
            bad=1
        elif [ "$rt" -gt "$rf" ]; then
            echo "$f:$line: \"$inc\": $from/ may not include $to/ (a higher layer)"
            bad=1
        elif [ "$rt" -eq "$rf" ] && [ "$to" != "$from" ]; then
            echo "$f:$line: \"$inc\": $from/ may not include its peer $to/"
            bad=1
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
             sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
done < <(if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
             git ls-files '*.c' '*.h'
         else
             find . -name '*.[ch]' -not -path './build*' | sed 's|^\./||'
         fi)

if [ "$bad" -ne 0 ]; then
    echo "check-layers: FAIL (see DESIGN.md, \"Who may use whom\")"
    exit 1
fi
echo "check-layers: $n includes checked, none reaches up"
