#pragma once
// Device version of kvc::select::head_adaptive (Ada-KV): the per-head safeguard is a per-head
// top-k (detail::keep_top_per_head); the rest of heads · budget is one sort of every unkept
// (head, token) by score, ties to the lower head, then the lower token.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>

#include "kvc/core/error.hpp"
#include "kvc/device/detail/rank.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/select/detail/rank.hpp"
#include "kvc/select/head_adaptive.hpp"

namespace kvc::device {

template <>
struct algorithm<select::head_adaptive> {
  static constexpr bool available = true;

  template <class System>
  static device::keep_set<System> select(exec::device<System> e, const select::head_adaptive& p,
                                         const score_matrix<System>& s, std::size_t budget) {
    const std::size_t n = s.tokens(), heads = s.heads();
    const auto [protected_tokens, guaranteed] = p.guarantee(n, budget);  // the reference's checks and floor
    require_finite(e, s);
    kvc::detail::require(heads * n <= 0xffffffffu, "scores", "fewer than 2^32 (head, token) pairs on the device",
                         heads * n);

    const std::size_t per_head = guaranteed < budget ? guaranteed : budget;
    vector<std::uint8_t, System> keep(heads * n);
    detail::keep_top_per_head(s, 0, protected_tokens, per_head, raw(keep));
    const std::size_t used = heads * per_head, left = heads * budget - used, pool = heads * n - used;
    const std::size_t extra = left < pool ? left : pool;
    if (extra > 0) detail::keep_top_jointly(s, used, extra, raw(keep));
    return detail::keep_set_from_marks<System>(heads, n, raw(keep));
  }
};

}  // namespace kvc::device
