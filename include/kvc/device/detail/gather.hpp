#pragma once
// Device gather of a keep_set's rows, shared by merge::drop and compaction: entry e of the CSR
// belongs to head head_of[e] and token indices[e]. One work item copies one element on CUDA
// (neighbouring threads read neighbouring elements) and a whole row on the host systems (CPP,
// OMP: a memcpy where the row is contiguous and already of the output type).

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <thrust/binary_search.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "kvc/core/element.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/view.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/vector.hpp"

namespace kvc::device::detail {

/// For every CSR entry, its head + 1 (upper_bound of the entry in the offsets).
template <class System>
vector<std::size_t, System> heads_of_entries(const device::keep_set<System>& keep) {
  vector<std::size_t, System> out(keep.total());
  const auto entry = thrust::counting_iterator<std::size_t>(0);
  thrust::upper_bound(System{}, keep.offsets().begin(), keep.offsets().end(), entry, entry + kvc::device::detail::steps(keep.total()), out.begin());
  return out;
}

/// CUDA: work item i copies element i % dim of kept row i / dim into out[i] (neighbouring
/// threads read neighbouring elements).
template <class T, class View>
struct gather_rows {
  View view;
  const std::size_t* head_plus_one;
  const index_t* indices;
  std::size_t dim;
  T* out;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t e = i / dim, h = head_plus_one[e] - 1, t = static_cast<std::size_t>(indices[e]);
    out[i] = kvc::detail::stored_as<T>(view(h, t, i % dim));
  }
};

/// Host systems: one kept row per work item, a memcpy where the view's row is contiguous and
/// already stored as T.
template <class T, class View>
struct gather_whole_rows {
  View view;
  const std::size_t* head_plus_one;
  const index_t* indices;
  std::size_t dim;
  T* out;
  void operator()(std::size_t e) const {
    const std::size_t h = head_plus_one[e] - 1, t = static_cast<std::size_t>(indices[e]);
    if constexpr (std::is_same_v<element_of<View>, T>) {
      if (const auto* row = kvc::detail::contiguous_row(view, h, t); row != nullptr) {
        std::memcpy(out + e * dim, row, dim * sizeof(T));
        return;
      }
    }
    for (std::size_t c = 0; c < dim; ++c) out[e * dim + c] = kvc::detail::stored_as<T>(view(h, t, c));
  }
};

/// Original position of each kept token: positions[t] (in System memory), or t without them.
struct gather_positions {
  const std::int64_t* positions;  // may be null
  const index_t* indices;
  KVC_HOST_DEVICE std::int64_t operator()(std::size_t e) const {
    const auto t = static_cast<std::size_t>(indices[e]);
    return positions != nullptr ? positions[t] : static_cast<std::int64_t>(t);
  }
};

/// Writes gathered rows back to slots 0..kept(h)-1 of their head (one element per work item).
template <class T, class View>
struct scatter_to_front {
  View view;
  const T* rows;
  const std::size_t* head_plus_one;
  const std::size_t* offsets;
  std::size_t dim;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t e = i / dim, h = head_plus_one[e] - 1;
    view(h, e - offsets[h], i % dim) = rows[i];
  }
};

template <class System, class View, class Heads, class Out>
void gather(const View& view, const device::keep_set<System>& keep, const Heads& head_plus_one, std::size_t dim,
            Out& out) {
  using T = typename Out::value_type;
  if (keep.total() == 0 || dim == 0) return;
  const auto index = thrust::counting_iterator<std::size_t>(0);
  if constexpr (host_system_v<System>) {
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(keep.total()),
                     gather_whole_rows<T, View>{view, thrust::raw_pointer_cast(head_plus_one.data()),
                                                thrust::raw_pointer_cast(keep.indices().data()), dim,
                                                thrust::raw_pointer_cast(out.data())});
    return;
  }
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(keep.total() * dim),
                   gather_rows<T, View>{view, thrust::raw_pointer_cast(head_plus_one.data()),
                                        thrust::raw_pointer_cast(keep.indices().data()), dim,
                                        thrust::raw_pointer_cast(out.data())});
}

}  // namespace kvc::device::detail
