#pragma once
// Device version of kvc::score::last_query_attention (TOVA): the window attention of one query,
// folded over each GQA group, or (share_across_heads) averaged over every q-head of the layer.

#include "kvc/version.hpp"

#include <cstddef>

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include "kvc/device/detail/attention.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/score_buffer.hpp"
#include "kvc/score/last_query_attention.hpp"

namespace kvc::device {

namespace detail {
/// s[h, t] = mean over every q-head g of A[g, last, t], the same for every kv head h (the
/// reference's share_across_heads: q-heads summed in order, in double).
struct mean_over_all_heads {
  const double* weights;  // exp(L − peak), [q_heads, tokens] (one query per q-head)
  const double* sums;     // [q_heads]
  float* out;             // [kv_heads, tokens]
  std::size_t tokens, q_heads;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t t = i % tokens;
    double sum = 0.0;
    for (std::size_t qh = 0; qh < q_heads; ++qh) sum += weights[qh * tokens + t] / sums[qh];
    out[i] = static_cast<float>(sum / static_cast<double>(q_heads));
  }
};
}  // namespace detail

template <>
struct algorithm<score::last_query_attention> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System> e, const score::last_query_attention& p, const L& l,
                    score_buffer<System>& out) {
    require_queries(l, "score::last_query_attention");
    if constexpr (has_queries_v<L>) {
      if (!p.share_across_heads) {
        detail::window_attention_scores(e, l, 1, p.group, out);
        return;
      }
      const detail::softmax_rows<System> rows = detail::window_softmax(e, l, 1);
      const std::size_t n = l.tokens();
      out.reset(l.kv_heads(), n);
      const auto index = thrust::counting_iterator<std::size_t>(0);
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(l.kv_heads() * n),
                       detail::mean_over_all_heads{thrust::raw_pointer_cast(rows.weights.data()),
                                                   thrust::raw_pointer_cast(rows.sum.data()), out.data(), n,
                                                   l.q_heads()});
    }
  }
};

}  // namespace kvc::device
