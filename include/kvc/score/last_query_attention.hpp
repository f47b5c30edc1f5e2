#pragma once
// TOVA's scorer (Oren et al. 2024): the attention of the last query only.
//   s[h, t] = reduce_{g in group(h)} A[g, last, t]                      (per kv-head, the default)
//   s[h, t] = mean_{every q-head g of the layer} A[g, last, t]          (share_across_heads)
// kvc scores each kv-head on its own; the TOVA reference averages the last query's attention
// over all heads of the layer so every head keeps the same tokens. docs/tova.md

#include "kvc/version.hpp"

#include <cstddef>
#include <vector>

#include "kvc/core/attention.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

struct last_query_attention {
  group_reduce group = group_reduce::mean;  ///< how a GQA group's query heads are folded
  bool share_across_heads = false;          ///< one score per token, averaged over all q-heads

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    kvc::detail::require_scorable(l, out);
    require_queries(l, "score::last_query_attention");
    const std::vector<double> last = window_attention_sum(l, 1);
    if (!share_across_heads) {
      fold_groups(last, l.group(), group, out);
      return;
    }
    const std::size_t n = l.tokens(), heads = l.q_heads();
    for (std::size_t t = 0; t < n; ++t) {
      double sum = 0.0;
      for (std::size_t qh = 0; qh < heads; ++qh) sum += last[qh * n + t];
      for (std::size_t h = 0; h < out.heads(); ++h) out(h, t) = static_cast<float>(sum / static_cast<double>(heads));
    }
  }
};

}  // namespace kvc::score
