#pragma once
// TOVA's scorer (Oren et al. 2024): the attention of the last query only.
// s[h, t] = reduce_{g in group(h)} A[g, last, t]

#include "kvc/core/attention.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

struct last_query_attention {
  group_reduce group = group_reduce::mean;

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    require_queries(l, "score::last_query_attention");
    fold_groups(window_attention_sum(l, 1), l.group(), group, out);
  }
};

}  // namespace kvc::score
