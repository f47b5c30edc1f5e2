#pragma once
// Owning random layers for tests: Gaussian keys/values/queries from a fixed seed.
#include <kvc/kvc.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace kvc_test {

template <class T = float>
struct random_layer {
  std::size_t kv_heads, tokens, head_dim, group, window;
  std::vector<T> keys, values, queries;

  random_layer(std::size_t kv_heads_, std::size_t tokens_, std::size_t head_dim_, std::size_t group_,
               std::size_t window_, std::uint64_t seed)
      : kv_heads(kv_heads_), tokens(tokens_), head_dim(head_dim_), group(group_), window(window_) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    auto fill = [&](std::vector<T>& v, std::size_t count) {
      v.resize(count);
      for (auto& x : v) x = kvc::from_float<T>(normal(rng));
    };
    fill(keys, kv_heads * tokens * head_dim);
    fill(values, kv_heads * tokens * head_dim);
    fill(queries, kv_heads * group * window * head_dim);
  }
  auto key_view() const { return kvc::strided_view<const T>::contiguous(keys.data(), kv_heads, tokens, head_dim); }
  auto value_view() const { return kvc::strided_view<const T>::contiguous(values.data(), kv_heads, tokens, head_dim); }
  auto query_view() const {
    return kvc::strided_view<const T>::contiguous(queries.data(), kv_heads * group, window, head_dim);
  }
  auto layer() const { return kvc::make_layer(key_view(), value_view(), query_view()); }
};

}  // namespace kvc_test
