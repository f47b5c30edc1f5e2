#pragma once
// Completes an EMS class assignment with the keys and values (docs/ems.md): each pending token t
// of head h joins the center c that maximises their similarity,
//   key_value (default)  cos(k_t, k_c) · cos(v_t, v_c)
//   key                  cos(k_t, k_c)
// with cos(x, y) = x · y / (‖x‖ ‖y‖) (0 when either is zero), when that similarity reaches
// `min_similarity`; otherwise t goes to the zero class (evicted). Ties go to the lower center
// rank. Every center is compared with its original key and value, so all tokens of all heads can
// be assigned in one parallel pass.

#include "kvc/version.hpp"

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "kvc/core/config.hpp"
#include "kvc/core/element.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/ems/class_assignment.hpp"

namespace kvc::ems {

/// How a merge candidate is compared with a class center.
enum class similarity_measure {
  key_value,  ///< key cosine times value cosine (the sources' description of EMS)
  key,        ///< key cosine alone (kvc's earlier reading)
};

// The element math, for every path.

/// The similarity of a candidate and a center from their key and value cosines.
KVC_HOST_DEVICE inline double similarity(similarity_measure m, double key_cos, double value_cos) {
  return m == similarity_measure::key ? key_cos : key_cos * value_cos;
}

/// k_x · k_y of head h in double, one chain in dimension order (so cosines, argmax ties and the
/// threshold are the same on every path).
template <class K>
KVC_HOST_DEVICE double key_dot(const K& keys, std::size_t h, std::size_t x, std::size_t y, std::size_t d) {
  double dot = 0.0;
  for (std::size_t k = 0; k < d; ++k)
    dot += static_cast<double>(to_float(keys(h, x, k))) * static_cast<double>(to_float(keys(h, y, k)));
  return dot;
}

/// The class of a pending token among `centers` centers, where cosine(r) is its key cosine with
/// center r: the largest (ties to the lower rank), when it reaches min_similarity; else the zero
/// class. A cosine is dot / (‖k_t‖ ‖k_c‖), 0 when either norm is 0 (key_cosine).
KVC_HOST_DEVICE inline double key_cosine(double dot, double norm_t, double norm_c) {
  const double denominator = norm_t * norm_c;
  return denominator > 0.0 ? dot / denominator : 0.0;
}
template <class Cosine>
KVC_HOST_DEVICE class_id nearest_center(std::size_t centers, const Cosine& cosine, double min_similarity) {
  double best = -2.0;
  class_id best_id = class_assignment::zero_class;
  for (std::size_t r = 0; r < centers; ++r) {
    const double c = cosine(r);
    if (c > best) {
      best = c;
      best_id = static_cast<class_id>(r + 1);
    }
  }
  return best >= min_similarity ? best_id : class_assignment::zero_class;
}

/// The check of min_similarity, for every path; `name` is the argument as the caller spells it.
inline void require_similarity(double min_similarity, const char* name) {
  kvc::detail::require(min_similarity >= -1.0 && min_similarity <= 1.0, name, "a similarity in [-1, 1]",
                       min_similarity);
}

template <layer_type L>
void require_matches(const L& l, const class_assignment& a) {
  using kvc::detail::require;
  require(a.heads() == l.kv_heads(), "class_assignment.heads()", "kv_heads " + std::to_string(l.kv_heads()),
          a.heads());
  require(a.tokens() == l.tokens(), "class_assignment.tokens()", "tokens " + std::to_string(l.tokens()),
          a.tokens());
}

template <layer_type L>
class_assignment assign_centers(const L& l, const class_assignment& a, double min_similarity,
                                similarity_measure measure = similarity_measure::key_value) {
  require_similarity(min_similarity, "min_similarity");
  require_matches(l, a);
  if (a.complete()) return a;

  const std::size_t n = l.tokens(), d = l.head_dim(), dv = l.values.extent(2);
  std::vector<class_id> ids(a.ids().begin(), a.ids().end());
  for (std::size_t h = 0; h < a.heads(); ++h) {
    const auto centers = a.head(h);
    std::vector<double> center_key(centers.size()), center_value(centers.size());
    for (std::size_t r = 0; r < centers.size(); ++r) {
      const auto c = static_cast<std::size_t>(centers[r]);
      center_key[r] = std::sqrt(key_dot(l.keys, h, c, c, d));
      center_value[r] = std::sqrt(key_dot(l.values, h, c, c, dv));
    }
    for (std::size_t t = 0; t < n; ++t) {
      if (a.id(h, t) != class_assignment::pending) continue;
      const double key_norm = std::sqrt(key_dot(l.keys, h, t, t, d));
      const double value_norm = std::sqrt(key_dot(l.values, h, t, t, dv));
      const auto sim = [&](std::size_t r) {
        const auto c = static_cast<std::size_t>(centers[r]);
        const double kc = key_cosine(key_dot(l.keys, h, t, c, d), key_norm, center_key[r]);
        const double vc =
            measure == similarity_measure::key ? 0.0 : key_cosine(key_dot(l.values, h, t, c, dv), value_norm, center_value[r]);
        return similarity(measure, kc, vc);
      };
      ids[h * n + t] = nearest_center(centers.size(), sim, min_similarity);
    }
  }
  return {static_cast<const keep_set&>(a), std::move(ids)};
}

}  // namespace kvc::ems
