#pragma once
// Device version of kvc::merge::drop: the kept keys, values and positions gathered into one
// contiguous head-major buffer each (the layout of kvc::compressed_layer).

#include "kvc/version.hpp"

#include <cstddef>
#include <string>

#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "kvc/core/error.hpp"
#include "kvc/device/compressed_layer.hpp"
#include "kvc/device/detail/gather.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/merge/drop.hpp"

namespace kvc::device {

template <>
struct algorithm<merge::drop> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static device::compressed_layer<element_of<typename L::key_type>, System> merge(exec::device<System> e,
                                                                                 const merge::drop& p, const L& l,
                                                                                 const score_matrix<System>& s,
                                                                                 const device::keep_set<System>& keep) {
    device::compressed_layer<element_of<typename L::key_type>, System> out;
    merge(e, p, l, s, keep, out);
    return out;
  }

  /// Into `out`, reusing its memory (device::compressed_layer::assign).
  template <class System, layer_type L>
  static void merge(exec::device<System>, const merge::drop&, const L& l, const score_matrix<System>&,
                    const device::keep_set<System>& keep,
                    device::compressed_layer<element_of<typename L::key_type>, System>& out) {
    kvc::detail::require(keep.heads() == l.kv_heads(), "keep.heads()", "kv_heads " + std::to_string(l.kv_heads()),
                         keep.heads());
    kvc::detail::require(keep.tokens() == l.tokens(), "keep.tokens()", "tokens " + std::to_string(l.tokens()),
                         keep.tokens());
    out.assign(keep, l.head_dim(), l.values.extent(2));
    const auto head_plus_one = detail::heads_of_entries(keep);
    detail::gather(l.keys, keep, head_plus_one, l.head_dim(), out.keys());
    detail::gather(l.values, keep, head_plus_one, l.values.extent(2), out.values());
    const auto index = thrust::counting_iterator<std::size_t>(0);
    thrust::transform(System{}, index, index + kvc::device::detail::steps(keep.total()), out.positions().begin(),
                      detail::gather_positions{l.positions.empty() ? nullptr : l.positions.data(),
                                               thrust::raw_pointer_cast(keep.indices().data())});
  }
};

}  // namespace kvc::device
