#pragma once
// H2O's scorer (Zhang et al. 2023): attention accumulated over all queries seen so far.
// s[h, t] = reduce_{g in group(h)} sum_j A[g, j, t], over every query the layer carries
// (or the engine's accumulated weights in layer.attention, when given).

#include "kvc/version.hpp"

#include <vector>

#include "kvc/core/attention.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

struct accumulated_attention {
  group_reduce group = group_reduce::mean;  ///< how a GQA group's query heads are folded

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    kvc::detail::require_scorable(l, out);
    if (!l.attention.empty()) {
      std::vector<double> acc(l.attention.begin(), l.attention.end());
      fold_groups(acc, l.group(), group, out);
      return;
    }
    require_queries(l, "score::accumulated_attention");
    fold_groups(window_attention_sum(l, l.window()), l.group(), group, out);
  }
};

}  // namespace kvc::score
