#pragma once
// s[h, t] = t: later tokens score higher. With kvc::select::sink_window or topk it gives
// StreamingLLM's sink + recent window.

#include "kvc/version.hpp"

#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

struct recency {
  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    kvc::detail::require_scorable(l, out);
    for (std::size_t h = 0; h < l.kv_heads(); ++h)
      for (std::size_t t = 0; t < l.tokens(); ++t) out(h, t) = static_cast<float>(t);
  }
};

}  // namespace kvc::score
