#pragma once
// Reference attention over a layer's observation window, in double: the building block of
// every attention-based scorer. A = softmax(q K^T / sqrt(d)) with the causal mask, where
// window query j sits at token index tokens - window + j. A non-finite key or query it reads
// is refused, naming the element (kvc/core/non_finite.hpp).
//
// The attention scorers (SnapKV's window_attention, TOVA's last_query_attention, H2O's
// accumulated_attention, IntelLLM's center_of_gravity) are one family, kvc::attention_scorer:
// each says which attention it reads (attention_source: how many of the last window queries,
// whether the engine's accumulated weights replace them, whether the fold is over the GQA group
// or over every query head) and may add a post-pass per element (SnapKV's pooling). The
// reference loop is kvc::attention_scores below; the device path's is the one
// kvc::device::algorithm for the family (kvc/device/attention.hpp). Both fold with fold_group.

#include "kvc/version.hpp"

#include <algorithm>
#include <concepts>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include <cuda/std/limits>

#include "kvc/core/config.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/non_finite.hpp"
#include "kvc/core/scores.hpp"

namespace kvc {

/// Softmax weights of window query `j` of q-head `qh` over all tokens; masked tokens get 0.
template <layer_type L>
void attention_row(const L& l, std::size_t qh, std::size_t j, std::span<double> out) {
  const std::size_t h = qh / l.group(), n = l.tokens(), d = l.head_dim();
  const std::size_t last = l.query_token(j);  // causal: tokens 0..last are visible
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  double peak = -std::numeric_limits<double>::infinity();
  for (std::size_t t = 0; t < n; ++t) {
    if (t > last) {
      out[t] = 0.0;
      continue;
    }
    double dot = 0.0;
    for (std::size_t k = 0; k < d; ++k)
      dot += static_cast<double>(to_float(l.queries(qh, j, k))) * static_cast<double>(to_float(l.keys(h, t, k)));
    if (!std::isfinite(dot)) detail::throw_non_finite_dot(l, qh, j, t);  // some element is NaN or inf
    out[t] = dot * scale;
    peak = std::max(peak, out[t]);
  }
  double sum = 0.0;
  for (std::size_t t = 0; t <= last; ++t) sum += out[t] = std::exp(out[t] - peak);
  for (std::size_t t = 0; t <= last; ++t) out[t] /= sum;
}

/// Attention summed over the last `window` window-queries, per (q_head, token): `[q_heads * tokens]`.
/// With `window` larger than the layer's window, all its queries are used.
template <layer_type L>
std::vector<double> window_attention_sum(const L& l, std::size_t window) {
  const std::size_t n = l.tokens(), w = std::min(window, l.window());
  std::vector<double> acc(l.q_heads() * n, 0.0), row(n);
  for (std::size_t qh = 0; qh < l.q_heads(); ++qh)
    for (std::size_t j = l.window() - w; j < l.window(); ++j) {
      attention_row(l, qh, j, row);
      for (std::size_t t = 0; t < n; ++t) acc[qh * n + t] += row[t];
    }
  return acc;
}

/// The fold of one (kv_head, token) over its GQA group, stated once for every path: the
/// reduction `how` of value(g) over the group's q-heads g = 0 .. group − 1, in double, in order.
template <class Value>
KVC_HOST_DEVICE float fold_group(const Value& value, std::size_t group, group_reduce how) {
  const bool max = how == group_reduce::max;
  double v = max ? -::cuda::std::numeric_limits<double>::infinity() : 0.0;
  for (std::size_t g = 0; g < group; ++g) {
    const double x = value(g);
    v = max ? (v < x ? x : v) : v + x;
  }
  return static_cast<float>(max ? v : v / static_cast<double>(group));
}

/// The mean over every q-head of one token (TOVA shared across heads), summed in order in double.
template <class Value>
KVC_HOST_DEVICE float mean_over_heads(const Value& value, std::size_t q_heads) {
  double sum = 0.0;
  for (std::size_t qh = 0; qh < q_heads; ++qh) sum += value(qh);
  return static_cast<float>(sum / static_cast<double>(q_heads));
}

/// Folds per-q-head values `[q_heads * tokens]` into kv-head scores with the group reduction.
inline void fold_groups(std::span<const double> per_q_head, std::size_t group, group_reduce how,
                        score_matrix& out) {
  const std::size_t n = out.tokens();
  for (std::size_t h = 0; h < out.heads(); ++h)
    for (std::size_t t = 0; t < n; ++t)
      out(h, t) = fold_group([&](std::size_t g) { return per_q_head[(h * group + g) * n + t]; }, group, how);
}

/// What an attention scorer reads.
struct attention_source {
  /// The last `queries` observation-window queries of the layer (all of them if it has fewer).
  std::size_t queries = 0;
  /// The engine's accumulated weights (layer.attention) replace the queries when the layer has
  /// them; `queries` is then not looked at.
  bool engine = false;
  /// One score per token, the mean over every q-head of the layer, instead of the group fold.
  bool all_heads = false;
};

/// An attention scorer: `source()` and a `group` fold, `name` for its messages, and optionally
/// `check(layer)` and a post-pass `post(row, tokens, window, t)` (the score of token t from the
/// head's folded row of `tokens` values, whose last `window` tokens are the observation window).
template <class S>
concept attention_scorer = requires(const S& s) {
  { s.source() } -> std::same_as<attention_source>;
  { s.group } -> std::convertible_to<group_reduce>;
  { S::name } -> std::convertible_to<std::string_view>;
};
template <class S>
concept attention_post_pass = requires(const S& s, const float* row, std::size_t i) {
  { s.post(row, i, i, i) } -> std::convertible_to<float>;
};

/// The reference of every attention scorer, in the order of the papers: the softmax rows of the
/// queries it reads (or the engine's weights), summed over those queries, folded per kv head,
/// then its post-pass.
template <attention_scorer S, layer_type L>
void attention_scores(const S& s, const L& l, score_matrix& out) {
  detail::require_scorable(l, out);
  if constexpr (requires { s.check(l); }) s.check(l);
  const attention_source r = s.source();
  const std::size_t n = l.tokens();
  std::vector<double> acc;
  std::size_t window = 0;
  if (r.engine && !l.attention.empty()) {
    acc.assign(l.attention.begin(), l.attention.end());
  } else {
    require_queries(l, S::name);
    acc = window_attention_sum(l, r.queries);
    window = std::min(r.queries, l.window());
  }
  if (r.all_heads) {
    for (std::size_t t = 0; t < n; ++t) {
      const float v = mean_over_heads([&](std::size_t qh) { return acc[qh * n + t]; }, l.q_heads());
      for (std::size_t h = 0; h < out.heads(); ++h) out(h, t) = v;
    }
  } else {
    fold_groups(acc, l.group(), s.group, out);
  }
  if constexpr (attention_post_pass<S>) {
    std::vector<float> row(n);
    for (std::size_t h = 0; h < out.heads(); ++h) {
      std::copy_n(out.row(h).begin(), n, row.begin());
      for (std::size_t t = 0; t < n; ++t) out(h, t) = s.post(row.data(), n, window, t);
    }
  }
}

}  // namespace kvc
