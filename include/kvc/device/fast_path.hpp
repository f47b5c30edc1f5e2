#pragma once
// The one place where a faster, system-specific implementation replaces a Thrust one: the CUDA
// headers (kvc/device/cuda/fast_paths.cuh, included by kvc/device/all.hpp under nvcc) specialise
// kvc::device::fast_path for thrust::cuda::tag and the layer types their kernels read. The
// Thrust window-attention scorer asks `try_score` first and runs itself only when that declines;
// the Thrust top-k (select::topk, and window_topk / heavy_recent through it) calls `select`
// after its own validation when fast_path<select::topk, System, score_matrix<System>> is
// available.

#include "kvc/version.hpp"

namespace kvc::device {

template <class Component, class System, class Layer>
struct fast_path {
  static constexpr bool available = false;
};

}  // namespace kvc::device
