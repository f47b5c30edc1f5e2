#!/bin/sh
# Regenerate genesis.txt from the King James Version text shipped in the
# Debian package bible-kjv-text (4.38), using its `bible` program
# (package bible-kjv).
#
# Output format: for every chapter a heading line "Chapter N", then the
# whole chapter as one paragraph (verses joined by single spaces, verse
# references removed); chapters are separated by a blank line.
#
# Usage: tools/eval/data/extract_genesis.sh [OUTPUT]   (default: genesis.txt
# next to this script)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/genesis.txt"}

command -v bible >/dev/null 2>&1 || {
    echo "error: 'bible' not found; install it with: apt-get install bible-kjv" >&2
    exit 1
}

COLUMNS=100000 bible -f "Genesis 1:1-50:26" | LC_ALL=C awk '
    /^Ge[0-9]+:[0-9]+ / {
        ref = $1
        sub(/^Ge/, "", ref)
        split(ref, p, ":")
        ch = p[1] + 0
        text = $0
        sub(/^Ge[0-9]+:[0-9]+ +/, "", text)
        if (ch != cur) {
            if (cur) printf "\n\n"
            printf "Chapter %d\n", ch
            cur = ch
            sep = ""
        }
        printf "%s%s", sep, text
        sep = " "
        n++
        next
    }
    /^[[:space:]]*$/ { next }
    { print "unexpected line from bible: " $0 > "/dev/stderr"; bad = 1 }
    END {
        if (cur) printf "\n"
        if (bad) exit 1
        if (n != 1533) { print "expected 1533 verses, got " n > "/dev/stderr"; exit 1 }
    }
' > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
