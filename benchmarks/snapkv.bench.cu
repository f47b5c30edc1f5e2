// SnapKV on the GPU for a Llama-3-8B-like layer (8 kv heads, group 4, head_dim 128, window 32,
// budget = tokens / 4 per head) at 4k, 32k and 128k tokens, fp16 and fp32: the fused scorer
// (fp16 on tensor cores, the default, and on CUDA cores), the radix top-k, the gather, and the
// whole snapkv_compress. Counters: bytes = the floor's traffic (what must be read and written at
// least once), flops = 2 * q_heads * window * tokens * head_dim (Q K^T once), and
// x_floor = time / (bytes / D2D bandwidth), the bandwidth measured in this run
// (support/cuda_timing.cuh, docs/cuda.md).
#include "kvc/device/cuda/snapkv_compress.cuh"
#include "support/cuda_timing.cuh"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

namespace kcuda = kvc::device::cuda;
using kvc_bench::run_timed;

constexpr std::size_t kv_heads = 8, group = 4, head_dim = 128, window = 32;

template <class T>
__global__ void fill_random(T* data, std::size_t count, std::uint32_t seed) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < count;
       i += std::size_t{gridDim.x} * blockDim.x) {
    std::uint32_t x = static_cast<std::uint32_t>(i) * 2654435761u ^ seed;
    x ^= x >> 15;
    x *= 2246822519u;
    x ^= x >> 13;
    data[i] = kvc::from_float<T>(static_cast<float>(x & 0xffffu) / 32768.0f - 1.0f);
  }
}

template <class T>
struct bench_layer {
  std::size_t tokens;
  kcuda::device_buffer<T> keys, values, queries;
  std::vector<std::size_t> budgets;

  explicit bench_layer(std::size_t n) : tokens(n), budgets(kv_heads, n / 4) {
    keys.resize(kv_heads * n * head_dim);
    values.resize(kv_heads * n * head_dim);
    queries.resize(kv_heads * group * window * head_dim);
    fill_random<<<1024, 256>>>(keys.data(), keys.size(), 1u);
    fill_random<<<1024, 256>>>(values.data(), values.size(), 2u);
    fill_random<<<1024, 256>>>(queries.data(), queries.size(), 3u);
    kcuda::check_launch("fill_random");
    KVC_CUDA_CHECK(cudaDeviceSynchronize());
  }
  kcuda::device_layer<T> layer() const {
    using view = kvc::strided_view<const T>;
    return kvc::make_layer(view::contiguous(keys.data(), kv_heads, tokens, head_dim),
                           view::contiguous(values.data(), kv_heads, tokens, head_dim),
                           view::contiguous(queries.data(), kv_heads * group, window, head_dim));
  }
  std::size_t kept() const { return kv_heads * (tokens / 4); }
  double cache_bytes() const { return static_cast<double>(kv_heads * tokens * head_dim * sizeof(T)); }
  double query_bytes() const { return static_cast<double>(queries.size() * sizeof(T)); }
  double kept_row_bytes() const { return static_cast<double>(kept() * head_dim * sizeof(T)); }
  double flops() const { return 2.0 * static_cast<double>(kv_heads * group * window * tokens * head_dim); }
};

const kvc::policy::snapkv policy{.score = {.window = window}, .select = {.window = window}};

template <class T, kcuda::score_math Math = kcuda::score_math::automatic>
void window_attention(benchmark::State& state) {
  const bench_layer<T> data(static_cast<std::size_t>(state.range(0)));
  kcuda::device_buffer<float> scores(kv_heads * data.tokens);
  kcuda::scratch work;
  const double bytes = data.cache_bytes() + data.query_bytes() + 4.0 * static_cast<double>(kv_heads * data.tokens);
  run_timed(state, bytes, data.flops(),
            [&] { kcuda::window_attention(policy.score, data.layer(), scores.data(), work, nullptr, Math); });
}

template <class T>
void topk(benchmark::State& state) {
  const bench_layer<T> data(static_cast<std::size_t>(state.range(0)));
  kcuda::device_buffer<float> scores(kv_heads * data.tokens);
  fill_random<<<1024, 256>>>(scores.data(), scores.size(), 4u);
  kcuda::check_launch("fill_random");
  kcuda::device_keep_set keep;
  const kvc::select::topk selection{.recent = window};
  const double bytes = 4.0 * static_cast<double>(kv_heads * data.tokens + data.kept());
  run_timed(state, bytes, 0.0, [&] {
    kcuda::topk(selection, scores.data(), kv_heads, data.tokens, data.budgets, keep, nullptr);
  });
}

template <class T>
void gather(benchmark::State& state) {
  const bench_layer<T> data(static_cast<std::size_t>(state.range(0)));
  kcuda::snapkv_result<T> out;
  kcuda::snapkv_compress(policy, data.layer(), std::span<const std::size_t>(data.budgets), out, nullptr);
  const auto l = data.layer();
  // Read and write each kept key and value row, plus the indices and positions.
  const double bytes = 4.0 * data.kept_row_bytes() + 12.0 * static_cast<double>(data.kept());
  run_timed(state, bytes, 0.0, [&] {
    kcuda::gather<T>(l.keys, l.values, out.keep, out.keys.data(), out.values.data(), nullptr, out.positions.data(),
                     nullptr);
  });
}

template <class T>
void snapkv_compress(benchmark::State& state) {
  const bench_layer<T> data(static_cast<std::size_t>(state.range(0)));
  kcuda::snapkv_result<T> out;
  // Floor: read K and Q once, read and write the kept K/V rows, write indices and positions.
  const double bytes = data.cache_bytes() + data.query_bytes() + 4.0 * data.kept_row_bytes() +
                       12.0 * static_cast<double>(data.kept());
  run_timed(state, bytes, data.flops(), [&] {
    kcuda::snapkv_compress(policy, data.layer(), std::span<const std::size_t>(data.budgets), out, nullptr);
  });
}

void d2d_copy(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  kcuda::device_buffer<std::byte> a(bytes), b(bytes);
  KVC_CUDA_CHECK(cudaMemset(a.data(), 1, bytes));
  run_timed(state, 2.0 * static_cast<double>(bytes), 0.0, [&] {
    KVC_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice));
  });
}

}  // namespace

#define KVC_SNAPKV_SIZES ->Arg(4096)->Arg(32768)->Arg(131072)->UseManualTime()->Unit(benchmark::kMicrosecond)
BENCHMARK(d2d_copy)->Arg(std::int64_t{1} << 30)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(window_attention, __half) KVC_SNAPKV_SIZES;
BENCHMARK_TEMPLATE(window_attention, __half, kcuda::score_math::cuda_cores) KVC_SNAPKV_SIZES;
BENCHMARK_TEMPLATE(window_attention, float) KVC_SNAPKV_SIZES;
BENCHMARK_TEMPLATE(topk, __half) KVC_SNAPKV_SIZES;
BENCHMARK_TEMPLATE(gather, __half) KVC_SNAPKV_SIZES;
BENCHMARK_TEMPLATE(gather, float) KVC_SNAPKV_SIZES;
BENCHMARK_TEMPLATE(snapkv_compress, __half) KVC_SNAPKV_SIZES;
BENCHMARK_TEMPLATE(snapkv_compress, float) KVC_SNAPKV_SIZES;

BENCHMARK_MAIN();
