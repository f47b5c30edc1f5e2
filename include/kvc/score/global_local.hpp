#pragma once
// EMS's Global-Local score (Li et al. 2024, arXiv 2412.08521; docs/ems.md says what each part
// rests on). Accumulated attention is biased by the causal mask: an early token is seen by more
// queries, so its sum grows. For every query j the layer carries, with weights
// A_j = softmax(q_j K^T / sqrt(d)) over its visible tokens 0..last_j:
//   global  G(t) = (1 / |J_t|)  · sum_{j in J_t}  A_j(t)    J_t: every query that sees t
//   local   L(t) = (1 / |W_t|)  · sum_{j in W_t}  A_j(t)    W_t: the last `window` queries that see t
//   s(g, t) = λ · G(t) / mean_u G(u) + (1 − λ) · L(t) / mean_u L(u)
// The means over observers cancel the causal count; dividing each view by its mean over the
// head's tokens aligns the two scales before they are mixed. Query heads are folded into their
// kv head with `group` (mean by default).
// Where the engine gives its accumulated weights (layer.attention: each q-head's softmax weights
// summed over the prompt's queries, each seeing the tokens up to its own), the global view is
// that sum over its n − t observers, G(t) = attention(g, t) / (n − t), and the layer's queries
// serve the local view only. Without them, both views read the layer's queries (with only the
// window's, the same ones). Cost O(q_heads · queries · tokens · head_dim).

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
  std::size_t window = 32;                  ///< queries of the local view (the prompt's last)
  double global_weight = 0.5;               ///< λ: share of the global view in the score
  group_reduce group = group_reduce::mean;  ///< how a GQA group's query heads are folded

  /// The checks, for every path.
  template <layer_type L>
  void check(const L& l) const {
    using kvc::detail::require;
    require(window >= 1, "global_local.window", "at least 1", window);
    require(global_weight >= 0.0 && global_weight <= 1.0, "global_local.global_weight", "a weight in [0, 1]",
            global_weight);
    require_queries(l, "score::global_local");
  }
  /// The score of one (q-head, token), for every path: the two views, each divided by its mean
  /// over the head's tokens (a view whose mean is 0 contributes 0), mixed by λ.
  [[nodiscard]] KVC_HOST_DEVICE double combine(double global, double global_mean, double local,
                                               double local_mean) const {
    const double g = global_mean > 0.0 ? global / global_mean : 0.0;
    const double l = local_mean > 0.0 ? local / local_mean : 0.0;
    return global_weight * g + (1.0 - global_weight) * l;
  }
  /// Mean of `n` values in order, for every path.
  template <class Value>
  [[nodiscard]] static KVC_HOST_DEVICE double mean(const Value& value, std::size_t n) {
    double sum = 0.0;
    for (std::size_t t = 0; t < n; ++t) sum += value(t);
    return n > 0 ? sum / static_cast<double>(n) : 0.0;
  }

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    kvc::detail::require_scorable(l, out);
    check(l);

    const std::size_t n = l.tokens(), queries = l.window(), first = queries - std::min(window, queries);
    const bool engine = !l.attention.empty();
    // |J_t| and |W_t|: the last query sees every token, so each count is at least 1.
    std::vector<double> seen_all(n, 0.0), seen_local(n, 0.0);
    for (std::size_t j = 0; j < queries; ++j)
      for (std::size_t t = 0; t <= l.query_token(j); ++t) {
        seen_all[t] += 1.0;
        if (j >= first) seen_local[t] += 1.0;
      }

    std::vector<double> global(l.q_heads() * n, 0.0), local(l.q_heads() * n, 0.0), acc(l.q_heads() * n), A(n);
    for (std::size_t qh = 0; qh < l.q_heads(); ++qh) {
      double* G = global.data() + qh * n;
      double* Lv = local.data() + qh * n;
      for (std::size_t j = engine ? first : 0; j < queries; ++j) {
        attention_row(l, qh, j, A);
        for (std::size_t t = 0; t <= l.query_token(j); ++t) {
          if (!engine) G[t] += A[t];
          if (j >= first) Lv[t] += A[t];
        }
      }
      for (std::size_t t = 0; t < n; ++t) {
        G[t] = engine ? static_cast<double>(l.attention[qh * n + t]) / static_cast<double>(n - t) : G[t] / seen_all[t];
        Lv[t] /= seen_local[t];
      }
      const double g_mean = mean([&](std::size_t t) { return G[t]; }, n);
      const double l_mean = mean([&](std::size_t t) { return Lv[t]; }, n);
      for (std::size_t t = 0; t < n; ++t) acc[qh * n + t] = combine(G[t], g_mean, Lv[t], l_mean);
    }
    fold_groups(acc, l.group(), group, out);
  }
};

}  // namespace kvc::score
