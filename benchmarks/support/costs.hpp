#pragma once
// Compulsory traffic and arithmetic of the benchmarked components on a llama_layer, shared by
// the OMP and CUDA benchmarks: bytes = what must be read and written at least once (K and the
// queries for the scorers that read keys, one float per (head, token) of scores, the kept K/V
// rows read and written by a gather or compaction), flops = the logits' multiply-adds x 2.

#include <cstddef>
#include <type_traits>

#include "kvc/kvc.hpp"
#include "support/llama_layer.hpp"

namespace kvc_bench {

struct cost {
  double bytes = 0.0, flops = 0.0;
};

/// Q K^T over `rows_per_head` window rows of every query head.
inline double attention_flops(std::size_t tokens, std::size_t rows_per_head) {
  return 2.0 * static_cast<double>(kv_heads * group * rows_per_head * tokens * head_dim);
}

/// A scorer reads what it needs of the layer and writes one float per (kv head, token).
template <class Scorer, class T>
cost scorer_cost(const llama_layer<T>& data) {
  const std::size_t n = data.tokens;
  cost c{data.score_bytes(), 0.0};
  if constexpr (std::is_same_v<Scorer, kvc::score::window_attention> ||
                std::is_same_v<Scorer, kvc::score::accumulated_attention>) {
    c.bytes += data.cache_bytes() + data.query_bytes();
    c.flops = attention_flops(n, window);
  } else if constexpr (std::is_same_v<Scorer, kvc::score::last_query_attention>) {
    c.bytes += data.cache_bytes() + data.query_bytes() / window;
    c.flops = attention_flops(n, 1);
  } else if constexpr (std::is_same_v<Scorer, kvc::score::key_norm>) {
    c.bytes += data.cache_bytes();
    c.flops = 2.0 * static_cast<double>(kv_heads * n * head_dim);
  }
  return c;
}

/// Top-k of `keep` tokens per head: the scores read, the indices written.
template <class T>
cost topk_cost(const llama_layer<T>& data, std::size_t keep) {
  return {data.score_bytes() + static_cast<double>(kv_heads * keep * sizeof(kvc::index_t)), 0.0};
}

/// Compaction or gather of `keep` tokens per head: the kept K and V rows read and written.
template <class T>
cost compaction_cost(std::size_t keep) {
  return {4.0 * static_cast<double>(kv_heads * keep * head_dim * sizeof(T)), 0.0};
}

/// A whole policy: its scorer's reads of K (none for recency) plus the gather of what it keeps.
template <class Policy, class T>
cost pipeline_cost(const llama_layer<T>& data, std::size_t keep) {
  using Scorer = typename Policy::scorer_type;
  cost c = compaction_cost<T>(keep);
  if constexpr (!std::is_same_v<Scorer, kvc::score::recency>) c.bytes += data.cache_bytes();
  if constexpr (std::is_same_v<Scorer, kvc::score::window_attention> ||
                std::is_same_v<Scorer, kvc::score::accumulated_attention>)
    c.flops = attention_flops(data.tokens, window);
  if constexpr (std::is_same_v<Scorer, kvc::score::last_query_attention>) c.flops = attention_flops(data.tokens, 1);
  return c;
}

}  // namespace kvc_bench
