#pragma once
// Top-k per head, with optional protected sinks (first tokens) and recent window (last tokens):
// keep = protected ∪ top-(budget − |protected|) of the rest by score. Ties: lower index wins.

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "kvc/core/keep_set.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/select/detail/rank.hpp"

namespace kvc::select {

struct topk {
  std::size_t sinks = 0;   ///< first tokens always kept
  std::size_t recent = 0;  ///< last tokens always kept

  keep_set operator()(const score_matrix& s, std::size_t budget) const {
    const std::size_t n = s.tokens();
    std::vector<char> guard = detail::protect(n, sinks, recent);
    detail::require_budget(budget, static_cast<std::size_t>(std::count(guard.begin(), guard.end(), char{1})), n);
    detail::require_finite(s);
    std::vector<std::vector<index_t>> heads(s.heads());
    for (std::size_t h = 0; h < s.heads(); ++h) {
      std::vector<char> keep = guard;
      detail::fill_by_score(s.row(h), keep, budget);
      heads[h] = detail::marked_indices(keep);
    }
    return keep_set::from_heads(n, heads);
  }
};

/// SnapKV's selection: the whole observation window plus the top-(budget − window) of the prefix.
/// A topk whose recent window is min(window, tokens) (lowered: the device path runs that topk).
struct window_topk {
  std::size_t window = 32;
  [[nodiscard]] topk lower(std::size_t tokens, std::size_t /*budget*/) const {
    return {.sinks = 0, .recent = std::min(window, tokens)};
  }
  keep_set operator()(const score_matrix& s, std::size_t budget) const { return lower(s.tokens(), budget)(s, budget); }
};

/// H2O's selection: a recent window of floor(recent_fraction · budget) tokens plus heavy hitters,
/// a topk with that recent window (lowered).
struct heavy_recent {
  double recent_fraction = 0.5;
  [[nodiscard]] topk lower(std::size_t /*tokens*/, std::size_t budget) const {
    kvc::detail::require(recent_fraction >= 0.0 && recent_fraction <= 1.0, "heavy_recent.recent_fraction",
                         "a fraction in [0, 1]", recent_fraction);
    return {.sinks = 0, .recent = static_cast<std::size_t>(recent_fraction * static_cast<double>(budget))};
  }
  keep_set operator()(const score_matrix& s, std::size_t budget) const { return lower(s.tokens(), budget)(s, budget); }
};

}  // namespace kvc::select
