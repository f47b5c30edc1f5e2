#pragma once
// Shared by the top-k family: rank a head's tokens by score. Ties go to the lower token index
// (the earlier token is kept), on every backend; see docs/architecture.md#determinism.

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/config.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::select::detail {

/// True when token a outranks token b.
inline bool outranks(std::span<const float> s, index_t a, index_t b) {
  const float sa = s[static_cast<std::size_t>(a)], sb = s[static_cast<std::size_t>(b)];
  return sa > sb || (sa == sb && a < b);
}

inline void require_finite(const score_matrix& s) {
  for (std::size_t h = 0; h < s.heads(); ++h)
    for (std::size_t t = 0; t < s.tokens(); ++t)
      kvc::detail::require(std::isfinite(s(h, t)),
                           "scores(" + std::to_string(h) + ", " + std::to_string(t) + ")",
                           "a finite score", s(h, t));
}

inline void require_budget(std::size_t budget, std::size_t at_least, std::size_t tokens) {
  kvc::detail::require(budget >= 1, "budget", "at least 1 token per head", budget);
  kvc::detail::require(budget >= at_least, "budget",
                       "at least the " + std::to_string(at_least) + " protected tokens", budget);
  kvc::detail::require(budget <= tokens, "budget", "at most the " + std::to_string(tokens) + " cached tokens",
                       budget);
}

/// The protected-token rule, for every path: of n tokens, the first `sinks` and the last `recent`
/// are always kept (the two may overlap).
struct guard {
  std::size_t sinks, recent_begin;
  [[nodiscard]] KVC_HOST_DEVICE static guard of(std::size_t n, std::size_t sinks, std::size_t recent) {
    return {sinks, n - (recent < n ? recent : n)};
  }
  [[nodiscard]] KVC_HOST_DEVICE bool operator()(std::size_t t) const { return t < sinks || t >= recent_begin; }
};

/// Marks (in `keep`) the best unmarked tokens of `row` until `k` are marked.
inline void fill_by_score(std::span<const float> row, std::vector<char>& keep, std::size_t k) {
  std::size_t marked = static_cast<std::size_t>(std::count(keep.begin(), keep.end(), char{1}));
  if (marked >= k) return;
  std::vector<index_t> order;
  for (std::size_t t = 0; t < row.size(); ++t)
    if (!keep[t]) order.push_back(static_cast<index_t>(t));
  const std::size_t need = std::min(k - marked, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(need), order.end(),
                    [&](index_t a, index_t b) { return outranks(row, a, b); });
  for (std::size_t i = 0; i < need; ++i) keep[static_cast<std::size_t>(order[i])] = 1;
}

inline std::vector<index_t> marked_indices(const std::vector<char>& keep) {
  std::vector<index_t> out;
  for (std::size_t t = 0; t < keep.size(); ++t)
    if (keep[t]) out.push_back(static_cast<index_t>(t));
  return out;
}

/// Protected tokens: the first `sinks` and the last `recent` of `n`.
inline std::vector<char> protect(std::size_t n, std::size_t sinks, std::size_t recent) {
  const guard g = guard::of(n, sinks, recent);
  std::vector<char> keep(n, 0);
  for (std::size_t t = 0; t < n; ++t) keep[t] = g(t) ? 1 : 0;
  return keep;
}

}  // namespace kvc::select::detail
