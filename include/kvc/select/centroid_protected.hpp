#pragma once
// IntelLLM's center-of-gravity eviction (CGE) as a selector adaptor: per head, the tokens within
// `radius` of the scores' center of gravity are shielded; `Inner` chooses the rest from the scores.
//   c[h]  = sum_t t * s[h, t] / sum_t s[h, t]      over [exclude_first, tokens - exclude_last)
//   P[h]  = { t : |t - round(c[h])| <= radius }    (round: x.5 goes to the lower token)
//   keep  = P[h] ∪ Inner's choice of the rest
// With attention scores (score::center_of_gravity) c[h] is the attention centroid; over other
// non-negative scores (SnapKV's pooled ones) it is theirs. By default the centroid skips the
// tokens Inner always keeps (its sinks / recent window), so it sits in the span that can be
// evicted. docs/intelllm.md

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <cuda/std/cmath>
#include <cuda/std/limits>

#include "kvc/core/concepts.hpp"
#include "kvc/core/config.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/score/center_of_gravity.hpp"
#include "kvc/select/detail/rank.hpp"
#include "kvc/select/topk.hpp"

namespace kvc::select {

/// Tokens [first, last) of one head; empty when first == last.
struct token_span {
  std::size_t first = 0, last = 0;
  [[nodiscard]] KVC_HOST_DEVICE std::size_t size() const noexcept { return last - first; }
  [[nodiscard]] KVC_HOST_DEVICE bool empty() const noexcept { return first == last; }
  [[nodiscard]] KVC_HOST_DEVICE bool contains(std::size_t t) const noexcept { return first <= t && t < last; }
  friend bool operator==(const token_span&, const token_span&) = default;
};

template <selector Inner = topk>
struct centroid_protected {
  Inner inner{};            ///< chooses the unshielded tokens; should rank by score (the topk family)
  std::size_t radius = 8;   ///< tokens shielded on each side of the centroid: 2 * radius + 1 in all
  std::size_t exclude_first = leading_kept(inner);  ///< first tokens left out of the centroid
  std::size_t exclude_last = trailing_kept(inner);  ///< last tokens left out of the centroid

  // The element math, for every path.

  /// P[h] of a head whose `n` scores are `row`: the tokens within `radius` of the centroid over
  /// [exclude_first, n − exclude_last) (round: x.5 to the lower token); empty without mass.
  [[nodiscard]] KVC_HOST_DEVICE token_span shield(const float* row, std::size_t n) const {
    const std::size_t last = n - (exclude_last < n ? exclude_last : n);
    double c = 0.0;
    if (!score::centroid_of(row, exclude_first, last, c)) return {};  // no mass: nothing to shield
    const auto center = static_cast<std::size_t>(::cuda::std::ceil(c - 0.5));
    return {center - (radius < center ? radius : center), radius >= n - center ? n : center + radius + 1};
  }
  /// Score x of a token after lifting, in a head whose best score is `top`: a shielded token just
  /// above `top`, so Inner ranks it first (their order among themselves does not matter, all of
  /// them must stay); when `top` is the largest float, the others equal to it just below instead.
  [[nodiscard]] KVC_HOST_DEVICE static float lifted(float x, float top, bool shielded) {
    const float above = ::cuda::std::nextafter(top, ::cuda::std::numeric_limits<float>::infinity());
    if (::cuda::std::isfinite(above)) return shielded ? above : x;
    if (shielded) return top;
    return x == top ? ::cuda::std::nextafter(top, 0.0f) : x;
  }

  // The checks, for every path.

  /// Score (h, t) = x is refused: the centroid is a score-weighted mean.
  static void refuse_negative(std::size_t h, std::size_t t, float x) {
    kvc::detail::require(false, "scores(" + std::to_string(h) + ", " + std::to_string(t) + ")",
                         "a non-negative score (the centroid is a score-weighted mean)", x);
  }
  /// Inner kept `kept` of head h's `size` shielded tokens; all of them must stay.
  static void require_shield_kept(std::size_t h, std::size_t size, std::size_t kept, std::size_t budget) {
    kvc::detail::require(kept == size, "budget",
                         "room for the " + std::to_string(size) + " centroid tokens of head " + std::to_string(h) +
                             " beside the inner selector's own protected tokens",
                         budget);
  }

  /// P[h] for every head (empty where the centroid span has no mass). Throws on a non-finite or
  /// negative score.
  [[nodiscard]] std::vector<token_span> regions(const score_matrix& s) const {
    detail::require_finite(s);
    for (std::size_t h = 0; h < s.heads(); ++h)
      for (std::size_t t = 0; t < s.tokens(); ++t)
        if (!(s(h, t) >= 0.0f)) refuse_negative(h, t, s(h, t));
    std::vector<token_span> out(s.heads());
    for (std::size_t h = 0; h < s.heads(); ++h) out[h] = shield(s.row(h).data(), s.tokens());
    return out;
  }

  selection_t<Inner> operator()(const score_matrix& s, std::size_t budget) const {
    const std::vector<token_span> spans = regions(s);
    std::size_t widest = 0;
    for (const auto& r : spans) widest = std::max(widest, r.size());
    detail::require_budget(budget, widest, s.tokens());

    // Shielded tokens are lifted just above the head's best score, so Inner ranks them first;
    // their order among themselves does not matter, all of them must stay.
    score_matrix raised = s;
    for (std::size_t h = 0; h < s.heads(); ++h) {
      if (spans[h].empty()) continue;
      auto row = raised.row(h);
      const float top = *std::max_element(row.begin(), row.end());
      for (std::size_t t = 0; t < row.size(); ++t) row[t] = lifted(row[t], top, spans[h].contains(t));
    }
    auto keep = inner(raised, budget);
    for (std::size_t h = 0; h < s.heads(); ++h) {
      std::size_t kept = 0;
      for (std::size_t t = spans[h].first; t < spans[h].last; ++t)
        kept += keep.contains(h, static_cast<index_t>(t)) ? 1 : 0;
      require_shield_kept(h, spans[h].size(), kept, budget);
    }
    return keep;
  }

 private:
  // What Inner always keeps at the ends, read from its parameters where it has them.
  static std::size_t leading_kept(const Inner& i) {
    if constexpr (requires { std::size_t{i.sinks}; })
      return i.sinks;
    else
      return 0;
  }
  static std::size_t trailing_kept(const Inner& i) {
    if constexpr (requires { std::size_t{i.recent}; })
      return i.recent;
    else if constexpr (requires { std::size_t{i.window}; })
      return i.window;
    else
      return 0;
  }
};

}  // namespace kvc::select
