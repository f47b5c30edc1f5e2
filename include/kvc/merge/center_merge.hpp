#pragma once
// EMS's merge into class centers (Li et al. 2024; docs/ems.md). Given a complete class
// assignment (select::evict_merge with the layer, or ems::assign_centers), each center c of
// head h becomes the score-weighted average of its class C_c (c itself included):
//   v̂_c = sum_{t in C_c} w_t v_t / sum_{t in C_c} w_t,   w_t = max(s(h, t), 0)
// (a class whose weights are all 0 takes the plain mean). Keys are merged too (`merge_keys`),
// with their norm kept: the direction of the weighted mean k̄_c, rescaled to the weighted mean
// of the members' norms, so that averaging keys that point apart does not shrink the logits:
//   k̂_c = k̄_c · (sum w_t ‖k_t‖ / sum w_t) / ‖k̄_c‖      (k̄_c itself when ‖k̄_c‖ = 0).
// The zero class is dropped. Centers keep their original positions. Sums are in double.

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "kvc/core/compressed_layer.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/ems/assign_centers.hpp"
#include "kvc/ems/class_assignment.hpp"

namespace kvc::merge {

struct center_merge {
  bool merge_keys = true;    ///< merge the keys too, keeping their norm (off: center keys, hence logits, stay exact)
  bool merge_values = true;  ///< average the values of a class into its center

  /// A member's weight in its class, for every path: its positive score, or 1 when the class has
  /// no positive weight (the plain mean).
  [[nodiscard]] static KVC_HOST_DEVICE double member_weight(double score, bool weighted) {
    return weighted ? (score > 0.0 ? score : 0.0) : 1.0;
  }
  /// The factor that takes the weighted mean key, of norm `mean_norm`, to the members' weighted
  /// mean norm `norm_mean`, for every path (1 when the mean key is zero).
  [[nodiscard]] static KVC_HOST_DEVICE double key_scale(double mean_norm, double norm_mean) {
    return mean_norm > 0.0 ? norm_mean / mean_norm : 1.0;
  }

  template <layer_type L>
  compressed_layer<element_of<typename L::key_type>> operator()(const L& l, const score_matrix& s,
                                                                const ems::class_assignment& a) const {
    using T = element_of<typename L::key_type>;
    validate(l);
    kvc::detail::require(s.heads() == l.kv_heads() && s.tokens() == l.tokens(), "scores",
                         "a score_matrix of [" + std::to_string(l.kv_heads()) + ", " +
                             std::to_string(l.tokens()) + "]",
                         "[" + std::to_string(s.heads()) + ", " + std::to_string(s.tokens()) + "]");
    for (std::size_t h = 0; h < s.heads(); ++h)
      for (std::size_t t = 0; t < s.tokens(); ++t)
        kvc::detail::require(std::isfinite(s(h, t)), "scores(" + std::to_string(h) + ", " + std::to_string(t) + ")",
                             "a finite score", s(h, t));
    ems::require_matches(l, a);
    kvc::detail::require(a.complete(), "class_assignment", "a complete assignment (no pending ids)",
                         "pending merge candidates; use select::evict_merge with the layer or ems::assign_centers");
    const ems::class_assignment& classes = a;

    const std::size_t n = l.tokens(), dk = l.head_dim(), dv = l.values.extent(2);
    compressed_layer<T> out(static_cast<const keep_set&>(classes), dk, dv);
    std::vector<double> weight, key_sum, value_sum, norm_sum;
    std::vector<std::size_t> members;
    for (std::size_t h = 0; h < classes.heads(); ++h) {
      const auto centers = classes.head(h);
      const std::size_t m = centers.size();
      // Slot 0 is the zero class: accumulated like any other and then discarded.
      weight.assign(m + 1, 0.0);
      members.assign(m + 1, 0);
      key_sum.assign((m + 1) * dk, 0.0);
      norm_sum.assign(m + 1, 0.0);
      value_sum.assign((m + 1) * dv, 0.0);
      for (std::size_t t = 0; t < n; ++t) {
        const auto c = static_cast<std::size_t>(classes.id(h, t));
        weight[c] += std::max(0.0, static_cast<double>(s(h, t)));
        ++members[c];
      }
      // A class without positive weight falls back to the plain mean: every member weighs 1.
      auto w_of = [&](std::size_t c, std::size_t t) {
        return member_weight(static_cast<double>(s(h, t)), weight[c] > 0.0);
      };
      for (std::size_t t = 0; t < n; ++t) {
        const auto c = static_cast<std::size_t>(classes.id(h, t));
        const double w = w_of(c, t);
        for (std::size_t k = 0; k < dk; ++k) key_sum[c * dk + k] += w * to_float(l.keys(h, t, k));
        norm_sum[c] += w * std::sqrt(ems::key_dot(l.keys, h, t, t, dk));
        for (std::size_t k = 0; k < dv; ++k) value_sum[c * dv + k] += w * to_float(l.values(h, t, k));
      }
      auto keys = out.keys(h);
      auto values = out.values(h);
      auto positions = out.positions(h);
      for (std::size_t r = 0; r < m; ++r) {
        const std::size_t c = r + 1, t = static_cast<std::size_t>(centers[r]);
        const double total = weight[c] > 0.0 ? weight[c] : static_cast<double>(members[c]);
        double squares = 0.0;
        for (std::size_t k = 0; k < dk; ++k) {
          const double mean = key_sum[c * dk + k] / total;
          squares += mean * mean;
        }
        const double scale = key_scale(std::sqrt(squares), norm_sum[c] / total);
        for (std::size_t k = 0; k < dk; ++k)
          keys(0, r, k) = from_float<T>(merge_keys ? static_cast<float>(key_sum[c * dk + k] / total * scale)
                                                   : to_float(l.keys(h, t, k)));
        for (std::size_t k = 0; k < dv; ++k)
          values(0, r, k) = from_float<T>(merge_values ? static_cast<float>(value_sum[c * dv + k] / total)
                                                       : to_float(l.values(h, t, k)));
        positions[r] = l.position(t);
      }
    }
    return out;
  }
};

}  // namespace kvc::merge
