#pragma once
// IntelLLM's center-of-gravity scorer (CGE; OpenReview 4QWPCTLq20; only the abstract is public,
// kvc's reading is in docs/intelllm.md): the observation window's accumulated attention, and the
// per-head center of gravity of that attention over token positions.
//   m[h, t] = reduce_{g in group(h)} sum_{j in window} A[g, j, t]          (accumulated attention)
//   c[h]    = sum_t t * m[h, t] / sum_t m[h, t],  t over a span [first, last)  (center of gravity)
// The centroid is in token-index units, which are the positions of an uncompressed prompt.
// kvc::select::centroid_protected shields the tokens around c[h]; the rest go by m[h, t].

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/attention.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

/// The centroid's element math, for every path: sum_t t · mass[t] / sum_t mass[t] over
/// [first, last), in double in token order, into `c`; false (c untouched) when the span holds no
/// mass. t · mass[t] is exact in double for t < 2^29, so a fused multiply-add gives the same sum.
KVC_HOST_DEVICE inline bool centroid_of(const float* mass, std::size_t first, std::size_t last, double& c) {
  double moment = 0.0, total = 0.0;
  for (std::size_t t = first; t < last; ++t) {
    total += static_cast<double>(mass[t]);
    moment += static_cast<double>(t) * static_cast<double>(mass[t]);
  }
  if (!(total > 0.0)) return false;
  c = moment / total;
  return true;
}

/// Center of gravity of the non-negative weights `mass` over the tokens [first, last) (last is
/// clipped to mass.size()), accumulated in double (centroid_of). Empty when the span holds no mass: a head
/// with nothing to attend to has no center to shield.
inline std::optional<double> centroid(std::span<const float> mass, std::size_t first, std::size_t last) {
  last = std::min(last, mass.size());
  for (std::size_t t = first; t < last; ++t)
    if (!(std::isfinite(mass[t]) && mass[t] >= 0.0f))
      kvc::detail::require(false, "mass[" + std::to_string(t) + "]",
                           "a finite non-negative weight (the centroid is a weighted mean)", mass[t]);
  double c = 0.0;
  if (!centroid_of(mass.data(), first, last, c)) return std::nullopt;
  return c;
}

struct center_of_gravity {
  std::size_t window = 32;                  ///< observation window (last queries of the prompt)
  group_reduce group = group_reduce::mean;  ///< how a GQA group's query heads are folded

  static constexpr std::string_view name = "score::center_of_gravity";
  /// m[h, t]. When the engine hands accumulated weights in layer.attention they are used as A
  /// (as score::accumulated_attention does) and `window` is not looked at.
  [[nodiscard]] constexpr attention_source source() const { return {.queries = window, .engine = true}; }
  template <layer_type L>
  void check(const L& l) const {
    if (l.attention.empty()) kvc::detail::require(window >= 1, "center_of_gravity.window", "at least 1", window);
  }
  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    attention_scores(*this, l, out);
  }

  /// c[h] for every kv head, from the layer's queries and keys (or its attention), counting only
  /// the tokens [exclude_first, tokens - exclude_last). Empty where that span holds no mass.
  template <layer_type L>
  std::vector<std::optional<double>> centroids(const L& l, std::size_t exclude_first = 0,
                                               std::size_t exclude_last = 0) const {
    validate(l);
    score_matrix m(l.kv_heads(), l.tokens());
    (*this)(l, m);
    const std::size_t n = l.tokens(), last = n - std::min(exclude_last, n);
    std::vector<std::optional<double>> out(l.kv_heads());
    for (std::size_t h = 0; h < l.kv_heads(); ++h) out[h] = centroid(m.row(h), exclude_first, last);
    return out;
  }
};

}  // namespace kvc::score
