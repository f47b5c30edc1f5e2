#pragma once
// Test support: a layer of Gaussian keys, values and queries from a fixed seed, owning its storage.

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/view.hpp"

namespace kvc::test {

struct random_layer {
  std::size_t kv_heads, group, tokens, head_dim, window;
  std::vector<float> keys, values, queries;

  random_layer(std::size_t h, std::size_t g, std::size_t n, std::size_t d, std::size_t w, std::uint64_t seed)
      : kv_heads(h), group(g), tokens(n), head_dim(d), window(w),
        keys(h * n * d), values(h * n * d), queries(h * g * w * d) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto* v : {&keys, &values, &queries})
      for (auto& x : *v) x = normal(rng);
  }
  [[nodiscard]] strided_view<const float> key_view() const {
    return strided_view<const float>::contiguous(keys.data(), kv_heads, tokens, head_dim);
  }
  [[nodiscard]] strided_view<const float> value_view() const {
    return strided_view<const float>::contiguous(values.data(), kv_heads, tokens, head_dim);
  }
  [[nodiscard]] strided_view<const float> query_view() const {
    return strided_view<const float>::contiguous(queries.data(), kv_heads * group, window, head_dim);
  }
  [[nodiscard]] auto layer() const { return make_layer(key_view(), value_view(), query_view()); }
};

/// Every head's indices are strictly ascending and inside [0, tokens).
inline bool sorted_unique(const keep_set& k) {
  for (std::size_t h = 0; h < k.heads(); ++h) {
    const auto idx = k.head(h);
    for (std::size_t i = 0; i < idx.size(); ++i) {
      if (idx[i] < 0 || static_cast<std::size_t>(idx[i]) >= k.tokens()) return false;
      if (i > 0 && idx[i - 1] >= idx[i]) return false;
    }
  }
  return true;
}

/// Views one head's kept indices as a plain vector (for CHECK comparisons).
inline std::vector<index_t> kept(const keep_set& k, std::size_t h) {
  const auto idx = k.head(h);
  return {idx.begin(), idx.end()};
}

}  // namespace kvc::test

namespace kvc::test {

/// Runs `f` and returns the argument named by the kvc::error it throws ("no error" otherwise).
template <class F>
std::string argument_of(F&& f) {
  try {
    f();
  } catch (const kvc::error& e) {
    return e.argument();
  }
  return "no error";
}

/// Layers whose extents are wrong in one way each, for the bad-input tests.
struct bad_layers {
  std::vector<float> keys = std::vector<float>(2 * 8 * 4, 1.0f), values = std::vector<float>(2 * 8 * 4, 1.0f),
                     queries = std::vector<float>(3 * 2 * 4, 1.0f);
  /// values hold 7 tokens where keys hold 8.
  [[nodiscard]] auto short_values() const {
    return make_layer(strided_view<const float>::contiguous(keys.data(), 2, 8, 4),
                      strided_view<const float>::contiguous(values.data(), 2, 7, 4),
                      strided_view<const float>::contiguous(queries.data(), 2, 2, 4));
  }
  /// 3 query heads for 2 kv heads.
  [[nodiscard]] auto three_query_heads() const {
    return make_layer(strided_view<const float>::contiguous(keys.data(), 2, 8, 4),
                      strided_view<const float>::contiguous(values.data(), 2, 8, 4),
                      strided_view<const float>::contiguous(queries.data(), 3, 2, 4));
  }
};

}  // namespace kvc::test
