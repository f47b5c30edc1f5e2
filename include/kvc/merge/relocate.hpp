#pragma once
// IntelLLM's remote gap localization (RGL) as a position policy for the kept tokens (kvc's
// reading of the abstract, docs/intelllm.md). Per head, kept tokens i = 0..k-1 with original
// positions p_0 < ... < p_{k-1} get new positions q_i:
//   original    q_i = p_i                       every gap left by eviction stays (RoPE distances exact)
//   repacked    q_i = i                         contiguous 0..k-1, as if the evicted tokens never were
//   remote_gap  q_i = p_i                       for the remote tokens, i <  k - L
//               q_i = p_{k-1} - (k - 1 - i)     for the local region, i >= k - L, L = min(local, k):
//                                               contiguous, ending where the cache ends, so the next
//                                               query keeps its original position
// Only positions change: an engine that caches keys after RoPE re-rotates them by q_i - p_i.

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "kvc/core/compressed_layer.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/merge/drop.hpp"

namespace kvc::merge {

enum class position_mode { original, repacked, remote_gap };

namespace detail {
inline void require_position_mode(position_mode mode) {
  kvc::detail::require(mode == position_mode::original || mode == position_mode::repacked ||
                           mode == position_mode::remote_gap,
                       "position_mode", "original, repacked or remote_gap", static_cast<int>(mode));
}
}  // namespace detail

/// Rewrites every head's kept positions by `mode` (see above). remote_gap needs each head's
/// positions strictly ascending; on bad input nothing is changed.
template <class T>
void relocate_positions(compressed_layer<T>& c, position_mode mode, std::size_t local = 64) {
  detail::require_position_mode(mode);
  if (mode == position_mode::remote_gap)
    for (std::size_t h = 0; h < c.heads(); ++h) {
      const auto p = std::as_const(c).positions(h);
      for (std::size_t i = 1; i < p.size(); ++i)
        kvc::detail::require(p[i - 1] < p[i], "positions(" + std::to_string(h) + ")",
                             "strictly ascending original positions",
                             std::to_string(p[i - 1]) + " then " + std::to_string(p[i]));
    }
  if (mode == position_mode::original) return;
  for (std::size_t h = 0; h < c.heads(); ++h) {
    std::span<std::int64_t> p = c.positions(h);
    const std::size_t k = p.size();
    if (k == 0) continue;
    if (mode == position_mode::repacked) {
      for (std::size_t i = 0; i < k; ++i) p[i] = static_cast<std::int64_t>(i);
      continue;
    }
    const std::size_t L = std::min(local, k);
    const std::int64_t end = p[k - 1];
    for (std::size_t i = k - L; i < k; ++i) p[i] = end - static_cast<std::int64_t>(k - 1 - i);
  }
}

/// A merger that builds the compressed layer with `Inner` and then relocates its positions.
template <class Inner = drop>
struct relocate {
  Inner inner{};
  position_mode mode = position_mode::remote_gap;  ///< RGL, kvc's reading
  std::size_t local = 64;                          ///< kept tokens in the contiguous local region

  template <layer_type L, class Selection>
  auto operator()(const L& l, const score_matrix& s, const Selection& keep) const {
    detail::require_position_mode(mode);
    auto out = inner(l, s, keep);
    relocate_positions(out, mode, local);
    return out;
  }
};

}  // namespace kvc::merge
