#pragma once
// How good is a compression? Judged on held-out later queries (DESIGN.md: quality on data):
//   attention-output relative error  ||o − ô|| / ||o||, o = softmax(q K^T/√d) V over the full
//                                    cache, ô the same over the compressed one;
//   attention recovery               Σ_{t kept} softmax(q K^T/√d)_t, the full attention mass
//                                    that falls on kept tokens.
// Both averaged over every query head and held-out query.

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "kvc/core/compressed_layer.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/view.hpp"

namespace kvc::eval {

struct quality {
  double output_error = 0.0;  ///< mean relative L2 error of the attention output
  double recovery = 0.0;      ///< mean attention mass on kept tokens, in [0, 1]
};

namespace detail {
/// o = softmax(q K^T / √d) V over `count` tokens read through key(t, k) / value(t, k); also the weights.
template <class KeyAt, class ValueAt>
void attend(const std::vector<double>& q, std::size_t count, std::size_t dv, KeyAt key, ValueAt value,
            std::vector<double>& weights, std::vector<double>& out) {
  const std::size_t d = q.size();
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  weights.assign(count, 0.0);
  double peak = -std::numeric_limits<double>::infinity();
  for (std::size_t t = 0; t < count; ++t) {
    double dot = 0.0;
    for (std::size_t k = 0; k < d; ++k) dot += q[k] * key(t, k);
    weights[t] = dot * scale;
    peak = std::max(peak, weights[t]);
  }
  double sum = 0.0;
  for (auto& w : weights) sum += w = std::exp(w - peak);
  out.assign(dv, 0.0);
  for (std::size_t t = 0; t < count; ++t) {
    weights[t] /= sum;
    for (std::size_t k = 0; k < dv; ++k) out[k] += weights[t] * value(t, k);
  }
}
}  // namespace detail

/// The full cache's attention for held-out queries, computed once and reused to judge any
/// number of compressions of the same cache.
struct reference {
  std::size_t kv_heads = 0, tokens = 0, group = 0, queries = 0;  ///< queries: m, per q-head
  std::vector<double> weights;  ///< [q_heads, m, tokens] full softmax weights
  std::vector<double> outputs;  ///< [q_heads, m, value_dim] full attention outputs
  std::vector<double> q;        ///< [q_heads, m, head_dim] the queries, as double
  std::size_t head_dim = 0, value_dim = 0;
};

/// The reference of `full` for the queries `future` `[q_heads, m, head_dim]` that come after the cache.
template <layer_type L, tensor_view F>
reference make_reference(const L& full, const F& future) {
  const std::size_t H = full.kv_heads(), n = full.tokens(), d = full.head_dim(), dv = full.values.extent(2);
  kvc::detail::require(future.extent(0) % H == 0 && future.extent(0) > 0, "future.extent(0)",
                       "a positive multiple of kv_heads " + std::to_string(H), future.extent(0));
  kvc::detail::require(future.extent(2) == d, "future.extent(2)", "head_dim " + std::to_string(d), future.extent(2));
  reference r{H, n, future.extent(0) / H, future.extent(1), {}, {}, {}, d, dv};
  const std::size_t QH = future.extent(0), m = r.queries;
  r.weights.resize(QH * m * n);
  r.outputs.resize(QH * m * dv);
  r.q.resize(QH * m * d);
  std::vector<double> q(d), w, o;
  for (std::size_t qh = 0; qh < QH; ++qh) {
    const std::size_t h = qh / r.group;
    for (std::size_t j = 0; j < m; ++j) {
      for (std::size_t k = 0; k < d; ++k) r.q[(qh * m + j) * d + k] = q[k] = to_float(future(qh, j, k));
      detail::attend(
          q, n, dv, [&](std::size_t t, std::size_t k) { return double(to_float(full.keys(h, t, k))); },
          [&](std::size_t t, std::size_t k) { return double(to_float(full.values(h, t, k))); }, w, o);
      std::copy(w.begin(), w.end(), r.weights.begin() + static_cast<std::ptrdiff_t>((qh * m + j) * n));
      std::copy(o.begin(), o.end(), r.outputs.begin() + static_cast<std::ptrdiff_t>((qh * m + j) * dv));
    }
  }
  return r;
}

/// Quality of `compressed` against a reference of the cache it was compressed from.
template <class T>
quality evaluate(const reference& r, const compressed_layer<T>& compressed) {
  kvc::detail::require(compressed.heads() == r.kv_heads, "compressed.heads()",
                       "kv_heads " + std::to_string(r.kv_heads), compressed.heads());
  kvc::detail::require(compressed.keep().tokens() == r.tokens, "compressed.keep().tokens()",
                       "the reference's " + std::to_string(r.tokens) + " tokens", compressed.keep().tokens());
  const std::size_t QH = r.kv_heads * r.group, m = r.queries, n = r.tokens, d = r.head_dim, dv = r.value_dim;
  quality acc;
  std::vector<double> q(d), w_kept, o_kept;
  for (std::size_t qh = 0; qh < QH; ++qh) {
    const std::size_t h = qh / r.group;
    const auto ck = compressed.keys(h);
    const auto cv = compressed.values(h);
    const auto keep = compressed.keep().head(h);
    for (std::size_t j = 0; j < m; ++j) {
      const std::size_t row = qh * m + j;
      std::copy(r.q.begin() + static_cast<std::ptrdiff_t>(row * d), r.q.begin() + static_cast<std::ptrdiff_t>((row + 1) * d), q.begin());
      detail::attend(
          q, compressed.kept(h), dv, [&](std::size_t t, std::size_t k) { return double(to_float(ck(0, t, k))); },
          [&](std::size_t t, std::size_t k) { return double(to_float(cv(0, t, k))); }, w_kept, o_kept);
      double diff = 0.0, norm = 0.0, mass = 0.0;
      for (std::size_t k = 0; k < dv; ++k) {
        const double full = r.outputs[row * dv + k];
        diff += (full - o_kept[k]) * (full - o_kept[k]);
        norm += full * full;
      }
      for (auto t : keep) mass += r.weights[row * n + static_cast<std::size_t>(t)];
      acc.output_error += std::sqrt(diff / std::max(norm, 1e-300));
      acc.recovery += mass;
    }
  }
  acc.output_error /= static_cast<double>(QH * m);
  acc.recovery /= static_cast<double>(QH * m);
  return acc;
}

/// Quality of `compressed` for the queries `future` `[q_heads, m, head_dim]` that come after the cache.
template <layer_type L, tensor_view F, class T>
quality evaluate(const L& full, const F& future, const compressed_layer<T>& compressed) {
  kvc::detail::require(compressed.heads() == full.kv_heads(), "compressed.heads()",
                       "kv_heads " + std::to_string(full.kv_heads()), compressed.heads());
  return evaluate(make_reference(full, future), compressed);
}

}  // namespace kvc::eval
