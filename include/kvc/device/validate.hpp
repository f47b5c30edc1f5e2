#pragma once
// Host-side checks for the device path, with the host path's kvc::error messages. Extents are
// checked by kvc::validate itself; values that live in System memory (an engine's attention
// weights, scores) are checked by a read-only find_if before anything is written, and the
// first offender is read back to name it.

#include "kvc/version.hpp"

#include <cstddef>
#include <string>

#include <cuda/std/cmath>
#include <thrust/find.h>
#include <thrust/memory.h>

#include "kvc/core/error.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/device/score_buffer.hpp"

namespace kvc::device {

namespace detail {
struct not_finite {
  KVC_HOST_DEVICE bool operator()(float x) const { return !::cuda::std::isfinite(x); }
};

/// Index of the first non-finite value of [first, first + n) in System memory, or n.
template <class System>
std::size_t first_non_finite(const float* first, std::size_t n) {
  if (n == 0) return 0;
  return static_cast<std::size_t>(thrust::find_if(System{}, first, first + n, not_finite{}) - first);
}

/// Reads one float from System memory on the host.
template <class System>
float read_back(const float* p) {
  return *thrust::pointer<const float, System>(p);
}
}  // namespace detail

/// kvc::validate for a layer whose spans (positions, attention) point to System memory.
template <class System, class K, class V, class Q>
void validate(exec::device<System>, const layer<K, V, Q>& l) {
  layer<K, V, Q> extents_only = l;
  extents_only.attention = {};  // its values are checked below, where they live
  kvc::validate(extents_only);
  kvc::detail::require(l.attention.empty() || l.attention.size() == l.q_heads() * l.tokens(), "attention.size()",
                       "0 or q_heads*tokens " + kvc::detail::to_text(l.q_heads() * l.tokens()), l.attention.size());
  const std::size_t bad = detail::first_non_finite<System>(l.attention.data(), l.attention.size());
  if (bad < l.attention.size())
    kvc::detail::require(false, "attention[" + kvc::detail::to_text(bad) + "]", "a finite weight",
                         detail::read_back<System>(l.attention.data() + bad));
}

/// select::detail::require_finite for device scores.
template <class System>
void require_finite(exec::device<System>, const score_buffer<System>& s) {
  const std::size_t size = s.heads() * s.tokens();
  const std::size_t bad = detail::first_non_finite<System>(s.data(), size);
  if (bad < size)
    kvc::detail::require(false, "scores(" + std::to_string(bad / s.tokens()) + ", " + std::to_string(bad % s.tokens()) + ")",
                         "a finite score", detail::read_back<System>(s.data() + bad));
}

}  // namespace kvc::device
