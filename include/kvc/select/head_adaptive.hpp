#pragma once
// Ada-KV's head-adaptive budget (Feng et al. 2024, Alg. 1): the layer keeps heads · budget
// tokens chosen by one top-k over all heads jointly, so concentrated heads give budget to
// dispersed ones. Every head keeps its last `recent` tokens (the observation window), and a
// safeguard guarantees each head its own best floor(floor_fraction · (budget − recent)) tokens
// beyond the window (α = 0.2, as in the Ada-KV reference code). docs/adakv.md

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "kvc/core/keep_set.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/select/detail/rank.hpp"

namespace kvc::select {

struct head_adaptive {
  double floor_fraction = 0.2;  ///< α: share of budget − recent every head keeps by its own scores
  std::size_t recent = 32;      ///< last tokens of every head always kept

  /// The checks and the per-head floor, for every path: each head keeps its last
  /// w = min(recent, n) tokens and its own best up to w + floor(α · (budget − w)) in all.
  struct guarantee_t {
    std::size_t window, guaranteed;
  };
  [[nodiscard]] guarantee_t guarantee(std::size_t n, std::size_t budget) const {
    kvc::detail::require(floor_fraction >= 0.0 && floor_fraction <= 1.0, "head_adaptive.floor_fraction",
                         "a fraction in [0, 1]", floor_fraction);
    const std::size_t w = std::min(recent, n);
    detail::require_budget(budget, w, n);
    return {w, w + static_cast<std::size_t>(floor_fraction * static_cast<double>(budget - w))};
  }

  keep_set operator()(const score_matrix& s, std::size_t budget) const {
    const std::size_t n = s.tokens(), heads = s.heads();
    const auto [protected_tokens, guaranteed] = guarantee(n, budget);
    detail::require_finite(s);

    // Safeguard: every head first keeps its window and its own best tokens up to `guaranteed`.
    std::vector<std::vector<char>> keep(heads);
    std::size_t used = 0;
    for (std::size_t h = 0; h < heads; ++h) {
      keep[h] = detail::protect(n, 0, protected_tokens);
      detail::fill_by_score(s.row(h), keep[h], guaranteed);
      used += static_cast<std::size_t>(std::count(keep[h].begin(), keep[h].end(), char{1}));
    }
    // The rest of heads · budget: one joint top-k over every (head, token) not yet kept.
    // Ties: lower head, then lower token.
    struct candidate {
      float score;
      std::size_t head;
      index_t token;
    };
    std::vector<candidate> pool;
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t t = 0; t < n; ++t)
        if (!keep[h][t]) pool.push_back({s(h, t), h, static_cast<index_t>(t)});
    const std::size_t extra = std::min(heads * budget - used, pool.size());
    std::partial_sort(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(extra), pool.end(),
                      [](const candidate& a, const candidate& b) {
                        if (a.score != b.score) return a.score > b.score;
                        return a.head != b.head ? a.head < b.head : a.token < b.token;
                      });
    for (std::size_t i = 0; i < extra; ++i) keep[pool[i].head][static_cast<std::size_t>(pool[i].token)] = 1;

    std::vector<std::vector<index_t>> out(heads);
    for (std::size_t h = 0; h < heads; ++h) out[h] = detail::marked_indices(keep[h]);
    return keep_set::from_heads(n, out);
  }
};

}  // namespace kvc::select
