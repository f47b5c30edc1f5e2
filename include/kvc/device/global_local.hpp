#pragma once
// Device version of kvc::score::global_local (EMS, docs/ems.md#device-version). The softmax
// rows of every query the layer carries are those of the attention scorers (detail/attention.hpp,
// steps 1-4, with its check of non-finite keys and queries); then
//   5. for_each  A[r, t] /= sum[r]                                  (the weights A_j)
//   6. for_each  one (q-head, token) per thread: the global and the local view, the means over
//                the queries that see t, adding the queries in the reference's order
//   7. for_each  one q-head per thread: the mean of each view over the tokens, in token order
//   8. for_each  one (kv head, token) per thread: score::global_local::combine folded over the
//                GQA group
// Memory: 8 · q_heads · (queries · tokens + 2 · tokens) bytes.

#include "kvc/version.hpp"

#include <cstddef>
#include <string>

#include <cuda/std/cmath>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

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

/// The two views of one (q-head, token): G over every query that sees t, L over the last
/// `local` of them, each the mean over its observers (the reference's order: queries ascending).
struct global_local_views {
  const double* weights;  // A, [rows, tokens]
  const float* engine;    // layer.attention [q_heads, tokens], or null
  double* global;         // [q_heads, tokens]
  double* local;          // [q_heads, tokens]
  window_rows rows;       // every query of the layer (rows.w == rows.window)
  std::size_t first_local;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t n = rows.tokens, qh = i / n, t = i % n;
    double g = 0.0, l = 0.0, seen_all = 0.0, seen_local = 0.0;
    for (std::size_t j = 0; j < rows.w; ++j) {
      const std::size_t r = qh * rows.w + j;
      if (t > rows.last_visible(r)) continue;
      const double a = weights[r * n + t];
      if (engine == nullptr) {
        g += a;
        seen_all += 1.0;
      }
      if (j >= first_local) {
        l += a;
        seen_local += 1.0;
      }
    }
    // The last query sees every token: both counts are at least 1 (and n − t with the engine's).
    global[i] = engine != nullptr ? static_cast<double>(engine[i]) / static_cast<double>(n - t) : g / seen_all;
    local[i] = l / seen_local;
  }
};

/// Per q-head: score::global_local::mean of both views.
struct global_local_means {
  const double* global;
  const double* local;
  double* global_mean;
  double* local_mean;
  std::size_t tokens;
  KVC_HOST_DEVICE void operator()(std::size_t qh) const {
    const double* g = global + qh * tokens;
    const double* l = local + qh * tokens;
    global_mean[qh] = score::global_local::mean([&](std::size_t t) { return g[t]; }, tokens);
    local_mean[qh] = score::global_local::mean([&](std::size_t t) { return l[t]; }, tokens);
  }
};

/// s[h, t]: kvc::fold_group of score::global_local::combine over kv head h's group.
struct global_local_score {
  score::global_local p;
  const double* global;
  const double* local;
  const double* global_mean;
  const double* local_mean;
  float* out;  // [kv_heads, tokens]
  std::size_t tokens, group;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    out[i] = fold_group(
        [&](std::size_t g) {
          const std::size_t qh = h * group + g, at = qh * tokens + t;
          return p.combine(global[at], global_mean[qh], local[at], local_mean[qh]);
        },
        group, p.group);
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
      // Steps 1-4 over every query, or the local view's only when the engine gives the global
      // one (detail::window_softmax refuses a non-finite key or query as the reference does).
      const bool engine = !l.attention.empty();
      detail::softmax_rows<System> softmax = detail::window_softmax(e, l, engine ? p.window : l.window());
      const detail::window_rows shape = softmax.shape;
      const std::size_t n = l.tokens(), q_heads = l.q_heads(), cells = q_heads * shape.w * n;
      const std::size_t first_local = shape.w - (p.window < shape.w ? p.window : shape.w);
      const auto index = thrust::counting_iterator<std::size_t>(0);
      vector<double, System>& A = softmax.weights;
      vector<double, System> global(q_heads * n), local(q_heads * n), global_mean(q_heads), local_mean(q_heads);
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(cells),
                       detail::divide_row_by_sum{raw(A), raw(softmax.sum), n});
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(q_heads * n),
                       detail::global_local_views{raw(A), engine ? l.attention.data() : nullptr, raw(global),
                                                                  raw(local), shape, first_local});
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(q_heads),
                       detail::global_local_means{raw(global), raw(local), raw(global_mean), raw(local_mean), n});
      out.reset(l.kv_heads(), n);
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(l.kv_heads() * n),
                       detail::global_local_score{p, raw(global), raw(local), raw(global_mean), raw(local_mean),
                                                  out.data(), n, l.group()});
    }
  }
};

}  // namespace kvc::device
