#pragma once
// Device building block of the attention scorers: the device twin of kvc::window_attention_sum
// followed by kvc::fold_groups. Same arithmetic as the reference (double logits, softmax and
// sums, one rounding to float at the end), in a different summation order:
//   1. transform      logits L[r, t] = q_r · k_t / sqrt(d) (−inf where the causal mask hides t)
//   2. reduce_by_key  peak[r] = max_t L[r, t]
//   3. for_each       L[r, t] = exp(L[r, t] − peak[r])
//   4. reduce_by_key  sum[r] = sum_t L[r, t]
//   5. for_each       s[h, t] = fold_g sum_j L[(g, j), t] / sum[(g, j)]
// where a row r is one (q_head, window query). Memory: 8 · q_heads · window · tokens bytes.
// A non-finite key or query read makes its logit NaN (one comparison per dot product), hence its
// row's sum; the sums are checked after step 4, before `out` is touched, and the element is named
// as the reference names it (kvc/core/non_finite.hpp).

#include "kvc/version.hpp"

#include <cstddef>

#include <cuda/std/cmath>
#include <cuda/std/limits>
#include <thrust/functional.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/reduce.h>
#include <thrust/transform.h>

#include "kvc/core/attention.hpp"
#include "kvc/core/element.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/view.hpp"
#include "kvc/device/detail/row_math.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/device/vector.hpp"

namespace kvc::device::detail {

struct divide_by {
  std::size_t divisor;
  KVC_HOST_DEVICE std::size_t operator()(std::size_t i) const { return i / divisor; }
};

/// Dot product of two rows in double. Partial sums break the add chain (the reference uses one;
/// the results differ only in double rounding): on the host systems, two contiguous rows go
/// through detail::dot_rows (packed doubles, eight lanes); otherwise four scalar partial sums.
template <class A, class B>
KVC_HOST_DEVICE double dot(const A& a, std::size_t ah, std::size_t at, const B& b, std::size_t bh, std::size_t bt,
                           std::size_t d) {
#ifndef __CUDA_ARCH__
  if (const auto* pa = kvc::detail::contiguous_row(a, ah, at))
    if (const auto* pb = kvc::detail::contiguous_row(b, bh, bt)) return dot_rows(pa, pb, d);
#endif
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  std::size_t k = 0;
  for (; k + 4 <= d; k += 4) {
    s0 += static_cast<double>(to_float(a(ah, at, k))) * static_cast<double>(to_float(b(bh, bt, k)));
    s1 += static_cast<double>(to_float(a(ah, at, k + 1))) * static_cast<double>(to_float(b(bh, bt, k + 1)));
    s2 += static_cast<double>(to_float(a(ah, at, k + 2))) * static_cast<double>(to_float(b(bh, bt, k + 2)));
    s3 += static_cast<double>(to_float(a(ah, at, k + 3))) * static_cast<double>(to_float(b(bh, bt, k + 3)));
  }
  for (; k < d; ++k) s0 += static_cast<double>(to_float(a(ah, at, k))) * static_cast<double>(to_float(b(bh, bt, k)));
  return (s0 + s1) + (s2 + s3);
}

/// One attention row r = (q_head, window query) of the observation window's last `w` queries.
struct window_rows {
  std::size_t tokens, w, window, group;
  KVC_HOST_DEVICE std::size_t q_head(std::size_t r) const { return r / w; }
  KVC_HOST_DEVICE std::size_t query(std::size_t r) const { return window - w + r % w; }
  /// Causal mask: window query j sits at token tokens − window + j and sees tokens 0..that.
  KVC_HOST_DEVICE std::size_t last_visible(std::size_t r) const { return tokens - window + query(r); }
};

template <class K, class Q>
struct scaled_logit {
  K keys;
  Q queries;
  window_rows rows;
  std::size_t head_dim;
  double scale;
  KVC_HOST_DEVICE double operator()(std::size_t i) const {
    const std::size_t r = i / rows.tokens, t = i % rows.tokens;
    if (t > rows.last_visible(r)) return -::cuda::std::numeric_limits<double>::infinity();
    const std::size_t qh = rows.q_head(r);
    const double x = dot(queries, qh, rows.query(r), keys, qh / rows.group, t, head_dim);
    // A non-finite dot (some element is NaN or inf) becomes NaN, so that its row's sum is NaN
    // whatever its sign: require_finite_rows finds it there.
    return ::cuda::std::isfinite(x) ? x * scale : ::cuda::std::numeric_limits<double>::quiet_NaN();
  }
};

struct exp_minus_peak {
  double* logits;
  const double* peak;
  std::size_t tokens;
  KVC_HOST_DEVICE void operator()(std::size_t i) const { logits[i] = ::cuda::std::exp(logits[i] - peak[i / tokens]); }
};

/// The summed softmax weight of q-head `g` of kv head `h` at token `t` over the `w` queries.
struct window_weight {
  const double* weights;  // exp(L − peak), [rows, tokens]
  const double* sums;     // [rows]
  std::size_t tokens, w, first, t;  // first: the group's first q-head
  KVC_HOST_DEVICE double operator()(std::size_t g) const {
    double acc = 0.0;
    for (std::size_t j = 0; j < w; ++j) {
      const std::size_t r = (first + g) * w + j;
      acc += weights[r * tokens + t] / sums[r];
    }
    return acc;
  }
};
/// The engine's accumulated weight of q-head `first + g` at token `t`.
struct engine_weight {
  const float* attention;  // [q_heads, tokens]
  std::size_t tokens, first, t;
  KVC_HOST_DEVICE double operator()(std::size_t g) const { return attention[(first + g) * tokens + t]; }
};

/// s[h, t] from per-q-head weights `Weight` (window_weight or engine_weight): kvc::fold_group
/// over the group, or (all_heads) kvc::mean_over_heads over every q-head, as the reference.
template <class Weight>
struct fold_weights {
  Weight weight;  // t and the first q-head are set per element
  float* out;     // [kv_heads, tokens]
  std::size_t tokens, group, q_heads;
  group_reduce how;
  bool all_heads;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    Weight at = weight;
    const std::size_t h = i / tokens, t = i % tokens;
    at.t = t;
    at.first = all_heads ? 0 : h * group;
    out[i] = all_heads ? mean_over_heads(at, q_heads) : fold_group(at, group, how);
  }
};

/// Steps 1-4 for the last `w` window queries: `weights` holds exp(L − peak) per (row, token),
/// `sum` the row sums.
template <class System>
struct softmax_rows {
  window_rows shape;
  vector<double, System> weights, sum;
};

/// Throws, naming the element as the reference does, when a row's sum is not finite: the first
/// such row (q_head, query) has a non-finite element in its query row or in a key row it sees.
template <class System, layer_type L>
void require_finite_rows(const L& l, const window_rows& shape, const vector<double, System>& sum) {
  const std::size_t r = first_non_finite<System>(thrust::raw_pointer_cast(sum.data()), sum.size());
  if (r == sum.size()) return;
  const std::size_t qh = shape.q_head(r), j = shape.query(r), d = l.head_dim(), h = qh / shape.group;
  if (const std::size_t c = first_non_finite_element<System>(l.queries, qh, j, 1); c < d)
    throw_non_finite_element<System>(l.queries, "queries", qh, j, c);
  const std::size_t seen = shape.last_visible(r) + 1;
  std::size_t i = first_non_finite_element<System>(l.keys, h, 0, seen);
  if (i >= seen * d) i = 0;  // not reached: a finite query row and finite keys give a finite sum
  throw_non_finite_element<System>(l.keys, "keys", h, i / d, i % d);
}

/// Steps 1-4 of the last `window` queries (all of them if the layer has fewer); throws on a
/// non-finite key or query read, before anything is written.
template <class System, layer_type L>
softmax_rows<System> window_softmax(exec::device<System>, const L& l, std::size_t window) {
  const std::size_t n = l.tokens(), w = window < l.window() ? window : l.window(), d = l.head_dim();
  const std::size_t rows = l.q_heads() * w, cells = rows * n;
  softmax_rows<System> out{window_rows{n, w, l.window(), l.group()}, vector<double, System>(cells),
                           vector<double, System>(rows)};
  const auto index = thrust::counting_iterator<std::size_t>(0);
  const auto row_of = thrust::make_transform_iterator(index, divide_by{n});

  vector<double, System> peak(rows);
  thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), out.weights.begin(),
                    scaled_logit<typename L::key_type, typename L::query_type>{
                        l.keys, l.queries, out.shape, d, 1.0 / ::cuda::std::sqrt(static_cast<double>(d))});
  thrust::reduce_by_key(System{}, row_of, row_of + kvc::device::detail::steps(cells), out.weights.begin(),
                        thrust::make_discard_iterator(), peak.begin(), thrust::equal_to<std::size_t>{},
                        thrust::maximum<double>{});
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(cells),
                   exp_minus_peak{raw(out.weights), raw(peak), n});
  thrust::reduce_by_key(System{}, row_of, row_of + kvc::device::detail::steps(cells), out.weights.begin(),
                        thrust::make_discard_iterator(), out.sum.begin());
  require_finite_rows<System>(l, out.shape, out.sum);
  return out;
}

/// Window attention of the last `window` queries (all of them if the layer has fewer), folded
/// over each GQA group or (all_heads) averaged over every q-head, into `out` (re-shaped to
/// [kv_heads, tokens] once the checks pass).
template <class System, layer_type L>
void window_attention_scores(exec::device<System> e, const L& l, std::size_t window, group_reduce how,
                             bool all_heads, score_matrix<System>& out) {
  const std::size_t n = l.tokens();
  const softmax_rows<System> rows = window_softmax(e, l, window);
  out.reset(l.kv_heads(), n);
  const auto index = thrust::counting_iterator<std::size_t>(0);
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(l.kv_heads() * n),
                   fold_weights<window_weight>{{thrust::raw_pointer_cast(rows.weights.data()),
                                                thrust::raw_pointer_cast(rows.sum.data()), n, rows.shape.w, 0, 0},
                                               out.data(), n, l.group(), l.q_heads(), how, all_heads});
}

/// The same of engine-given accumulated weights (layer.attention, in System memory).
template <class System, layer_type L>
void accumulated_scores(exec::device<System>, const L& l, group_reduce how, bool all_heads, score_matrix<System>& out) {
  out.reset(l.kv_heads(), l.tokens());
  const auto index = thrust::counting_iterator<std::size_t>(0);
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(l.kv_heads() * l.tokens()),
                   fold_weights<engine_weight>{{l.attention.data(), l.tokens(), 0, 0}, out.data(), l.tokens(),
                                               l.group(), l.q_heads(), how, all_heads});
}

}  // namespace kvc::device::detail
