#pragma once
// SnapKV's window-attention scorer on the GPU, the same semantics as kvc::score::window_attention
// (docs/snapkv.md, docs/cuda.md). Three kernels per call:
//   1. window_logit_stats  grid (token tiles, kv_heads), 256 threads. A block loads one 64-token
//      tile of K once into shared memory (as float) and computes the logits of all the group's
//      window rows against it (64-row x 64-token register-tiled, 4x4 per thread), writing each
//      row's tile max and sum of exp.
//   2. window_row_stats    one warp per row folds the tile partials into the row's max M and
//      normaliser S (in double).
//   3. window_scores       the same tiling again; p = exp(s - M) / S is summed over each query
//      head's window rows (fixed order, so the result is deterministic), folded over the group
//      (mean or max) into a raw score per token.
//   4. window_pool         1-D pooling over the prefix (kernel odd, centred, max or average with
//      zero padding); window tokens keep the raw sum.
// Inputs fp32 / __half / __nv_bfloat16, accumulation fp32 (the row normaliser in double).

#include "kvc/device/cuda/detail/prelude.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstddef>
#include <string>

#include "kvc/core/layer.hpp"
#include "kvc/device/cuda/buffer.cuh"
#include "kvc/device/cuda/check.cuh"
#include "kvc/device/cuda/detail/device_view.cuh"
#include "kvc/device/cuda/detail/index_math.hpp"
#include "kvc/score/window_attention.hpp"

namespace kvc::device::cuda {

/// A layer whose views point to device memory (positions too, when given; attention must be empty).
template <class T>
using device_layer = kvc::layer<strided_view<const T>, strided_view<const T>, strided_view<const T>>;

namespace detail {

inline constexpr int score_threads = 256;   // 16 x 16 threads, each 4 rows x 4 tokens
inline constexpr int score_tile_tokens = 64;
inline constexpr int score_tile_rows = 64;
inline constexpr int score_tile_depth = 32;  // head_dim slice of the query tile

struct score_shape {
  window_rows rows;
  std::size_t head_dim = 0, tiles = 0;
  float scale = 1.0f;  ///< 1 / sqrt(head_dim)
};

/// Shared memory of the two tile kernels, in floats: K tile (padded), Q slice, P tile, group sums.
__host__ __device__ constexpr std::size_t score_shared_floats(std::size_t head_dim, std::size_t group) {
  return score_tile_tokens * (head_dim + 1) + score_tile_rows * (score_tile_depth + 1) +
         score_tile_rows * (score_tile_tokens + 1) + group * score_tile_tokens;
}

__device__ inline float half_warp_max(float v) {
  for (int off = 8; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}
__device__ inline float half_warp_sum(float v) {
  for (int off = 8; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

/// Scoring = false: per (row, tile) the max logit and sum of exp(logit - max) -> tile_stats.
/// Scoring = true: reads row_stats, writes the folded raw score raw[h * tokens + t].
template <class T, bool Scoring>
__global__ void __launch_bounds__(score_threads)
    window_tiles(view3<const T> keys, view3<const T> queries, score_shape shape, float2* tile_stats,
                 const float2* row_stats, float* raw, group_reduce how) {
  constexpr int TT = score_tile_tokens, TR = score_tile_rows, DK = score_tile_depth;
  extern __shared__ float shared[];
  const int tid = static_cast<int>(threadIdx.x), tx = tid % 16, ty = tid / 16;
  const std::size_t tile = blockIdx.x, h = blockIdx.y;
  const std::size_t n = shape.rows.tokens, d = shape.head_dim, R = shape.rows.rows(), G = shape.rows.group;
  const std::size_t used = shape.rows.used, t0 = tile * TT, ldk = d + 1;
  float* Ks = shared;
  float* Qs = Ks + TT * ldk;
  float* Ps = Qs + TR * (DK + 1);
  float* C = Ps + TR * (TT + 1);

  // The K tile is read from global memory once, for every row of the group.
  for (std::size_t i = static_cast<std::size_t>(tid); i < TT * d; i += score_threads) {
    const std::size_t tt = i / d, k = i % d, t = t0 + tt;
    Ks[tt * ldk + k] = t < n ? load_float(keys(h, t, k)) : 0.0f;
  }
  if constexpr (Scoring)
    for (std::size_t i = static_cast<std::size_t>(tid); i < G * TT; i += score_threads) C[i] = 0.0f;

  for (std::size_t r0 = 0; r0 < R; r0 += TR) {
    float acc[4][4] = {};
    for (std::size_t k0 = 0; k0 < d; k0 += DK) {
      for (int i = tid; i < TR * DK; i += score_threads) {
        const std::size_t r = r0 + static_cast<std::size_t>(i / DK), k = k0 + static_cast<std::size_t>(i % DK);
        Qs[(i / DK) * (DK + 1) + i % DK] =
            r < R && k < d ? load_float(queries(shape.rows.query_head(h, r), shape.rows.query(r), k)) : 0.0f;
      }
      __syncthreads();
      const int depth = d - k0 < DK ? static_cast<int>(d - k0) : DK;
      for (int kk = 0; kk < depth; ++kk) {
        float a[4], b[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = Qs[(ty + 16 * i) * (DK + 1) + kk];
#pragma unroll
        for (int j = 0; j < 4; ++j) b[j] = Ks[(tx + 16 * j) * ldk + k0 + kk];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
      __syncthreads();
    }

    // Logits with the causal mask (masked = -inf), one row per i, one token per j.
    float s[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const std::size_t r = r0 + static_cast<std::size_t>(ty + 16 * i);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const std::size_t t = t0 + static_cast<std::size_t>(tx + 16 * j);
        const bool visible = r < R && t < n && t <= shape.rows.last_visible(r);
        s[i][j] = visible ? acc[i][j] * shape.scale : -INFINITY;
      }
    }

    if constexpr (!Scoring) {
      // A row's 64 tokens sit in the 16 lanes sharing ty (one half warp).
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        float m = fmaxf(fmaxf(s[i][0], s[i][1]), fmaxf(s[i][2], s[i][3]));
        m = half_warp_max(m);
        float e = 0.0f;
        if (m != -INFINITY)
#pragma unroll
          for (int j = 0; j < 4; ++j) e += s[i][j] == -INFINITY ? 0.0f : expf(s[i][j] - m);
        e = half_warp_sum(e);
        const std::size_t r = r0 + static_cast<std::size_t>(ty + 16 * i);
        if (tx == 0 && r < R) tile_stats[(h * R + r) * shape.tiles + tile] = make_float2(m, e);
      }
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const std::size_t r = r0 + static_cast<std::size_t>(ty + 16 * i);
        const float2 ms = r < R ? row_stats[h * R + r] : make_float2(0.0f, 1.0f);
#pragma unroll
        for (int j = 0; j < 4; ++j)
          Ps[(ty + 16 * i) * (TT + 1) + tx + 16 * j] = s[i][j] == -INFINITY ? 0.0f : expf(s[i][j] - ms.x) / ms.y;
      }
      __syncthreads();
      // C[g, t] += sum of this tile's rows of query head g, in row order (deterministic).
      const int col = tid % TT, lane_group = tid / TT;
      const std::size_t r_end = r0 + TR < R ? r0 + TR : R;
      for (std::size_t g = r0 / used; g * used < r_end; ++g) {
        if (g % (score_threads / TT) != static_cast<std::size_t>(lane_group)) continue;
        const std::size_t lo = g * used > r0 ? g * used : r0, hi = (g + 1) * used < r_end ? (g + 1) * used : r_end;
        float sum = C[g * TT + col];
        for (std::size_t r = lo; r < hi; ++r) sum += Ps[(r - r0) * (TT + 1) + col];
        C[g * TT + col] = sum;
      }
      __syncthreads();
    }
  }

  if constexpr (Scoring) {
    for (int col = tid; col < TT; col += score_threads) {
      const std::size_t t = t0 + static_cast<std::size_t>(col);
      if (t >= n) continue;
      float v = how == group_reduce::max ? -INFINITY : 0.0f;
      for (std::size_t g = 0; g < G; ++g) v = how == group_reduce::max ? fmaxf(v, C[g * TT + col]) : v + C[g * TT + col];
      raw[h * n + t] = how == group_reduce::max ? v : v / static_cast<float>(G);
    }
  }
}

/// One warp per score row: combine the per-tile (max, sum) pairs into (M, S), in double.
template <int WarpsPerBlock>
__global__ void __launch_bounds__(32 * WarpsPerBlock) window_row_stats(const float2* tile_stats, std::size_t rows, std::size_t tiles, float2* row_stats) {
  const std::size_t warp = (static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const unsigned lane = threadIdx.x % 32;
  if (warp >= rows) return;  // whole warps leave together
  double m = -INFINITY, s = 0.0;
  auto combine = [](double& m1, double& s1, double m2, double s2) {
    if (m2 == -INFINITY) return;
    if (m1 == -INFINITY) {
      m1 = m2;
      s1 = s2;
      return;
    }
    const double top = m1 > m2 ? m1 : m2;
    s1 = s1 * exp(m1 - top) + s2 * exp(m2 - top);
    m1 = top;
  };
  for (std::size_t t = lane; t < tiles; t += 32) {
    const float2 p = tile_stats[warp * tiles + t];
    combine(m, s, p.x, p.y);
  }
  for (int off = 16; off > 0; off /= 2) {
    const double m2 = __shfl_xor_sync(0xffffffffu, m, off), s2 = __shfl_xor_sync(0xffffffffu, s, off);
    combine(m, s, m2, s2);
  }
  if (lane == 0) row_stats[warp] = make_float2(static_cast<float>(m), static_cast<float>(s));
}

/// SnapKV pooling over the prefix; the float operations in the host reference's order.
template <bool Average>
__global__ void window_pool(const float* raw, float* scores, std::size_t tokens, std::size_t prefix,
                            std::size_t kernel) {
  const std::size_t t = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x, h = blockIdx.y;
  if (t >= tokens) return;
  const float* row = raw + h * tokens;
  if (t >= prefix) {
    scores[h * tokens + t] = row[t];
    return;
  }
  const pool_range w = pooling_window(t, prefix, kernel);
  float acc = Average ? 0.0f : -INFINITY;
  for (std::size_t u = w.lo; u < w.hi; ++u) acc = Average ? acc + row[u] : fmaxf(acc, row[u]);
  scores[h * tokens + t] = Average ? acc / static_cast<float>(kernel) : acc;
}

inline int max_shared_bytes() {
  int device = 0, bytes = 0;
  KVC_CUDA_CHECK(cudaGetDevice(&device));
  KVC_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return bytes;
}

/// Host-side checks shared by every entry that scores a device layer; nothing is launched.
/// Returns the dynamic shared memory the tile kernels need.
template <class T>
std::size_t require_scorable(const score::window_attention& p, const device_layer<T>& l) {
  kvc::detail::require(p.window >= 1, "window_attention.window", "at least 1", p.window);
  kvc::detail::require(p.pool >= 1 && p.pool % 2 == 1, "window_attention.pool", "an odd kernel of at least 1",
                       p.pool);
  kvc::detail::require(l.attention.empty(), "attention", "empty (the CUDA scorer recomputes attention)",
                       l.attention.size());
  validate(l);
  require_queries(l, "device::cuda::window_attention");
  kvc::detail::require(l.kv_heads() <= 65535, "keys.extent(0)", "at most 65535 kv heads", l.kv_heads());
  const std::size_t shared_bytes = score_shared_floats(l.head_dim(), l.group()) * sizeof(float);
  const int limit = max_shared_bytes();
  kvc::detail::require(shared_bytes <= static_cast<std::size_t>(limit), "keys.extent(2)",
                       "a head_dim and group whose score tile fits in " + std::to_string(limit) +
                           " bytes of shared memory",
                       std::to_string(l.head_dim()) + " (group " + std::to_string(l.group()) + ", " +
                           std::to_string(shared_bytes) + " bytes)");
  return shared_bytes;
}

}  // namespace detail

/// Bytes of scratch window_attention needs for this shape.
inline std::size_t window_attention_scratch_bytes(std::size_t kv_heads, std::size_t tokens, std::size_t rows) {
  const std::size_t tiles = detail::ceil_div(tokens, detail::score_tile_tokens);
  return scratch::round_up(kv_heads * rows * tiles * sizeof(float2)) + scratch::round_up(kv_heads * rows * sizeof(float2)) +
         scratch::round_up(kv_heads * tokens * sizeof(float));
}

/// Scores layer `l` (device memory) into `scores` (device, `[kv_heads, tokens]` row-major), like
/// kvc::score::window_attention. Validates on the host first (kvc::error); CUDA failures throw
/// kvc::cuda_error. Asynchronous on `stream`; `work` must outlive the stream's use of it.
template <class T>
void window_attention(const score::window_attention& p, const device_layer<T>& l, float* scores, scratch& work,
                      cudaStream_t stream) {
  using namespace detail;
  const std::size_t shared_bytes = require_scorable(p, l);
  const std::size_t H = l.kv_heads(), n = l.tokens(), d = l.head_dim();
  const std::size_t used = p.window < l.window() ? p.window : l.window();
  score_shape shape{{.tokens = n, .window = l.window(), .used = used, .group = l.group()},
                    d, ceil_div(n, score_tile_tokens), static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)))};
  const std::size_t R = shape.rows.rows();

  work.reserve(window_attention_scratch_bytes(H, n, R));
  auto* tile_stats = work.take<float2>(H * R * shape.tiles);
  auto* row_stats = work.take<float2>(H * R);
  auto* raw = work.take<float>(H * n);

  const auto K = device_view(l.keys), Q = device_view(l.queries);
  auto* stats_kernel = &window_tiles<T, false>;
  auto* score_kernel = &window_tiles<T, true>;
  KVC_CUDA_CHECK(cudaFuncSetAttribute(stats_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(shared_bytes)));
  KVC_CUDA_CHECK(cudaFuncSetAttribute(score_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(shared_bytes)));
  const dim3 grid(static_cast<unsigned>(shape.tiles), static_cast<unsigned>(H));
  stats_kernel<<<grid, score_threads, shared_bytes, stream>>>(K, Q, shape, tile_stats, nullptr, nullptr, p.group);
  check_launch("kvc::device::cuda::detail::window_tiles (stats)");
  constexpr int warps_per_block = 8;
  window_row_stats<warps_per_block><<<static_cast<unsigned>(ceil_div(H * R, warps_per_block)), 32 * warps_per_block,
                                      0, stream>>>(tile_stats, H * R, shape.tiles, row_stats);
  check_launch("kvc::device::cuda::detail::window_row_stats");
  score_kernel<<<grid, score_threads, shared_bytes, stream>>>(K, Q, shape, nullptr, row_stats, raw, p.group);
  check_launch("kvc::device::cuda::detail::window_tiles (scores)");
  const dim3 pool_grid(static_cast<unsigned>(ceil_div(n, 256)), static_cast<unsigned>(H));
  if (p.kind == score::pooling::average)
    window_pool<true><<<pool_grid, 256, 0, stream>>>(raw, scores, n, shape.rows.prefix(), p.pool);
  else
    window_pool<false><<<pool_grid, 256, 0, stream>>>(raw, scores, n, shape.rows.prefix(), p.pool);
  check_launch("kvc::device::cuda::detail::window_pool");
}

}  // namespace kvc::device::cuda
