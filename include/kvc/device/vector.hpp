#pragma once
// kvc::device::vector<T, System>: a Thrust vector whose memory `System` reads and writes.
// The build's device system gets thrust::device_vector; the CPP (and, with OpenMP, the OMP)
// system also works in any build, so a CUDA program can still run the device path on the host.

#include "kvc/version.hpp"

#include <cstddef>
#include <type_traits>

#include <thrust/device_vector.h>
#include <thrust/system/cpp/vector.h>
#if defined(_OPENMP)
#include <thrust/system/omp/vector.h>
#endif

namespace kvc::device {

namespace detail {
template <class T, class System>
struct vector_for {
  static_assert(std::is_same_v<System, thrust::device_system_tag>,
                "kvc::device::vector: System must be thrust::cpp::tag, thrust::omp::tag (with OpenMP) or the "
                "build's thrust::device_system_tag");
  using type = thrust::device_vector<T>;
};
template <class T>
struct vector_for<T, thrust::cpp::tag> {
  using type = std::conditional_t<std::is_same_v<thrust::cpp::tag, thrust::device_system_tag>,
                                  thrust::device_vector<T>, thrust::cpp::vector<T>>;
};
#if defined(_OPENMP)
template <class T>
struct vector_for<T, thrust::omp::tag> {
  using type = std::conditional_t<std::is_same_v<thrust::omp::tag, thrust::device_system_tag>,
                                  thrust::device_vector<T>, thrust::omp::vector<T>>;
};
#endif
}  // namespace detail

template <class T, class System>
using vector = typename detail::vector_for<T, System>::type;

namespace detail {
/// Does System run on the CPU (Thrust's CPP system, or OMP when OpenMP is on)? Such systems get
/// coarser work items (a row, a head) where CUDA wants one element per thread.
template <class System>
inline constexpr bool host_system_v = std::is_same_v<System, thrust::cpp::tag>
#if defined(_OPENMP)
                                      || std::is_same_v<System, thrust::omp::tag>
#endif
    ;
}  // namespace detail

namespace detail {
/// An element count as an iterator step: Thrust's iterators (counting_iterator<std::size_t>
/// among them) advance by a signed difference_type, and kvc's counts are std::size_t.
[[nodiscard]] constexpr std::ptrdiff_t steps(std::size_t n) noexcept { return static_cast<std::ptrdiff_t>(n); }
}  // namespace detail

/// The raw pointer behind a device vector, for the functors (they index it themselves).
template <class Vector>
auto raw(Vector& v) {
  return thrust::raw_pointer_cast(v.data());
}

}  // namespace kvc::device
