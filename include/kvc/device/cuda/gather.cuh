#pragma once
// Ragged gather and in-place compaction of the kept keys/values on the GPU, the device side of
// kvc::merge::drop and kvc::compact (elements are copied bit for bit).
//   gather:  grid (blocks, kv_heads); each thread copies one 16-byte unit of a kept row (or one
//            element when the rows are not 16-byte aligned and contiguous) into the contiguous
//            output `[total kept, dim]`, CSR order; positions (when given) ride along.
//   compact: one block per kv head moves row idx[i] to slot i in chunks staged through 16 KiB of
//            shared memory: each chunk is read completely before it is written, which is safe
//            because idx ascends (detail::compaction_order_safe).

#include "kvc/version.hpp"

#include "kvc/device/cuda/detail/prelude.cuh"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "kvc/core/error.hpp"
#include "kvc/device/cuda/check.cuh"
#include "kvc/device/cuda/detail/device_view.cuh"
#include "kvc/device/cuda/detail/index_math.hpp"
#include "kvc/device/cuda/keep_set.cuh"

namespace kvc::device::cuda {
namespace detail {

inline constexpr int gather_threads = 256;
inline constexpr int compact_threads = 256;
inline constexpr std::size_t compact_stage_bytes = 16384;

/// Rows of `Unit`s: element (h, t, u) at base + h*stride0 + t*stride1 + u*stride2 (in Units).
template <class Unit>
__global__ void __launch_bounds__(gather_threads)
    gather_rows(view3<const Unit> src, std::size_t units, const std::size_t* offsets, const index_t* indices,
                Unit* dst, const std::int64_t* positions, std::int64_t* positions_out) {
  const std::size_t h = blockIdx.y, first = offsets[h], rows = offsets[h + 1] - first;
  const std::size_t step = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < rows * units; i += step) {
    const std::size_t row = i / units, u = i % units;
    const auto t = static_cast<std::size_t>(indices[first + row]);
    dst[(first + row) * units + u] = src(h, t, u);
    if (positions_out != nullptr && u == 0)
      positions_out[first + row] = positions != nullptr ? positions[t] : static_cast<std::int64_t>(t);
  }
}

template <class T>
__global__ void __launch_bounds__(compact_threads)
    compact_rows(view3<T> rows_view, std::size_t dim, const std::size_t* offsets, const index_t* indices) {
  __shared__ alignas(16) unsigned char stage_bytes[compact_stage_bytes];
  T* stage = reinterpret_cast<T*>(stage_bytes);
  constexpr std::size_t capacity = compact_stage_bytes / sizeof(T);
  const std::size_t h = blockIdx.x, first = offsets[h], kept = offsets[h + 1] - first;
  const index_t* idx = indices + first;
  const std::size_t chunk = capacity / dim > 0 ? capacity / dim : 1;
  for (std::size_t c0 = 0; c0 < kept; c0 += chunk) {
    const std::size_t c1 = c0 + chunk < kept ? c0 + chunk : kept, elements = (c1 - c0) * dim;
    // One row larger than the stage goes in pieces: its source row is another row, so that is safe.
    for (std::size_t e0 = 0; e0 < elements; e0 += capacity) {
      const std::size_t e1 = e0 + capacity < elements ? e0 + capacity : elements;
      for (std::size_t e = e0 + threadIdx.x; e < e1; e += compact_threads) {
        const std::size_t row = c0 + e / dim;
        stage[e - e0] = rows_view(h, static_cast<std::size_t>(idx[row]), e % dim);
      }
      __syncthreads();
      for (std::size_t e = e0 + threadIdx.x; e < e1; e += compact_threads) {
        const std::size_t row = c0 + e / dim;
        if (static_cast<std::size_t>(idx[row]) != row) rows_view(h, row, e % dim) = stage[e - e0];
      }
      __syncthreads();
    }
  }
}

/// Copies 16-byte units when every row starts 16-byte aligned and is contiguous, else elements.
template <class T>
void launch_gather(const strided_view<const T>& src, const device_keep_set& keep, T* dst,
                   const std::int64_t* positions, std::int64_t* positions_out, cudaStream_t stream) {
  const std::size_t heads = src.extent(0), dim = src.extent(2);
  const std::size_t bytes = sizeof(T);
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  const bool vector = src.stride(2) == 1 && (dim * bytes) % 16 == 0 && (src.stride(0) * bytes) % 16 == 0 &&
                      (src.stride(1) * bytes) % 16 == 0 && aligned(src.data_handle()) && aligned(dst);
  std::size_t longest = 0;
  for (std::size_t h = 0; h < keep.heads(); ++h) longest = keep.kept(h) > longest ? keep.kept(h) : longest;
  const auto launch = [&](auto* out, auto view, std::size_t units) {
    const std::size_t work = longest * units;
    const auto blocks = static_cast<unsigned>(ceil_div(work > 0 ? work : 1, gather_threads) < 4096
                                                  ? ceil_div(work > 0 ? work : 1, gather_threads)
                                                  : 4096);
    gather_rows<<<dim3(blocks, static_cast<unsigned>(heads)), gather_threads, 0, stream>>>(
        view, units, keep.offsets(), keep.indices(), out, positions, positions_out);
    check_launch("kvc::device::cuda::detail::gather_rows");
  };
  if (vector) {
    const std::size_t per = 16 / bytes;
    view3<const uint4> v{reinterpret_cast<const uint4*>(src.data_handle()), src.stride(0) / per, src.stride(1) / per, 1};
    launch(reinterpret_cast<uint4*>(dst), v, dim * bytes / 16);
  } else {
    launch(dst, device_view(src), dim);
  }
}

template <class T>
void launch_compact(const strided_view<T>& v, const device_keep_set& keep, cudaStream_t stream) {
  compact_rows<T><<<static_cast<unsigned>(keep.heads()), compact_threads, 0, stream>>>(
      device_view(v), v.extent(2), keep.offsets(), keep.indices());
  check_launch("kvc::device::cuda::detail::compact_rows");
}

}  // namespace detail

/// Gathers each head's kept keys and values (device views `[kv_heads, tokens, dim]`) into
/// contiguous `keys_out [total, key_dim]`, `values_out [total, value_dim]` in keep's CSR order,
/// and, if `positions_out` is given, the kept tokens' positions (`positions` `[tokens]`, or the
/// token index when null). Validates shapes on the host first; asynchronous on `stream`.
template <class T>
void gather(strided_view<const T> keys, strided_view<const T> values, const device_keep_set& keep, T* keys_out,
            T* values_out, const std::int64_t* positions, std::int64_t* positions_out, cudaStream_t stream) {
  using kvc::detail::require;
  const std::size_t heads = keys.extent(0), n = keys.extent(1);
  require(keep.heads() == heads, "keep.heads()", "kv_heads " + std::to_string(heads), keep.heads());
  require(keep.tokens() == n, "keep.tokens()", "tokens " + std::to_string(n), keep.tokens());
  require(values.extent(0) == heads, "values.extent(0)", "kv_heads " + std::to_string(heads), values.extent(0));
  require(values.extent(1) == n, "values.extent(1)", "tokens " + std::to_string(n), values.extent(1));
  require(heads <= 65535, "keys.extent(0)", "at most 65535 kv heads", heads);
  if (keep.total() == 0) return;
  detail::launch_gather(keys, keep, keys_out, positions, positions_out, stream);
  detail::launch_gather<T>(values, keep, values_out, nullptr, nullptr, stream);
}

/// In-place compaction of device buffers, like kvc::compact: head h's kept rows move to slots
/// 0..kept(h)-1 in order; `positions` (device, `[kv_heads * tokens]`, optional) move with them.
template <class T>
void compact(strided_view<T> keys, strided_view<T> values, const device_keep_set& keep, std::int64_t* positions,
             cudaStream_t stream) {
  using kvc::detail::require;
  const std::size_t heads = keys.extent(0), n = keys.extent(1);
  require(keep.heads() == heads, "keep.heads()", "kv_heads " + std::to_string(heads), keep.heads());
  require(keep.tokens() == n, "keep.tokens()", "tokens " + std::to_string(n), keep.tokens());
  require(values.extent(0) == heads, "values.extent(0)", "kv_heads " + std::to_string(heads), values.extent(0));
  require(values.extent(1) == n, "values.extent(1)", "tokens " + std::to_string(n), values.extent(1));
  if (keep.total() == 0) return;
  detail::launch_compact(keys, keep, stream);
  detail::launch_compact(values, keep, stream);
  if (positions != nullptr)
    detail::launch_compact(strided_view<std::int64_t>::contiguous(positions, heads, n, 1), keep, stream);
}

}  // namespace kvc::device::cuda
