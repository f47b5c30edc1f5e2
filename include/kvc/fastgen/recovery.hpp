#pragma once
// The constraint of FastGen's Eq. 1 (Ge et al. 2024, §3.3):  |A − softmax(Q K_C^T)| ≤ 1 − T.
// The paper does not name the norm; its §4.1 reads the criterion as "the accumulated attention
// score on [the kept] tokens is higher than 0.95" at T = 0.95. kvc takes A_C = A with the evicted
// columns set to 0 (not renormalised) and the L1 norm per query row, averaged over rows:
//   mean_rows ||A_row − A_C,row||_1 = 1 − R(C),   R(C) = Σ_{t∈C} Ā_t / Σ_t Ā_t,
// Ā_t = Σ_rows A_row,t the accumulated attention (rows sum to 1, so Σ_t Ā_t is the row count).
// The constraint is R(C) ≥ T. docs/fastgen.md#recovery

#include "kvc/version.hpp"

#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include "kvc/core/error.hpp"

namespace kvc::fastgen {

/// R(C): the share of the accumulated attention that falls on the kept tokens, in [0, 1].
inline double recovery(std::span<const float> accumulated, std::span<const char> keep) {
  kvc::detail::require(keep.size() == accumulated.size(), "keep.size()",
                       "one mark per token (" + std::to_string(accumulated.size()) + ")", keep.size());
  double kept = 0.0, total = 0.0;
  for (std::size_t t = 0; t < accumulated.size(); ++t) {
    const double a = accumulated[t];
    kvc::detail::require(std::isfinite(a) && a >= 0.0, "accumulated[" + std::to_string(t) + "]",
                         "a finite, non-negative attention weight", accumulated[t]);
    total += a;
    if (keep[t]) kept += a;
  }
  kvc::detail::require(total > 0.0, "accumulated", "some attention to recover (a positive sum)", total);
  return kept / total;
}

}  // namespace kvc::fastgen
