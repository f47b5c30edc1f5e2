#pragma once
// Device version of kvc::merge::center_merge (EMS, docs/ems.md#device-version): the zero-class
// merge of every head at once. Each (kv_head, token) goes to accumulator slot
// h · max_classes + id, one uniform shape whatever each head's budget:
//   1. stable_sort_by_key   the scatter: tokens grouped by slot, token order kept inside a slot;
//   2. lower_bound          where each slot's members begin;
//   3. for_each             per slot, the weight Σ max(s, 0) of its members;
//   4. for_each             per slot, with merge_keys, center_merge::key_scale of its weighted mean key;
//   5. transform            per (center, dimension), the weighted sum of its slot's members / weight
//                           (keys: times the slot's scale).
// Slot 0 of every head (the zero class) is accumulated like any other and never read: that is
// the eviction. Sums run over a slot's members in token order, as the reference's do, so the
// result is the host's bit for bit where the arithmetic is the same (docs/ems.md).

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include <cuda/std/cmath>
#include <thrust/binary_search.h>
#include <thrust/copy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include "kvc/core/element.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/device/class_assignment.hpp"
#include "kvc/device/compressed_layer.hpp"
#include "kvc/device/detail/gather.hpp"
#include "kvc/device/evict_merge.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/merge/center_merge.hpp"

namespace kvc::device {

namespace detail::ems {

struct slot_of {
  const kvc::ems::class_id* ids;
  std::size_t tokens, classes;
  KVC_HOST_DEVICE std::uint64_t operator()(std::size_t i) const {
    return static_cast<std::uint64_t>(i / tokens) * classes + static_cast<std::uint64_t>(ids[i]);
  }
};

/// Σ_{t in slot} max(s(h, t), 0), members in token order (the reference's weight[c]).
struct slot_weight {
  const float* scores;
  const std::size_t* member;      // flat (head, token) index, grouped by slot
  const std::size_t* slot_begin;  // [slots + 1]
  double* weight;
  KVC_HOST_DEVICE void operator()(std::size_t slot) const {
    double w = 0.0;
    for (std::size_t m = slot_begin[slot]; m < slot_begin[slot + 1]; ++m) {
      const auto x = static_cast<double>(scores[member[m]]);
      w += x > 0.0 ? x : 0.0;
    }
    weight[slot] = w;
  }
};

/// Per slot: merge::center_merge::key_scale of the weighted mean key, the reference's sums in its
/// order (per dimension over the members in token order; the norms' weighted sum likewise).
template <class K>
struct slot_key_scale {
  K keys;
  const float* scores;
  const std::size_t* member;
  const std::size_t* slot_begin;
  const double* weight;
  double* scale;
  std::size_t tokens, dim;
  KVC_HOST_DEVICE void operator()(std::size_t slot) const {
    const bool weighted = weight[slot] > 0.0;
    const auto w_of = [&](std::size_t flat) {
      return merge::center_merge::member_weight(static_cast<double>(scores[flat]), weighted);
    };
    const std::size_t begin = slot_begin[slot], end = slot_begin[slot + 1];
    if (begin == end) {
      scale[slot] = 1.0;
      return;
    }
    const double total = weighted ? weight[slot] : static_cast<double>(end - begin);
    double norms = 0.0, squares = 0.0;
    for (std::size_t m = begin; m < end; ++m) {
      const std::size_t flat = member[m], h = flat / tokens, t = flat % tokens;
      norms += w_of(flat) * ::cuda::std::sqrt(kvc::ems::key_dot(keys, h, t, t, dim));
    }
    for (std::size_t k = 0; k < dim; ++k) {
      double sum = 0.0;
      for (std::size_t m = begin; m < end; ++m) {
        const std::size_t flat = member[m];
        sum += w_of(flat) * to_float(keys(flat / tokens, flat % tokens, k));
      }
      const double mean = sum / total;
      squares += mean * mean;
    }
    scale[slot] = merge::center_merge::key_scale(::cuda::std::sqrt(squares), norms / total);
  }
};

/// Element (center e, dimension k) of the merged rows of `view`: the class's weighted mean
/// (plain mean when the class has no positive weight), or the center's own row when `merge` is off.
template <class T, class View>
struct center_row {
  View view;
  const float* scores;
  const std::size_t* head_plus_one;
  const std::size_t* offsets;
  const index_t* centers;
  const std::size_t* member;
  const std::size_t* slot_begin;
  const double* weight;
  const double* scale;  // per slot (keys), or null (values)
  std::size_t tokens, classes, dim;
  bool merge;
  KVC_HOST_DEVICE T operator()(std::size_t i) const {
    const std::size_t e = i / dim, k = i % dim, h = head_plus_one[e] - 1;
    if (!merge) return kvc::detail::stored_as<T>(view(h, static_cast<std::size_t>(centers[e]), k));
    const std::size_t slot = h * classes + (e - offsets[h]) + 1;
    const bool weighted = weight[slot] > 0.0;
    double sum = 0.0;
    for (std::size_t m = slot_begin[slot]; m < slot_begin[slot + 1]; ++m) {
      const std::size_t flat = member[m];
      const double w = merge::center_merge::member_weight(static_cast<double>(scores[flat]), weighted);
      sum += w * to_float(view(h, flat % tokens, k));
    }
    const double total =
        weighted ? weight[slot] : static_cast<double>(slot_begin[slot + 1] - slot_begin[slot]);
    return from_float<T>(static_cast<float>(scale != nullptr ? sum / total * scale[slot] : sum / total));
  }
};

}  // namespace detail::ems

template <>
struct algorithm<merge::center_merge> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static device::compressed_layer<element_of<typename L::key_type>, System> merge(
      exec::device<System> e, const merge::center_merge& p, const L& l, const score_matrix<System>& s,
      const class_assignment<System>& a) {
    using T = element_of<typename L::key_type>;
    validate(e, l);
    kvc::detail::require(s.heads() == l.kv_heads() && s.tokens() == l.tokens(), "scores",
                         "a score_matrix of [" + std::to_string(l.kv_heads()) + ", " + std::to_string(l.tokens()) +
                             "]",
                         "[" + std::to_string(s.heads()) + ", " + std::to_string(s.tokens()) + "]");
    require_finite(e, s);
    require_matches(l, a);
    kvc::detail::require(a.complete(), "class_assignment", "a complete assignment (no pending ids)",
                         "pending merge candidates; use select::evict_merge with the layer or ems::assign_centers");

    const std::size_t n = l.tokens(), dk = l.head_dim(), dv = l.values.extent(2), cells = a.heads() * n;
    const std::size_t classes = a.max_classes(), slots = a.heads() * classes;
    const auto index = thrust::counting_iterator<std::size_t>(0);

    // 1-2. The scatter into (head, class id) slots; stable, so members stay in token order.
    vector<std::uint64_t, System> slot(cells);
    vector<std::size_t, System> member(cells), slot_begin(slots + 1);
    thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), slot.begin(), detail::ems::slot_of{raw(a.ids()), n, classes});
    thrust::copy(System{}, index, index + kvc::device::detail::steps(cells), member.begin());
    thrust::stable_sort_by_key(System{}, slot.begin(), slot.end(), member.begin());
    const auto slot_id = thrust::counting_iterator<std::uint64_t>(0);
    thrust::lower_bound(System{}, slot.begin(), slot.end(), slot_id, slot_id + kvc::device::detail::steps(slots + 1), slot_begin.begin());

    // 3. Class weights, the zero class's included (computed, never read).
    vector<double, System> weight(slots);
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(slots),
                     detail::ems::slot_weight{s.data(), raw(member), raw(slot_begin), raw(weight)});

    // 4. The keys' norm factors.
    vector<double, System> scale(p.merge_keys ? slots : 0);
    if (p.merge_keys)
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(slots),
                       detail::ems::slot_key_scale<typename L::key_type>{l.keys, s.data(), raw(member), raw(slot_begin),
                                                                         raw(weight), raw(scale), n, dk});

    // 5. The centers' rows and positions.
    device::compressed_layer<T, System> out(a.keep(), dk, dv);
    auto head_plus_one = detail::heads_of_entries(a.keep());
    const auto rows = [&](const auto& view, std::size_t dim, bool merged, const double* factor, auto& into) {
      using Row = detail::ems::center_row<T, std::remove_cvref_t<decltype(view)>>;
      thrust::transform(System{}, index, index + kvc::device::detail::steps(a.total() * dim), into.begin(),
                        Row{view, s.data(), raw(head_plus_one), thrust::raw_pointer_cast(a.offsets().data()),
                            thrust::raw_pointer_cast(a.indices().data()), raw(member), raw(slot_begin), raw(weight),
                            factor, n, classes, dim, merged});
    };
    rows(l.keys, dk, p.merge_keys, p.merge_keys ? raw(scale) : nullptr, out.keys());
    rows(l.values, dv, p.merge_values, nullptr, out.values());
    thrust::transform(System{}, index, index + kvc::device::detail::steps(a.total()), out.positions().begin(),
                      detail::gather_positions{l.positions.empty() ? nullptr : l.positions.data(),
                                               thrust::raw_pointer_cast(a.indices().data())});
    return out;
  }
};

}  // namespace kvc::device
