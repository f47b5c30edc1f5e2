#pragma once
// Device version of kvc::select::centroid_protected<Inner> (IntelLLM's CGE shield) for every
// Inner selector that has a device version:
//   1. find_if      the scores are finite and non-negative (the host's checks and messages)
//   2. for_each     per head, c[h] and its shield P[h] = [round(c) − r, round(c) + r] ∩ [0, n)
//   3. reduce_by_key + transform   shielded tokens lifted just above the head's best score
//   4. Inner's device select on the lifted scores, then a per-head count that P[h] was kept.
// Steps 2 and 3 call the selector's own shield() and lifted(), one thread per head summing in
// token order, so the shield is bit-identical to the host's (docs/device.md#intelllm).

#include "kvc/version.hpp"

#include <cstddef>
#include <string>
#include <vector>

#include <cuda/std/cmath>
#include <cuda/std/limits>
#include <thrust/copy.h>
#include <thrust/find.h>
#include <thrust/for_each.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/reduce.h>
#include <thrust/transform.h>

#include "kvc/core/error.hpp"
#include "kvc/device/detail/attention.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/select/centroid_protected.hpp"
#include "kvc/select/detail/rank.hpp"

namespace kvc::device {

namespace detail {

struct negative_score {
  KVC_HOST_DEVICE bool operator()(float x) const { return !(x >= 0.0f); }
};

/// One thread per head: P[h] from the selector's own shield() (the centroid in token order).
template <class Inner>
struct centroid_shield {
  select::centroid_protected<Inner> p;
  const float* scores;
  select::token_span* out;
  std::size_t tokens;
  KVC_HOST_DEVICE void operator()(std::size_t h) const { out[h] = p.shield(scores + h * tokens, tokens); }
};

/// Every token's score after the selector's own lifted().
template <class Inner>
struct lift_shield {
  const float* scores;
  const float* top;  // [heads], each head's best score
  const select::token_span* shield;
  std::size_t tokens;
  KVC_HOST_DEVICE float operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    if (shield[h].empty()) return scores[i];
    return select::centroid_protected<Inner>::lifted(scores[i], top[h], shield[h].contains(t));
  }
};

/// Per head, how many of P[h] the keep_set holds (binary search in the head's ascending indices).
struct count_shield_kept {
  const std::size_t* offsets;
  const index_t* indices;
  const select::token_span* shield;
  std::size_t* kept;
  KVC_HOST_DEVICE static std::size_t lower_bound(const index_t* first, std::size_t n, std::size_t value) {
    std::size_t lo = 0;
    while (n > 0) {
      const std::size_t half = n / 2;
      if (static_cast<std::size_t>(first[lo + half]) < value) {
        lo += half + 1;
        n -= half + 1;
      } else {
        n = half;
      }
    }
    return lo;
  }
  KVC_HOST_DEVICE void operator()(std::size_t h) const {
    const index_t* head = indices + offsets[h];
    const std::size_t n = offsets[h + 1] - offsets[h];
    kept[h] = lower_bound(head, n, shield[h].last) - lower_bound(head, n, shield[h].first);
  }
};

/// Checks the scores as select::centroid_protected::regions does and gives P[h] in System memory.
template <class System, class Inner>
vector<select::token_span, System> shield_spans(exec::device<System> e, const select::centroid_protected<Inner>& p,
                                                const score_matrix<System>& s) {
  require_finite(e, s);
  const std::size_t n = s.tokens(), size = s.heads() * n;
  if (size > 0) {
    const std::size_t bad =
        static_cast<std::size_t>(thrust::find_if(System{}, s.data(), s.data() + size, negative_score{}) - s.data());
    if (bad < size) p.refuse_negative(bad / n, bad % n, read_back<System>(s.data() + bad));
  }
  vector<select::token_span, System> out(s.heads());
  const auto head = thrust::counting_iterator<std::size_t>(0);
  thrust::for_each(System{}, head, head + kvc::device::detail::steps(s.heads()),
                   centroid_shield<Inner>{p, s.data(), raw(out), n});
  return out;
}

}  // namespace detail

/// select::centroid_protected::regions on the device: P[h] of every head, read back to the host.
template <class System, class Inner>
std::vector<select::token_span> centroid_regions(exec::device<System> e, const select::centroid_protected<Inner>& p,
                                                 const score_matrix<System>& s) {
  const auto spans = detail::shield_spans(e, p, s);
  std::vector<select::token_span> out(spans.size());
  thrust::copy(spans.begin(), spans.end(), out.begin());
  return out;
}

template <class Inner>
  requires runs_on_device<Inner>
struct algorithm<select::centroid_protected<Inner>> {
  static constexpr bool available = true;

  template <class System>
  static auto select(exec::device<System> e, const select::centroid_protected<Inner>& p,
                     const score_matrix<System>& s, std::size_t budget) {
    const std::size_t n = s.tokens(), heads = s.heads();
    const auto spans = detail::shield_spans(e, p, s);
    std::vector<select::token_span> shield(heads);
    thrust::copy(spans.begin(), spans.end(), shield.begin());
    std::size_t widest = 0;
    for (const auto& r : shield) widest = widest > r.size() ? widest : r.size();
    select::detail::require_budget(budget, widest, n);

    // Shielded tokens are lifted just above the head's best score, so Inner ranks them first.
    score_matrix<System> lifted(heads, n);
    const auto index = thrust::counting_iterator<std::size_t>(0);
    if (heads * n > 0) {
      vector<float, System> top(heads);
      const auto row_of = thrust::make_transform_iterator(index, detail::divide_by{n});
      thrust::reduce_by_key(System{}, row_of, row_of + kvc::device::detail::steps(heads * n), s.values().begin(), thrust::make_discard_iterator(),
                            top.begin(), thrust::equal_to<std::size_t>{}, thrust::maximum<float>{});
      thrust::transform(System{}, index, index + kvc::device::detail::steps(heads * n), lifted.values().begin(),
                        detail::lift_shield<Inner>{s.data(), raw(top), raw(spans), n});
    }
    auto keep = run_select(e, p.inner, lifted, budget);

    vector<std::size_t, System> kept(heads);
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(heads),
                     detail::count_shield_kept{thrust::raw_pointer_cast(keep.offsets().data()),
                                               thrust::raw_pointer_cast(keep.indices().data()), raw(spans), raw(kept)});
    std::vector<std::size_t> host_kept(heads);
    thrust::copy(kept.begin(), kept.end(), host_kept.begin());
    for (std::size_t h = 0; h < heads; ++h) p.require_shield_kept(h, shield[h].size(), host_kept[h], budget);
    return keep;
  }
};

}  // namespace kvc::device
