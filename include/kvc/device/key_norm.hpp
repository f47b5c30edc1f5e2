#pragma once
// Device version of kvc::score::key_norm: s[h, t] = −‖k_t‖₂, in double. One token per work item;
// on the host systems (CPP, OMP) a contiguous key row goes through detail::sum_of_squares
// (packed doubles, eight partial sums; kvc/device/detail/row_math.hpp). Non-finite keys are
// refused as the reference refuses them (kvc/core/non_finite.hpp).

#include "kvc/version.hpp"

#include <cstddef>

#include <cuda/std/cmath>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "kvc/core/view.hpp"
#include "kvc/device/detail/attention.hpp"
#include "kvc/device/detail/row_math.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/device/vector.hpp"
#include "kvc/score/key_norm.hpp"

namespace kvc::device {

namespace detail {
template <class K>
struct negative_key_norm {
  K keys;
  std::size_t tokens, head_dim;
  KVC_HOST_DEVICE float operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    return static_cast<float>(-::cuda::std::sqrt(dot(keys, h, t, keys, h, t, head_dim)));
  }
};

/// Host systems: the same score, from a contiguous row where the view has one.
template <class K>
struct negative_key_norm_rows {
  K keys;
  std::size_t tokens, head_dim;
  float operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    const auto* row = kvc::detail::contiguous_row(keys, h, t);
    const double sq = row != nullptr ? sum_of_squares(row, head_dim) : dot(keys, h, t, keys, h, t, head_dim);
    return static_cast<float>(-::cuda::std::sqrt(sq));
  }
};
}  // namespace detail

template <>
struct algorithm<score::key_norm> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System>, const score::key_norm&, const L& l, score_matrix<System>& out) {
    const auto index = thrust::counting_iterator<std::size_t>(0);
    const std::size_t n = l.kv_heads() * l.tokens();
    // Into a fresh buffer, checked, then swapped into `out`: a refused key leaves `out` as it was.
    vector<float, System> s(n);
    if constexpr (detail::host_system_v<System>)
      thrust::transform(System{}, index, index + kvc::device::detail::steps(n), s.begin(),
                        detail::negative_key_norm_rows<typename L::key_type>{l.keys, l.tokens(), l.head_dim()});
    else
      thrust::transform(System{}, index, index + kvc::device::detail::steps(n), s.begin(),
                        detail::negative_key_norm<typename L::key_type>{l.keys, l.tokens(), l.head_dim()});
    // A sum of squares in double is non-finite exactly when an element is; the float score also
    // when the norm overflows. Either way the reference refuses the same row.
    if (const std::size_t bad = detail::first_non_finite<System>(thrust::raw_pointer_cast(s.data()), n); bad < n)
      detail::throw_non_finite_norm<System>(l.keys, bad / l.tokens(), bad % l.tokens());
    out.values().swap(s);
    out.reset(l.kv_heads(), l.tokens());
  }
};

}  // namespace kvc::device
