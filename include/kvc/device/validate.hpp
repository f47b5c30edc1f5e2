#pragma once
// Host-side checks for the device path, with the host path's kvc::error messages. Extents are
// checked as kvc::validate checks them; what lives in System memory (a paged view's block table,
// an engine's attention weights, scores) is checked by a read-only find_if before anything is
// written, and the first offender is read back to name it.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <cuda/std/cmath>
#include <thrust/find.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/memory.h>
#include <thrust/transform.h>

#include "kvc/core/element.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/non_finite.hpp"
#include "kvc/core/paged_layout.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/vector.hpp"

namespace kvc::device {

namespace detail {
struct not_finite {
  KVC_HOST_DEVICE bool operator()(float x) const { return !::cuda::std::isfinite(x); }
  KVC_HOST_DEVICE bool operator()(double x) const { return !::cuda::std::isfinite(x); }
};

/// Index of the first non-finite value of [first, first + n) in System memory, or n.
template <class System, class T>
std::size_t first_non_finite(const T* first, std::size_t n) {
  if (n == 0) return 0;
  return static_cast<std::size_t>(thrust::find_if(System{}, first, first + n, not_finite{}) - first);
}

/// Reads one value from System memory on the host.
template <class System, class T>
T read_back(const T* p) {
  return *thrust::pointer<const T, System>(p);
}

struct block_outside_pool {
  std::size_t num_blocks;
  KVC_HOST_DEVICE bool operator()(std::int32_t block) const {
    return block < 0 || static_cast<std::size_t>(block) >= num_blocks;
  }
};

/// kvc::detail::validate_view for a view whose block table lives in System memory: the
/// geometry, then the entries in use in one read-only pass, the first bad one read back.
template <class System, class View>
void validate_view(const View& v, std::string_view name) {
  if constexpr (paged_tensor_view<View>) {
    const auto& m = v.mapping();
    m.require_geometry(name);
    const std::size_t used = m.blocks_in_use(), pool = static_cast<std::size_t>(m.num_blocks());
    if (used == 0) return;
    const std::int32_t* table = m.block_table();
    const auto bad = static_cast<std::size_t>(
        thrust::find_if(System{}, table, table + used, block_outside_pool{pool}) - table);
    if (bad < used) kvc::detail::throw_bad_block(name, bad, read_back<System>(table + bad), pool);
  }
}

/// kvc::detail::validate_views with the views' maps read through System.
template <class System, class K, class V, class Q>
void validate_views(const layer<K, V, Q>& l) {
  kvc::detail::validate_extents(l);
  validate_view<System>(l.keys, "keys");
  validate_view<System>(l.values, "values");
  validate_view<System>(l.queries, "queries");
}

/// Element i = (t − first) · d + c of rows first, first + 1, ... of head h: is it non-finite?
template <class View>
struct element_not_finite {
  View view;
  std::size_t h, first, d;
  KVC_HOST_DEVICE bool operator()(std::size_t i) const {
    return !::cuda::std::isfinite(to_float(view(h, first + i / d, i % d)));
  }
};

template <class View>
struct element_as_float {
  View view;
  std::size_t h, t, c;
  KVC_HOST_DEVICE float operator()(std::size_t) const { return to_float(view(h, t, c)); }
};

/// The first non-finite element of rows [first, first + rows) of head h of `view` (in System
/// memory), in (token, column) order, as the flat index (t − first) · head_dim + c; rows · head_dim
/// when there is none. Only called once a check has failed.
template <class System, class View>
std::size_t first_non_finite_element(const View& view, std::size_t h, std::size_t first, std::size_t rows) {
  const std::size_t d = view.extent(2), n = rows * d;
  if (n == 0) return 0;
  const auto index = thrust::counting_iterator<std::size_t>(0);
  return static_cast<std::size_t>(
      thrust::find_if(System{}, index, index + steps(n), element_not_finite<View>{view, h, first, d}) - index);
}

/// kvc::detail::throw_non_finite_element for element (h, t, c) of a view in System memory.
template <class System, class View>
[[noreturn]] void throw_non_finite_element(const View& view, std::string_view name, std::size_t h, std::size_t t,
                                           std::size_t c) {
  vector<float, System> value(1);
  const auto index = thrust::counting_iterator<std::size_t>(0);
  thrust::transform(System{}, index, index + 1, value.begin(), element_as_float<View>{view, h, t, c});
  kvc::detail::throw_non_finite_element(name, h, t, c, value[0]);
}

/// kvc::detail::throw_non_finite_norm for key row (h, t) in System memory.
template <class System, class View>
[[noreturn]] void throw_non_finite_norm(const View& keys, std::size_t h, std::size_t t) {
  if (const std::size_t c = first_non_finite_element<System>(keys, h, t, 1); c < keys.extent(2))
    throw_non_finite_element<System>(keys, "keys", h, t, c);
  kvc::detail::throw_norm_overflow(h, t);
}
}  // namespace detail

}  // namespace kvc::device

namespace kvc {
/// kvc::validate for a layer whose memory (views, spans) is in System memory (the device
/// twin of validate(exec::host, layer), found by the one pipeline through the layer's namespace).
template <class System, class K, class V, class Q>
void validate(exec::device<System>, const layer<K, V, Q>& l) {
  device::detail::validate_views<System>(l);
  const std::size_t bad = device::detail::first_non_finite<System>(l.attention.data(), l.attention.size());
  if (bad < l.attention.size())
    detail::require(false, "attention[" + detail::to_text(bad) + "]", "a finite weight",
                    device::detail::read_back<System>(l.attention.data() + bad));
}
}  // namespace kvc

namespace kvc::device {
using kvc::validate;

/// select::detail::require_finite for device scores.
template <class System>
void require_finite(exec::device<System>, const score_matrix<System>& s) {
  const std::size_t size = s.heads() * s.tokens();
  const std::size_t bad = detail::first_non_finite<System>(s.data(), size);
  if (bad < size)
    kvc::detail::require(false, "scores(" + std::to_string(bad / s.tokens()) + ", " + std::to_string(bad % s.tokens()) + ")",
                         "a finite score", detail::read_back<System>(s.data() + bad));
}

}  // namespace kvc::device
