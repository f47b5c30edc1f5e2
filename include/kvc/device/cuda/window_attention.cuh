#pragma once
// SnapKV's window-attention scorer on the GPU, the same semantics as kvc::score::window_attention
// (docs/snapkv.md, docs/cuda.md). Four kernels per call:
//   1. window_tiles<T, false> (or window_tiles_mma)  grid (token tiles, kv_heads), 256 threads.
//      A block loads one 64-token tile of K once into shared memory and computes the logits of
//      all the group's window rows against it in 64-row x 64-token tiles, writing each row's tile
//      max and sum of exp.
//   2. window_row_stats  one warp per row folds the tile partials into the row's max M and
//      normaliser S (in double).
//   3. window_tiles<T, true> (or window_tiles_mma)  the same tiling again; p = exp(s - M) / S is
//      summed over each query head's window rows (fixed order, so the result is deterministic),
//      folded over the group (mean or max) into a raw score per token.
//   4. window_pool  1-D pooling over the prefix (kernel odd, centred, max or average with zero
//      padding); window tokens keep the raw sum.
// Inputs fp32 / __half / __nv_bfloat16, accumulation fp32 (the row normaliser in double).
// The logits of kernels 1 and 3 come from CUDA cores (fp32 FMA) or, for fp16/bf16 inputs with
// head_dim a multiple of 16 on sm_80 and later, from tensor cores (WMMA 16x16x16, fp32
// accumulation): score_math picks, automatic takes tensor cores where they apply.

#include "kvc/version.hpp"

#include "kvc/device/cuda/detail/prelude.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <mma.h>

#include <cmath>
#include <cstdint>
#include <cstddef>
#include <string>
#include <type_traits>

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
  bool keys_vector = false, queries_vector = false;  ///< rows may be read as 16-byte units
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

/// What both tile kernels do with a 64-row x 64-token block of raw dot products `acc` (thread
/// (tx, ty) holds rows ty + 16 i, tokens tx + 16 j): scale, causal mask, then either the tile's
/// (max, sum of exp) per row, or the probabilities summed per query head into C (fixed order).
template <bool Scoring>
__device__ inline void tile_epilogue(const float (&acc)[4][4], const score_shape& shape, std::size_t r0,
                                     std::size_t t0, std::size_t tile, std::size_t h, float2* tile_stats,
                                     const float2* row_stats, float* Ps, float* C, int tid) {
  constexpr int TT = score_tile_tokens, TR = score_tile_rows;
  const int tx = tid % 16, ty = tid / 16;
  const std::size_t R = shape.rows.rows(), used = shape.rows.used, n = shape.rows.tokens;
  // Logits with the causal mask (masked = -inf), one row per i, one token per j.
  float s[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const std::size_t r = r0 + static_cast<std::size_t>(ty + 16 * i);
    const std::size_t last = r < R ? shape.rows.last_visible(r) : 0;  // once per row, not per token
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const std::size_t t = t0 + static_cast<std::size_t>(tx + 16 * j);
      const bool visible = r < R && t < n && t <= last;
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
      const float inverse = 1.0f / ms.y;
#pragma unroll
      for (int j = 0; j < 4; ++j)
        Ps[(ty + 16 * i) * (TT + 1) + tx + 16 * j] = s[i][j] == -INFINITY ? 0.0f : expf(s[i][j] - ms.x) * inverse;
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

/// C[g, col] folded over the group (mean or max) into raw[h * tokens + t0 + col].
__device__ inline void tile_fold(const float* C, const score_shape& shape, std::size_t t0, std::size_t h, float* raw,
                                 group_reduce how, int tid) {
  constexpr int TT = score_tile_tokens;
  const std::size_t n = shape.rows.tokens, G = shape.rows.group;
  for (int col = tid; col < TT; col += score_threads) {
    const std::size_t t = t0 + static_cast<std::size_t>(col);
    if (t >= n) continue;
    float v = how == group_reduce::max ? -INFINITY : 0.0f;
    for (std::size_t g = 0; g < G; ++g) v = how == group_reduce::max ? fmaxf(v, C[g * TT + col]) : v + C[g * TT + col];
    raw[h * n + t] = how == group_reduce::max ? v : v / static_cast<float>(G);
  }
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
  const std::size_t t0 = tile * TT, ldk = d + 1;
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

    tile_epilogue<Scoring>(acc, shape, r0, t0, tile, h, tile_stats, row_stats, Ps, C, tid);
  }

  if constexpr (Scoring) tile_fold(C, shape, t0, h, raw, how, tid);
}
/// Tensor-core tiles: fp16/bf16 elements, head_dim a multiple of 16.
template <class T>
inline constexpr bool mma_element = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

/// Shared memory of the tensor-core tile kernels, in bytes: K tile and Q row tile as T (rows padded
/// by 8 elements), the 64 x 64 logit / probability tile as float (ld 68), group sums.
__host__ __device__ constexpr std::size_t mma_shared_bytes(std::size_t head_dim, std::size_t group, std::size_t element) {
  return 2 * score_tile_tokens * (head_dim + 8) * element + score_tile_rows * 68 * 4 + group * score_tile_tokens * 4;
}

/// Copies `rows` rows of `d` elements into shared memory `dst` (row pitch `ld`); row_of(r) gives the
/// row's first element or nullptr for a zero row. `vector`: rows are 16-byte aligned, contiguous.
template <class T, class RowOf>
__device__ inline void stage_rows(T* dst, std::size_t ld, std::size_t rows, std::size_t d, std::size_t stride,
                                  bool vector, int tid, RowOf row_of) {
  // 32-bit index arithmetic: a tile holds at most 64 rows of head_dim elements.
  if (vector) {
    const unsigned units = static_cast<unsigned>(d * sizeof(T) / 16), count = static_cast<unsigned>(rows) * units;
    for (unsigned i = static_cast<unsigned>(tid); i < count; i += score_threads) {
      const unsigned r = i / units, u = i % units;
      const T* src = row_of(r);
      *reinterpret_cast<uint4*>(dst + r * ld + u * (16 / sizeof(T))) =
          src != nullptr ? reinterpret_cast<const uint4*>(src)[u] : make_uint4(0u, 0u, 0u, 0u);
    }
  } else {
    const unsigned width = static_cast<unsigned>(d), count = static_cast<unsigned>(rows) * width;
    for (unsigned i = static_cast<unsigned>(tid); i < count; i += score_threads) {
      const unsigned r = i / width, k = i % width;
      const T* src = row_of(r);
      dst[r * ld + k] = src != nullptr ? src[k * stride] : T(0.0f);
    }
  }
}

/// window_tiles with the logits from tensor cores: 8 warps, each two 16 x 16 fragments of the
/// 64 x 64 logit tile, accumulated in fp32 over head_dim in steps of 16, stored to shared memory
/// and handed to the same epilogue.
template <class T, bool Scoring>
__global__ void __launch_bounds__(score_threads)
    window_tiles_mma(view3<const T> keys, view3<const T> queries, score_shape shape, float2* tile_stats,
                     const float2* row_stats, float* raw, group_reduce how) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // the host never launches this below sm_80 (mma_available)
#else
  namespace wmma = nvcuda::wmma;
  constexpr int TT = score_tile_tokens, TR = score_tile_rows, LDS = 68;
  extern __shared__ __align__(128) unsigned char mma_shared[];
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32;
  const std::size_t tile = blockIdx.x, h = blockIdx.y;
  const std::size_t n = shape.rows.tokens, d = shape.head_dim, R = shape.rows.rows(), G = shape.rows.group;
  const std::size_t t0 = tile * TT, ld = d + 8;
  T* Kh = reinterpret_cast<T*>(mma_shared);
  T* Qh = Kh + TT * ld;
  float* S = reinterpret_cast<float*>(Qh + TR * ld);
  float* C = S + TR * LDS;

  stage_rows(Kh, ld, TT, d, keys.stride2, shape.keys_vector, tid,
             [&](std::size_t r) { return t0 + r < n ? &keys(h, t0 + r, 0) : nullptr; });
  if constexpr (Scoring)
    for (std::size_t i = static_cast<std::size_t>(tid); i < G * TT; i += score_threads) C[i] = 0.0f;

  const int row_block = warp % 4, col_block = (warp / 4) * 2;
  for (std::size_t r0 = 0; r0 < R; r0 += TR) {
    stage_rows(Qh, ld, TR, d, queries.stride2, shape.queries_vector, tid, [&](std::size_t r) {
      return r0 + r < R ? &queries(shape.rows.query_head(h, r0 + r), shape.rows.query(r0 + r), 0) : nullptr;
    });
    __syncthreads();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b0, b1;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> c0, c1;
    wmma::fill_fragment(c0, 0.0f);
    wmma::fill_fragment(c1, 0.0f);
    for (std::size_t k = 0; k < d; k += 16) {
      wmma::load_matrix_sync(a, Qh + row_block * 16 * ld + k, static_cast<unsigned>(ld));
      wmma::load_matrix_sync(b0, Kh + col_block * 16 * ld + k, static_cast<unsigned>(ld));
      wmma::load_matrix_sync(b1, Kh + (col_block + 1) * 16 * ld + k, static_cast<unsigned>(ld));
      wmma::mma_sync(c0, a, b0, c0);
      wmma::mma_sync(c1, a, b1, c1);
    }
    wmma::store_matrix_sync(S + row_block * 16 * LDS + col_block * 16, c0, LDS, wmma::mem_row_major);
    wmma::store_matrix_sync(S + row_block * 16 * LDS + (col_block + 1) * 16, c1, LDS, wmma::mem_row_major);
    __syncthreads();
    float acc[4][4];
    const int tx = tid % 16, ty = tid / 16;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = S[(ty + 16 * i) * LDS + tx + 16 * j];
    __syncthreads();  // S is reused as the probability tile (Ps) by the epilogue
    tile_epilogue<Scoring>(acc, shape, r0, t0, tile, h, tile_stats, row_stats, S, C, tid);
  }

  if constexpr (Scoring) tile_fold(C, shape, t0, h, raw, how, tid);
#endif
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

/// Where window_attention computes its logits. automatic: tensor cores when they apply (fp16/bf16
/// elements, head_dim a multiple of 16, a device of compute capability 8.0 or later), else CUDA
/// cores. cuda_cores forces the fp32 FMA kernels; tensor_cores asks for WMMA and throws
/// kvc::error where it does not apply.
enum class score_math { automatic, cuda_cores, tensor_cores };

namespace detail {

inline bool mma_device() {
  int device = 0, major = 0;
  KVC_CUDA_CHECK(cudaGetDevice(&device));
  KVC_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  return major >= 8;
}

/// Rows of `v` (over its last extent) can be read as 16-byte units.
template <class T>
bool rows_vectorizable(const view3<const T>& v, std::size_t d) {
  constexpr std::size_t per_unit = 16 / sizeof(T);
  return v.stride2 == 1 && (d * sizeof(T)) % 16 == 0 && v.stride0 % per_unit == 0 && v.stride1 % per_unit == 0 &&
         reinterpret_cast<std::uintptr_t>(v.data) % 16 == 0;
}

template <class T>
bool use_tensor_cores(score_math math, std::size_t head_dim, std::size_t group) {
  if (math == score_math::cuda_cores) return false;
  std::string why;
  if (!mma_element<T>)
    why = "fp32 elements";
  else if (head_dim % 16 != 0)
    why = "head_dim " + std::to_string(head_dim) + ", not a multiple of 16";
  else if (!mma_device())
    why = "a device below compute capability 8.0";
  else if (mma_shared_bytes(head_dim, group, sizeof(T)) > static_cast<std::size_t>(max_shared_bytes()))
    why = "a tile of " + std::to_string(mma_shared_bytes(head_dim, group, sizeof(T))) + " bytes of shared memory";
  if (why.empty()) return true;
  kvc::detail::require(math != score_math::tensor_cores, "math",
                       "score_math::tensor_cores only for fp16/bf16, head_dim % 16 == 0, sm_80+", why);
  return false;
}

template <class T, bool Scoring>
void launch_tiles(bool mma, dim3 grid, std::size_t shared_bytes, cudaStream_t stream, view3<const T> K,
                  view3<const T> Q, const score_shape& shape, float2* tile_stats, const float2* row_stats, float* raw,
                  group_reduce how) {
  const char* name = Scoring ? "kvc::device::cuda::detail::window_tiles (scores)"
                             : "kvc::device::cuda::detail::window_tiles (stats)";
  if constexpr (mma_element<T>) {
    if (mma) {
      auto* kernel = &window_tiles_mma<T, Scoring>;
      KVC_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          static_cast<int>(shared_bytes)));
      kernel<<<grid, score_threads, shared_bytes, stream>>>(K, Q, shape, tile_stats, row_stats, raw, how);
      check_launch(name);
      return;
    }
  }
  auto* kernel = &window_tiles<T, Scoring>;
  KVC_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes)));
  kernel<<<grid, score_threads, shared_bytes, stream>>>(K, Q, shape, tile_stats, row_stats, raw, how);
  check_launch(name);
}

}  // namespace detail

/// Scores layer `l` (device memory) into `scores` (device, `[kv_heads, tokens]` row-major), like
/// kvc::score::window_attention. Validates on the host first (kvc::error); CUDA failures throw
/// kvc::cuda_error. Asynchronous on `stream`; `work` must outlive the stream's use of it.
template <class T>
void window_attention(const score::window_attention& p, const device_layer<T>& l, float* scores, scratch& work,
                      cudaStream_t stream, score_math math = score_math::automatic) {
  using namespace detail;
  std::size_t shared_bytes = require_scorable(p, l);
  const std::size_t H = l.kv_heads(), n = l.tokens(), d = l.head_dim();
  const bool mma = use_tensor_cores<T>(math, d, l.group());
  if (mma) shared_bytes = mma_shared_bytes(d, l.group(), sizeof(T));
  const std::size_t used = p.window < l.window() ? p.window : l.window();
  const auto K = device_view(l.keys), Q = device_view(l.queries);
  score_shape shape{{.tokens = n, .window = l.window(), .used = used, .group = l.group()},
                    d,
                    ceil_div(n, score_tile_tokens),
                    static_cast<float>(1.0 / std::sqrt(static_cast<double>(d))),
                    rows_vectorizable(K, d),
                    rows_vectorizable(Q, d)};
  const std::size_t R = shape.rows.rows();

  work.reserve(window_attention_scratch_bytes(H, n, R));
  auto* tile_stats = work.take<float2>(H * R * shape.tiles);
  auto* row_stats = work.take<float2>(H * R);
  auto* raw = work.take<float>(H * n);

  const dim3 grid(static_cast<unsigned>(shape.tiles), static_cast<unsigned>(H));
  launch_tiles<T, false>(mma, grid, shared_bytes, stream, K, Q, shape, tile_stats, nullptr, nullptr, p.group);
  constexpr int warps_per_block = 8;
  window_row_stats<warps_per_block><<<static_cast<unsigned>(ceil_div(H * R, warps_per_block)), 32 * warps_per_block,
                                      0, stream>>>(tile_stats, H * R, shape.tiles, row_stats);
  check_launch("kvc::device::cuda::detail::window_row_stats");
  launch_tiles<T, true>(mma, grid, shared_bytes, stream, K, Q, shape, nullptr, row_stats, raw, p.group);
  const dim3 pool_grid(static_cast<unsigned>(ceil_div(n, 256)), static_cast<unsigned>(H));
  if (p.kind == score::pooling::average)
    window_pool<true><<<pool_grid, 256, 0, stream>>>(raw, scores, n, shape.rows.prefix(), p.pool);
  else
    window_pool<false><<<pool_grid, 256, 0, stream>>>(raw, scores, n, shape.rows.prefix(), p.pool);
  check_launch("kvc::device::cuda::detail::window_pool");
}

}  // namespace kvc::device::cuda
