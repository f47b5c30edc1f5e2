#pragma once
// Plugs the CUDA kernels into kvc::exec::device<thrust::cuda::tag> (see kvc/device/fast_path.hpp):
// a device layer of strided fp32 / fp16 / bf16 views is scored by the fused window-attention
// kernel instead of the generic Thrust version. Layers the kernel does not take (engine-supplied
// attention, other view types, kvc::bf16 storage) keep the Thrust path.

#include <thrust/system/cuda/execution_policy.h>

#include "kvc/device/cuda/detail/prelude.cuh"
#include "kvc/device/cuda/window_attention.cuh"
#include "kvc/device/fast_path.hpp"
#include "kvc/device/score_buffer.hpp"

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
                        score_buffer<thrust::cuda::tag>& out) {
    if (!l.attention.empty()) return false;
    out.reset(l.kv_heads(), l.tokens());
    cuda::scratch work;
    cuda::window_attention(p, l, out.data(), work, cudaStream_t{});
    KVC_CUDA_CHECK(cudaStreamSynchronize(cudaStream_t{}));  // `work` is freed on return
    return true;
  }
};

}  // namespace kvc::device
