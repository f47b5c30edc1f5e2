// Row arithmetic of the host systems (kvc/device/detail/row_math.hpp): exact sums on integer
// rows computed by hand, the documented summation order bit for bit on random rows, and every
// element type and awkward length.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "kvc/device/detail/row_math.hpp"

using kvc::device::detail::dot_rows;
using kvc::device::detail::sum_of_squares;

namespace {

/// The order row_math.hpp documents: lane i mod 8, lanes combined pairwise as stated.
double documented_dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s[8] = {};
  for (std::size_t i = 0; i < a.size(); ++i) s[i % 8] += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

std::vector<float> random_row(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

bool same_bits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

}  // namespace

TEST_CASE("dot_rows and sum_of_squares: integer rows, exact by hand") {
  // a = 1..n, b = 2, 2, ...: Σ 2i = n(n+1); Σ i² = n(n+1)(2n+1)/6. Every partial sum is an
  // integer below 2^53, so any summation order gives these exactly.
  for (std::size_t n : {1u, 2u, 7u, 8u, 9u, 31u, 32u, 33u, 70u, 128u, 257u}) {
    std::vector<float> a(n), b(n, 2.0f);
    for (std::size_t i = 0; i < n; ++i) a[i] = static_cast<float>(i + 1);
    const double nn = static_cast<double>(n);
    CAPTURE(n);
    CHECK(dot_rows(a.data(), b.data(), n) == nn * (nn + 1.0));
    CHECK(sum_of_squares(a.data(), n) == nn * (nn + 1.0) * (2.0 * nn + 1.0) / 6.0);
  }
  // Signs cancel: (1, -1, 1, -1, ...) · (1, 1, ...) is 0 for even n and 1 for odd n.
  std::vector<float> alt(9), ones(9, 1.0f);
  for (std::size_t i = 0; i < alt.size(); ++i) alt[i] = i % 2 == 0 ? 1.0f : -1.0f;
  CHECK(dot_rows(alt.data(), ones.data(), 8) == 0.0);
  CHECK(dot_rows(alt.data(), ones.data(), 9) == 1.0);
  // An empty row sums to zero.
  CHECK(dot_rows(alt.data(), ones.data(), 0) == 0.0);
  CHECK(sum_of_squares(alt.data(), 0) == 0.0);
}

TEST_CASE("dot_rows and sum_of_squares: the documented summation order, bit for bit") {
  for (std::size_t n : {1u, 5u, 8u, 13u, 32u, 45u, 64u, 70u, 128u, 130u}) {
    const auto a = random_row(n, 11u + static_cast<unsigned>(n)), b = random_row(n, 97u + static_cast<unsigned>(n));
    CAPTURE(n);
    CHECK(same_bits(dot_rows(a.data(), b.data(), n), documented_dot(a, b)));
    CHECK(same_bits(sum_of_squares(a.data(), n), documented_dot(a, a)));
    // Σ a² through either entry is the same number.
    CHECK(same_bits(sum_of_squares(a.data(), n), dot_rows(a.data(), a.data(), n)));
  }
}

TEST_CASE("dot_rows and sum_of_squares: bf16 and fp16 rows are widened exactly") {
  for (std::size_t n : {1u, 7u, 8u, 33u, 70u, 128u}) {
    const auto a = random_row(n, 5u), b = random_row(n, 6u);
    std::vector<kvc::bf16> ab(n), bb(n);
    std::vector<float> af(n), bf(n);  // the bf16 values, as floats
    for (std::size_t i = 0; i < n; ++i) {
      ab[i] = kvc::bf16(a[i]);
      bb[i] = kvc::bf16(b[i]);
      af[i] = static_cast<float>(ab[i]);
      bf[i] = static_cast<float>(bb[i]);
    }
    CAPTURE(n);
    CHECK(same_bits(dot_rows(ab.data(), bb.data(), n), documented_dot(af, bf)));
    CHECK(same_bits(dot_rows(ab.data(), bf.data(), n), documented_dot(af, bf)));  // mixed types
    CHECK(same_bits(sum_of_squares(ab.data(), n), documented_dot(af, af)));
#ifdef KVC_HAS_FLOAT16
    std::vector<_Float16> ah(n);
    std::vector<float> ahf(n);
    for (std::size_t i = 0; i < n; ++i) {
      ah[i] = static_cast<_Float16>(a[i]);
      ahf[i] = static_cast<float>(ah[i]);
    }
    CHECK(same_bits(sum_of_squares(ah.data(), n), documented_dot(ahf, ahf)));
    CHECK(same_bits(dot_rows(ah.data(), bf.data(), n), documented_dot(ahf, bf)));
    // Two fp16 rows: the F16C kernel where the processor has it, the same order and result.
    std::vector<_Float16> bh(n);
    std::vector<float> bhf(n);
    for (std::size_t i = 0; i < n; ++i) {
      bh[i] = static_cast<_Float16>(b[i]);
      bhf[i] = static_cast<float>(bh[i]);
    }
    CHECK(same_bits(dot_rows(ah.data(), bh.data(), n), documented_dot(ahf, bhf)));
#endif
  }
}
