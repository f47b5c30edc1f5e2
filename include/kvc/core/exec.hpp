#pragma once
// Execution tags: the one place that decides the backend (DESIGN.md §4).

#include "kvc/version.hpp"

namespace kvc::exec {

/// The serial host reference.
struct host_t {
  explicit constexpr host_t() = default;
};
inline constexpr host_t host{};

/// Thrust implementations on `System` (thrust::cpp::tag, thrust::omp::tag, thrust::cuda::tag ...);
/// defined in kvc/device/. Components without a device version fail to compile under this tag.
template <class System>
struct device {
  using system = System;
};

}  // namespace kvc::exec
