#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Rewrite landfall's own includes to name their layer from the repository
# root ("guest/guest.h", not "guest.h"), and the Makefile to pass one -I
# for the root (and one for the build directory) instead of one per
# folder.  Mechanical and idempotent: run it again after merging branches
# that add files or includes written the old way.
#   tests/rewrite-includes.sh            rewrite in place
# A bare name is looked up beside the including file first, then as the
# one file of that name in the tree; two candidates is an error (name it
# by hand).
set -eu
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files '*.c' '*.h')
declare -A where=() dup=()
for f in "${files[@]}"; do
    b=${f##*/}
    if [ -n "${where[$b]:-}" ]; then dup[$b]=1; fi
    where[$b]=$f
done

changed=0
for f in "${files[@]}"; do
    dir=$(dirname "$f")
    grep -q '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"/]*"' "$f" || continue
    script=
    for name in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"/]*\)".*/\1/p' "$f" | sort -u); do
        if [ -e "$dir/$name" ]; then
            path=$dir/$name
        elif [ -n "${dup[$name]:-}" ]; then
            echo "$f: \"$name\" is ambiguous: name its directory by hand" >&2
            exit 1
        elif [ -n "${where[$name]:-}" ]; then
            path=${where[$name]}
        else
            echo "$f: \"$name\" is not in the tree: left alone" >&2
            continue
        fi
        script+="s|^\\([[:space:]]*#[[:space:]]*include[[:space:]]*\\)\"$name\"|\\1\"$path\"|;"
    done
    [ -n "$script" ] || continue
    sed -i "$script" "$f"
    changed=$((changed + 1))
done

# One -I for the root, one for the build directory (generated headers).
sed -i 's/\$(addprefix -I,\$(LIBDIRS) supervisor)/-I. -I$(BUILD)/' Makefile
echo "rewrote the includes of $changed files"
