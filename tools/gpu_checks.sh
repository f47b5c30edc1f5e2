#!/usr/bin/env bash
# Runs kvc's GPU checks on a machine with an NVIDIA GPU, from an already built tree:
#   1. the CUDA test suite (kvc_cuda_tests: device-vs-host parity of every component),
#   2. the CUDA benchmarks: bench_cuda_snapkv (the fast paths) and bench_cuda_baselines (the
#      generic device path of every baseline), JSON,
#   3. compute-sanitizer memcheck over the whole CUDA test suite (less the test that makes a CUDA
#      call fail on purpose, which memcheck would report as an API error),
#   4. compute-sanitizer racecheck and synccheck over the CUDA fast-path tests,
#   5. Nsight Compute (ncu) on one fp16 snapkv_compress call at 32k tokens (profile.log).
# Build first (here for an H100/H200; add 80 for an A100):
#   cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DKVC_ENABLE_CUDA=ON \
#         -DKVC_RUN_CUDA_TESTS=ON -DCMAKE_CUDA_ARCHITECTURES=90
#   cmake --build build/gpu --target kvc_cuda_tests bench_cuda_snapkv bench_cuda_baselines
# Usage: tools/gpu_checks.sh [build-dir] [out-dir] [steps], steps a comma-separated subset of
# tests,benchmarks,profile,baselines,memcheck,racecheck,synccheck (default: all). Each step has its own time limit
# in seconds (the first argument of step below); a summary table is printed last.
# KVC_GPU_CHECKS_TAR=1 packs the logs and JSON into out-dir/gpu-checks.tar.gz instead.
set -u
build=${1:-build/gpu}
out=${2:-build/gpu-checks}
steps=",${3:-tests,benchmarks,profile,baselines,memcheck,racecheck,synccheck},"
mkdir -p "$out"
tests="$build/tests/kvc_cuda_tests"
bench="$build/benchmarks/bench_cuda_snapkv"
baselines="$build/benchmarks/bench_cuda_baselines"
# A tree built on another machine may carry the Google Benchmark shared library beside it.
[ -d "$build/lib" ] && export LD_LIBRARY_PATH="$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
profiler=$(command -v ncu || echo /usr/local/cuda/bin/ncu)

declare -a names results seconds
step() {  # step SECONDS NAME LOGFILE COMMAND...
  local limit=$1 name=$2 log=$3
  shift 3
  [[ $steps == *",${log%.log},"* ]] || return 0
  local t0=$SECONDS
  echo "=== $name: $*" | tee "$out/$log"
  timeout "$limit" "$@" >>"$out/$log" 2>&1
  local rc=$?
  tail -n 40 "$out/$log"
  names+=("$name")
  results+=("$rc")
  seconds+=("$((SECONDS - t0))")
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
  nvcc --version | tail -n 2; } >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

step 90 "cuda tests" tests.log "$tests" --duration=true
step 120 "benchmarks" benchmarks.log "$bench" --benchmark_out="$out/bench.json" --benchmark_out_format=json \
  --benchmark_min_time=0.2 --benchmark_counters_tabular=true
# The six launches of the benchmark's first (warm-up) snapkv_compress call.
step 120 "profile" profile.log "$profiler" --section SpeedOfLight --section Occupancy --section LaunchStats \
  --section MemoryWorkloadAnalysis -k 'regex:window|radix|gather' -c 6 \
  "$bench" --benchmark_filter='snapkv_compress<__half>/32768' --benchmark_min_time=0.001
step 240 "baselines" baselines.log "$baselines" --benchmark_out="$out/baselines.json" \
  --benchmark_out_format=json --benchmark_counters_tabular=true
step 120 "memcheck" memcheck.log "$sanitizer" --tool memcheck --leak-check full --error-exitcode 3 "$tests" \
  --test-case-exclude='KVC_CUDA_CHECK*'
step 60 "racecheck" racecheck.log "$sanitizer" --tool racecheck --error-exitcode 3 "$tests" \
  --source-file='*cuda.test.cu'
step 30 "synccheck" synccheck.log "$sanitizer" --tool synccheck --error-exitcode 3 "$tests" \
  --source-file='*cuda.test.cu'

echo
echo "| step | exit status | seconds |"
echo "| --- | --- | --- |"
failed=0
for i in "${!names[@]}"; do
  echo "| ${names[$i]} | ${results[$i]} | ${seconds[$i]} |"
  [ "${results[$i]}" -ne 0 ] && failed=1
done
if [ "${KVC_GPU_CHECKS_TAR:-0}" = 1 ]; then
  (cd "$out" && shopt -s nullglob && tar czf gpu-checks.tar.gz --remove-files machine.txt ./*.log ./*.json)
fi
exit $failed
