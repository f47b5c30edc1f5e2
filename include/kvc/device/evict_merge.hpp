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
#include "kvc/device/score_buffer.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/ems/class_assignment.hpp"
#include "kvc/select/detail/rank.hpp"
#include "kvc/select/evict_merge.hpp"

namespace kvc::device {

namespace detail {

/// Dot product of two keys of head h in double, one chain in dimension order: ems::assign_centers's
/// key_dot, so cosines (and hence argmax ties and the threshold) match the host exactly.
template <class K>
KVC_HOST_DEVICE double ems_key_dot(const K& keys, std::size_t h, std::size_t x, std::size_t y, std::size_t d) {
  double dot = 0.0;
  for (std::size_t k = 0; k < d; ++k)
    dot += static_cast<double>(to_float(keys(h, x, k))) * static_cast<double>(to_float(keys(h, y, k)));
  return dot;
}

/// m_h >= sparse_mass (or no positive mass): the head evicts every token it does not keep.
struct ems_head_is_sparse {
  const float* scores;
  const std::uint8_t* keep;
  std::uint8_t* sparse;
  std::size_t tokens;
  double sparse_mass;
  KVC_HOST_DEVICE void operator()(std::size_t h) const {
    double kept_mass = 0.0, total_mass = 0.0;
    for (std::size_t t = 0; t < tokens; ++t) {
      const auto x = static_cast<double>(scores[h * tokens + t]);
      const double positive = x > 0.0 ? x : 0.0;
      total_mass += positive;
      if (keep[h * tokens + t] != 0) kept_mass += positive;
    }
    sparse[h] = total_mass <= 0.0 || kept_mass >= sparse_mass * total_mass ? 1 : 0;
  }
};

struct ems_mark_to_id {
  KVC_HOST_DEVICE ems::class_id operator()(std::uint8_t x) const { return x != 0 ? 1 : 0; }
};

/// After the scan a kept token holds its rank + 1; the others become zero class or pending.
struct ems_unkept_ids {
  const std::uint8_t* keep;
  const std::uint8_t* sparse;
  ems::class_id* ids;
  std::size_t tokens;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    if (keep[i] == 0)
      ids[i] = sparse[i / tokens] != 0 ? ems::class_assignment::zero_class : ems::class_assignment::pending;
  }
};

template <class K>
struct ems_key_norm {
  K keys;
  std::size_t tokens, head_dim;
  KVC_HOST_DEVICE double operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    return ::cuda::std::sqrt(ems_key_dot(keys, h, t, t, head_dim));
  }
};

/// A pending token joins the center of largest key cosine (ties to the lower rank) when it
/// reaches min_similarity, else the zero class: ems::assign_centers for one (head, token).
template <class K>
struct ems_nearest_center {
  K keys;
  const double* norms;  // ‖k‖ of every (head, token)
  const std::size_t* offsets;
  const index_t* centers;
  ems::class_id* ids;
  std::size_t tokens, head_dim;
  double min_similarity;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    if (ids[i] != ems::class_assignment::pending) return;
    const std::size_t h = i / tokens, t = i % tokens;
    double best = -2.0;
    ems::class_id best_id = ems::class_assignment::zero_class;
    for (std::size_t e = offsets[h]; e < offsets[h + 1]; ++e) {
      const auto c = static_cast<std::size_t>(centers[e]);
      const double denominator = norms[i] * norms[h * tokens + c];
      const double cosine = denominator > 0.0 ? ems_key_dot(keys, h, t, c, head_dim) / denominator : 0.0;
      if (cosine > best) {
        best = cosine;
        best_id = static_cast<ems::class_id>(e - offsets[h] + 1);
      }
    }
    ids[i] = best >= min_similarity ? best_id : ems::class_assignment::zero_class;
  }
};

}  // namespace detail

/// ems::require_matches for a device assignment (the host path's messages).
template <class System, layer_type L>
void require_matches(const L& l, const class_assignment<System>& a) {
  using kvc::detail::require;
  require(a.heads() == l.kv_heads(), "class_assignment.heads()", "kv_heads " + std::to_string(l.kv_heads()),
          a.heads());
  require(a.tokens() == l.tokens(), "class_assignment.tokens()", "tokens " + std::to_string(l.tokens()), a.tokens());
}

/// Device twin of ems::assign_centers: every pending id of `a` resolved with the layer's keys.
template <class System, layer_type L>
class_assignment<System> assign_centers(exec::device<System>, const L& l, const class_assignment<System>& a,
                                        double min_similarity) {
  kvc::detail::require(min_similarity >= -1.0 && min_similarity <= 1.0, "min_similarity",
                       "a cosine similarity in [-1, 1]", min_similarity);
  require_matches(l, a);
  if (a.complete()) return a;

  const std::size_t n = l.tokens(), d = l.head_dim(), cells = a.heads() * n;
  const auto index = thrust::counting_iterator<std::size_t>(0);
  vector<double, System> norms(cells);
  thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), norms.begin(),
                    detail::ems_key_norm<typename L::key_type>{l.keys, n, d});
  vector<ems::class_id, System> ids = a.ids();
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(cells),
                   detail::ems_nearest_center<typename L::key_type>{
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
                                         const score_buffer<System>& s, std::size_t budget) {
    const std::size_t n = s.tokens(), heads = s.heads(), cells = heads * n;
    kvc::detail::require(p.sparse_mass >= 0.0 && p.sparse_mass <= 1.0, "evict_merge.sparse_mass",
                         "a fraction in [0, 1]", p.sparse_mass);
    const std::size_t recent = p.recent < n ? p.recent : n;
    select::detail::require_budget(budget, recent, n);
    require_finite(e, s);

    vector<std::uint8_t, System> keep(cells), sparse(heads);
    detail::keep_top_per_head(s, 0, recent, budget, raw(keep));
    const auto index = thrust::counting_iterator<std::size_t>(0);
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(heads),
                     detail::ems_head_is_sparse{s.data(), raw(keep), raw(sparse), n, p.sparse_mass});
    vector<ems::class_id, System> ids(cells);
    const auto head_of = thrust::make_transform_iterator(index, detail::divide_by{n});
    thrust::inclusive_scan_by_key(System{}, head_of, head_of + kvc::device::detail::steps(cells),
                                  thrust::make_transform_iterator(raw(keep), detail::ems_mark_to_id{}), ids.begin());
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(cells), detail::ems_unkept_ids{raw(keep), raw(sparse), raw(ids), n});
    return {detail::keep_set_from_marks<System>(heads, n, raw(keep)), std::move(ids)};
  }

  /// The complete assignment (select::evict_merge(layer, scores, budget)), as the pipeline calls it.
  template <class System, layer_type L>
  static class_assignment<System> select(exec::device<System> e, const select::evict_merge& p, const L& l,
                                         const score_buffer<System>& s, std::size_t budget) {
    kvc::detail::require(p.min_similarity >= -1.0 && p.min_similarity <= 1.0, "evict_merge.min_similarity",
                         "a cosine similarity in [-1, 1]", p.min_similarity);
    return assign_centers(e, l, select(e, p, s, budget), p.min_similarity);
  }
};

}  // namespace kvc::device
