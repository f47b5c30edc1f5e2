#pragma once
// A float layer the EMS tests own: explicit contents, or Gaussian from a seed.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include <kvc/core/layer.hpp>
#include <kvc/core/view.hpp>

namespace kvc_ems_test {

struct owned_layer {
  std::size_t heads, tokens, dim, q_heads, window;
  std::vector<float> keys, values, queries;
  auto layer() const {
    using view = kvc::strided_view<const float>;
    return kvc::make_layer(view::contiguous(keys.data(), heads, tokens, dim),
                           view::contiguous(values.data(), heads, tokens, dim),
                           view::contiguous(queries.data(), q_heads, window, dim));
  }
};

inline owned_layer random_layer(std::size_t heads, std::size_t group, std::size_t tokens, std::size_t dim,
                         std::size_t window, std::uint64_t seed) {
  owned_layer l{heads, tokens, dim, heads * group, window, {}, {}, {}};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto* v : {&l.keys, &l.values}) {
    v->resize(heads * tokens * dim);
    for (auto& x : *v) x = normal(rng);
  }
  l.queries.resize(heads * group * window * dim);
  for (auto& x : l.queries) x = 2.0f * normal(rng);
  return l;
}

}  // namespace kvc_ems_test
