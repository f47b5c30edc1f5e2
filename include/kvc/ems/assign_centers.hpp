#pragma once
// Completes an EMS class assignment with the keys (docs/ems.md): each pending token t of head
// h joins the center c that maximises the cosine similarity of their keys,
//   cos(k_t, k_c) = k_t · k_c / (‖k_t‖ ‖k_c‖)   (0 when either key is zero),
// when that similarity reaches `min_similarity`; otherwise t goes to the zero class (evicted).
// Ties go to the lower center rank. Every center is compared with its original key, so all
// tokens of all heads can be assigned in one parallel pass.

#include "kvc/version.hpp"

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/ems/class_assignment.hpp"

namespace kvc::ems {

template <layer_type L>
void require_matches(const L& l, const class_assignment& a) {
  using kvc::detail::require;
  require(a.heads() == l.kv_heads(), "class_assignment.heads()", "kv_heads " + std::to_string(l.kv_heads()),
          a.heads());
  require(a.tokens() == l.tokens(), "class_assignment.tokens()", "tokens " + std::to_string(l.tokens()),
          a.tokens());
}

template <layer_type L>
class_assignment assign_centers(const L& l, const class_assignment& a, double min_similarity) {
  kvc::detail::require(min_similarity >= -1.0 && min_similarity <= 1.0, "min_similarity",
                       "a cosine similarity in [-1, 1]", min_similarity);
  require_matches(l, a);
  if (a.complete()) return a;

  const std::size_t n = l.tokens(), d = l.head_dim();
  auto key_dot = [&](std::size_t h, std::size_t x, std::size_t y) {
    double dot = 0.0;
    for (std::size_t k = 0; k < d; ++k)
      dot += static_cast<double>(to_float(l.keys(h, x, k))) * static_cast<double>(to_float(l.keys(h, y, k)));
    return dot;
  };
  std::vector<class_id> ids(a.ids().begin(), a.ids().end());
  for (std::size_t h = 0; h < a.heads(); ++h) {
    const auto centers = a.head(h);
    std::vector<double> center_norm(centers.size());
    for (std::size_t r = 0; r < centers.size(); ++r) {
      const auto c = static_cast<std::size_t>(centers[r]);
      center_norm[r] = std::sqrt(key_dot(h, c, c));
    }
    for (std::size_t t = 0; t < n; ++t) {
      if (a.id(h, t) != class_assignment::pending) continue;
      const double norm = std::sqrt(key_dot(h, t, t));
      double best = -2.0;
      class_id best_id = class_assignment::zero_class;
      for (std::size_t r = 0; r < centers.size(); ++r) {
        const double denominator = norm * center_norm[r];
        const double cosine =
            denominator > 0.0 ? key_dot(h, t, static_cast<std::size_t>(centers[r])) / denominator : 0.0;
        if (cosine > best) {
          best = cosine;
          best_id = static_cast<class_id>(r + 1);
        }
      }
      ids[h * n + t] = best >= min_similarity ? best_id : class_assignment::zero_class;
    }
  }
  return {static_cast<const keep_set&>(a), std::move(ids)};
}

}  // namespace kvc::ems
