#pragma once
// Row arithmetic of the host systems (CPP, OMP): Σ a·b and Σ a² over contiguous rows of any kvc
// element type, in double with eight partial sums. Rows are widened to float 128 elements at a
// time (kvc::to_float_n; float rows are read in place) and the products summed in packed
// doubles: SSE2 on x86-64 (every x86-64 target has it), the same arithmetic lane by lane
// elsewhere and in nvcc's host pass, with the same result bit for bit. The dot product of two
// _Float16 rows takes an F16C + AVX kernel where g++ finds those at run time
// (kvc::detail::has_f16c), with the same result again.
//
// Summation order: element i goes to lane i mod 8 (a row whose length is not a multiple of 8 is
// padded with zeros, which leave every sum unchanged); the lanes are combined as
// ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)). The host references sum in one chain; the
// two differ only in double rounding.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "kvc/core/element.hpp"


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

#ifdef KVC_DETAIL_F16C_AT_RUN_TIME
/// lanes 0-3 += a[0..4) · b[0..4), lanes 4-7 += a[4..8) · b[4..8), from eight halves each.
[[gnu::target("avx,f16c")]] inline void add_half_products(const _Float16* a, const _Float16* b, __m256d& lo,
                                                          __m256d& hi) {
  __m128i ha, hb;
  std::memcpy(&ha, a, sizeof ha);
  std::memcpy(&hb, b, sizeof hb);
  const __m256 x = _mm256_cvtph_ps(ha), y = _mm256_cvtph_ps(hb);
  lo = _mm256_add_pd(lo, _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)),
                                       _mm256_cvtps_pd(_mm256_castps256_ps128(y))));
  hi = _mm256_add_pd(hi, _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)),
                                       _mm256_cvtps_pd(_mm256_extractf128_ps(y, 1))));
}

/// Two _Float16 rows on a processor with F16C and AVX, chosen at run time by g++ builds that do
/// not target it: eight halves widened per instruction and the products summed in 4-wide
/// doubles, lanes and order as lane_sums (no FMA: each product is rounded before it is added),
/// so the result is the same bit for bit. (Σ a² of one fp16 row measured no faster this way
/// than through to_float_n's F16C widening and lane_sums, so sum_of_squares keeps that path.)
[[gnu::target("avx,f16c")]] inline double half_rows_f16c(const _Float16* a, const _Float16* b, std::size_t n) {
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();  // lanes 0-3 and 4-7
  std::size_t i = 0;
  for (; i + row_lanes <= n; i += row_lanes) add_half_products(a + i, b + i, lo, hi);
  if (i < n) {  // the last n mod 8 elements, zero-padded
    _Float16 ta[row_lanes] = {}, tb[row_lanes] = {};
    std::memcpy(ta, a + i, (n - i) * sizeof(_Float16));
    std::memcpy(tb, b + i, (n - i) * sizeof(_Float16));
    add_half_products(ta, tb, lo, hi);
  }
  double s[4];
  _mm256_storeu_pd(s, _mm256_add_pd(lo, hi));  // s0 + s4, s1 + s5, s2 + s6, s3 + s7
  return (s[0] + s[1]) + (s[2] + s[3]);
}
#endif

/// The SSE2 / lane-by-lane path: Σ a[i]·b[i], or Σ a[i]² when Square (b unused, each element
/// widened once).
template <bool Square, class A, class B>
double lane_dot(const A* a, const B* b, std::size_t n) {
  lane_sums sums;
  for (std::size_t i = 0; i < n; i += row_block) {
    const std::size_t m = n - i < row_block ? n - i : row_block;
    float bx[row_block], by[row_block];
    const float* x = block_floats(a + i, m, bx);
    const float* y = Square ? x : block_floats(b + i, m, by);
    for (std::size_t j = 0; j < m; j += row_lanes) sums.add(x + j, y + j);
  }
  return sums.total();
}

/// Σ a[i]·b[i] for i < n, in double.
template <class A, class B>
double dot_rows(const A* a, const B* b, std::size_t n) {
#ifdef KVC_DETAIL_F16C_AT_RUN_TIME
  if constexpr (std::is_same_v<std::remove_cv_t<A>, _Float16> && std::is_same_v<std::remove_cv_t<B>, _Float16>)
    if (kvc::detail::has_f16c()) return half_rows_f16c(a, b, n);
#endif
  return lane_dot<false>(a, b, n);
}

/// Σ a[i]² for i < n, in double (the same number as dot_rows(a, a, n)).
template <class A>
double sum_of_squares(const A* a, std::size_t n) {
  return lane_dot<true>(a, a, n);
}

}  // namespace kvc::device::detail
