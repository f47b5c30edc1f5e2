#pragma once
// The device version of every attention scorer (kvc::attention_scorer: window_attention,
// last_query_attention, accumulated_attention, center_of_gravity; kvc/core/attention.hpp), once:
// the softmax rows of the queries the scorer reads, by segments (detail/attention.hpp), or the
// engine's accumulated weights; folded per element with kvc::fold_group (or mean_over_heads),
// then the scorer's own post-pass mapped over every (head, token). A CUDA fast path
// (kvc/device/fast_path.hpp) is asked first where one exists for the scorer and layer.

#include "kvc/version.hpp"

#include <cstddef>
#include <utility>

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include "kvc/core/attention.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/detail/attention.hpp"
#include "kvc/device/fast_path.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/score/accumulated_attention.hpp"
#include "kvc/score/center_of_gravity.hpp"
#include "kvc/score/last_query_attention.hpp"
#include "kvc/score/window_attention.hpp"

namespace kvc::device {

namespace detail {
/// out[h, t] = scorer.post(row h of `folded`, tokens, window, t).
template <class Scorer>
struct post_pass {
  Scorer scorer;
  const float* folded;
  float* out;
  std::size_t tokens, window;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    out[i] = scorer.post(folded + h * tokens, tokens, window, t);
  }
};
}  // namespace detail

template <class Scorer>
  requires attention_scorer<Scorer>
struct algorithm<Scorer> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System> e, const Scorer& p, const L& l, score_matrix<System>& out) {
    if constexpr (requires { p.check(l); }) p.check(l);
    const attention_source r = p.source();
    const std::size_t n = l.tokens();
    [[maybe_unused]] std::size_t window = 0;
    // Folded straight into `out` unless a post-pass reads the folded rows.
    score_matrix<System> scratch;
    score_matrix<System>& folded = attention_post_pass<Scorer> ? scratch : out;
    if (r.engine && !l.attention.empty()) {
      detail::accumulated_scores(e, l, p.group, r.all_heads, folded);
    } else {
      require_queries(l, Scorer::name);
      if constexpr (fast_path<Scorer, System, L>::available) {
        if (fast_path<Scorer, System, L>::try_score(p, l, out)) return;
      }
      if constexpr (has_queries_v<L>) {
        detail::window_attention_scores(e, l, r.queries, p.group, r.all_heads, folded);
        window = r.queries < l.window() ? r.queries : l.window();
      }
    }
    if constexpr (attention_post_pass<Scorer>) {
      out.reset(l.kv_heads(), n);
      const auto index = thrust::counting_iterator<std::size_t>(0);
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(l.kv_heads() * n),
                       detail::post_pass<Scorer>{p, std::as_const(scratch).data(), out.data(), n, window});
    }
  }
};

}  // namespace kvc::device
