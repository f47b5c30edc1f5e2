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

  static constexpr std::string_view name = "score::accumulated_attention";
  [[nodiscard]] constexpr attention_source source() const {
    return {.queries = static_cast<std::size_t>(-1), .engine = true};  // every query the layer carries
  }

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    attention_scores(*this, l, out);
  }
};

}  // namespace kvc::score
