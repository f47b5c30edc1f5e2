#pragma once
// A Llama-3-8B-shaped attention layer for the benchmarks: 8 kv heads, GQA group 4 (32 query
// heads), head_dim 128, a 32-query observation window; synthetic data (kvc::eval), stored as T.

#include <cstddef>
#include <map>
#include <memory>
#include <vector>

#include "kvc/core/element.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/view.hpp"
#include "kvc/eval/synthetic.hpp"

namespace kvc_bench {

inline constexpr std::size_t kv_heads = 8, group = 4, head_dim = 128, window = 32;

template <class T>
struct llama_layer {
  std::size_t tokens;
  std::vector<T> keys, values, queries;

  explicit llama_layer(std::size_t n) : tokens(n) {
    const auto s = kvc::eval::make_synthetic_layer(
        {.kv_heads = kv_heads, .group = group, .tokens = n, .head_dim = head_dim, .window = window, .held_out = 1});
    for (float x : s.keys) keys.push_back(kvc::from_float<T>(x));
    for (float x : s.values) values.push_back(kvc::from_float<T>(x));
    for (float x : s.queries) queries.push_back(kvc::from_float<T>(x));
  }
  [[nodiscard]] auto layer() const {
    using view = kvc::strided_view<const T>;
    return kvc::make_layer(view::contiguous(keys.data(), kv_heads, tokens, head_dim),
                           view::contiguous(values.data(), kv_heads, tokens, head_dim),
                           view::contiguous(queries.data(), kv_heads * group, window, head_dim));
  }
  [[nodiscard]] double cache_bytes() const { return static_cast<double>(keys.size() * sizeof(T)); }  ///< K (or V)
  [[nodiscard]] double query_bytes() const { return static_cast<double>(queries.size() * sizeof(T)); }
  [[nodiscard]] double score_bytes() const { return static_cast<double>(kv_heads * tokens * sizeof(float)); }
};

/// One layer per (T, tokens), built on first use and kept for the run.
template <class T>
const llama_layer<T>& shared_layer(std::size_t tokens) {
  static std::map<std::size_t, std::unique_ptr<llama_layer<T>>> cache;
  auto& slot = cache[tokens];
  if (!slot) slot = std::make_unique<llama_layer<T>>(tokens);
  return *slot;
}

}  // namespace kvc_bench
