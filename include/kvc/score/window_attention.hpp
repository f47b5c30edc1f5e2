#pragma once
// SnapKV's scorer (Li et al. 2024, Alg. 1): attention of the last `window` queries, summed
// over the window, then 1-D pooled over tokens (kernel `pool`, stride 1, centred):
//   C[g, t] = sum_{j in window} A[g, j, t];   s[h, t] = pool_t( reduce_{g in group(h)} C[g, t] )
// Pooling runs over the prefix (the tokens before the window); window tokens keep their raw sum
// and are protected by the selector (kvc::select::window_topk).

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "kvc/core/attention.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

enum class pooling { max, average };

struct window_attention {
  std::size_t window = 32;                  ///< observation window (last queries of the prompt)
  std::size_t pool = 7;                     ///< pooling kernel over tokens; 1 disables pooling
  pooling kind = pooling::max;              ///< max, or average counting the zero padding (PyTorch's default)
  group_reduce group = group_reduce::mean;  ///< how a GQA group's query heads are folded

  static constexpr std::string_view name = "score::window_attention";
  [[nodiscard]] constexpr attention_source source() const { return {.queries = window}; }
  template <layer_type L>
  void check(const L&) const {
    detail::require(window >= 1, "window_attention.window", "at least 1", window);
    detail::require(pool >= 1 && pool % 2 == 1, "window_attention.pool", "an odd kernel of at least 1", pool);
  }
  /// The pooling of token t of a head's folded `row`: over the prefix (the tokens before the
  /// `used`-token window) a centred kernel of `pool` tokens cut at the prefix's ends, in float
  /// in token order; a window token keeps its raw sum.
  KVC_HOST_DEVICE float post(const float* row, std::size_t tokens, std::size_t used, std::size_t t) const {
    const std::size_t prefix = tokens - used, half = pool / 2;
    if (t >= prefix) return row[t];
    const bool max = kind == pooling::max;
    const std::size_t lo = t >= half ? t - half : 0, hi = t + half + 1 < prefix ? t + half + 1 : prefix;
    float acc = max ? -::cuda::std::numeric_limits<float>::infinity() : 0.0f;
    for (std::size_t u = lo; u < hi; ++u) acc = max ? (acc < row[u] ? row[u] : acc) : acc + row[u];
    return max ? acc : acc / static_cast<float>(pool);
  }

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    attention_scores(*this, l, out);
  }
};

}  // namespace kvc::score
