#pragma once
// Thin singular value decomposition A = U Σ V^T of a row-major [m, n] matrix, by one-sided
// (Hestenes) Jacobi in double. The offline step of LoRC (docs/lorc.md): slow for large
// weights, but short, self-contained and accurate to working precision.
//
// One-sided Jacobi orthogonalises the columns of A by plane rotations applied from the right,
// A J_1 J_2 ... = B with orthogonal columns; then σ_j = ||b_j||, u_j = b_j / σ_j and
// V = J_1 J_2 .... A wide matrix (m < n) is decomposed through its transpose.

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "kvc/core/element.hpp"
#include "kvc/core/error.hpp"

namespace kvc::project {

namespace detail {
/// Reads a stored weight element as double: float/double directly, fp16/bf16 through kvc::to_float.
template <class T>
double weight_value(const T& x) {
  if constexpr (std::is_floating_point_v<T>)
    return static_cast<double>(x);
  else
    return static_cast<double>(to_float(x));
}
}  // namespace detail

/// A = U Σ V^T with k = min(m, n): U [m, k], V [n, k] (row-major, orthonormal columns),
/// singular_values [k] non-negative and descending. Each pair (u_j, v_j) is signed so that
/// the largest-magnitude entry of u_j (first on ties) is positive, so results are deterministic.
/// Singular vectors of a zero singular value are an arbitrary orthonormal completion.
struct svd_result {
  std::size_t rows = 0, cols = 0;
  std::vector<double> U, singular_values, V;

  [[nodiscard]] std::size_t size() const noexcept { return singular_values.size(); }
  [[nodiscard]] double u(std::size_t i, std::size_t j) const { return U[i * size() + j]; }
  [[nodiscard]] double v(std::size_t i, std::size_t j) const { return V[i * size() + j]; }

  /// κ = σ_max / σ_min; +∞ for a rank-deficient matrix.
  [[nodiscard]] double condition_number() const {
    const double lo = singular_values.back(), hi = singular_values.front();
    return lo > 0.0 ? hi / lo : std::numeric_limits<double>::infinity();
  }

  /// ||A − A_r||_F = sqrt(Σ_{j ≥ r} σ_j²), the error of the best rank-r approximation (Eckart–Young).
  [[nodiscard]] double tail_norm(std::size_t r) const {
    double sq = 0.0;
    for (std::size_t j = std::min(r, size()); j < size(); ++j) sq += singular_values[j] * singular_values[j];
    return std::sqrt(sq);
  }
};

struct jacobi_svd {
  /// A column pair counts as orthogonal when |a_i·a_j| <= tolerance · ||a_i|| ||a_j||.
  double tolerance = 4.0 * std::numeric_limits<double>::epsilon();
  std::size_t max_sweeps = 60;  ///< Jacobi converges quadratically; 60 is a safety net, not a budget

  /// Decomposes the row-major [rows, cols] matrix `a`.
  template <class T>
  [[nodiscard]] svd_result operator()(std::span<const T> a, std::size_t rows, std::size_t cols) const {
    kvc::detail::require(rows >= 1 && cols >= 1, "svd shape", "at least 1 x 1",
                         std::to_string(rows) + " x " + std::to_string(cols));
    kvc::detail::require(a.size() == rows * cols, "svd input size", "rows * cols = " + std::to_string(rows * cols),
                         a.size());
    kvc::detail::require(tolerance > 0.0 && tolerance < 1.0, "jacobi_svd.tolerance", "in (0, 1)", tolerance);
    kvc::detail::require(max_sweeps >= 1, "jacobi_svd.max_sweeps", "at least 1", max_sweeps);
    for (std::size_t i = 0; i < a.size(); ++i)
      kvc::detail::require(std::isfinite(detail::weight_value(a[i])), "svd input", "finite entries",
                           "a non-finite value at index " + std::to_string(i));

    // Work on a tall matrix B [m, n], m >= n: A itself, or A^T for a wide A (then U and V swap).
    // B and the rotations W are stored by column, so the sweeps read contiguous memory.
    const bool transposed = rows < cols;
    const std::size_t m = transposed ? cols : rows, n = transposed ? rows : cols;
    std::vector<double> B(m * n);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j)
        (transposed ? B[i * m + j] : B[j * m + i]) = detail::weight_value(a[i * cols + j]);
    std::vector<double> W(n * n, 0.0);  // accumulated right rotations, B = A W throughout
    for (std::size_t j = 0; j < n; ++j) W[j * n + j] = 1.0;

    orthogonalise_columns(B, m, n, W);

    // σ_j = ||b_j||; sort descending (stable: equal values keep column order).
    std::vector<double> sigma(n);
    for (std::size_t j = 0; j < n; ++j) {
      double sq = 0.0;
      for (std::size_t i = 0; i < m; ++i) sq += B[j * m + i] * B[j * m + i];
      sigma[j] = std::sqrt(sq);
    }
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return sigma[x] > sigma[y]; });

    // Left vectors of the tall problem: b_j / σ_j; columns with σ_j ≈ 0 carry no direction
    // and are completed to an orthonormal set below. Row-major from here on.
    const double negligible = sigma[order[0]] * static_cast<double>(m) * std::numeric_limits<double>::epsilon();
    std::vector<double> left(m * n, 0.0), right(n * n), s(n);
    std::vector<bool> defined(n, false);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t j = order[k];
      s[k] = sigma[j];
      for (std::size_t i = 0; i < n; ++i) right[i * n + k] = W[j * n + i];
      if (sigma[j] > negligible && sigma[j] > 0.0) {
        for (std::size_t i = 0; i < m; ++i) left[i * n + k] = B[j * m + i] / sigma[j];
        defined[k] = true;
      }
    }
    complete_orthonormal(left, m, n, defined);

    svd_result out;
    out.rows = rows;
    out.cols = cols;
    out.singular_values = std::move(s);
    out.U = transposed ? std::move(right) : std::move(left);
    out.V = transposed ? std::move(left) : std::move(right);

    // Sign convention: the largest-magnitude entry of u_j (first on ties) is positive.
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t arg = 0;
      for (std::size_t i = 1; i < rows; ++i)
        if (std::abs(out.U[i * n + k]) > std::abs(out.U[arg * n + k])) arg = i;
      if (out.U[arg * n + k] >= 0.0) continue;
      for (std::size_t i = 0; i < rows; ++i) out.U[i * n + k] = -out.U[i * n + k];
      for (std::size_t i = 0; i < cols; ++i) out.V[i * n + k] = -out.V[i * n + k];
    }
    return out;
  }

  template <class T>
  [[nodiscard]] svd_result operator()(const std::vector<T>& a, std::size_t rows, std::size_t cols) const {
    return (*this)(std::span<const T>(a), rows, cols);
  }

 private:
  // Sweeps over all column pairs (i < j) until every pair is orthogonal to `tolerance`.
  // The rotation zeroes γ = b_i·b_j of the 2x2 Gram block [[α, γ], [γ, β]] (Rutishauser's
  // stable choice of the smaller angle), and is applied to W as well. B [m, n] and W [n, n]
  // are column-major here: column j starts at j * m (resp. j * n).
  void orthogonalise_columns(std::vector<double>& B, std::size_t m, std::size_t n, std::vector<double>& W) const {
    for (std::size_t sweep = 0; sweep < max_sweeps; ++sweep) {
      bool rotated = false;
      for (std::size_t i = 0; i + 1 < n; ++i)
        for (std::size_t j = i + 1; j < n; ++j) {
          double* bi = &B[i * m];
          double* bj = &B[j * m];
          double alpha = 0.0, beta = 0.0, gamma = 0.0;
          for (std::size_t r = 0; r < m; ++r) {
            alpha += bi[r] * bi[r];
            beta += bj[r] * bj[r];
            gamma += bi[r] * bj[r];
          }
          if (gamma == 0.0 || std::abs(gamma) <= tolerance * std::sqrt(alpha * beta)) continue;
          rotated = true;
          const double zeta = (beta - alpha) / (2.0 * gamma);
          const double t = (zeta >= 0.0 ? 1.0 : -1.0) / (std::abs(zeta) + std::sqrt(1.0 + zeta * zeta));
          const double c = 1.0 / std::sqrt(1.0 + t * t), s = c * t;
          rotate(bi, bj, m, c, s);
          rotate(&W[i * n], &W[j * n], n, c, s);
        }
      if (!rotated) return;
    }
  }

  static void rotate(double* x, double* y, std::size_t len, double c, double s) {
    for (std::size_t r = 0; r < len; ++r) {
      const double xr = x[r], yr = y[r];
      x[r] = c * xr - s * yr;
      y[r] = s * xr + c * yr;
    }
  }

  // Fills the undefined columns of Q [m, n] with unit vectors orthogonal to all others: for
  // each, the standard basis vector with the largest residual after projecting out the
  // defined columns (Gram–Schmidt, twice for stability). Some e_i always keeps a residual of
  // at least (m − defined) / m, so the choice is well conditioned.
  static void complete_orthonormal(std::vector<double>& Q, std::size_t m, std::size_t n, std::vector<bool>& defined) {
    std::vector<double> x(m), best(m);
    for (std::size_t k = 0; k < n; ++k) {
      if (defined[k]) continue;
      double best_sq = -1.0;
      for (std::size_t e = 0; e < m; ++e) {
        std::fill(x.begin(), x.end(), 0.0);
        x[e] = 1.0;
        for (int pass = 0; pass < 2; ++pass)
          for (std::size_t q = 0; q < n; ++q) {
            if (!defined[q]) continue;
            double dot = 0.0;
            for (std::size_t i = 0; i < m; ++i) dot += Q[i * n + q] * x[i];
            for (std::size_t i = 0; i < m; ++i) x[i] -= dot * Q[i * n + q];
          }
        double sq = 0.0;
        for (double xi : x) sq += xi * xi;
        if (sq > best_sq) {
          best_sq = sq;
          best = x;
        }
      }
      const double norm = std::sqrt(best_sq);
      for (std::size_t i = 0; i < m; ++i) Q[i * n + k] = best[i] / norm;
      defined[k] = true;
    }
  }
};

/// Convenience: jacobi_svd{}(a, rows, cols).
template <class T>
[[nodiscard]] svd_result svd(std::span<const T> a, std::size_t rows, std::size_t cols) {
  return jacobi_svd{}(a, rows, cols);
}

}  // namespace kvc::project
