#pragma once
// Row arithmetic of the host systems (CPP, OMP): Σ a·b and Σ a² over contiguous rows of any kvc
// element type, in double with eight partial sums. Rows are widened to float 128 elements at a
// time (kvc::to_float_n; float rows are read in place) and the products summed in packed
// doubles: SSE2 on x86-64 (every x86-64 target has it), the same arithmetic lane by lane
// elsewhere and in nvcc's host pass, with the same result bit for bit.
//
// Summation order: element i goes to lane i mod 8 (a row whose length is not a multiple of 8 is
// padded with zeros, which leave every sum unchanged); the lanes are combined as
// ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)). The host references sum in one chain; the
// two differ only in double rounding.

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kvc/core/element.hpp"

#if defined(__SSE2__) && !defined(__CUDACC__)
#include <emmintrin.h>
#define KVC_DETAIL_SSE2_ROWS 1
#endif

namespace kvc::device::detail {

inline constexpr std::size_t row_lanes = 8, row_block = 128;

/// Elements [0, m) of `p` (m ≤ row_block) as floats, zero-padded to a multiple of row_lanes: the
/// row itself when it holds floats and needs no padding, else widened into `buf`.
template <class T>
const float* block_floats(const T* p, std::size_t m, float (&buf)[row_block]) {
  if constexpr (std::is_same_v<std::remove_cv_t<T>, float>)
    if (m % row_lanes == 0) return p;
  to_float_n(p, m, buf);
  for (std::size_t j = m; j % row_lanes != 0; ++j) buf[j] = 0.0f;
  return buf;
}

/// Eight partial sums of products in double.
class lane_sums {
 public:
  /// Adds x[l] · y[l] to lane l, l < 8.
  void add(const float* x, const float* y) {
#ifdef KVC_DETAIL_SSE2_ROWS
    const __m128 x0 = _mm_loadu_ps(x), x1 = _mm_loadu_ps(x + 4);
    const __m128 y0 = _mm_loadu_ps(y), y1 = _mm_loadu_ps(y + 4);
    s01_ = _mm_add_pd(s01_, _mm_mul_pd(_mm_cvtps_pd(x0), _mm_cvtps_pd(y0)));
    s23_ = _mm_add_pd(s23_, _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(x0, x0)), _mm_cvtps_pd(_mm_movehl_ps(y0, y0))));
    s45_ = _mm_add_pd(s45_, _mm_mul_pd(_mm_cvtps_pd(x1), _mm_cvtps_pd(y1)));
    s67_ = _mm_add_pd(s67_, _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(x1, x1)), _mm_cvtps_pd(_mm_movehl_ps(y1, y1))));
#else
    for (std::size_t l = 0; l < row_lanes; ++l) s_[l] += static_cast<double>(x[l]) * static_cast<double>(y[l]);
#endif
  }

  /// ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)).
  double total() const {
#ifdef KVC_DETAIL_SSE2_ROWS
    double a[2], b[2];
    _mm_storeu_pd(a, _mm_add_pd(s01_, s45_));
    _mm_storeu_pd(b, _mm_add_pd(s23_, s67_));
    return (a[0] + a[1]) + (b[0] + b[1]);
#else
    return ((s_[0] + s_[4]) + (s_[1] + s_[5])) + ((s_[2] + s_[6]) + (s_[3] + s_[7]));
#endif
  }

 private:
#ifdef KVC_DETAIL_SSE2_ROWS
  __m128d s01_ = _mm_setzero_pd(), s23_ = _mm_setzero_pd(), s45_ = _mm_setzero_pd(), s67_ = _mm_setzero_pd();
#else
  double s_[row_lanes] = {};
#endif
};

/// Σ a[i]·b[i] for i < n, in double.
template <class A, class B>
double dot_rows(const A* a, const B* b, std::size_t n) {
  lane_sums sums;
  for (std::size_t i = 0; i < n; i += row_block) {
    const std::size_t m = n - i < row_block ? n - i : row_block;
    float bx[row_block], by[row_block];
    const float* x = block_floats(a + i, m, bx);
    const float* y = block_floats(b + i, m, by);
    for (std::size_t j = 0; j < m; j += row_lanes) sums.add(x + j, y + j);
  }
  return sums.total();
}

/// Σ a[i]² for i < n, in double (dot_rows(a, a, n), widening each element once).
template <class A>
double sum_of_squares(const A* a, std::size_t n) {
  lane_sums sums;
  for (std::size_t i = 0; i < n; i += row_block) {
    const std::size_t m = n - i < row_block ? n - i : row_block;
    float bx[row_block];
    const float* x = block_floats(a + i, m, bx);
    for (std::size_t j = 0; j < m; j += row_lanes) sums.add(x + j, x + j);
  }
  return sums.total();
}

}  // namespace kvc::device::detail
