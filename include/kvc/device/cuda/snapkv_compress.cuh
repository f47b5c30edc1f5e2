#pragma once
// kvc::device::cuda::snapkv_compress: SnapKV on the GPU in one call — window-attention scores,
// per-head top-k (window protected), gather of the kept keys/values/positions. The same result
// as kvc::policy::snapkv{}(layer, budget) on the host (scores within docs/cuda.md's tolerance).
// Every check runs on the host before the first launch; the work is asynchronous on `stream`.

#include "kvc/version.hpp"

#include "kvc/device/cuda/detail/prelude.cuh"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvc/core/budget.hpp"
#include "kvc/device/cuda/buffer.cuh"
#include "kvc/device/cuda/gather.cuh"
#include "kvc/device/cuda/keep_set.cuh"
#include "kvc/device/cuda/topk.cuh"
#include "kvc/device/cuda/window_attention.cuh"
#include "kvc/policy/snapkv.hpp"

namespace kvc::device::cuda {

/// Device-side result of snapkv_compress; reuse one across calls so its buffers are kept.
template <class T>
struct snapkv_result {
  device_buffer<float> scores;            ///< [kv_heads, tokens] window-attention scores
  device_keep_set keep;                   ///< per head, ascending kept token indices (CSR)
  device_buffer<T> keys, values;          ///< [keep.total(), head_dim] / [keep.total(), value_dim], CSR order
  device_buffer<std::int64_t> positions;  ///< [keep.total()] original positions of the kept tokens
  scratch work;                           ///< scorer workspace
};

/// Ragged form: `budgets[h]` tokens kept by kv head h (host values).
template <class T>
void snapkv_compress(const policy::snapkv& policy, const device_layer<T>& l, std::span<const std::size_t> budgets,
                     snapkv_result<T>& out, cudaStream_t stream) {
  detail::require_scorable(policy.score, l);
  const select::topk selection{.sinks = 0, .recent = policy.select.window < l.tokens() ? policy.select.window : l.tokens()};
  require_selectable(selection, l.kv_heads(), l.tokens(), budgets);

  out.scores.resize(l.kv_heads() * l.tokens());
  window_attention(policy.score, l, out.scores.data(), out.work, stream);
  topk(selection, out.scores.data(), l.kv_heads(), l.tokens(), budgets, out.keep, stream);
  out.keys.resize(out.keep.total() * l.head_dim());
  out.values.resize(out.keep.total() * l.values.extent(2));
  out.positions.resize(out.keep.total());
  gather<T>(l.keys, l.values, out.keep, out.keys.data(), out.values.data(),
            l.positions.empty() ? nullptr : l.positions.data(), out.positions.data(), stream);
}

/// Uniform form: every head keeps `budget.count(tokens)` tokens, as the host pipeline does.
template <class T, budget::per_head B>
void snapkv_compress(const policy::snapkv& policy, const device_layer<T>& l, const B& budget,
                     snapkv_result<T>& out, cudaStream_t stream) {
  const std::vector<std::size_t> budgets(l.kv_heads(), budget.count(l.tokens()));
  snapkv_compress(policy, l, std::span<const std::size_t>(budgets), out, stream);
}

}  // namespace kvc::device::cuda
