#pragma once
// Device algorithm of kvc::select::topk (and so of window_topk and heavy_recent, which lower to
// it): one
// stable sort of (head, score-rank) keys, the first `budget` of each head marked, compacted (on
// CPP/OMP a per-head nth_element writing the keep_set directly; on CUDA the radix-select kernel
// of kvc/device/cuda/topk.cuh through kvc::device::fast_path).

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/device/detail/rank.hpp"
#include "kvc/device/fast_path.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/select/detail/rank.hpp"
#include "kvc/select/topk.hpp"

namespace kvc::device {

template <>
struct algorithm<select::topk> {
  static constexpr bool available = true;

  template <class System>
  static device::keep_set<System> select(exec::device<System> e, const select::topk& p, const score_matrix<System>& s,
                                         std::size_t budget) {
    const std::size_t n = s.tokens();
    const std::vector<char> guard = select::detail::protect(n, p.sinks, p.recent);
    select::detail::require_budget(budget, static_cast<std::size_t>(std::count(guard.begin(), guard.end(), char{1})),
                                   n);
    require_finite(e, s);
    using fast = fast_path<select::topk, System, score_matrix<System>>;
    if constexpr (fast::available)
      return fast::select(p, s, budget);
    else if constexpr (detail::host_system_v<System>)
      return detail::top_per_head(s, p.sinks, p.recent, budget);
    vector<std::uint8_t, System> keep(s.heads() * n);
    detail::keep_top_per_head(s, p.sinks, p.recent, budget, raw(keep));
    return detail::keep_set_from_marks<System>(s.heads(), n, raw(keep));
  }
};

}  // namespace kvc::device
