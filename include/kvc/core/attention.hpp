#pragma once
// Reference attention over a layer's observation window, in double: the building block of
// every attention-based scorer. A = softmax(q K^T / sqrt(d)) with the causal mask, where
// window query j sits at token index tokens - window + j. A non-finite key or query it reads
// is refused, naming the element (kvc/core/non_finite.hpp).

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <vector>

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

/// Folds per-q-head values `[q_heads * tokens]` into kv-head scores with the group reduction.
inline void fold_groups(std::span<const double> per_q_head, std::size_t group, group_reduce how,
                        score_matrix& out) {
  const std::size_t n = out.tokens();
  for (std::size_t h = 0; h < out.heads(); ++h)
    for (std::size_t t = 0; t < n; ++t) {
      double v = how == group_reduce::max ? -std::numeric_limits<double>::infinity() : 0.0;
      for (std::size_t g = 0; g < group; ++g) {
        const double x = per_q_head[(h * group + g) * n + t];
        v = how == group_reduce::max ? std::max(v, x) : v + x;
      }
      out(h, t) = static_cast<float>(how == group_reduce::max ? v : v / static_cast<double>(group));
    }
}

}  // namespace kvc
