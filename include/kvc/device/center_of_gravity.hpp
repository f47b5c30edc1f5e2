#pragma once
// Device version of kvc::score::center_of_gravity (IntelLLM's CGE scorer): the observation
// window's accumulated attention folded over each GQA group (detail/attention.hpp), or the
// engine's accumulated weights when the layer carries them, exactly as the host decides.
// The centroid itself is taken by the selector (device/centroid_protected.hpp).

#include "kvc/version.hpp"

#include "kvc/core/error.hpp"
#include "kvc/device/detail/attention.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/score_buffer.hpp"
#include "kvc/score/center_of_gravity.hpp"

namespace kvc::device {

template <>
struct algorithm<score::center_of_gravity> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System> e, const score::center_of_gravity& p, const L& l,
                    score_buffer<System>& out) {
    if (!l.attention.empty()) {  // the host does not look at `window` here either
      out.reset(l.kv_heads(), l.tokens());
      detail::accumulated_scores(e, l, p.group, out.data());
      return;
    }
    kvc::detail::require(p.window >= 1, "center_of_gravity.window", "at least 1", p.window);
    require_queries(l, "score::center_of_gravity");
    if constexpr (has_queries_v<L>) {
      detail::window_attention_scores(e, l, p.window, p.group, out);
    }
  }
};

}  // namespace kvc::device
