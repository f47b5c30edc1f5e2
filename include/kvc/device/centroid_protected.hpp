#pragma once
// Device version of kvc::select::centroid_protected<Inner> (IntelLLM's CGE shield) for every
// Inner selector that has a device version:
//   1. find_if      the scores are finite and non-negative (the host's checks and messages)
//   2. for_each     per head, c[h] and its shield P[h] = [round(c) − r, round(c) + r] ∩ [0, n)
//   3. reduce_by_key + transform   shielded tokens lifted just above the head's best score
//   4. Inner's device select on the lifted scores, then a per-head count that P[h] was kept.
// Step 2 runs one thread per head and sums in token order, as score::centroid does, so the
// centroid, and with it the shield, is bit-identical to the host's (docs/device.md#intelllm).

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
#include "kvc/device/score_buffer.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/select/centroid_protected.hpp"
#include "kvc/select/detail/rank.hpp"

namespace kvc::device {

namespace detail {

/// P[h] of one head, [first, last); empty when first == last.
struct shield_span {
  std::size_t first = 0, last = 0;
};

struct negative_score {
  KVC_HOST_DEVICE bool operator()(float x) const { return !(x >= 0.0f); }
};

/// One thread per head: c[h] over [first, last) in double, token order (score::centroid), then
/// P[h]. t · s[t] is exact in double for t < 2^29, so a fused multiply-add gives the same sum.
struct centroid_shield {
  const float* scores;
  shield_span* out;
  std::size_t tokens, first, last, radius;
  KVC_HOST_DEVICE void operator()(std::size_t h) const {
    const float* row = scores + h * tokens;
    double moment = 0.0, total = 0.0;
    for (std::size_t t = first; t < last; ++t) {
      total += static_cast<double>(row[t]);
      moment += static_cast<double>(t) * static_cast<double>(row[t]);
    }
    if (!(total > 0.0)) {  // no mass in the span: nothing to shield
      out[h] = shield_span{};
      return;
    }
    const auto center = static_cast<std::size_t>(::cuda::std::ceil(moment / total - 0.5));  // x.5 to the lower token
    out[h] = {center - (radius < center ? radius : center), radius >= tokens - center ? tokens : center + radius + 1};
  }
};

/// Shielded tokens just above the head's best score (select::centroid_protected's lifting).
struct lift_shield {
  const float* scores;
  const float* top;  // [heads], each head's best score
  const shield_span* shield;
  std::size_t tokens;
  KVC_HOST_DEVICE float operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    const shield_span p = shield[h];
    const float x = scores[i];
    if (p.first == p.last) return x;
    const bool shielded = p.first <= t && t < p.last;
    float above = ::cuda::std::nextafter(top[h], ::cuda::std::numeric_limits<float>::infinity());
    if (!::cuda::std::isfinite(above)) {  // top is the largest float: make room below it instead
      above = top[h];
      if (!shielded && x == top[h]) return ::cuda::std::nextafter(top[h], 0.0f);
    }
    return shielded ? above : x;
  }
};

/// Per head, how many of P[h] the keep_set holds (binary search in the head's ascending indices).
struct count_shield_kept {
  const std::size_t* offsets;
  const index_t* indices;
  const shield_span* shield;
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
vector<shield_span, System> shield_spans(exec::device<System> e, const select::centroid_protected<Inner>& p,
                                         const score_buffer<System>& s) {
  require_finite(e, s);
  const std::size_t n = s.tokens(), size = s.heads() * n;
  if (size > 0) {
    const std::size_t bad =
        static_cast<std::size_t>(thrust::find_if(System{}, s.data(), s.data() + size, negative_score{}) - s.data());
    if (bad < size)
      kvc::detail::require(false, "scores(" + std::to_string(bad / n) + ", " + std::to_string(bad % n) + ")",
                           "a non-negative score (the centroid is a score-weighted mean)",
                           read_back<System>(s.data() + bad));
  }
  const std::size_t last = n - (p.exclude_last < n ? p.exclude_last : n);
  vector<shield_span, System> out(s.heads());
  const auto head = thrust::counting_iterator<std::size_t>(0);
  thrust::for_each(System{}, head, head + kvc::device::detail::steps(s.heads()),
                   centroid_shield{s.data(), raw(out), n, p.exclude_first, last, p.radius});
  return out;
}

}  // namespace detail

/// select::centroid_protected::regions on the device: P[h] of every head, read back to the host.
template <class System, class Inner>
std::vector<select::token_span> centroid_regions(exec::device<System> e, const select::centroid_protected<Inner>& p,
                                                 const score_buffer<System>& s) {
  const auto spans = detail::shield_spans(e, p, s);
  std::vector<detail::shield_span> host(spans.size());
  thrust::copy(spans.begin(), spans.end(), host.begin());
  std::vector<select::token_span> out(host.size());
  for (std::size_t h = 0; h < host.size(); ++h) out[h] = {host[h].first, host[h].last};
  return out;
}

template <class Inner>
  requires runs_on_device<Inner>
struct algorithm<select::centroid_protected<Inner>> {
  static constexpr bool available = true;

  template <class System>
  static auto select(exec::device<System> e, const select::centroid_protected<Inner>& p,
                     const score_buffer<System>& s, std::size_t budget) {
    const std::size_t n = s.tokens(), heads = s.heads();
    const auto spans = detail::shield_spans(e, p, s);
    std::vector<detail::shield_span> shield(heads);
    thrust::copy(spans.begin(), spans.end(), shield.begin());
    std::size_t widest = 0;
    for (const auto& r : shield) widest = widest > r.last - r.first ? widest : r.last - r.first;
    select::detail::require_budget(budget, widest, n);

    // Shielded tokens are lifted just above the head's best score, so Inner ranks them first.
    score_buffer<System> lifted(heads, n);
    const auto index = thrust::counting_iterator<std::size_t>(0);
    if (heads * n > 0) {
      vector<float, System> top(heads);
      const auto row_of = thrust::make_transform_iterator(index, detail::divide_by{n});
      thrust::reduce_by_key(System{}, row_of, row_of + kvc::device::detail::steps(heads * n), s.values().begin(), thrust::make_discard_iterator(),
                            top.begin(), thrust::equal_to<std::size_t>{}, thrust::maximum<float>{});
      thrust::transform(System{}, index, index + kvc::device::detail::steps(heads * n), lifted.values().begin(),
                        detail::lift_shield{s.data(), raw(top), raw(spans), n});
    }
    auto keep = run_select(e, p.inner, lifted, budget);

    vector<std::size_t, System> kept(heads);
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(heads),
                     detail::count_shield_kept{thrust::raw_pointer_cast(keep.offsets().data()),
                                               thrust::raw_pointer_cast(keep.indices().data()), raw(spans), raw(kept)});
    std::vector<std::size_t> host_kept(heads);
    thrust::copy(kept.begin(), kept.end(), host_kept.begin());
    for (std::size_t h = 0; h < heads; ++h) {
      const std::size_t size = shield[h].last - shield[h].first;
      kvc::detail::require(host_kept[h] == size, "budget",
                           "room for the " + std::to_string(size) + " centroid tokens of head " + std::to_string(h) +
                               " beside the inner selector's own protected tokens",
                           budget);
    }
    return keep;
  }
};

}  // namespace kvc::device
