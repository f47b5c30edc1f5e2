#pragma once
// Device version of kvc::select::evict_merge (EMS, docs/ems.md#device-version), giving a
// device::class_assignment. Per step of the host selector:
//   1. centers    detail::keep_top_per_head (the top-k selectors' sort) with the recent window
//                 protected, then keep_set_from_marks;
//   2. bands      stable_sort_by_key of (head, descending score) ranks every head's tokens as the
//                 reference's stable sort does; one head per thread finds ems::relevant_count in
//                 rank order (the reference's sums, in its order); one (head, rank) per thread
//                 marks the relevant tokens;
//   3. ids        inclusive_scan_by_key of the marks over each head gives a center its rank + 1;
//                 relevant tokens not kept become pending, the others the zero class;
//   4. with the layer, assign_centers: one pending token per thread scans its head's centers
//      for the largest similarity (dot products in double, in the reference's order).

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include <cuda/std/cmath>
#include <thrust/for_each.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/scan.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/device/class_assignment.hpp"
#include "kvc/device/detail/attention.hpp"
#include "kvc/device/detail/rank.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/ems/class_assignment.hpp"
#include "kvc/select/detail/rank.hpp"
#include "kvc/select/evict_merge.hpp"

namespace kvc::device {

namespace detail {

namespace ems {

/// Key (head, descending score): the reference's rank order once stably sorted.
struct head_score_key {
  const float* scores;
  std::size_t tokens;
  KVC_HOST_DEVICE std::uint64_t operator()(std::size_t i) const {
    return (static_cast<std::uint64_t>(i / tokens) << 32) | descending_key(scores[i]);
  }
};

/// Per head: ems::relevant_count over the head's ranked tokens.
struct head_relevant_count {
  const float* scores;
  const index_t* ranked;  // [heads, tokens]: token of each rank
  std::size_t* count;
  std::size_t tokens;
  double mass;
  KVC_HOST_DEVICE void operator()(std::size_t h) const {
    const float* row = scores + h * tokens;
    const index_t* order = ranked + h * tokens;
    count[h] = kvc::ems::relevant_count([&](std::size_t r) { return row[static_cast<std::size_t>(order[r])]; },
                                        tokens, mass);
  }
};

/// Per (head, rank): marks the token relevant when its rank is below the head's count.
struct mark_relevant {
  const index_t* ranked;
  const std::size_t* count;
  std::uint8_t* relevant;
  std::size_t tokens;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t h = i / tokens, r = i % tokens;
    relevant[h * tokens + static_cast<std::size_t>(ranked[i])] = r < count[h] ? 1 : 0;
  }
};

struct mark_to_id {
  KVC_HOST_DEVICE kvc::ems::class_id operator()(std::uint8_t x) const { return x != 0 ? 1 : 0; }
};

/// After the scan a kept token holds its rank + 1; the others become zero class or pending.
struct unkept_ids {
  const std::uint8_t* keep;
  const std::uint8_t* relevant;
  kvc::ems::class_id* ids;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    if (keep[i] == 0)
      ids[i] = relevant[i] != 0 ? kvc::ems::class_assignment::pending : kvc::ems::class_assignment::zero_class;
  }
};

template <class K>
struct row_norm {
  K keys;
  std::size_t tokens, head_dim;
  KVC_HOST_DEVICE double operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    return ::cuda::std::sqrt(kvc::ems::key_dot(keys, h, t, t, head_dim));
  }
};

/// One pending (head, token): kvc::ems::nearest_center over its head's centers.
template <class K, class V>
struct nearest_center {
  K keys;
  V values;
  const double* key_norms;    // ‖k‖ of every (head, token)
  const double* value_norms;  // ‖v‖ of every (head, token)
  const std::size_t* offsets;
  const index_t* centers;
  kvc::ems::class_id* ids;
  std::size_t tokens, head_dim, value_dim;
  double min_similarity;
  kvc::ems::similarity_measure measure;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    if (ids[i] != kvc::ems::class_assignment::pending) return;
    const std::size_t h = i / tokens, t = i % tokens;
    const index_t* head = centers + offsets[h];
    const auto sim = [&](std::size_t r) {
      const auto c = static_cast<std::size_t>(head[r]);
      const std::size_t at = h * tokens + c;
      const double kc = kvc::ems::key_cosine(kvc::ems::key_dot(keys, h, t, c, head_dim), key_norms[i], key_norms[at]);
      const double vc = measure == kvc::ems::similarity_measure::key
                            ? 0.0
                            : kvc::ems::key_cosine(kvc::ems::key_dot(values, h, t, c, value_dim), value_norms[i],
                                                   value_norms[at]);
      return kvc::ems::similarity(measure, kc, vc);
    };
    ids[i] = kvc::ems::nearest_center(offsets[h + 1] - offsets[h], sim, min_similarity);
  }
};

}  // namespace ems
}  // namespace detail

/// kvc::ems::require_matches for a device assignment (the host path's messages).
template <class System, layer_type L>
void require_matches(const L& l, const class_assignment<System>& a) {
  using kvc::detail::require;
  require(a.heads() == l.kv_heads(), "class_assignment.heads()", "kv_heads " + std::to_string(l.kv_heads()),
          a.heads());
  require(a.tokens() == l.tokens(), "class_assignment.tokens()", "tokens " + std::to_string(l.tokens()), a.tokens());
}

/// Device twin of kvc::ems::assign_centers: every pending id of `a` resolved with the layer's keys
/// and values.
template <class System, layer_type L>
class_assignment<System> assign_centers(exec::device<System>, const L& l, const class_assignment<System>& a,
                                        double min_similarity,
                                        kvc::ems::similarity_measure measure = kvc::ems::similarity_measure::key_value) {
  kvc::ems::require_similarity(min_similarity, "min_similarity");
  require_matches(l, a);
  if (a.complete()) return a;

  const std::size_t n = l.tokens(), d = l.head_dim(), dv = l.values.extent(2), cells = a.heads() * n;
  const auto index = thrust::counting_iterator<std::size_t>(0);
  vector<double, System> key_norms(cells), value_norms(cells);
  thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), key_norms.begin(),
                    detail::ems::row_norm<typename L::key_type>{l.keys, n, d});
  thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), value_norms.begin(),
                    detail::ems::row_norm<typename L::value_type>{l.values, n, dv});
  vector<kvc::ems::class_id, System> ids = a.ids();
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(cells),
                   detail::ems::nearest_center<typename L::key_type, typename L::value_type>{
                       l.keys, l.values, raw(key_norms), raw(value_norms),
                       thrust::raw_pointer_cast(a.offsets().data()), thrust::raw_pointer_cast(a.indices().data()),
                       raw(ids), n, d, dv, min_similarity, measure});
  return {a.keep(), std::move(ids)};
}

template <>
struct algorithm<select::evict_merge> {
  static constexpr bool available = true;

  /// Steps 1-3 (select::evict_merge(scores, budget)): merge candidates are left pending.
  template <class System>
  static class_assignment<System> select(exec::device<System> e, const select::evict_merge& p,
                                         const score_matrix<System>& s, std::size_t budget) {
    const std::size_t n = s.tokens(), heads = s.heads(), cells = heads * n;
    const std::size_t recent = p.check(n, budget);
    require_finite(e, s);

    vector<std::uint8_t, System> keep(cells), relevant(cells);
    detail::keep_top_per_head(s, 0, recent, budget, raw(keep));
    const auto index = thrust::counting_iterator<std::size_t>(0);
    {
      vector<std::uint64_t, System> key(cells);
      vector<index_t, System> ranked(cells);
      vector<std::size_t, System> count(heads);
      thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), key.begin(),
                        detail::ems::head_score_key{s.data(), n});
      thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), ranked.begin(),
                        detail::token_of{n});
      thrust::stable_sort_by_key(System{}, key.begin(), key.end(), ranked.begin());  // ties: lower index first
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(heads),
                       detail::ems::head_relevant_count{s.data(), raw(ranked), raw(count), n, p.merge_mass});
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(cells),
                       detail::ems::mark_relevant{raw(ranked), raw(count), raw(relevant), n});
    }
    vector<kvc::ems::class_id, System> ids(cells);
    const auto head_of = thrust::make_transform_iterator(index, detail::divide_by{n});
    thrust::inclusive_scan_by_key(System{}, head_of, head_of + kvc::device::detail::steps(cells),
                                  thrust::make_transform_iterator(raw(keep), detail::ems::mark_to_id{}), ids.begin());
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(cells), detail::ems::unkept_ids{raw(keep), raw(relevant), raw(ids)});
    return {detail::keep_set_from_marks<System>(heads, n, raw(keep)), std::move(ids)};
  }

  /// The complete assignment (select::evict_merge(layer, scores, budget)), as the pipeline calls it.
  template <class System, layer_type L>
  static class_assignment<System> select(exec::device<System> e, const select::evict_merge& p, const L& l,
                                         const score_matrix<System>& s, std::size_t budget) {
    kvc::ems::require_similarity(p.min_similarity, "evict_merge.min_similarity");
    return assign_centers(e, l, select(e, p, s, budget), p.min_similarity, p.similarity);
  }
};

}  // namespace kvc::device
