#!/usr/bin/env bash
# Compile and run a few doctest files against kvc without a full CMake build:
#   tools/quicktest.sh tests/score/key_norm.test.cpp [more.test.cpp ...] [-- doctest args]
# Set OMP=1 to compile them for Thrust's OMP device system.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${TMPDIR:-/tmp}/kvc-quicktest
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -Wall -Wextra -Wpedantic -I"$root/include" -I"$root/tests" -isystem /usr/local/cuda/include/cccl
       -DKVC_TEST_DATA_DIR="\"$root/tests/data\"")
if [ "${OMP:-0}" = 1 ]; then flags+=(-fopenmp -DTHRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_OMP); fi
[ -f "$out/main.o" ] || g++ "${flags[@]}" -c "$root/tests/main.cpp" -o "$out/main.o"
files=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do files+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
exe="$out/t$$"
g++ "${flags[@]}" "$out/main.o" "${files[@]}" -o "$exe"
"$exe" "$@"
