#pragma once
// A synthetic attention layer with the structures real heads show: attention sinks, local
// (recency) heads, heavy-hitter heads and diffuse heads, under GQA. Used by the demo, the
// benchmarks and the tests; deterministic for a seed.
//
// Head h has kind h % 4: 0 sink (token 0 draws most attention), 1 local (a RoPE-like rotating
// pair makes nearby tokens score high), 2 heavy hitters (a few scattered tokens align with the
// queries), 3 diffuse (plain Gaussian keys). Queries of a group share their head's structure.

#include "kvc/version.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>
#include <vector>

#include "kvc/core/layer.hpp"
#include "kvc/core/view.hpp"

namespace kvc::eval {

struct synthetic_config {
  std::size_t kv_heads = 8;
  std::size_t group = 4;       ///< query heads per kv head
  std::size_t tokens = 1024;   ///< cached prompt tokens
  std::size_t head_dim = 64;
  std::size_t window = 32;     ///< observation-window queries (the prompt's last ones)
  std::size_t held_out = 16;   ///< later queries, for judging a compression
  double heavy_fraction = 0.02;  ///< share of heavy-hitter tokens in heavy heads
  std::uint64_t seed = 1;
};

enum class head_kind { sink, local, heavy, diffuse };

struct synthetic_layer {
  synthetic_config config;
  std::vector<float> keys, values, queries, future_queries;
  std::vector<head_kind> kinds;

  [[nodiscard]] strided_view<const float> key_view() const {
    return strided_view<const float>::contiguous(keys.data(), config.kv_heads, config.tokens, config.head_dim);
  }
  [[nodiscard]] strided_view<const float> value_view() const {
    return strided_view<const float>::contiguous(values.data(), config.kv_heads, config.tokens, config.head_dim);
  }
  [[nodiscard]] strided_view<const float> query_view() const {
    return strided_view<const float>::contiguous(queries.data(), config.kv_heads * config.group, config.window,
                                                 config.head_dim);
  }
  /// `[q_heads, held_out, head_dim]`: queries at positions tokens .. tokens + held_out − 1.
  [[nodiscard]] strided_view<const float> future_view() const {
    return strided_view<const float>::contiguous(future_queries.data(), config.kv_heads * config.group,
                                                 config.held_out, config.head_dim);
  }
  [[nodiscard]] auto layer() const { return make_layer(key_view(), value_view(), query_view()); }
};

inline synthetic_layer make_synthetic_layer(const synthetic_config& c) {
  synthetic_layer s{c, {}, {}, {}, {}, {}};
  std::mt19937_64 rng(c.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  const std::size_t H = c.kv_heads, n = c.tokens, d = c.head_dim, Q = H * c.group;
  s.keys.resize(H * n * d);
  s.values.resize(H * n * d);
  s.queries.resize(Q * c.window * d);
  s.future_queries.resize(Q * c.held_out * d);
  // Queries carry alpha = sqrt(d) along the head's direction, so a key component of b along it
  // adds exactly b to the logit q.k / sqrt(d): boosts below are in logit units.
  const float alpha = std::sqrt(static_cast<float>(d));
  // Local heads: `pairs` rotating 2-D pairs (RoPE-like, several frequencies so far tokens
  // decorrelate) add up to `local_peak` to the logit of tokens near the query.
  const std::size_t pairs = std::min<std::size_t>(8, d / 2);
  const float local_peak = 8.0f, pair_amplitude = std::sqrt(local_peak / static_cast<float>(pairs) * alpha);
  auto omega = [&](std::size_t i) { return 2.0 * std::numbers::pi / (48.0 * std::pow(1.6, static_cast<double>(i))); };

  for (std::size_t h = 0; h < H; ++h) {
    const auto kind = static_cast<head_kind>(h % 4);
    s.kinds.push_back(kind);
    std::vector<float> dir(d);  // the head's attention direction, unit length
    float norm = 0.0f;
    for (auto& x : dir) {
      x = normal(rng);
      norm += x * x;
    }
    for (auto& x : dir) x /= std::sqrt(norm);
    for (std::size_t t = 0; t < n; ++t) {
      float* key = &s.keys[(h * n + t) * d];
      for (std::size_t k = 0; k < d; ++k) {
        key[k] = 0.6f * normal(rng);
        s.values[(h * n + t) * d + k] = normal(rng);
      }
      float boost = 0.0f;
      if (kind == head_kind::sink && t == 0) boost = 9.0f;
      if (kind == head_kind::sink && t > 0) boost = uniform(rng) < 0.01f ? 3.0f : 0.0f;
      if (kind == head_kind::heavy && uniform(rng) < c.heavy_fraction) boost = 4.0f + 2.0f * uniform(rng);
      if (kind == head_kind::heavy && t == 0) boost = 5.0f;
      for (std::size_t k = 0; k < d; ++k) key[k] += boost * dir[k];
      if (kind == head_kind::local)
        for (std::size_t i = 0; i < pairs; ++i) {
          key[2 * i] = pair_amplitude * static_cast<float>(std::cos(omega(i) * static_cast<double>(t)));
          key[2 * i + 1] = pair_amplitude * static_cast<float>(std::sin(omega(i) * static_cast<double>(t)));
        }
    }
    auto make_query = [&](float* q, std::size_t position) {
      for (std::size_t k = 0; k < d; ++k) q[k] = 0.5f * normal(rng) + (kind == head_kind::diffuse ? 0.0f : alpha * dir[k]);
      if (kind == head_kind::local)
        for (std::size_t i = 0; i < pairs; ++i) {
          q[2 * i] = pair_amplitude * static_cast<float>(std::cos(omega(i) * static_cast<double>(position)));
          q[2 * i + 1] = pair_amplitude * static_cast<float>(std::sin(omega(i) * static_cast<double>(position)));
        }
    };
    for (std::size_t g = 0; g < c.group; ++g) {
      const std::size_t qh = h * c.group + g;
      for (std::size_t j = 0; j < c.window; ++j) make_query(&s.queries[(qh * c.window + j) * d], n - c.window + j);
      for (std::size_t j = 0; j < c.held_out; ++j) make_query(&s.future_queries[(qh * c.held_out + j) * d], n + j);
    }
  }
  return s;
}

}  // namespace kvc::eval
