#pragma once
// LoRC's progressive compression strategy (Zhang et al. 2024, §3): an error made in a shallow
// layer is amplified by every layer after it, so shallow layers are compressed less. Per
// layer l of L, with κ_i the condition number of layer i's K (or V) weight:
//
//   cumulative condition   c_l = log Π_{i=l}^{L-1} κ_i = Σ_{i=l}^{L-1} log κ_i   (default)
//                          c_l = Σ_{i=l}^{L-1} κ_i                          (cumulation::sum)
//   normalised             s_l = (c_l − c_{L-1}) / (c_0 − c_{L-1})  ∈ [0, 1], s_0 = 1, s_{L-1} = 0
//   rank                   r_l = a + (b − a) s_l,  r_min <= a <= b <= r_max
//
// c_l only grows towards the first layer (κ >= 1), so r_l never increases with depth. The
// ends a, b are chosen so that Σ_l r_l meets the target ratio: b = r_max when the resulting a
// stays >= r_min, otherwise a = r_min and b is lowered. The r_l are then rounded by largest
// remainder (ties to the shallower layer), which keeps the order and makes the total exact:
// Σ_l r_l = round(ratio · L · full_rank), i.e. the realised ratio is within 1 / (2 L full_rank)
// of the target. Which cumulative form the paper uses, and what kvc chose: docs/lorc.md.

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/budget.hpp"
#include "kvc/core/error.hpp"

namespace kvc::project {

enum class cumulation {
  log_product,  ///< c_l = Σ_{i>=l} log κ_i: errors multiply through the layers after l
  sum,          ///< c_l = Σ_{i>=l} κ_i
};

struct progressive_rank {
  double min_rank_fraction = 0.25;  ///< r_min = round(min_rank_fraction · full_rank), at least 1
  double max_rank_fraction = 1.0;   ///< r_max = round(max_rank_fraction · full_rank)
  cumulation accumulate = cumulation::log_product;

  /// c_l for every layer from the per-layer condition numbers κ_l (each finite and >= 1).
  [[nodiscard]] std::vector<double> cumulative_condition(std::span<const double> kappa) const {
    require_condition_numbers(kappa);
    std::vector<double> c(kappa.size());
    double acc = 0.0;
    for (std::size_t l = kappa.size(); l-- > 0;) {
      acc += accumulate == cumulation::log_product ? std::log(kappa[l]) : kappa[l];
      c[l] = acc;
    }
    return c;
  }

  /// Per-layer ranks for layers of full rank `full_rank` (kv_heads · head_dim, or less where
  /// d_model is smaller) that keep `kept` of the cache in total: Σ r_l = round(kept · L · full_rank).
  [[nodiscard]] std::vector<std::size_t> operator()(std::span<const double> kappa, std::size_t full_rank,
                                                    budget::ratio kept) const {
    require_condition_numbers(kappa);
    kvc::detail::require(full_rank >= 1, "full_rank", "at least 1", full_rank);
    kvc::detail::require(kept.value > 0.0 && kept.value <= 1.0, "kept", "a fraction in (0, 1]", kept.value);
    kvc::detail::require(min_rank_fraction >= 0.0 && min_rank_fraction <= 1.0, "progressive_rank.min_rank_fraction",
                         "in [0, 1]", min_rank_fraction);
    kvc::detail::require(max_rank_fraction > 0.0 && max_rank_fraction <= 1.0 && max_rank_fraction >= min_rank_fraction,
                         "progressive_rank.max_rank_fraction", "in (0, 1] and >= min_rank_fraction", max_rank_fraction);

    const std::size_t L = kappa.size();
    const double D = static_cast<double>(full_rank);
    const auto r_min = std::clamp<std::size_t>(static_cast<std::size_t>(std::llround(min_rank_fraction * D)), 1, full_rank);
    const auto r_max = std::clamp<std::size_t>(static_cast<std::size_t>(std::llround(max_rank_fraction * D)), r_min, full_rank);
    const auto total = static_cast<std::size_t>(std::llround(kept.value * static_cast<double>(L) * D));
    kvc::detail::require(total >= L * r_min && total <= L * r_max, "kept",
                         "a ratio whose total rank (" + std::to_string(total) + ") lies in [L * r_min, L * r_max] = [" +
                             std::to_string(L * r_min) + ", " + std::to_string(L * r_max) + "]",
                         kept.value);

    const std::vector<double> c = cumulative_condition(kappa);
    const double spread = c.front() - c.back();
    std::vector<double> s(L, 0.0);
    if (spread > 0.0)
      for (std::size_t l = 0; l < L; ++l) s[l] = (c[l] - c.back()) / spread;
    const double S = std::accumulate(s.begin(), s.end(), 0.0);
    const double T = static_cast<double>(total), lo = static_cast<double>(r_min), hi = static_cast<double>(r_max);

    // The affine map's ends: Σ_l (a + (b − a) s_l) = L a + (b − a) S = T.
    double a = T / static_cast<double>(L), b = a;  // all s_l = 0: every layer alike
    if (S > 0.0) {
      b = hi;
      a = (T - hi * S) / (static_cast<double>(L) - S);
      if (a < lo) {
        a = lo;
        b = lo + (T - static_cast<double>(L) * lo) / S;
      }
    }
    std::vector<double> exact(L);
    for (std::size_t l = 0; l < L; ++l) exact[l] = std::clamp(a + (b - a) * s[l], lo, hi);
    return round_to_total(exact, total);
  }

 private:
  static void require_condition_numbers(std::span<const double> kappa) {
    kvc::detail::require(!kappa.empty(), "condition_numbers", "at least one layer", 0);
    for (std::size_t l = 0; l < kappa.size(); ++l)
      kvc::detail::require(std::isfinite(kappa[l]) && kappa[l] >= 1.0,
                           "condition_numbers[" + std::to_string(l) + "]",
                           "finite and >= 1 (a full-rank weight)", kappa[l]);
  }

  // Largest remainder: floors, then +1 to the largest fractional parts (ties to the shallower
  // layer). A deeper layer never overtakes a shallower one with a larger or equal exact value.
  static std::vector<std::size_t> round_to_total(const std::vector<double>& exact, std::size_t total) {
    const std::size_t L = exact.size();
    std::vector<std::size_t> out(L);
    std::size_t assigned = 0;
    for (std::size_t l = 0; l < L; ++l) assigned += out[l] = static_cast<std::size_t>(std::floor(exact[l]));
    std::vector<std::size_t> order(L);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
      return exact[x] - std::floor(exact[x]) > exact[y] - std::floor(exact[y]);
    });
    for (std::size_t i = 0; assigned < total; ++i, ++assigned) ++out[order[i % L]];
    return out;
  }
};

}  // namespace kvc::project
