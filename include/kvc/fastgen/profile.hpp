#pragma once
// FastGen's model profiling (Ge et al. 2024, §3.3, Eq. 1 and Algorithm 1): per kv head, the
// cheapest hybrid candidate (Eq. 2) whose cache recovers at least T of the head's attention,
//   C* = argmin_{C ∈ 𝒞} CacheMemoryCost(C)  s.t.  R(C) ≥ T     (fastgen/recovery.hpp),
// with CacheMemoryCost(C) = the tokens C keeps. The attention is that of the layer's queries (the
// prompt's, causal) accumulated per token and folded over each GQA group (mean by default, so
// R of the folded map is the mean R of the group's query heads). docs/fastgen.md#profiling

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/fastgen/cache_policy.hpp"
#include "kvc/fastgen/kept_tokens.hpp"
#include "kvc/fastgen/policy_table.hpp"
#include "kvc/fastgen/recovery.hpp"
#include "kvc/fastgen/token_class.hpp"
#include "kvc/score/accumulated_attention.hpp"

namespace kvc::fastgen {

struct profile_parameters {
  double recovery_threshold = 0.95;  ///< T; the paper sweeps 0.91–0.98 and profiles its heads at 0.95 (§4.1)
  double local_ratio = 0.3;          ///< r_l (§5.1: "We set r_l = 0.3, r_f = 0.3")
  double frequent_ratio = 0.3;       ///< r_f
};

namespace detail {
inline void require_parameters(const profile_parameters& p) {
  kvc::detail::require(p.recovery_threshold > 0.0 && p.recovery_threshold <= 1.0, "recovery_threshold",
                       "T in (0, 1]", p.recovery_threshold);
  require_ratio(p.local_ratio, "local_ratio");
  require_ratio(p.frequent_ratio, "frequent_ratio");
}
inline void require_accumulated(const score_matrix& s) {
  kvc::detail::require(s.heads() > 0 && s.tokens() > 0, "scores", "at least 1 head and 1 token",
                       std::to_string(s.heads()) + " x " + std::to_string(s.tokens()));
  for (std::size_t h = 0; h < s.heads(); ++h) {
    double total = 0.0;
    for (std::size_t t = 0; t < s.tokens(); ++t) {
      kvc::detail::require(std::isfinite(s(h, t)) && s(h, t) >= 0.0f,
                           "scores(" + std::to_string(h) + ", " + std::to_string(t) + ")",
                           "a finite, non-negative accumulated attention", s(h, t));
      total += s(h, t);
    }
    kvc::detail::require(total > 0.0, "scores.row(" + std::to_string(h) + ")",
                         "some attention to recover (a positive sum)", total);
  }
}
}  // namespace detail

/// Eq. 1 for one head: the cheapest candidate reaching T. The candidates are nested, so this is
/// the first one in Eq. 2's order that reaches T; ties in cost go to the earlier (simpler) one.
inline head_profile profile_head(std::span<const float> accumulated, std::span<const token_class> classes,
                                 const profile_parameters& p) {
  head_profile best{};
  bool found = false;
  for (const cache_policy& c : hybrid_candidates) {
    const auto keep = kept_tokens(c, classes, accumulated, p.local_ratio, p.frequent_ratio);
    const double r = recovery(accumulated, keep);
    const auto cost = static_cast<std::size_t>(std::count(keep.begin(), keep.end(), char{1}));
    if ((r >= p.recovery_threshold || c.full) && (!found || cost < best.kept)) {
      best = {c, r, cost, false};
      found = true;
    }
  }
  return best;
}

/// Profile every head from accumulated attention `[kv_heads, tokens]` (e.g. score::accumulated_attention).
inline policy_table profile(const score_matrix& accumulated, std::span<const token_class> classes,
                            const profile_parameters& p = {}) {
  detail::require_parameters(p);
  detail::require_accumulated(accumulated);
  detail::require_classes(classes, accumulated.tokens());
  policy_table table{{}, accumulated.tokens(), p.recovery_threshold, p.local_ratio, p.frequent_ratio};
  for (std::size_t h = 0; h < accumulated.heads(); ++h)
    table.heads.push_back(profile_head(accumulated.row(h), classes, p));
  return table;
}

/// Profile a layer: its queries' causal attention (core/attention.hpp), or the engine's accumulated
/// weights in layer.attention, folded over GQA groups with `group`.
template <layer_type L>
policy_table profile(const L& l, std::span<const token_class> classes, const profile_parameters& p = {},
                     group_reduce group = group_reduce::mean) {
  validate(l);
  detail::require_parameters(p);
  detail::require_classes(classes, l.tokens());
  score_matrix acc(l.kv_heads(), l.tokens());
  score::accumulated_attention{.group = group}(l, acc);
  return profile(acc, classes, p);
}

}  // namespace kvc::fastgen
