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

  static constexpr std::string_view name = "score::last_query_attention";
  [[nodiscard]] constexpr attention_source source() const { return {.queries = 1, .all_heads = share_across_heads}; }

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    attention_scores(*this, l, out);
  }
};

}  // namespace kvc::score
