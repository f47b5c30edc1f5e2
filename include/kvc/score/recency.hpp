#pragma once
// s[h, t] = t: later tokens score higher. With kvc::select::sink_window or topk it gives
// StreamingLLM's sink + recent window.

#include "kvc/version.hpp"

#include <cstddef>

#include "kvc/core/element.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

struct recency {
  /// s[h, t] = t (the device path maps this over every (head, token)).
  template <layer_type L>
  KVC_HOST_DEVICE float element(const L&, std::size_t, std::size_t t) const {
    return static_cast<float>(t);
  }

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    score_elements(*this, l, out);
  }
};

}  // namespace kvc::score
