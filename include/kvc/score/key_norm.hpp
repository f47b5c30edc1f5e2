#pragma once
// Key-norm scorer (Devoto et al. 2024): s[h, t] = -||k_t||_2; keys with a low L2 norm tend to
// draw high attention, so they are kept.

#include "kvc/version.hpp"

#include <cmath>

#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

struct key_norm {
  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    for (std::size_t h = 0; h < l.kv_heads(); ++h)
      for (std::size_t t = 0; t < l.tokens(); ++t) {
        double sq = 0.0;
        for (std::size_t c = 0; c < l.head_dim(); ++c) {
          const double k = to_float(l.keys(h, t, c));
          sq += k * k;
        }
        out(h, t) = static_cast<float>(-std::sqrt(sq));
      }
  }
};

}  // namespace kvc::score
