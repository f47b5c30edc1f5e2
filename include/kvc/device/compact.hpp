#pragma once
// Device version of kvc::compact: each head's kept rows move to its slots 0..kept(h)-1 of the
// engine's own buffers (in System memory).
//   CUDA: rows are gathered into scratch first, then written back, one element per thread,
//         because in parallel a slot may be overwritten before another slot has read it.
//   CPP, OMP: one work item per head moves its rows in order, in place. Kept indices ascend, so
//         slot j <= indices[j] and every row is read before any write reaches it: one read and
//         one write per kept element, no scratch.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <string>

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "kvc/core/compact.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/device/detail/gather.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/validate.hpp"

namespace kvc {

namespace device::detail {
struct positions_to_front {
  std::int64_t* positions;
  const std::int64_t* moved;  // [total], gathered from positions[h * tokens + t]
  const std::size_t* head_plus_one;
  const std::size_t* offsets;
  std::size_t tokens;
  KVC_HOST_DEVICE void operator()(std::size_t e) const {
    const std::size_t h = head_plus_one[e] - 1;
    positions[h * tokens + (e - offsets[h])] = moved[e];
  }
};
struct gather_head_positions {
  const std::int64_t* positions;
  const std::size_t* head_plus_one;
  const index_t* indices;
  std::size_t tokens;
  KVC_HOST_DEVICE std::int64_t operator()(std::size_t e) const {
    return positions[(head_plus_one[e] - 1) * tokens + static_cast<std::size_t>(indices[e])];
  }
};

/// Moves head h's kept rows to its front, in order (host systems only): a memmove per row where
/// the view's rows are contiguous in memory, element by element otherwise.
template <class View>
struct head_to_front {
  View view;
  const index_t* indices;
  const std::size_t* offsets;
  void operator()(std::size_t h) const {
    const std::size_t dim = view.extent(2);
    for (std::size_t e = offsets[h]; e < offsets[h + 1]; ++e) {
      const std::size_t slot = e - offsets[h], t = static_cast<std::size_t>(indices[e]);
      if (slot == t || dim == 0) continue;
      if (auto* src = kvc::detail::contiguous_row(view, h, t); src != nullptr) {
        std::memmove(&view(h, slot, 0), src, dim * sizeof(*src));
        continue;
      }
      for (std::size_t c = 0; c < dim; ++c) view(h, slot, c) = view(h, t, c);
    }
  }
};

template <class System, class View, class Heads>
void move_rows_to_front(const View& view, const device::keep_set<System>& keep, const Heads& head_plus_one) {
  using T = element_of<View>;
  const std::size_t dim = view.extent(2);
  const auto index = thrust::counting_iterator<std::size_t>(0);
  if constexpr (host_system_v<System>) {
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(keep.heads()),
                     head_to_front<View>{view, thrust::raw_pointer_cast(keep.indices().data()),
                                         thrust::raw_pointer_cast(keep.offsets().data())});
    return;
  }
  vector<T, System> rows(keep.total() * dim);
  gather(view, keep, head_plus_one, dim, rows);
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(keep.total() * dim),
                   scatter_to_front<T, View>{view, thrust::raw_pointer_cast(rows.data()),
                                             thrust::raw_pointer_cast(head_plus_one.data()),
                                             thrust::raw_pointer_cast(keep.offsets().data()), dim});
}
}  // namespace device::detail

/// kvc::compact on the device: same checks and result as the host version; `positions`
/// (`[kv_heads * tokens]`, optional) and the views' memory (a paged view's block table included)
/// must be readable by System. A caller-built `keep` is checked first (device::keep_set::validate).
template <class System, mutable_tensor_view K, mutable_tensor_view V>
void compact(exec::device<System>, const K& keys, const V& values, const device::keep_set<System>& keep,
             std::span<std::int64_t> positions = {}) {
  keep.validate();
  kvc::detail::require_compactable_extents(keys, values, keep, positions.size());
  device::detail::validate_view<System>(keys, "keys");
  device::detail::validate_view<System>(values, "values");
  const std::size_t n = keys.extent(1);
  const auto head_plus_one = device::detail::heads_of_entries(keep);
  device::detail::move_rows_to_front(keys, keep, head_plus_one);
  device::detail::move_rows_to_front(values, keep, head_plus_one);
  if (positions.empty()) return;
  device::vector<std::int64_t, System> moved(keep.total());
  const auto index = thrust::counting_iterator<std::size_t>(0);
  const auto* heads_ptr = thrust::raw_pointer_cast(head_plus_one.data());
  thrust::transform(System{}, index, index + kvc::device::detail::steps(keep.total()), moved.begin(),
                    device::detail::gather_head_positions{positions.data(), heads_ptr,
                                                          thrust::raw_pointer_cast(keep.indices().data()), n});
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(keep.total()),
                   device::detail::positions_to_front{positions.data(), thrust::raw_pointer_cast(moved.data()),
                                                      heads_ptr, thrust::raw_pointer_cast(keep.offsets().data()), n});
}

/// Same, from a host keep_set (uploaded first).
template <class System, mutable_tensor_view K, mutable_tensor_view V>
void compact(exec::device<System> e, const K& keys, const V& values, const keep_set& keep,
             std::span<std::int64_t> positions = {}) {
  compact(e, keys, values, device::keep_set<System>::from_host(keep), positions);
}

}  // namespace kvc
