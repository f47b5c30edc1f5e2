#pragma once
// StreamingLLM's selection (Xiao et al. 2024): the first `sinks` tokens (attention sinks) and
// the last budget − sinks tokens. Scores are not looked at.

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "kvc/core/keep_set.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/select/detail/rank.hpp"

namespace kvc::select {

struct sink_window {
  std::size_t sinks = 4;

  keep_set operator()(const score_matrix& s, std::size_t budget) const {
    const std::size_t n = s.tokens();
    detail::require_budget(budget, std::min(sinks, n), n);
    const std::vector<char> keep = detail::protect(n, sinks, budget - std::min(sinks, n));
    const std::vector<index_t> one = detail::marked_indices(keep);
    return keep_set::from_heads(n, std::vector<std::vector<index_t>>(s.heads(), one));
  }
};

}  // namespace kvc::select
