#pragma once
// Device ranking shared by the top-k selectors. Every (head, token) gets a 64-bit sort key so
// that one sort orders a head's tokens exactly as select::detail::outranks does: higher score
// first, ties to the lower token index (docs/device.md#tie-breaking).

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <cuda/std/bit>
#include <thrust/copy.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include "kvc/core/element.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/device/detail/attention.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/vector.hpp"
#include "kvc/select/detail/rank.hpp"

namespace kvc::device::detail {

/// An unsigned key that ascends as a finite score descends; −0 and +0 rank equal.
KVC_HOST_DEVICE inline std::uint32_t descending_key(float score) {
  const std::uint32_t u = ::cuda::std::bit_cast<std::uint32_t>(score == 0.0f ? 0.0f : score);
  const std::uint32_t ascending = (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
  return ~ascending;
}
/// Ranks above every finite score (the largest finite float has key 0x00800000).
inline constexpr std::uint32_t protected_key = 0;

using select::detail::guard;

/// Key (head, rank within head); protected tokens (select::detail::guard) lead.
struct head_rank_key {
  const float* scores;
  std::size_t tokens;
  guard guarded;
  KVC_HOST_DEVICE std::uint64_t operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    return (static_cast<std::uint64_t>(h) << 32) | (guarded(t) ? protected_key : descending_key(scores[i]));
  }
};

struct token_of {
  std::size_t tokens;
  KVC_HOST_DEVICE index_t operator()(std::size_t i) const { return static_cast<index_t>(i % tokens); }
};

/// Marks the first `k` tokens of every head's ranked segment.
struct mark_leading {
  const index_t* ranked;
  std::uint8_t* keep;
  std::size_t tokens, k;
  KVC_HOST_DEVICE void operator()(std::size_t j) const {
    const std::size_t h = j / k;
    keep[h * tokens + static_cast<std::size_t>(ranked[h * tokens + j % k])] = 1;
  }
};

/// Host systems: head h's ranking keys (rank key << 32 | token) with the `k` best first, by a
/// selection (nth_element), O(tokens) instead of a sort. The token in the low bits makes keys
/// unique and sends ties to the lower index, as the sort does.
inline std::vector<std::uint64_t> best_of_head(const float* row, std::size_t tokens, guard guarded, std::size_t k) {
  std::vector<std::uint64_t> key(tokens);
  for (std::size_t t = 0; t < tokens; ++t) {
    const std::uint64_t rank = guarded(t) ? protected_key : descending_key(row[t]);
    key[t] = (rank << 32) | t;
  }
  if (k < tokens) std::nth_element(key.begin(), key.begin() + static_cast<std::ptrdiff_t>(k), key.end());
  return key;
}

/// Host systems: one work item per head marks its `k` best tokens.
struct top_of_head {
  const float* scores;
  std::uint8_t* keep;
  std::size_t tokens;
  guard guarded;
  std::size_t k;
  void operator()(std::size_t h) const {
    const auto key = best_of_head(scores + h * tokens, tokens, guarded, k);
    for (std::size_t j = 0; j < k; ++j) keep[h * tokens + (key[j] & 0xffffffffu)] = 1;
  }
};

/// Host systems: one work item per head writes its `k` best tokens, ascending, to indices[h·k ..).
struct top_indices_of_head {
  const float* scores;
  index_t* indices;
  std::size_t tokens;
  guard guarded;
  std::size_t k;
  void operator()(std::size_t h) const {
    const auto key = best_of_head(scores + h * tokens, tokens, guarded, k);
    index_t* out = indices + h * k;
    for (std::size_t j = 0; j < k; ++j) out[j] = static_cast<index_t>(key[j] & 0xffffffffu);
    std::sort(out, out + k);
  }
};

struct times {
  std::size_t factor;
  KVC_HOST_DEVICE std::size_t operator()(std::size_t i) const { return i * factor; }
};

/// Host systems: the keep_set of every head's protected tokens and best others, `k` per head
/// (k ≤ tokens), built directly: offsets h·k, each head's indices sorted by its own work item.
template <class System>
device::keep_set<System> top_per_head(const score_matrix<System>& s, std::size_t sinks, std::size_t recent,
                                      std::size_t k) {
  static_assert(host_system_v<System>, "top_per_head: the CPP and OMP systems only");
  const std::size_t n = s.tokens();
  device::keep_set<System> out(s.heads(), n, s.heads() * k);
  const auto index = thrust::counting_iterator<std::size_t>(0);
  thrust::transform(System{}, index, index + kvc::device::detail::steps(s.heads() + 1), out.offsets().begin(), times{k});
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(s.heads()),
                   top_indices_of_head{s.data(), raw(out.indices()), n, guard::of(n, sinks, recent), k});
  return out;
}

/// Per head: keep the protected tokens and then the best others until `k` are kept
/// (select::detail::protect + fill_by_score). `keep` is [heads, tokens], zero on entry.
template <class System>
void keep_top_per_head(const score_matrix<System>& s, std::size_t sinks, std::size_t recent, std::size_t k,
                       std::uint8_t* keep) {
  const std::size_t n = s.tokens(), cells = s.heads() * n;
  const auto index = thrust::counting_iterator<std::size_t>(0);
  if constexpr (host_system_v<System>) {
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(s.heads()),
                     top_of_head{s.data(), keep, n, guard::of(n, sinks, recent), k});
    return;
  }
  vector<std::uint64_t, System> keys(cells);
  vector<index_t, System> ranked(cells);
  thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), keys.begin(),
                    head_rank_key{s.data(), n, guard::of(n, sinks, recent)});
  thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), ranked.begin(), token_of{n});
  // Stable: equal keys keep token order, so ties go to the lower index.
  thrust::stable_sort_by_key(System{}, keys.begin(), keys.end(), ranked.begin());
  thrust::for_each(System{}, index, index + kvc::device::detail::steps(s.heads() * k), mark_leading{raw(ranked), keep, n, k});
}

/// Key for Ada-KV's joint ranking: kept tokens lead, then higher score, lower head, lower token.
struct joint_rank_key {
  const float* scores;
  const std::uint8_t* keep;
  KVC_HOST_DEVICE std::uint64_t operator()(std::size_t i) const {
    return keep[i] != 0 ? std::uint64_t{0} : (static_cast<std::uint64_t>(descending_key(scores[i])) << 32) | i;
  }
};

struct mark_flat {
  const std::uint64_t* ranked;
  std::uint8_t* keep;
  KVC_HOST_DEVICE void operator()(std::size_t j) const { keep[ranked[j] & 0xffffffffu] = 1; }
};

/// Marks the `extra` best unmarked cells of all heads together. Needs heads · tokens < 2^32.
template <class System>
void keep_top_jointly(const score_matrix<System>& s, std::size_t already_kept, std::size_t extra, std::uint8_t* keep) {
  const std::size_t cells = s.heads() * s.tokens();
  const auto index = thrust::counting_iterator<std::size_t>(0);
  vector<std::uint64_t, System> keys(cells);
  thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), keys.begin(), joint_rank_key{s.data(), keep});
  thrust::sort(System{}, keys.begin(), keys.end());
  thrust::for_each(System{}, index + kvc::device::detail::steps(already_kept), index + kvc::device::detail::steps(already_kept + extra), mark_flat{raw(keys), keep});
}

struct is_marked {
  KVC_HOST_DEVICE bool operator()(std::uint8_t x) const { return x != 0; }
};

struct widen {
  KVC_HOST_DEVICE std::size_t operator()(std::uint8_t x) const { return x; }
};

/// The CSR keep_set of the marked cells: indices ascend per head because cells are head-major.
template <class System>
device::keep_set<System> keep_set_from_marks(std::size_t heads, std::size_t tokens, const std::uint8_t* keep) {
  const std::size_t cells = heads * tokens;
  const auto index = thrust::counting_iterator<std::size_t>(0);
  vector<std::size_t, System> offsets(heads + 1);
  thrust::fill(System{}, offsets.begin(), offsets.begin() + 1, std::size_t{0});
  thrust::reduce_by_key(System{}, thrust::make_transform_iterator(index, divide_by{tokens}),
                        thrust::make_transform_iterator(index + kvc::device::detail::steps(cells), divide_by{tokens}),
                        thrust::make_transform_iterator(keep, widen{}), thrust::make_discard_iterator(),
                        offsets.begin() + 1);
  thrust::inclusive_scan(System{}, offsets.begin() + 1, offsets.end(), offsets.begin() + 1);
  const std::size_t total = offsets.back();
  device::keep_set<System> out(heads, tokens, total);
  thrust::copy(System{}, offsets.begin(), offsets.end(), out.offsets().begin());
  const auto token = thrust::make_transform_iterator(index, token_of{tokens});
  thrust::copy_if(System{}, token, token + kvc::device::detail::steps(cells), keep, out.indices().begin(), is_marked{});
  return out;
}

}  // namespace kvc::device::detail
