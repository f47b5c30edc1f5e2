#pragma once
// CUDA runtime errors become kvc::cuda_error naming the failing call:
//   KVC_CUDA_CHECK(cudaMemcpyAsync(...));     // throws "kvc: CUDA call cudaMemcpyAsync(...) failed: ..."
//   kvc::device::cuda::check_launch("kvc::device::cuda::topk");  // after a <<<...>>> launch

#include "kvc/version.hpp"

#include "kvc/device/cuda/detail/prelude.cuh"

#include <cuda_runtime_api.h>

#include <string>
#include <string_view>

#include "kvc/core/error.hpp"

namespace kvc::device::cuda {

/// Throws kvc::cuda_error(call, "<error name>: <error string>") unless `status` is cudaSuccess.
inline void check(cudaError_t status, std::string_view call) {
  if (status == cudaSuccess) return;
  std::string what = cudaGetErrorName(status);
  what.append(": ").append(cudaGetErrorString(status));
  throw kvc::cuda_error(call, what);
}

/// A kernel launch reports its configuration errors through cudaGetLastError; `kernel` names it.
inline void check_launch(std::string_view kernel) {
  check(cudaGetLastError(), std::string("launch of ").append(kernel));
}

}  // namespace kvc::device::cuda

/// Runs a CUDA runtime call and throws kvc::cuda_error with the call's text if it fails.
#define KVC_CUDA_CHECK(call) ::kvc::device::cuda::check((call), #call)
