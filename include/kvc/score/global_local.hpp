#pragma once
// EMS's Global-Local score (Li et al. 2024, arXiv 2412.08521; kvc's reading, docs/ems.md).
// Accumulated attention is biased twice: by the causal mask (an early token is seen by more
// queries, so its sum grows) and by position (sinks and near tokens win every softmax, so
// the middle of a long context looks unimportant). For each window query j with weights
// A_j = softmax(q_j K^T / sqrt(d)) over its visible tokens 0..last_j:
//   global  G_j(t) = A_j(t)
//   local   L_j(t) = A_j(t) / (S_j · sum_{u in seg(t), u <= last_j} A_j(u))
//           the weight renormalised within t's segment of `segment` tokens, divided by
//           S_j = last_j / segment + 1 visible segments, so that L_j, like G_j, sums to 1;
//   s(g, t) = (1 / |J_t|) · sum_{j in J_t} [ λ G_j(t) + (1 − λ) L_j(t) ]
// with J_t the window queries that see token t (mean, not sum: the causal-mask count cancels).
// Query heads are folded into their kv head with `group` (mean by default).
// Cost O(q_heads · window · tokens · head_dim); no [window, tokens] attention map is stored.

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "kvc/core/attention.hpp"
#include "kvc/core/config.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

struct global_local {
  std::size_t window = 32;                  ///< observation-window queries used (the prompt's last)
  std::size_t segment = 64;                 ///< tokens per local segment of the local view
  double global_weight = 0.5;               ///< λ: share of the global view in the score
  group_reduce group = group_reduce::mean;  ///< how a GQA group's query heads are folded

  /// The checks, for every path.
  template <layer_type L>
  void check(const L& l) const {
    using kvc::detail::require;
    require(window >= 1, "global_local.window", "at least 1", window);
    require(segment >= 1, "global_local.segment", "at least 1 token", segment);
    require(global_weight >= 0.0 && global_weight <= 1.0, "global_local.global_weight", "a weight in [0, 1]",
            global_weight);
    require_queries(l, "score::global_local");
  }
  /// One query's term for one token, for every path: λ G + (1 − λ) L with G = a, the token's
  /// weight, and L = a / (S · mass) (0 where its segment holds no mass), S the visible segments.
  [[nodiscard]] KVC_HOST_DEVICE double term(double a, double mass, std::size_t S) const {
    const double local = mass > 0.0 ? a / (static_cast<double>(S) * mass) : 0.0;
    return global_weight * a + (1.0 - global_weight) * local;
  }

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    kvc::detail::require_scorable(l, out);
    check(l);

    const std::size_t n = l.tokens(), w = std::min(window, l.window()), first = l.window() - w;
    // |J_t|: the last window query sees every token, so each count is at least 1.
    std::vector<double> observers(n, 0.0);
    for (std::size_t j = first; j < l.window(); ++j)
      for (std::size_t t = 0; t <= l.query_token(j); ++t) observers[t] += 1.0;

    std::vector<double> acc(l.q_heads() * n, 0.0), A(n), segment_mass;
    for (std::size_t qh = 0; qh < l.q_heads(); ++qh)
      for (std::size_t j = first; j < l.window(); ++j) {
        attention_row(l, qh, j, A);
        const std::size_t last = l.query_token(j), S = last / segment + 1;
        segment_mass.assign(S, 0.0);
        for (std::size_t t = 0; t <= last; ++t) segment_mass[t / segment] += A[t];
        for (std::size_t t = 0; t <= last; ++t) acc[qh * n + t] += term(A[t], segment_mass[t / segment], S);
      }
    for (std::size_t qh = 0; qh < l.q_heads(); ++qh)
      for (std::size_t t = 0; t < n; ++t) acc[qh * n + t] /= observers[t];
    fold_groups(acc, l.group(), group, out);
  }
};

}  // namespace kvc::score
