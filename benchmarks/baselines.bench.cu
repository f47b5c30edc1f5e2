// The baseline components through kvc's generic device path on CUDA
// (kvc::exec::device<thrust::cuda::tag>: Thrust, plus the fused window-attention scorer that
// kvc::device::fast_path picks for SnapKV) on the Llama-3-8B-shaped layer of
// support/llama_layer.hpp, in device memory: scorers, window_topk, in-place compaction and whole
// pipelines at 4k, 32k and 128k tokens, fp16 and fp32, budget 12.5%. Counters as in
// snapkv.bench.cu: bytes and flops (support/costs.hpp), their rates, and x_floor against the
// device-to-device copy bandwidth measured in the same run (support/cuda_timing.cuh).
#include <benchmark/benchmark.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include <thrust/device_vector.h>

#include "kvc/device/all.hpp"
#include "kvc/kvc.hpp"
#include "support/costs.hpp"
#include "support/cuda_timing.cuh"
#include "support/llama_layer.hpp"

namespace {

using cuda = kvc::exec::device<thrust::cuda::tag>;
using kvc_bench::head_dim;
using kvc_bench::kv_heads;

constexpr std::size_t budget_of(std::size_t n) { return n / 8; }  // keep 12.5%

/// The synthetic layer of llama_layer<T>, uploaded once per (T, tokens).
template <class T>
struct device_layer {
  std::size_t tokens;
  thrust::device_vector<T> keys, values, queries;

  explicit device_layer(const kvc_bench::llama_layer<T>& host)
      : tokens(host.tokens), keys(host.keys), values(host.values), queries(host.queries) {}
  [[nodiscard]] auto layer() const {
    using view = kvc::strided_view<const T>;
    return kvc::make_layer(view::contiguous(thrust::raw_pointer_cast(keys.data()), kv_heads, tokens, head_dim),
                           view::contiguous(thrust::raw_pointer_cast(values.data()), kv_heads, tokens, head_dim),
                           view::contiguous(thrust::raw_pointer_cast(queries.data()), kv_heads * kvc_bench::group,
                                            kvc_bench::window, head_dim));
  }
};

/// The uploaded layers, one per tokens count; cleared before main returns (device memory must
/// be freed while the CUDA runtime is still up).
template <class T>
std::map<std::size_t, std::unique_ptr<device_layer<T>>>& device_layers() {
  static std::map<std::size_t, std::unique_ptr<device_layer<T>>> cache;
  return cache;
}

template <class T>
const device_layer<T>& shared_device_layer(std::size_t tokens) {
  auto& slot = device_layers<T>()[tokens];
  if (!slot) slot = std::make_unique<device_layer<T>>(kvc_bench::shared_layer<T>(tokens));
  return *slot;
}

void run(benchmark::State& state, kvc_bench::cost c, auto&& body) { kvc_bench::run_timed(state, c.bytes, c.flops, body); }

template <class Scorer, class T>
void scorer(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const auto l = shared_device_layer<T>(n).layer();
  kvc::device::score_matrix<thrust::cuda::tag> out;
  run(state, kvc_bench::scorer_cost<Scorer>(kvc_bench::shared_layer<T>(n)),
      [&] { kvc::device::score(cuda{}, Scorer{}, l, out); });
}

/// window_topk (SnapKV's selection: the last 32 tokens protected) of key-norm scores.
template <class T>
void topk(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0)), k = budget_of(n);
  const auto s = kvc::device::score(cuda{}, kvc::score::key_norm{}, shared_device_layer<T>(n).layer());
  run(state, kvc_bench::topk_cost(kvc_bench::shared_layer<T>(n), k),
      [&] { benchmark::DoNotOptimize(kvc::device::select(cuda{}, kvc::select::window_topk{}, s, k)); });
}

/// In-place compaction of a device copy of K and V to the keep_set of a random top-k. The copy
/// is not restored between calls: compacting again moves the same rows (other contents, the
/// same traffic).
template <class T>
void compaction(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0)), k = budget_of(n);
  const auto& data = shared_device_layer<T>(n);
  thrust::device_vector<T> keys = data.keys, values = data.values;
  const auto kv = kvc::strided_view<T>::contiguous(thrust::raw_pointer_cast(keys.data()), kv_heads, n, head_dim);
  const auto vv = kvc::strided_view<T>::contiguous(thrust::raw_pointer_cast(values.data()), kv_heads, n, head_dim);
  const kvc::keep_set keep = kvc::select::topk{}(kvc::policy::random{}.scores(kvc_bench::shared_layer<T>(n).layer()), k);
  const auto device_keep = kvc::device::keep_set<thrust::cuda::tag>::from_host(keep);
  run(state, kvc_bench::compaction_cost<T>(k), [&] { kvc::compact(cuda{}, kv, vv, device_keep); });
}

template <class Policy, class T>
void pipeline(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0)), k = budget_of(n);
  const auto l = shared_device_layer<T>(n).layer();
  run(state, kvc_bench::pipeline_cost<Policy>(kvc_bench::shared_layer<T>(n), k),
      [&] { benchmark::DoNotOptimize(kvc::compress(cuda{}, Policy{}, l, kvc::budget::tokens{k})); });
}

template <class F>
void add(const std::string& name, F f) {
  benchmark::RegisterBenchmark(name.c_str(), f)
      ->Arg(4096)
      ->Arg(32768)
      ->Arg(131072)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.05);
}

template <class T>
void register_all(const std::string& type) {
  namespace score = kvc::score;
  namespace policy = kvc::policy;
  add("cuda/score/key_norm/" + type, scorer<score::key_norm, T>);
  add("cuda/score/last_query_attention/" + type, scorer<score::last_query_attention, T>);
  add("cuda/score/accumulated_attention/" + type, scorer<score::accumulated_attention, T>);
  add("cuda/score/window_attention/" + type, scorer<score::window_attention, T>);
  add("cuda/select/window_topk/" + type, topk<T>);
  add("cuda/compact/" + type, compaction<T>);
  add("cuda/pipeline/streaming_llm/" + type, pipeline<policy::streaming_llm, T>);
  add("cuda/pipeline/key_norm/" + type, pipeline<policy::key_norm, T>);
  add("cuda/pipeline/tova/" + type, pipeline<policy::tova, T>);
  add("cuda/pipeline/h2o/" + type, pipeline<policy::h2o, T>);
  add("cuda/pipeline/snapkv/" + type, pipeline<policy::snapkv, T>);
  add("cuda/pipeline/adakv/" + type, pipeline<policy::adakv, T>);
}

}  // namespace

int main(int argc, char** argv) {
  register_all<__half>("fp16");
  register_all<float>("fp32");
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  device_layers<__half>().clear();
  device_layers<float>().clear();
  benchmark::Shutdown();
  return 0;
}
