#pragma once
// The host memory-bandwidth floor the benchmarks are compared with: a streaming std::copy of a
// large buffer split over two threads (the machine's cores), measured once per run. Bytes count
// both the read and the write, as the benchmarks' byte counters do.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

namespace kvc_bench {

/// Bytes per second of the best of five 2-thread copies of 256 MiB.
inline double copy_bandwidth() {
  static const double measured = [] {
    const std::size_t n = (std::size_t{256} << 20) / sizeof(float);
    std::vector<float> src(n, 1.0f), dst(n, 0.0f);
    double best = 0.0;
    for (int round = 0; round < 5; ++round) {
      const auto start = std::chrono::steady_clock::now();
      std::thread other([&] { std::copy(src.begin() + n / 2, src.end(), dst.begin() + n / 2); });
      std::copy(src.begin(), src.begin() + n / 2, dst.begin());
      other.join();
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      benchmark::DoNotOptimize(dst.data());
      best = std::max(best, 2.0 * static_cast<double>(n * sizeof(float)) / took.count());
    }
    return best;
  }();
  return measured;
}

/// Adds bytes/s, FLOP/s and the ratio to the copy floor (1 = as fast as copying those bytes).
inline void report(benchmark::State& state, double bytes, double flops) {
  using benchmark::Counter;
  state.counters["bytes"] = Counter(bytes, Counter::kIsIterationInvariantRate, Counter::kIs1000);
  state.counters["flops"] = Counter(flops, Counter::kIsIterationInvariantRate, Counter::kIs1000);
  state.counters["floor_ratio"] = Counter(bytes / copy_bandwidth(), Counter::kIsIterationInvariantRate);
}

}  // namespace kvc_bench
