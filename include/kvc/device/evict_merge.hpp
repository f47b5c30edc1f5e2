#pragma once
// Device version of kvc::select::evict_merge (EMS, docs/ems.md#device-version), giving a
// device::class_assignment. Per step of the host selector:
//   1. centers    detail::keep_top_per_head (the top-k selectors' sort) with the recent window
//                 protected, then keep_set_from_marks;
//   2. sparsity   one head per thread, m_h summed in token order as the reference does, so the
//                 threshold decides exactly as on the host;
//   3. ids        inclusive_scan_by_key of the marks over each head gives a center its rank + 1;
//                 the other tokens get 0 (sparse head) or pending;
//   4. with the layer, assign_centers: one pending token per thread scans its head's centers
//      for the largest key cosine (dot products in double, in the reference's order).

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

/// Per head: select::evict_merge::sparse_head.
struct head_is_sparse {
  select::evict_merge p;
  const float* scores;
  const std::uint8_t* keep;
  std::uint8_t* sparse;
  std::size_t tokens;
  KVC_HOST_DEVICE void operator()(std::size_t h) const {
    sparse[h] = p.sparse_head(scores + h * tokens, keep + h * tokens, tokens) ? 1 : 0;
  }
};

struct mark_to_id {
  KVC_HOST_DEVICE kvc::ems::class_id operator()(std::uint8_t x) const { return x != 0 ? 1 : 0; }
};

/// After the scan a kept token holds its rank + 1; the others become zero class or pending.
struct unkept_ids {
  const std::uint8_t* keep;
  const std::uint8_t* sparse;
  kvc::ems::class_id* ids;
  std::size_t tokens;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    if (keep[i] == 0)
      ids[i] = sparse[i / tokens] != 0 ? kvc::ems::class_assignment::zero_class : kvc::ems::class_assignment::pending;
  }
};

template <class K>
struct key_norm {
  K keys;
  std::size_t tokens, head_dim;
  KVC_HOST_DEVICE double operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    return ::cuda::std::sqrt(kvc::ems::key_dot(keys, h, t, t, head_dim));
  }
};

/// One pending (head, token): kvc::ems::nearest_center over its head's centers.
template <class K>
struct nearest_center {
  K keys;
  const double* norms;  // ‖k‖ of every (head, token)
  const std::size_t* offsets;
  const index_t* centers;
  kvc::ems::class_id* ids;
  std::size_t tokens, head_dim;
  double min_similarity;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    if (ids[i] != kvc::ems::class_assignment::pending) return;
    const std::size_t h = i / tokens, t = i % tokens;
    const index_t* head = centers + offsets[h];
    const auto cosine = [&](std::size_t r) {
      const auto c = static_cast<std::size_t>(head[r]);
      return kvc::ems::key_cosine(kvc::ems::key_dot(keys, h, t, c, head_dim), norms[i], norms[h * tokens + c]);
    };
    ids[i] = kvc::ems::nearest_center(offsets[h + 1] - offsets[h], cosine, min_similarity);
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

/// Device twin of kvc::ems::assign_centers: every pending id of `a` resolved with the layer's keys.
template <class System, layer_type L>
class_assignment<System> assign_centers(exec::device<System>, const L& l, const class_assignment<System>& a,
                                        double min_similarity) {
  kvc::ems::require_similarity(min_similarity, "min_similarity");
  require_matches(l, a);
  if (a.complete()) return a;

  const std::size_t n = l.tokens(), d = l.head_dim(), cells = a.heads() * n;
  const auto index = thrust::counting_iterator<std::size_t>(0);
  vector<double, System> norms(cells);
  thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), norms.begin(),
                    detail::ems::key_norm<typename L::key_type>{l.keys, n, d});
  vector<kvc::ems::class_id, System> ids = a.ids();
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(cells),
                   detail::ems::nearest_center<typename L::key_type>{
                       l.keys, raw(norms), thrust::raw_pointer_cast(a.offsets().data()),
                       thrust::raw_pointer_cast(a.indices().data()), raw(ids), n, d, min_similarity});
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

    vector<std::uint8_t, System> keep(cells), sparse(heads);
    detail::keep_top_per_head(s, 0, recent, budget, raw(keep));
    const auto index = thrust::counting_iterator<std::size_t>(0);
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(heads),
                     detail::ems::head_is_sparse{p, s.data(), raw(keep), raw(sparse), n});
    vector<kvc::ems::class_id, System> ids(cells);
    const auto head_of = thrust::make_transform_iterator(index, detail::divide_by{n});
    thrust::inclusive_scan_by_key(System{}, head_of, head_of + kvc::device::detail::steps(cells),
                                  thrust::make_transform_iterator(raw(keep), detail::ems::mark_to_id{}), ids.begin());
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(cells), detail::ems::unkept_ids{raw(keep), raw(sparse), raw(ids), n});
    return {detail::keep_set_from_marks<System>(heads, n, raw(keep)), std::move(ids)};
  }

  /// The complete assignment (select::evict_merge(layer, scores, budget)), as the pipeline calls it.
  template <class System, layer_type L>
  static class_assignment<System> select(exec::device<System> e, const select::evict_merge& p, const L& l,
                                         const score_matrix<System>& s, std::size_t budget) {
    kvc::ems::require_similarity(p.min_similarity, "evict_merge.min_similarity");
    return assign_centers(e, l, select(e, p, s, budget), p.min_similarity);
  }
};

}  // namespace kvc::device
