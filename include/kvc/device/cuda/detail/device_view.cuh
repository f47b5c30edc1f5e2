#pragma once
// What a kernel receives instead of a kvc::strided_view: the pointer and the three strides
// (extents travel separately as shapes), plus the element -> float loads for fp32/fp16/bf16.

#include "kvc/version.hpp"

#include "kvc/device/cuda/detail/prelude.cuh"

#include <cstddef>

namespace kvc::device::cuda::detail {

template <class T>
struct view3 {
  T* data = nullptr;
  std::size_t stride0 = 0, stride1 = 0, stride2 = 0;

  __host__ __device__ T& operator()(std::size_t h, std::size_t t, std::size_t d) const {
    return data[h * stride0 + t * stride1 + d * stride2];
  }
};

template <class T>
view3<T> device_view(const strided_view<T>& v) {
  return {v.data_handle(), v.stride(0), v.stride(1), v.stride(2)};
}

__device__ inline float load_float(float x) { return x; }
__device__ inline float load_float(__half x) { return __half2float(x); }
__device__ inline float load_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ inline float load_float(double x) { return static_cast<float>(x); }

}  // namespace kvc::device::cuda::detail
