#pragma once
// Device version of kvc::score::last_query_attention (TOVA): the window attention of one query.

#include "kvc/version.hpp"

#include "kvc/device/detail/attention.hpp"
#include "kvc/device/implementation.hpp"
#include "kvc/device/score_buffer.hpp"
#include "kvc/score/last_query_attention.hpp"

namespace kvc::device {

template <>
struct implementation<score::last_query_attention> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System> e, const score::last_query_attention& p, const L& l,
                    score_buffer<System>& out) {
    require_queries(l, "score::last_query_attention");
    if constexpr (has_queries_v<L>) {
      out.reset(l.kv_heads(), l.tokens());
      detail::window_attention_scores(e, l, 1, p.group, out.data());
    }
  }
};

}  // namespace kvc::device
