#pragma once
// Per-head top-k on the GPU by a block-level radix select, the same selection as
// kvc::select::topk: protected sinks and recent tokens are always kept, the rest is ranked by
// score, ties to the lower token index (docs/cuda.md#tie-breaking). Budgets may differ per head.
//
// Launch: one 512-thread block per kv head, 8 tokens per thread per step (8 loads in flight).
// Four passes over the head's scores histogram the next 8 bits of score_key
// (detail/radix_key.hpp) among the candidates still tied with the threshold prefix
// (warp-aggregated shared-memory atomics) and choose the bin holding the k-th best. That fixes
// the k-th best score exactly and how many of the tokens carrying it are still wanted; a last
// pass in token order (cub::BlockScan over 8 consecutive tokens per thread) keeps the protected
// tokens, those above the threshold, and the first such tied ones, and writes the kept indices
// ascending.

#include "kvc/version.hpp"

#include "kvc/device/cuda/detail/prelude.cuh"

#include <cub/block/block_scan.cuh>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <span>
#include <string>

#include "kvc/device/cuda/check.cuh"
#include "kvc/device/cuda/detail/index_math.hpp"
#include "kvc/device/cuda/detail/radix_key.hpp"
#include "kvc/device/cuda/keep_set.cuh"
#include "kvc/select/detail/rank.hpp"
#include "kvc/select/topk.hpp"

namespace kvc::device::cuda {
namespace detail {

inline constexpr int select_threads = 512;
inline constexpr int select_items = 8;  ///< tokens per thread per step: that many loads in flight

/// choose_digit by one warp (all 32 lanes call it; every lane gets the result): lane l holds bins
/// [8l, 8l + 8); a suffix sum over the lanes finds the lane holding the remaining-th largest
/// key, which scans its eight bins from the top exactly as choose_digit does.
__device__ inline digit_choice choose_digit_warp(const unsigned* hist, unsigned remaining, unsigned lane) {
  static_assert(radix_bins == 256, "eight bins per lane");
  unsigned own = 0;
#pragma unroll
  for (unsigned b = 0; b < 8; ++b) own += hist[lane * 8 + b];
  unsigned from_here = own;  // keys in this lane's bins and in every bin above them
#pragma unroll
  for (unsigned off = 1; off < 32; off *= 2) {
    const unsigned v = __shfl_down_sync(0xffffffffu, from_here, off);
    if (lane + off < 32) from_here += v;
  }
  const unsigned above_lane = from_here - own;
  const unsigned holder = __ballot_sync(0xffffffffu, above_lane < remaining && remaining <= from_here);
  if (holder == 0) return {0u, __shfl_sync(0xffffffffu, from_here, 0)};  // remaining > total: as choose_digit
  const int l = __ffs(static_cast<int>(holder)) - 1;
  unsigned above = __shfl_sync(0xffffffffu, above_lane, l);
  for (unsigned b = 8; b-- > 0;) {
    const unsigned bin = static_cast<unsigned>(l) * 8 + b, count = hist[bin];
    if (above + count >= remaining) return {bin, above};
    above += count;
  }
  return {static_cast<unsigned>(l) * 8, above};  // not reached: the holder lane's bins reach remaining
}

template <int Threads, int Items>
__global__ void __launch_bounds__(Threads)
    radix_topk(const float* scores, std::size_t tokens, std::size_t sinks, std::size_t recent,
               const std::size_t* offsets, index_t* indices) {
  using block_scan = cub::BlockScan<unsigned, Threads>;
  __shared__ typename block_scan::TempStorage scan_storage;
  __shared__ unsigned hist[radix_bins];
  __shared__ unsigned shared_prefix, shared_remaining;
  constexpr unsigned step = static_cast<unsigned>(Threads) * Items;

  const std::size_t h = blockIdx.x;
  const unsigned tid = threadIdx.x, lane = tid % 32;
  const float* row = scores + h * tokens;
  const std::size_t want = offsets[h + 1] - offsets[h] - protected_count(tokens, sinks, recent);
  // Token arithmetic in 32 bits (tokens < 2^31, checked on the host): protected = [0, sink_end)
  // and [recent_begin, n), as is_protected says.
  const unsigned n = static_cast<unsigned>(tokens);
  const unsigned sink_end = static_cast<unsigned>(sinks < tokens ? sinks : tokens);
  const unsigned recent_begin = n - static_cast<unsigned>(recent < tokens ? recent : tokens);
  auto guarded_token = [&](unsigned t) { return t < sink_end || t >= recent_begin; };

  // threshold = the want-th best candidate's score_key; ties = how many candidates carrying it to keep.
  unsigned threshold = 0xffffffffu, ties = 0;
  if (want > 0) {
    if (tid == 0) {
      shared_prefix = 0;
      shared_remaining = static_cast<unsigned>(want);
    }
    for (unsigned pass = 0; pass < radix_passes; ++pass) {
      for (unsigned b = tid; b < radix_bins; b += Threads) hist[b] = 0;
      __syncthreads();
      const unsigned prefix = shared_prefix, mask = pass == 0 ? 0u : radix_prefix_mask(pass - 1);
      for (unsigned base = 0; base < n; base += step) {
        // Items coalesced loads issued back to back, then histogrammed one by one.
        unsigned key[Items];
        bool candidate[Items];
#pragma unroll
        for (int i = 0; i < Items; ++i) {
          const unsigned t = base + static_cast<unsigned>(Threads * i) + tid;
          candidate[i] = t < n && !guarded_token(t);
          key[i] = candidate[i] ? score_key(row[t]) : 0u;
        }
#pragma unroll
        for (int i = 0; i < Items; ++i) {
          unsigned digit = radix_bins;  // sentinel: not a candidate on this prefix
          if (candidate[i] && (key[i] & mask) == prefix) digit = radix_digit(key[i], pass);
          // Lanes with the same digit add once: a score row's top bits are few, so contention is high.
          const unsigned peers = __match_any_sync(0xffffffffu, digit);
          if (digit < radix_bins && lane == static_cast<unsigned>(__ffs(peers) - 1))
            atomicAdd(&hist[digit], static_cast<unsigned>(__popc(peers)));
        }
      }
      __syncthreads();
      if (tid < 32) {
        const digit_choice c = choose_digit_warp(hist, shared_remaining, lane);
        __syncwarp();  // every lane has read shared_remaining before lane 0 changes it
        if (tid == 0) {
          shared_remaining -= c.above;
          shared_prefix |= c.digit << radix_shift(pass);
        }
      }
      __syncthreads();
    }
    threshold = shared_prefix;
    ties = shared_remaining;
  }

  // Token order, Items consecutive tokens per thread: keep protected, above-threshold, and the
  // first `ties` at the threshold.
  index_t* out = indices + offsets[h];
  unsigned written = 0, ties_seen = 0;
  for (unsigned base = 0; base < n; base += step) {
    unsigned tie[Items], guarded[Items], above[Items], tie_rank[Items], keep[Items], slot[Items];
#pragma unroll
    for (int i = 0; i < Items; ++i) {
      const unsigned t = base + tid * Items + static_cast<unsigned>(i);
      const bool in = t < n, g = in && guarded_token(t);
      const bool candidate = in && !g && want > 0;
      const unsigned key = candidate ? score_key(row[t]) : 0u;
      guarded[i] = g;
      above[i] = candidate && key > threshold;
      tie[i] = candidate && key == threshold;
    }
    unsigned tie_total = 0, kept = 0;
    block_scan(scan_storage).ExclusiveSum(tie, tie_rank, tie_total);
    __syncthreads();
#pragma unroll
    for (int i = 0; i < Items; ++i) keep[i] = guarded[i] || above[i] || (tie[i] && ties_seen + tie_rank[i] < ties);
    block_scan(scan_storage).ExclusiveSum(keep, slot, kept);
    __syncthreads();
#pragma unroll
    for (int i = 0; i < Items; ++i)
      if (keep[i]) out[written + slot[i]] = static_cast<index_t>(base + tid * Items + static_cast<unsigned>(i));
    written += kept;
    ties_seen += tie_total;
  }
}

/// One block per head; `offsets` (heads + 1, device) fix each head's budget, `indices` receives
/// the kept tokens. The caller has validated the selection (require_selectable).
inline void launch_radix_topk(const select::topk& p, const float* scores, std::size_t heads, std::size_t tokens,
                              const std::size_t* offsets, index_t* indices, cudaStream_t stream) {
  radix_topk<select_threads, select_items><<<static_cast<unsigned>(heads), select_threads, 0, stream>>>(
      scores, tokens, p.sinks, p.recent, offsets, indices);
  check_launch("kvc::device::cuda::detail::radix_topk");
}

}  // namespace detail

/// Validates a selection like kvc::select::topk would (budgets per head, protected floor).
inline void require_selectable(const select::topk& p, std::size_t heads, std::size_t tokens,
                               std::span<const std::size_t> budgets) {
  kvc::detail::require(heads >= 1, "scores heads", "at least 1", heads);
  kvc::detail::require(tokens >= 1, "scores tokens", "at least 1", tokens);
  kvc::detail::require(tokens < (std::size_t{1} << 31), "scores tokens", "fewer than 2^31 (index_t)", tokens);
  kvc::detail::require(budgets.size() == heads, "budgets.size()", "one budget per kv head (" + std::to_string(heads) + ")",
                       budgets.size());
  const std::size_t floor = detail::protected_count(tokens, p.sinks, p.recent);
  for (std::size_t b : budgets) select::detail::require_budget(b, floor, tokens);
}

/// Per-head top-k of device scores `[heads, tokens]` (row-major) with per-head `budgets` (host).
/// `out` is shaped (offsets from the budgets) and filled with ascending indices on `stream`.
/// Scores should be finite, as the host selector requires; on the device NaN ranks last.
inline void topk(const select::topk& p, const float* scores, std::size_t heads, std::size_t tokens,
                 std::span<const std::size_t> budgets, device_keep_set& out, cudaStream_t stream) {
  require_selectable(p, heads, tokens, budgets);
  out.shape(tokens, budgets, stream);
  detail::launch_radix_topk(p, scores, heads, tokens, out.offsets(), out.indices(), stream);
}

}  // namespace kvc::device::cuda
