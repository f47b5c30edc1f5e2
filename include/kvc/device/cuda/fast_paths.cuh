#pragma once
// Plugs the CUDA kernels into kvc::exec::device<thrust::cuda::tag> (see kvc/device/fast_path.hpp):
// a device layer of strided fp32 / fp16 / bf16 views is scored by the fused window-attention
// kernel instead of the generic Thrust version. Layers the kernel does not take (engine-supplied
// attention, other view types, kvc::bf16 storage) keep the Thrust path. Every select::topk
// (so window_topk and heavy_recent too) runs the radix-select kernel instead of a stable sort.

#include "kvc/version.hpp"

#include <thrust/system/cuda/execution_policy.h>

#include <thrust/copy.h>

#include <cstddef>
#include <vector>

#include "kvc/device/cuda/detail/prelude.cuh"
#include "kvc/device/cuda/topk.cuh"
#include "kvc/device/cuda/window_attention.cuh"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/fast_path.hpp"
#include "kvc/device/score_matrix.hpp"

namespace kvc::device {

namespace cuda::detail {
template <class T>
inline constexpr bool kernel_element = std::is_same_v<T, float> || std::is_same_v<T, __half> ||
                                       std::is_same_v<T, __nv_bfloat16>;
}  // namespace cuda::detail

template <class T>
  requires cuda::detail::kernel_element<T>
struct fast_path<score::window_attention, thrust::cuda::tag, cuda::device_layer<T>> {
  static constexpr bool available = true;

  /// Scores with the fused kernel; false (nothing written) when the layer carries attention.
  static bool try_score(const score::window_attention& p, const cuda::device_layer<T>& l,
                        score_matrix<thrust::cuda::tag>& out) {
    if (!l.attention.empty()) return false;
    out.reset(l.kv_heads(), l.tokens());
    cuda::scratch work;
    cuda::window_attention(p, l, out.data(), work, cudaStream_t{});
    KVC_CUDA_CHECK(cudaStreamSynchronize(cudaStream_t{}));  // `work` is freed on return
    return true;
  }
};

/// select::topk by the radix-select kernel: the same keep set (same tie rule, docs/cuda.md).
/// Called by implementation<select::topk>::select after it has validated the budget and scores.
template <>
struct fast_path<select::topk, thrust::cuda::tag, score_matrix<thrust::cuda::tag>> {
  static constexpr bool available = true;

  static keep_set<thrust::cuda::tag> select(const select::topk& p, const score_matrix<thrust::cuda::tag>& s,
                                            std::size_t budget) {
    const std::size_t heads = s.heads(), n = s.tokens();
    cuda::require_selectable(p, heads, n, std::vector<std::size_t>(heads, budget));
    keep_set<thrust::cuda::tag> out(heads, n, heads * budget);
    std::vector<std::size_t> offsets(heads + 1);
    for (std::size_t h = 0; h <= heads; ++h) offsets[h] = h * budget;
    thrust::copy(offsets.begin(), offsets.end(), out.offsets().begin());
    cuda::detail::launch_radix_topk(p, s.data(), heads, n, thrust::raw_pointer_cast(out.offsets().data()),
                                    thrust::raw_pointer_cast(out.indices().data()), cudaStream_t{});
    return out;
  }
};

}  // namespace kvc::device
