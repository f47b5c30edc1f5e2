#pragma once
// Timing for the CUDA benchmarks: cudaEvent timers, the device-to-device copy bandwidth measured
// once per run (cudaMemcpyAsync of 1 GiB, bytes read + written, best of ten), and run_timed,
// which times a body with events and reports bytes, FLOPs, their rates and
// x_floor = time / (bytes / that bandwidth) (docs/cuda.md#benchmarks).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <utility>

#include "kvc/device/cuda/buffer.cuh"
#include "kvc/device/cuda/check.cuh"

namespace kvc_bench {

class gpu_timer {
 public:
  gpu_timer() {
    KVC_CUDA_CHECK(cudaEventCreate(&start_));
    KVC_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  gpu_timer(const gpu_timer&) = delete;
  gpu_timer& operator=(const gpu_timer&) = delete;
  ~gpu_timer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  void start() { KVC_CUDA_CHECK(cudaEventRecord(start_)); }
  double stop_seconds() {
    KVC_CUDA_CHECK(cudaEventRecord(stop_));
    KVC_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    KVC_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return ms * 1e-3;
  }

 private:
  cudaEvent_t start_{}, stop_{};
};

/// Device-to-device copy bandwidth (bytes read + written per second), measured once per run.
inline double d2d_bandwidth() {
  static const double bandwidth = [] {
    const std::size_t bytes = std::size_t{1} << 30;
    kvc::device::cuda::device_buffer<std::byte> a(bytes), b(bytes);
    KVC_CUDA_CHECK(cudaMemset(a.data(), 1, bytes));
    gpu_timer timer;
    KVC_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice));  // warm-up
    double best = 1e30;
    for (int i = 0; i < 10; ++i) {
      timer.start();
      KVC_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice));
      best = std::min(best, timer.stop_seconds());
    }
    return 2.0 * static_cast<double>(bytes) / best;
  }();
  return bandwidth;
}

/// Times `body` with cudaEvents after one warm-up call (buffers sized, kernels loaded).
template <class F>
void run_timed(benchmark::State& state, double bytes, double flops, F&& body) {
  gpu_timer timer;
  body();
  KVC_CUDA_CHECK(cudaDeviceSynchronize());
  double total = 0.0;
  for (auto _ : state) {
    timer.start();
    body();
    const double s = timer.stop_seconds();
    state.SetIterationTime(s);
    total += s;
  }
  const double per_iteration = total / static_cast<double>(state.iterations());
  const double iterations = static_cast<double>(state.iterations());
  state.counters["bytes"] = bytes;
  state.counters["flops"] = flops;
  state.counters["bytes_per_s"] = benchmark::Counter(bytes * iterations, benchmark::Counter::kIsRate);
  state.counters["flops_per_s"] = benchmark::Counter(flops * iterations, benchmark::Counter::kIsRate);
  state.counters["d2d_bytes_per_s"] = d2d_bandwidth();
  state.counters["x_floor"] = per_iteration / (bytes / d2d_bandwidth());
}

}  // namespace kvc_bench
