#pragma once
// Non-finite keys and queries (docs/architecture.md#non-finite-values): a scorer that reads them
// refuses a NaN or an infinity with a kvc::error naming the element, `keys(h, t, c)` or
// `queries(qh, j, c)`. It finds out from its own arithmetic — a dot product or a sum of squares
// of float elements, accumulated in double, is non-finite exactly when one of its elements is —
// so the check costs one comparison per dot product, not one per element; the element itself is
// looked up only once a check has failed. The device path names the same element.

#include "kvc/version.hpp"

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>

#include "kvc/core/element.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/view.hpp"

namespace kvc::detail {

/// `name(h, t, c)`, e.g. `keys(1, 4, 0)`.
inline std::string element_name(std::string_view name, std::size_t h, std::size_t t, std::size_t c) {
  return std::string(name) + "(" + std::to_string(h) + ", " + std::to_string(t) + ", " + std::to_string(c) + ")";
}

[[noreturn]] inline void throw_non_finite_element(std::string_view name, std::size_t h, std::size_t t, std::size_t c,
                                                  float value) {
  throw error(element_name(name, h, t, c), "a finite value (the scorer reads it)", to_text(value));
}

/// Index of the first non-finite element of row (h, t) of `v`, or v.extent(2) when there is none.
template <tensor_view V>
std::size_t first_non_finite_element(const V& v, std::size_t h, std::size_t t) {
  const std::size_t d = v.extent(2);
  for (std::size_t c = 0; c < d; ++c)
    if (!std::isfinite(to_float(v(h, t, c)))) return c;
  return d;
}

/// Called when the dot product of query row (qh, j) and key row (qh / group, t) was not finite:
/// throws naming the first non-finite element of the query row, else of the key row.
template <layer_type L>
[[noreturn]] void throw_non_finite_dot(const L& l, std::size_t qh, std::size_t j, std::size_t t) {
  const std::size_t d = l.head_dim(), h = qh / l.group();
  if (const std::size_t c = first_non_finite_element(l.queries, qh, j); c < d)
    throw_non_finite_element("queries", qh, j, c, to_float(l.queries(qh, j, c)));
  const std::size_t c = first_non_finite_element(l.keys, h, t);
  throw_non_finite_element("keys", h, t, c < d ? c : 0, to_float(l.keys(h, t, c < d ? c : 0)));
}

/// A key row of finite elements whose L2 norm is above the largest float: its score cannot be
/// held (score::key_norm).
[[noreturn]] inline void throw_norm_overflow(std::size_t h, std::size_t t) {
  throw error("keys(" + std::to_string(h) + ", " + std::to_string(t) + ", :)",
              "a key row whose L2 norm is at most the largest float (3.40282e+38)", "a larger norm");
}

/// Called when the L2 norm of key row (h, t) did not come out a finite float: names the first
/// non-finite element, or the row when every element is finite and the norm overflowed.
template <tensor_view K>
[[noreturn]] void throw_non_finite_norm(const K& keys, std::size_t h, std::size_t t) {
  if (const std::size_t c = first_non_finite_element(keys, h, t); c < keys.extent(2))
    throw_non_finite_element("keys", h, t, c, to_float(keys(h, t, c)));
  throw_norm_overflow(h, t);
}

}  // namespace kvc::detail
