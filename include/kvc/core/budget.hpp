#pragma once
// Budgets are values: how many tokens a head keeps, and how a model-level budget is split
// across layers (uniform, PyramidKV). Head-adaptive splits (Ada-KV) are a selector:
// kvc::select::head_adaptive.

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"

namespace kvc::budget {

/// Keep `value` of each head's tokens, value in (0, 1]. count(n) = max(1, round(value * n)).
struct ratio {
  double value = 0.5;
  [[nodiscard]] std::size_t count(std::size_t tokens) const {
    detail::require(value > 0.0 && value <= 1.0, "budget::ratio", "a fraction in (0, 1]", value);
    const auto k = static_cast<std::size_t>(std::llround(value * static_cast<double>(tokens)));
    return std::clamp<std::size_t>(k, 1, tokens);
  }
};

/// Keep exactly `value` tokens per head; more than the cache holds is an error.
struct tokens {
  std::size_t value = 0;
  [[nodiscard]] std::size_t count(std::size_t n) const {
    detail::require(value >= 1, "budget::tokens", "at least 1 token", value);
    detail::require(value <= n, "budget::tokens", "at most the " + std::to_string(n) + " cached tokens", value);
    return value;
  }
};

/// Anything that turns a cache length into a per-head token count.
template <class B>
concept per_head = requires(const B& b, std::size_t n) {
  { b.count(n) } -> std::convertible_to<std::size_t>;
};

/// Same budget for every layer.
struct uniform {
  [[nodiscard]] std::vector<std::size_t> split(std::size_t average, std::size_t layers) const {
    detail::require(layers >= 1, "layers", "at least 1", layers);
    return std::vector<std::size_t>(layers, average);
  }
};

/// PyramidKV (Cai et al. 2024, §3.3): per-layer budgets form an arithmetic sequence from
/// the first layer down to the last, k_last = average / beta and k_first = 2 * average - k_last,
/// so the total is layers * average. Rounded by largest remainder so the total is exact.
struct pyramid {
  double beta = 20.0;
  [[nodiscard]] std::vector<std::size_t> split(std::size_t average, std::size_t layers) const {
    detail::require(layers >= 1, "layers", "at least 1", layers);
    detail::require(beta >= 1.0, "pyramid.beta", "at least 1", beta);
    if (layers == 1) return {average};
    const double avg = static_cast<double>(average);
    const double last = avg / beta, first = 2.0 * avg - last;
    std::vector<double> exact(layers);
    for (std::size_t l = 0; l < layers; ++l)
      exact[l] = first - (first - last) * static_cast<double>(l) / static_cast<double>(layers - 1);
    std::vector<std::size_t> out(layers);
    std::size_t assigned = 0;
    for (std::size_t l = 0; l < layers; ++l) assigned += out[l] = static_cast<std::size_t>(std::floor(exact[l]));
    std::vector<std::size_t> order(layers);
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Largest fractional part first; ties to the shallower layer.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return exact[a] - std::floor(exact[a]) > exact[b] - std::floor(exact[b]);
    });
    for (std::size_t i = 0; assigned < average * layers; ++i, ++assigned) ++out[order[i % layers]];
    return out;
  }
};

template <class A>
concept layer_allocator = requires(const A& a, std::size_t n) {
  { a.split(n, n) } -> std::same_as<std::vector<std::size_t>>;
};

}  // namespace kvc::budget
