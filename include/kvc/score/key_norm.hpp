#pragma once
// Key-norm scorer (Devoto et al. 2024): s[h, t] = -||k_t||_2; keys with a low L2 norm tend to
// draw high attention, so they are kept. A non-finite key, or a row whose norm is above the
// largest float, is refused (kvc/core/non_finite.hpp): a sum of squares of floats in double is
// non-finite exactly when an element is, so one check per row suffices.

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "kvc/core/layer.hpp"
#include "kvc/core/non_finite.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

struct key_norm {
  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    kvc::detail::require_scorable(l, out);
    // Into a copy first, so that `out` is left as it was when a key is refused.
    std::vector<float> s(l.kv_heads() * l.tokens());
    for (std::size_t h = 0; h < l.kv_heads(); ++h)
      for (std::size_t t = 0; t < l.tokens(); ++t) {
        double sq = 0.0;
        for (std::size_t c = 0; c < l.head_dim(); ++c) {
          const double k = to_float(l.keys(h, t, c));
          sq += k * k;
        }
        const auto score = static_cast<float>(-std::sqrt(sq));
        if (!std::isfinite(score)) kvc::detail::throw_non_finite_norm(l.keys, h, t);
        s[h * l.tokens() + t] = score;
      }
    std::copy(s.begin(), s.end(), out.flat().begin());
  }
};

}  // namespace kvc::score
