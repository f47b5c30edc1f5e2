#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstddef>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/project/svd.hpp"

namespace {

using kvc::project::svd_result;

std::vector<double> random_matrix(std::size_t m, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> a(m * n);
  for (auto& x : a) x = normal(rng);
  return a;
}

// max |X^T X − I| over the k orthonormal columns of X [rows, k].
double orthogonality_defect(const std::vector<double>& X, std::size_t rows, std::size_t k) {
  double worst = 0.0;
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      double dot = 0.0;
      for (std::size_t r = 0; r < rows; ++r) dot += X[r * k + i] * X[r * k + j];
      worst = std::max(worst, std::abs(dot - (i == j ? 1.0 : 0.0)));
    }
  return worst;
}

// A_r = Σ_{j<r} σ_j u_j v_j^T.
std::vector<double> truncated(const svd_result& s, std::size_t r) {
  std::vector<double> out(s.rows * s.cols, 0.0);
  for (std::size_t i = 0; i < s.rows; ++i)
    for (std::size_t j = 0; j < s.cols; ++j)
      for (std::size_t k = 0; k < r; ++k) out[i * s.cols + j] += s.u(i, k) * s.singular_values[k] * s.v(j, k);
  return out;
}

double frobenius_distance(const std::vector<double>& a, const std::vector<double>& b) {
  double sq = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sq += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(sq);
}

}  // namespace

TEST_CASE("svd: diagonal matrix, by hand") {
  // A = [[3, 0], [0, -2], [0, 0]]: σ = (3, 2); u_0 = e_0, v_0 = e_0; u_1 = e_1 (its largest
  // entry made positive), so v_1 = −e_1 because A(−e_1) = (0, 2, 0) = 2 e_1.
  const std::vector<double> a = {3, 0, 0, -2, 0, 0};
  const svd_result s = kvc::project::jacobi_svd{}(a, 3, 2);
  REQUIRE(s.size() == 2);
  CHECK(s.singular_values[0] == doctest::Approx(3.0));
  CHECK(s.singular_values[1] == doctest::Approx(2.0));
  CHECK(s.u(0, 0) == doctest::Approx(1.0));
  CHECK(s.u(1, 1) == doctest::Approx(1.0));
  CHECK(s.u(2, 0) == doctest::Approx(0.0));
  CHECK(s.v(0, 0) == doctest::Approx(1.0));
  CHECK(s.v(1, 1) == doctest::Approx(-1.0));
  CHECK(s.condition_number() == doctest::Approx(1.5));
}

TEST_CASE("svd: 2x2, by hand") {
  // A = [[3, 0], [4, 5]]: A^T A = [[25, 20], [20, 25]], eigenvalues 45 and 5, so σ = (3√5, √5);
  // v_0 = (1, 1)/√2, u_0 = A v_0 / σ_0 = (1, 3)/√10; v_1 = (1, −1)/√2, u_1 = (3, −1)/√10.
  const std::vector<double> a = {3, 0, 4, 5};
  const svd_result s = kvc::project::jacobi_svd{}(a, 2, 2);
  const double r2 = std::sqrt(2.0), r10 = std::sqrt(10.0);
  CHECK(s.singular_values[0] == doctest::Approx(3.0 * std::sqrt(5.0)).epsilon(1e-12));
  CHECK(s.singular_values[1] == doctest::Approx(std::sqrt(5.0)).epsilon(1e-12));
  CHECK(s.v(0, 0) == doctest::Approx(1 / r2));
  CHECK(s.v(1, 0) == doctest::Approx(1 / r2));
  CHECK(s.u(0, 0) == doctest::Approx(1 / r10));
  CHECK(s.u(1, 0) == doctest::Approx(3 / r10));
  CHECK(s.v(0, 1) == doctest::Approx(1 / r2));
  CHECK(s.v(1, 1) == doctest::Approx(-1 / r2));
  CHECK(s.u(0, 1) == doctest::Approx(3 / r10));
  CHECK(s.u(1, 1) == doctest::Approx(-1 / r10));
  CHECK(s.condition_number() == doctest::Approx(3.0));
  // ||A − A_1||_F = σ_1 = √5.
  CHECK(frobenius_distance(a, truncated(s, 1)) == doctest::Approx(std::sqrt(5.0)));
  CHECK(s.tail_norm(1) == doctest::Approx(std::sqrt(5.0)));
}

TEST_CASE("svd: a wide matrix goes through its transpose") {
  // A^T of the case above: same σ, U and V exchanged (signs fixed by u's largest entry).
  const std::vector<double> a = {3, 4, 0, 5};
  const svd_result s = kvc::project::jacobi_svd{}(a, 2, 2);
  CHECK(s.singular_values[0] == doctest::Approx(3.0 * std::sqrt(5.0)));
  const std::vector<double> wide = random_matrix(3, 8, 11);
  const svd_result w = kvc::project::jacobi_svd{}(wide, 3, 8);
  REQUIRE(w.size() == 3);
  CHECK(w.U.size() == 3 * 3);
  CHECK(w.V.size() == 8 * 3);
  CHECK(orthogonality_defect(w.U, 3, 3) < 1e-13);
  CHECK(orthogonality_defect(w.V, 8, 3) < 1e-13);
  CHECK(frobenius_distance(wide, truncated(w, 3)) < 1e-12);
}

TEST_CASE("svd: rank-deficient matrix keeps orthonormal factors") {
  // A = [[1, 2], [2, 4]] = (1, 2)^T (1, 2): σ = (5, 0), u_0 = v_0 = (1, 2)/√5.
  const std::vector<double> a = {1, 2, 2, 4};
  const svd_result s = kvc::project::jacobi_svd{}(a, 2, 2);
  CHECK(s.singular_values[0] == doctest::Approx(5.0));
  CHECK(s.singular_values[1] == doctest::Approx(0.0));
  CHECK(s.u(0, 0) == doctest::Approx(1 / std::sqrt(5.0)));
  CHECK(s.u(1, 0) == doctest::Approx(2 / std::sqrt(5.0)));
  CHECK(orthogonality_defect(s.U, 2, 2) < 1e-14);
  CHECK(orthogonality_defect(s.V, 2, 2) < 1e-14);
  CHECK(s.condition_number() == std::numeric_limits<double>::infinity());
  const std::vector<double> zero(4 * 3, 0.0);
  const svd_result z = kvc::project::jacobi_svd{}(zero, 4, 3);
  CHECK(z.singular_values[0] == 0.0);
  CHECK(orthogonality_defect(z.U, 4, 3) < 1e-14);
  CHECK(orthogonality_defect(z.V, 3, 3) < 1e-14);
}

TEST_CASE("svd: random matrices, orthogonality, order, reconstruction, tail norms") {
  struct shape {
    std::size_t m, n;
    std::uint64_t seed;
  };
  for (const shape& c : std::vector<shape>{{12, 7, 1}, {7, 12, 2}, {33, 33, 3}, {64, 16, 4}, {1, 5, 5}, {5, 1, 6}}) {
    const std::size_t m = c.m, n = c.n;
    CAPTURE(m);
    CAPTURE(n);
    const std::vector<double> a = random_matrix(m, n, c.seed);
    const svd_result s = kvc::project::jacobi_svd{}(a, m, n);
    const std::size_t k = std::min(m, n);
    REQUIRE(s.size() == k);
    CHECK(orthogonality_defect(s.U, m, k) < 1e-12);
    CHECK(orthogonality_defect(s.V, n, k) < 1e-12);
    double frob_sq = 0.0, sigma_sq = 0.0;
    for (double x : a) frob_sq += x * x;
    for (std::size_t j = 0; j < k; ++j) {
      CHECK(s.singular_values[j] >= 0.0);
      if (j > 0) CHECK(s.singular_values[j] <= s.singular_values[j - 1]);
      sigma_sq += s.singular_values[j] * s.singular_values[j];
    }
    CHECK(sigma_sq == doctest::Approx(frob_sq).epsilon(1e-12));
    for (std::size_t r = 0; r <= k; ++r)  // ||A − A_r||_F equals the tail of the spectrum
      CHECK(frobenius_distance(a, truncated(s, r)) == doctest::Approx(s.tail_norm(r)).epsilon(1e-9));
    // Deterministic: the same input gives the same bits.
    const svd_result again = kvc::project::jacobi_svd{}(a, m, n);
    CHECK(again.U == s.U);
    CHECK(again.V == s.V);
    CHECK(again.singular_values == s.singular_values);
  }
}

TEST_CASE("svd: Eckart–Young, no rank-r matrix beats the truncation") {
  // Candidates: A projected onto random r-dimensional column spaces, (Q Q^T) A, and random
  // perturbations of the optimal factors. None may come closer to A than σ_{r+1..}.
  const std::size_t m = 20, n = 9, r = 3;
  const std::vector<double> a = random_matrix(m, n, 7);
  const svd_result s = kvc::project::jacobi_svd{}(a, m, n);
  const double best = s.tail_norm(r);
  CHECK(frobenius_distance(a, truncated(s, r)) == doctest::Approx(best).epsilon(1e-10));
  for (std::uint64_t trial = 0; trial < 20; ++trial) {
    const std::vector<double> g = random_matrix(m, r, 100 + trial);
    const svd_result q = kvc::project::jacobi_svd{}(g, m, r);  // Q = orthonormal basis of span(G)
    std::vector<double> proj(m * n, 0.0);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t k = 0; k < r; ++k) {
          double qa = 0.0;  // (Q^T A)[k, j]
          for (std::size_t t = 0; t < m; ++t) qa += q.u(t, k) * a[t * n + j];
          proj[i * n + j] += q.u(i, k) * qa;
        }
    CHECK(frobenius_distance(a, proj) > best);
    svd_result nudged = s;
    for (std::size_t i = 0; i < nudged.U.size(); ++i) nudged.U[i] += 1e-3 * g[i % g.size()];
    CHECK(frobenius_distance(a, truncated(nudged, r)) > best);
  }
}

TEST_CASE("svd: float and bf16 inputs") {
  const std::vector<float> a = {3, 0, 4, 5};
  const svd_result s = kvc::project::svd(std::span<const float>(a), 2, 2);
  CHECK(s.singular_values[1] == doctest::Approx(std::sqrt(5.0)));
  const std::vector<kvc::bf16> b = {kvc::bf16(3.0f), kvc::bf16(0.0f), kvc::bf16(4.0f), kvc::bf16(5.0f)};
  const svd_result t = kvc::project::jacobi_svd{}(b, 2, 2);
  CHECK(t.singular_values[0] == doctest::Approx(3.0 * std::sqrt(5.0)));
}

TEST_CASE("svd: bad input throws kvc::error") {
  const std::vector<double> a = {1, 2, 3, 4};
  kvc::project::jacobi_svd svd;
  CHECK_THROWS_AS((void)svd(a, 3, 2), kvc::error);
  CHECK_THROWS_AS((void)svd(a, 0, 4), kvc::error);
  const std::vector<double> nan = {1, std::nan(""), 3, 4};
  CHECK_THROWS_AS((void)svd(nan, 2, 2), kvc::error);
  const std::vector<double> inf = {1, std::numeric_limits<double>::infinity(), 3, 4};
  CHECK_THROWS_AS((void)svd(inf, 2, 2), kvc::error);
  CHECK_THROWS_AS((void)(kvc::project::jacobi_svd{.tolerance = 0.0})(a, 2, 2), kvc::error);
  CHECK_THROWS_AS((void)(kvc::project::jacobi_svd{.max_sweeps = 0})(a, 2, 2), kvc::error);
}
