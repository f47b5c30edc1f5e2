#pragma once
// Device version of kvc::score::accumulated_attention (H2O): the engine's accumulated weights
// folded over the group when the layer carries them, else every window query's attention.

#include "kvc/version.hpp"

#include "kvc/device/detail/attention.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/score_buffer.hpp"
#include "kvc/score/accumulated_attention.hpp"

namespace kvc::device {

template <>
struct algorithm<score::accumulated_attention> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System> e, const score::accumulated_attention& p, const L& l,
                    score_buffer<System>& out) {
    if (!l.attention.empty()) {
      out.reset(l.kv_heads(), l.tokens());
      detail::accumulated_scores(e, l, p.group, out.data());
      return;
    }
    require_queries(l, "score::accumulated_attention");
    if constexpr (has_queries_v<L>) {
      detail::window_attention_scores(e, l, l.window(), p.group, out);
    }
  }
};

}  // namespace kvc::device
