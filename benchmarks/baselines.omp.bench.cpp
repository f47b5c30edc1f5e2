// The baseline components on a Llama-3-8B-shaped layer (support/llama_layer.hpp), host
// reference ("host/") against the Thrust device path on the OMP system ("omp/"), fp16 and fp32,
// 4k, 32k and 128k tokens (pipelines also into one reused output layer). Each reports bytes moved (compulsory traffic: what must be read and
// written), FLOPs, and floor_ratio = (bytes / copy bandwidth) / time (docs/performance.md).

#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>
#include <vector>

#include <thrust/system/omp/execution_policy.h>

#include "kvc/device/all.hpp"
#include "kvc/kvc.hpp"
#include "support/copy_floor.hpp"
#include "support/costs.hpp"
#include "support/llama_layer.hpp"

namespace {

using omp = kvc::exec::device<thrust::omp::tag>;
using kvc_bench::head_dim;
using kvc_bench::kv_heads;

void report(benchmark::State& state, kvc_bench::cost c) { kvc_bench::report(state, c.bytes, c.flops); }

constexpr std::size_t budget_of(std::size_t n) { return n / 8; }  // keep 12.5%

template <class Scorer, class T>
void host_scorer(benchmark::State& state) {
  const auto& data = kvc_bench::shared_layer<T>(static_cast<std::size_t>(state.range(0)));
  const auto l = data.layer();
  kvc::score_matrix out(kv_heads, data.tokens);
  for (auto _ : state) {
    Scorer{}(l, out);
    benchmark::DoNotOptimize(out.flat().data());
  }
  report(state, kvc_bench::scorer_cost<Scorer>(data));
}

template <class Scorer, class T>
void omp_scorer(benchmark::State& state) {
  const auto& data = kvc_bench::shared_layer<T>(static_cast<std::size_t>(state.range(0)));
  const auto l = data.layer();
  kvc::device::score_matrix<thrust::omp::tag> out;
  for (auto _ : state) {
    kvc::device::score(omp{}, Scorer{}, l, out);
    benchmark::DoNotOptimize(out.data());
  }
  report(state, kvc_bench::scorer_cost<Scorer>(data));
}

/// Top-k of key-norm scores with a 32-token protected window (SnapKV's selection).
template <class T>
void host_topk(benchmark::State& state) {
  const auto& data = kvc_bench::shared_layer<T>(static_cast<std::size_t>(state.range(0)));
  const kvc::score_matrix s = kvc::policy::key_norm{}.scores(data.layer());
  const std::size_t k = budget_of(data.tokens);
  for (auto _ : state) benchmark::DoNotOptimize(kvc::select::window_topk{}(s, k));
  report(state, kvc_bench::topk_cost(data, k));
}

template <class T>
void omp_topk(benchmark::State& state) {
  const auto& data = kvc_bench::shared_layer<T>(static_cast<std::size_t>(state.range(0)));
  const auto s = kvc::device::score(omp{}, kvc::score::key_norm{}, data.layer());
  const std::size_t k = budget_of(data.tokens);
  for (auto _ : state) benchmark::DoNotOptimize(kvc::device::select(omp{}, kvc::select::window_topk{}, s, k));
  report(state, kvc_bench::topk_cost(data, k));
}

/// In-place compaction of a copy of K and V to the keep_set of a top-k (kept rows read + written).
template <class T, bool Device>
void compaction(benchmark::State& state) {
  const auto& data = kvc_bench::shared_layer<T>(static_cast<std::size_t>(state.range(0)));
  const std::size_t n = data.tokens, k = budget_of(n);
  const kvc::keep_set keep = kvc::select::topk{}(kvc::policy::random{}.scores(data.layer()), k);
  std::vector<T> keys = data.keys, values = data.values;
  const auto kv = kvc::strided_view<T>::contiguous(keys.data(), kv_heads, n, head_dim);
  const auto vv = kvc::strided_view<T>::contiguous(values.data(), kv_heads, n, head_dim);
  const auto device_keep = kvc::device::keep_set<thrust::omp::tag>::from_host(keep);
  for (auto _ : state) {
    if constexpr (Device)
      kvc::compact(omp{}, kv, vv, device_keep);
    else
      kvc::compact(kv, vv, keep);
    benchmark::DoNotOptimize(keys.data());
  }
  report(state, kvc_bench::compaction_cost<T>(k));
}

/// A whole policy: scores, selection, and the gathered compressed layer.
template <class Policy, class T, bool Device>
void whole_pipeline(benchmark::State& state) {
  const auto& data = kvc_bench::shared_layer<T>(static_cast<std::size_t>(state.range(0)));
  const auto l = data.layer();
  const std::size_t k = budget_of(data.tokens);
  for (auto _ : state) {
    if constexpr (Device)
      benchmark::DoNotOptimize(kvc::compress(omp{}, Policy{}, l, kvc::budget::tokens{k}));
    else
      benchmark::DoNotOptimize(kvc::compress(kvc::exec::host, Policy{}, l, kvc::budget::tokens{k}));
  }
  report(state, kvc_bench::pipeline_cost<Policy>(data, k));
}

/// The same on the OMP system, into one output layer kept across calls (kvc::compress(…, out)),
/// as an engine compressing layer after layer would: no fresh allocation per call.
template <class Policy, class T>
void pipeline_into(benchmark::State& state) {
  const auto& data = kvc_bench::shared_layer<T>(static_cast<std::size_t>(state.range(0)));
  const auto l = data.layer();
  const std::size_t k = budget_of(data.tokens);
  kvc::device::compressed_layer<T, thrust::omp::tag> out;
  for (auto _ : state) {
    kvc::compress(omp{}, Policy{}, l, kvc::budget::tokens{k}, out);
    benchmark::DoNotOptimize(out.keys().data());
  }
  report(state, kvc_bench::pipeline_cost<Policy>(data, k));
}

void copy_floor(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(kvc_bench::copy_bandwidth());
  state.counters["bytes_per_second"] = kvc_bench::copy_bandwidth();
}

template <class F>
void add(const std::string& name, F f, bool heavy) {
  // Attention-heavy cases run once at 4k only: the host reference needs seconds there already.
  // The rest run at 4k, 32k and 128k tokens (a 128k fp32 layer holds 1 GiB of K and V).
  auto* b = benchmark::RegisterBenchmark(name.c_str(), f)->Unit(benchmark::kMillisecond)->UseRealTime();
  if (heavy)
    b->Arg(4096)->Iterations(1);
  else
    b->Arg(4096)->Arg(32768)->Arg(131072)->MinTime(0.1);
}

/// `all_heavy`: also the attention-heavy scorers and pipelines beyond SnapKV's.
template <class T>
void register_all(const std::string& type, bool all_heavy) {
  namespace score = kvc::score;
  const auto scorer = [&](const std::string& name, auto host, auto device, bool heavy) {
    add("host/score/" + name + "/" + type, host, heavy);
    add("omp/score/" + name + "/" + type, device, heavy);
  };
  scorer("window_attention", host_scorer<score::window_attention, T>, omp_scorer<score::window_attention, T>, true);
  if (all_heavy)
    scorer("accumulated_attention", host_scorer<score::accumulated_attention, T>, omp_scorer<score::accumulated_attention, T>, true);
  scorer("last_query_attention", host_scorer<score::last_query_attention, T>, omp_scorer<score::last_query_attention, T>, false);
  scorer("key_norm", host_scorer<score::key_norm, T>, omp_scorer<score::key_norm, T>, false);
  scorer("random", host_scorer<score::random, T>, omp_scorer<score::random, T>, false);
  scorer("recency", host_scorer<score::recency, T>, omp_scorer<score::recency, T>, false);
  add("host/select/window_topk/" + type, host_topk<T>, false);
  add("omp/select/window_topk/" + type, omp_topk<T>, false);
  add("host/compact/" + type, compaction<T, false>, false);
  add("omp/compact/" + type, compaction<T, true>, false);
  const auto pipeline = [&](const std::string& name, auto host, auto device, bool heavy) {
    add("host/pipeline/" + name + "/" + type, host, heavy);
    add("omp/pipeline/" + name + "/" + type, device, heavy);
  };
  pipeline("snapkv", whole_pipeline<kvc::policy::snapkv, T, false>, whole_pipeline<kvc::policy::snapkv, T, true>, true);
  if (all_heavy) pipeline("h2o", whole_pipeline<kvc::policy::h2o, T, false>, whole_pipeline<kvc::policy::h2o, T, true>, true);
  if (all_heavy) pipeline("adakv", whole_pipeline<kvc::policy::adakv, T, false>, whole_pipeline<kvc::policy::adakv, T, true>, true);
  pipeline("tova", whole_pipeline<kvc::policy::tova, T, false>, whole_pipeline<kvc::policy::tova, T, true>, false);
  pipeline("key_norm", whole_pipeline<kvc::policy::key_norm, T, false>, whole_pipeline<kvc::policy::key_norm, T, true>,
           false);
  pipeline("streaming_llm", whole_pipeline<kvc::policy::streaming_llm, T, false>, whole_pipeline<kvc::policy::streaming_llm, T, true>, false);
  add("omp/pipeline_into/key_norm/" + type, pipeline_into<kvc::policy::key_norm, T>, false);
  add("omp/pipeline_into/streaming_llm/" + type, pipeline_into<kvc::policy::streaming_llm, T>, false);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("floor/copy_2_threads", copy_floor)->Iterations(1);
#if defined(KVC_HAS_FLOAT16)
  register_all<_Float16>("fp16", false);
#endif
  register_all<float>("fp32", true);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
