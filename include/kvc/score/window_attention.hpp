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

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    detail::require(window >= 1, "window_attention.window", "at least 1", window);
    detail::require(pool >= 1 && pool % 2 == 1, "window_attention.pool", "an odd kernel of at least 1", pool);
    kvc::detail::require_scorable(l, out);
    require_queries(l, "score::window_attention");
    fold_groups(window_attention_sum(l, window), l.group(), group, out);
    const std::size_t n = l.tokens(), prefix = n - std::min(window, l.window());
    const std::size_t half = pool / 2;
    std::vector<float> raw(prefix);
    for (std::size_t h = 0; h < out.heads(); ++h) {
      std::copy_n(out.row(h).begin(), prefix, raw.begin());
      for (std::size_t t = 0; t < prefix; ++t) {
        const std::size_t lo = t >= half ? t - half : 0, hi = std::min(prefix, t + half + 1);
        float acc = kind == pooling::max ? -std::numeric_limits<float>::infinity() : 0.0f;
        for (std::size_t u = lo; u < hi; ++u) acc = kind == pooling::max ? std::max(acc, raw[u]) : acc + raw[u];
        out(h, t) = kind == pooling::max ? acc : acc / static_cast<float>(pool);
      }
    }
  }
};

}  // namespace kvc::score
