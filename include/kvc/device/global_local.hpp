#pragma once
// Device version of kvc::score::global_local (EMS, docs/ems.md#device-version). The softmax
// rows are those of the attention scorers (detail/attention.hpp, steps 1-4, with its check of
// non-finite keys and queries); then
//   5. for_each  A[r, t] /= sum[r]                         (the weights A_j)
//   6. for_each  mass[r, s] = Σ_{t ∈ seg s, t ≤ last_r} A[r, t], one (row, segment) per thread,
//                in token order as the reference adds them
//   7. for_each  one (kv head, token) per thread: the window mean of λ G + (1 − λ) L over the
//                queries that see t, folded over the GQA group, in the reference's order
// Memory: 8 · q_heads · window · (tokens + segments) bytes.

#include "kvc/version.hpp"

#include <cstddef>
#include <string>

#include <cuda/std/cmath>
#include <cuda/std/limits>
#include <thrust/for_each.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/reduce.h>
#include <thrust/transform.h>

#include "kvc/core/error.hpp"
#include "kvc/device/detail/attention.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/score/global_local.hpp"

namespace kvc::device {

namespace detail {

struct divide_row_by_sum {
  double* weights;
  const double* sums;
  std::size_t tokens;
  KVC_HOST_DEVICE void operator()(std::size_t i) const { weights[i] /= sums[i / tokens]; }
};

/// Attention mass of one local segment of one row: the reference's segment_mass.
struct segment_mass {
  const double* weights;  // A, [rows, tokens]
  double* mass;           // [rows, segments]
  window_rows rows;
  std::size_t segment, segments;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / segments, first = (i % segments) * segment, last = rows.last_visible(r);
    double m = 0.0;
    for (std::size_t t = first; t <= last && t < first + segment; ++t) m += weights[r * rows.tokens + t];
    mass[i] = m;
  }
};

/// The window mean of score::global_local::term over the queries of q-head `first + g` that see
/// token t (|J_t| ≥ 1: the last query sees every token), in the reference's order.
struct global_local_weight {
  score::global_local p;
  const double* weights;  // A, [rows, tokens]
  const double* mass;     // [rows, segments]
  window_rows rows;
  std::size_t segments, first, t;
  KVC_HOST_DEVICE double operator()(std::size_t g) const {
    const std::size_t n = rows.tokens;
    double acc = 0.0, observers = 0.0;
    for (std::size_t j = 0; j < rows.w; ++j) {
      const std::size_t r = (first + g) * rows.w + j, last = rows.last_visible(r);
      if (t > last) continue;
      observers += 1.0;
      acc += p.term(weights[r * n + t], mass[r * segments + t / p.segment], last / p.segment + 1);
    }
    return acc / observers;
  }
};

/// s[h, t]: kvc::fold_group of global_local_weight over kv head h's group.
struct global_local_score {
  global_local_weight weight;
  float* out;  // [kv_heads, tokens]
  group_reduce how;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    global_local_weight at = weight;
    const std::size_t n = at.rows.tokens, h = i / n;
    at.t = i % n;
    at.first = h * at.rows.group;
    out[i] = fold_group(at, at.rows.group, how);
  }
};

}  // namespace detail

template <>
struct algorithm<score::global_local> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System> e, const score::global_local& p, const L& l, score_matrix<System>& out) {
    p.check(l);
    if constexpr (has_queries_v<L>) {
      // Steps 1-4: the softmax numerators and row sums (detail::window_softmax, which refuses a
      // non-finite key or query as the reference does).
      detail::softmax_rows<System> softmax = detail::window_softmax(e, l, p.window);
      const detail::window_rows shape = softmax.shape;
      const std::size_t n = l.tokens(), rows = l.q_heads() * shape.w, cells = rows * n;
      const std::size_t segments = (n - 1) / p.segment + 1;
      const auto index = thrust::counting_iterator<std::size_t>(0);
      vector<double, System>& A = softmax.weights;
      vector<double, System> mass(rows * segments);
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(cells),
                       detail::divide_row_by_sum{raw(A), raw(softmax.sum), n});
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(rows * segments),
                       detail::segment_mass{raw(A), raw(mass), shape, p.segment, segments});
      out.reset(l.kv_heads(), n);
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(l.kv_heads() * n),
                       detail::global_local_score{{p, raw(A), raw(mass), shape, segments, 0, 0}, out.data(), p.group});
    }
  }
};

}  // namespace kvc::device
