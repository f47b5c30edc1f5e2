#!/usr/bin/env bash
# Runs each libFuzzer target of the fuzz preset for a bounded time from its committed seed
# corpus, under ASan+UBSan: tools/fuzz.sh [seconds per target, default 60] [target ...]
# Build first: cmake --workflow --preset fuzz (it also replays every seed as a CTest entry).
# New inputs go to build/fuzz/corpus-<name> (not the committed corpus); a crash leaves its input
# as build/fuzz/crash-<name>-* and makes the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy trace policy)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
status=0
for name in "${targets[@]}"; do
  exe=build/fuzz/fuzz/fuzz_$name
  [ -x "$exe" ] || { echo "fuzz.sh: $exe is not built (cmake --workflow --preset fuzz)" >&2; exit 1; }
  work=build/fuzz/corpus-$name
  mkdir -p "$work"
  echo "fuzz.sh: $name for ${seconds}s" >&2
  if ! "$exe" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
       -artifact_prefix="build/fuzz/crash-$name-" "$work" "fuzz/corpus/$name" 2>build/fuzz/fuzz-$name.log; then
    tail -60 build/fuzz/fuzz-$name.log >&2
    echo "fuzz.sh: $name FAILED (input: build/fuzz/crash-$name-*)" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|cov: " build/fuzz/fuzz-$name.log | tail -2 >&2
  fi
done
exit $status
