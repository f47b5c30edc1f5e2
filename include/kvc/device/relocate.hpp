#pragma once
// Device version of kvc::merge::relocate<Inner> (IntelLLM's RGL) for every Inner merger that
// has a device version, and of merge::relocate_positions for a device compressed layer: one
// thread per kept entry finds its head in the CSR offsets and rewrites its position by the mode.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <thrust/copy.h>
#include <thrust/find.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/memory.h>

#include "kvc/core/error.hpp"
#include "kvc/device/compressed_layer.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/merge/relocate.hpp"

namespace kvc::device {

namespace detail {

/// Entry e breaks "strictly ascending within its head" (e > 0 and not the first of its head).
struct not_ascending {
  const std::int64_t* positions;
  const std::size_t* offsets;
  std::size_t heads;
  KVC_HOST_DEVICE bool operator()(std::size_t e) const {
    return offsets[head_of_entry(offsets, heads, e)] != e && !(positions[e - 1] < positions[e]);
  }
};

/// q_i of merge::relocate_positions for entry e (i = e − offsets[h], k kept in its head).
struct relocate_entry {
  std::int64_t* positions;
  const std::size_t* offsets;
  std::size_t heads, local;
  merge::position_mode mode;
  KVC_HOST_DEVICE void operator()(std::size_t e) const {
    const std::size_t h = head_of_entry(offsets, heads, e), begin = offsets[h], k = offsets[h + 1] - begin;
    const std::size_t i = e - begin;
    if (mode == merge::position_mode::repacked) {
      positions[e] = static_cast<std::int64_t>(i);
      return;
    }
    // remote_gap: the last entry keeps its position (q = p_{k-1}) and is only read, never written.
    const std::size_t L = local < k ? local : k;
    if (i + L >= k && i + 1 < k) positions[e] = positions[begin + k - 1] - static_cast<std::int64_t>(k - 1 - i);
  }
};

}  // namespace detail

/// merge::relocate_positions for a compressed layer in System memory: same modes, same checks
/// (on the host, before anything is written), same positions.
template <class System, class T>
void relocate_positions(exec::device<System>, compressed_layer<T, System>& c, merge::position_mode mode,
                        std::size_t local = 64) {
  merge::detail::require_position_mode(mode);
  c.keep().validate();
  const std::size_t total = c.keep().total(), heads = c.heads();
  kvc::detail::require(c.positions().size() == total, "positions().size()", "keep().total() " + std::to_string(total),
                       c.positions().size());
  if (total == 0) return;
  auto* positions = thrust::raw_pointer_cast(c.positions().data());
  const auto* offsets = thrust::raw_pointer_cast(c.keep().offsets().data());
  const auto entry = thrust::counting_iterator<std::size_t>(0);
  if (mode == merge::position_mode::remote_gap) {
    const auto bad = thrust::find_if(System{}, entry + 1, entry + kvc::device::detail::steps(total), detail::not_ascending{positions, offsets, heads});
    if (bad != entry + kvc::device::detail::steps(total)) {
      const std::size_t e = *bad;
      std::vector<std::size_t> host_offsets(heads + 1);
      thrust::copy(c.keep().offsets().begin(), c.keep().offsets().end(), host_offsets.begin());
      const std::size_t h = detail::head_of_entry(host_offsets.data(), heads, e);
      const std::int64_t before = *thrust::pointer<std::int64_t, System>(positions + e - 1);
      const std::int64_t after = *thrust::pointer<std::int64_t, System>(positions + e);
      kvc::detail::require(false, "positions(" + std::to_string(h) + ")", "strictly ascending original positions",
                           std::to_string(before) + " then " + std::to_string(after));
    }
  }
  if (mode == merge::position_mode::original) return;
  thrust::for_each(System{}, entry, entry + kvc::device::detail::steps(total), detail::relocate_entry{positions, offsets, heads, local, mode});
}

template <class Inner>
  requires runs_on_device<Inner>
struct algorithm<merge::relocate<Inner>> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static auto merge(exec::device<System> e, const merge::relocate<Inner>& p, const L& l, const score_matrix<System>& s,
                    const device::keep_set<System>& keep) {
    merge::detail::require_position_mode(p.mode);
    auto out = run_merge(e, p.inner, l, s, keep);
    relocate_positions(e, out, p.mode, p.local);
    return out;
  }

  /// Into `out`, reusing its memory, where the inner merger can.
  template <class System, layer_type L, class Out>
    requires merger_into<Inner, System, L, device::keep_set<System>, Out>
  static void merge(exec::device<System> e, const merge::relocate<Inner>& p, const L& l, const score_matrix<System>& s,
                    const device::keep_set<System>& keep, Out& out) {
    merge::detail::require_position_mode(p.mode);
    run_merge(e, p.inner, l, s, keep, out);
    relocate_positions(e, out, p.mode, p.local);
  }
};

}  // namespace kvc::device
