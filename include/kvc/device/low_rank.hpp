#pragma once
// Device version of kvc::project::low_rank_projector's runtime half (LoRC, Zhang et al. 2024):
//   compress     C = X (U_r Σ_r)     [rows, d_model] -> [rows, rank]
//   reconstruct  K̂ = C V_r^T         [rows, rank]    -> [rows, kv_heads * head_dim]
// One output element per thread, its inner product summed in double in the reference's order
// and rounded to float once. The factors come from the host projector (the SVD is an offline
// step and stays on the host); the constructor uploads them to System memory. docs/lorc.md

#include "kvc/version.hpp"

#include <cstddef>
#include <span>
#include <string>

#include <thrust/copy.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "kvc/core/element.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/device/vector.hpp"
#include "kvc/project/low_rank.hpp"

namespace kvc::device {

namespace detail {
/// out[i, j] = Σ_k a[i, k] · b[k, j] in double, k ascending (low_rank_projector's multiply).
template <class T>
struct row_times_matrix {
  const T* a;
  const float* b;
  std::size_t inner, n;
  KVC_HOST_DEVICE float operator()(std::size_t o) const {
    const std::size_t i = o / n, j = o % n;
    double acc = 0.0;
    for (std::size_t k = 0; k < inner; ++k)
      acc += static_cast<double>(to_float(a[i * inner + k])) * static_cast<double>(b[k * n + j]);
    return static_cast<float>(acc);
  }
};
}  // namespace detail

template <class System>
class low_rank_projector {
 public:
  using system = System;

  /// Uploads the factors of a projector built by from_svd / from_weight.
  explicit low_rank_projector(const project::low_rank_projector& host)
      : shape_(host.shape()), rank_(host.rank()), down_(host.down().size()), up_(host.up().size()) {
    kvc::detail::require(host.rank() >= 1, "projector", "one built by from_svd or from_weight",
                         "a default-constructed one");
    thrust::copy(host.down().begin(), host.down().end(), down_.begin());
    thrust::copy(host.up().begin(), host.up().end(), up_.begin());
  }

  [[nodiscard]] std::size_t rank() const noexcept { return rank_; }
  [[nodiscard]] std::size_t input_dim() const noexcept { return shape_.d_model; }
  [[nodiscard]] std::size_t output_dim() const noexcept { return shape_.columns(); }
  [[nodiscard]] const project::weight_shape& shape() const noexcept { return shape_; }
  /// U_r Σ_r [d_model, rank] and V_r^T [rank, kv_heads * head_dim], row-major, in System memory.
  [[nodiscard]] const vector<float, System>& down() const noexcept { return down_; }
  [[nodiscard]] const vector<float, System>& up() const noexcept { return up_; }

  /// C = X (U_r Σ_r). `x` ([rows, d_model], any kvc element type) and `c` ([rows, rank]) point to
  /// System memory; sizes are checked on the host first, with the host projector's messages.
  template <class T>
  void compress(exec::device<System>, std::span<const T> x, std::size_t rows, std::span<float> c) const {
    require_size(x.size(), rows * input_dim(), "x", "rows * input_dim()");
    require_size(c.size(), rows * rank_, "c", "rows * rank()");
    multiply(x.data(), rows, input_dim(), thrust::raw_pointer_cast(down_.data()), rank_, c.data());
  }

  /// K̂ = C V_r^T. `c` ([rows, rank], any kvc element type) and `y` ([rows, kv_heads * head_dim])
  /// point to System memory.
  template <class T>
  void reconstruct(exec::device<System>, std::span<const T> c, std::size_t rows, std::span<float> y) const {
    require_size(c.size(), rows * rank_, "c", "rows * rank()");
    require_size(y.size(), rows * output_dim(), "y", "rows * output_dim()");
    multiply(c.data(), rows, rank_, thrust::raw_pointer_cast(up_.data()), output_dim(), y.data());
  }

 private:
  static void require_size(std::size_t actual, std::size_t expected, const char* name, const char* formula) {
    kvc::detail::require(actual == expected, std::string(name) + ".size()",
                         std::string(formula) + " = " + std::to_string(expected), actual);
  }

  template <class T>
  static void multiply(const T* a, std::size_t rows, std::size_t inner, const float* b, std::size_t n, float* out) {
    const auto index = thrust::counting_iterator<std::size_t>(0);
    thrust::transform(System{}, index, index + kvc::device::detail::steps(rows * n), out, detail::row_times_matrix<T>{a, b, inner, n});
  }

  project::weight_shape shape_{};
  std::size_t rank_ = 0;
  vector<float, System> down_, up_;
};

}  // namespace kvc::device
