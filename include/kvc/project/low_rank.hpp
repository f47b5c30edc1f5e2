#pragma once
// LoRC's projector (Zhang et al. 2024, §3): truncated SVD of a key or value projection
// weight W [d_model, kv_heads · head_dim] (K = X W),
//     W ≈ U_r Σ_r V_r^T,
// so a token's cache entry is the rank-r latent c = x (U_r Σ_r) instead of k = x W, and
// k ≈ c V_r^T. The up-projection V_r^T can instead be absorbed: into each query (keys, only
// without RoPE: the rotation sits between W and the dot product) or into the output
// projection (values). One latent serves all kv-heads of the layer, so MHA and GQA are the
// same code; the cache per token shrinks from kv_heads · head_dim to r. docs/lorc.md

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/concepts.hpp"
#include "kvc/core/error.hpp"
#include "kvc/project/svd.hpp"

namespace kvc::project {

/// Shape of a K or V projection weight, stored row-major as [d_model, kv_heads * head_dim]
/// (the transpose of a PyTorch Linear's `weight`).
struct weight_shape {
  std::size_t d_model = 0;
  std::size_t kv_heads = 0;
  std::size_t head_dim = 0;
  [[nodiscard]] std::size_t columns() const noexcept { return kv_heads * head_dim; }
};

class low_rank_projector {
 public:
  low_rank_projector() = default;

  /// The rank-`rank` projector of the weight whose decomposition is `w` (shape `shape`). With
  /// `input_scale` (d_model positive factors s), `w` decomposes diag(s) W rather than W, and the
  /// projector is that of diag(1/s) (diag(s) W)_r: its down matrix is diag(1/s) U_r Σ_r.
  [[nodiscard]] static low_rank_projector from_svd(const svd_result& w, weight_shape shape, std::size_t rank,
                                                   std::span<const double> input_scale = {}) {
    require_shape(shape);
    kvc::detail::require(input_scale.empty() || input_scale.size() == shape.d_model, "input_scale.size()",
                         "0 or d_model = " + std::to_string(shape.d_model), input_scale.size());
    kvc::detail::require(w.rows == shape.d_model && w.cols == shape.columns(), "svd shape",
                         "[d_model, kv_heads * head_dim] = " + dims(shape.d_model, shape.columns()),
                         dims(w.rows, w.cols));
    kvc::detail::require(rank >= 1 && rank <= w.size(), "rank",
                         "in [1, min(d_model, kv_heads * head_dim)] = [1, " + std::to_string(w.size()) + "]", rank);
    low_rank_projector p;
    p.shape_ = shape;
    p.rank_ = rank;
    p.singular_values_ = w.singular_values;
    const std::size_t n = shape.columns();
    p.down_.resize(shape.d_model * rank);
    p.up_.resize(rank * n);
    for (std::size_t i = 0; i < shape.d_model; ++i)
      for (std::size_t k = 0; k < rank; ++k)
        p.down_[i * rank + k] = static_cast<float>(w.u(i, k) * w.singular_values[k] /
                                                   (input_scale.empty() ? 1.0 : input_scale[i]));
    for (std::size_t k = 0; k < rank; ++k)
      for (std::size_t j = 0; j < n; ++j) p.up_[k * n + j] = static_cast<float>(w.v(j, k));
    return p;
  }

  /// Decomposes `w` (row-major [d_model, kv_heads * head_dim]) and keeps rank `rank`.
  template <class T>
  [[nodiscard]] static low_rank_projector from_weight(std::span<const T> w, weight_shape shape, std::size_t rank,
                                                      const jacobi_svd& decompose = {}) {
    require_shape(shape);
    kvc::detail::require(w.size() == shape.d_model * shape.columns(), "weight size",
                         "d_model * kv_heads * head_dim = " + std::to_string(shape.d_model * shape.columns()), w.size());
    kvc::detail::require(rank >= 1 && rank <= std::min(shape.d_model, shape.columns()), "rank",
                         "in [1, min(d_model, kv_heads * head_dim)]", rank);
    return from_svd(decompose(w, shape.d_model, shape.columns()), shape, rank);
  }

  [[nodiscard]] std::size_t rank() const noexcept { return rank_; }
  [[nodiscard]] std::size_t input_dim() const noexcept { return shape_.d_model; }
  [[nodiscard]] std::size_t output_dim() const noexcept { return shape_.columns(); }
  [[nodiscard]] const weight_shape& shape() const noexcept { return shape_; }

  /// U_r Σ_r, row-major [d_model, rank]: the down-projection that makes the latent.
  [[nodiscard]] std::span<const float> down() const noexcept { return down_; }
  /// V_r^T, row-major [rank, kv_heads * head_dim]: the up-projection back to keys / values.
  [[nodiscard]] std::span<const float> up() const noexcept { return up_; }
  /// All singular values of W, descending (not only the kept ones).
  [[nodiscard]] std::span<const double> singular_values() const noexcept { return singular_values_; }

  /// ||W − U_r Σ_r V_r^T||_F = sqrt(Σ_{j ≥ r} σ_j²) (Eckart–Young), and relative to ||W||_F.
  [[nodiscard]] double truncation_error() const {
    double sq = 0.0;
    for (std::size_t j = rank_; j < singular_values_.size(); ++j) sq += singular_values_[j] * singular_values_[j];
    return std::sqrt(sq);
  }
  [[nodiscard]] double relative_truncation_error() const {
    double sq = 0.0;
    for (double s : singular_values_) sq += s * s;
    return sq > 0.0 ? truncation_error() / std::sqrt(sq) : 0.0;
  }

  /// C = X (U_r Σ_r): x is [rows, d_model], c is [rows, rank] (row-major). The cached latent.
  void compress(std::span<const float> x, std::size_t rows, std::span<float> c) const {
    require_built();
    require_size(x.size(), rows * input_dim(), "x", "rows * input_dim()");
    require_size(c.size(), rows * rank_, "c", "rows * rank()");
    multiply(x, rows, input_dim(), down_, rank_, c);
  }

  /// K̂ = C V_r^T: c is [rows, rank], y is [rows, kv_heads * head_dim] (row-major).
  void reconstruct(std::span<const float> c, std::size_t rows, std::span<float> y) const {
    require_built();
    require_size(c.size(), rows * rank_, "c", "rows * rank()");
    require_size(y.size(), rows * output_dim(), "y", "rows * output_dim()");
    multiply(c, rows, rank_, up_, output_dim(), y);
  }

  /// Key up-projection absorbed into the queries: q'_h[k] = Σ_c V_r^T[k, g·d + c] q_h[c] for
  /// query head h of kv-head g = h / (q_heads / kv_heads), so that
  /// q'_h · c_t = q_h · k̂_{t,g}. q is [rows, q_heads * head_dim], q_latent [rows, q_heads * rank].
  /// Exact only where nothing acts on k between W and the dot product, i.e. without RoPE.
  void absorb_into_queries(std::span<const float> q, std::size_t rows, std::size_t q_heads,
                           std::span<float> q_latent) const {
    require_built();
    require_group(q_heads);
    const std::size_t d = shape_.head_dim, group = q_heads / shape_.kv_heads, n = output_dim();
    require_size(q.size(), rows * q_heads * d, "q", "rows * q_heads * head_dim");
    require_size(q_latent.size(), rows * q_heads * rank_, "q_latent", "rows * q_heads * rank()");
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t h = 0; h < q_heads; ++h) {
        const std::size_t g = h / group;
        for (std::size_t k = 0; k < rank_; ++k) {
          double acc = 0.0;
          for (std::size_t c = 0; c < d; ++c)
            acc += static_cast<double>(up_[k * n + g * d + c]) * static_cast<double>(q[(i * q_heads + h) * d + c]);
          q_latent[(i * q_heads + h) * rank_ + k] = static_cast<float>(acc);
        }
      }
  }

  /// Value up-projection absorbed into the output projection: W_o [q_heads * head_dim, out_dim]
  /// (o = concat_h(o_h) W_o) becomes W_o' [q_heads * rank, out_dim] with
  /// W_o'[h·r + k, :] = Σ_c V_r^T[k, g·d + c] W_o[h·d + c, :], so that attention can sum the
  /// latents, ĉ_h = Σ_t a_{h,t} c_t, and o = concat_h(ĉ_h) W_o' equals the output over V̂ = C V_r^T.
  void absorb_into_output(std::span<const float> w_o, std::size_t q_heads, std::size_t out_dim,
                          std::span<float> w_o_latent) const {
    require_built();
    require_group(q_heads);
    kvc::detail::require(out_dim >= 1, "out_dim", "at least 1", out_dim);
    const std::size_t d = shape_.head_dim, group = q_heads / shape_.kv_heads, n = output_dim();
    require_size(w_o.size(), q_heads * d * out_dim, "w_o", "q_heads * head_dim * out_dim");
    require_size(w_o_latent.size(), q_heads * rank_ * out_dim, "w_o_latent", "q_heads * rank() * out_dim");
    for (std::size_t h = 0; h < q_heads; ++h) {
      const std::size_t g = h / group;
      for (std::size_t k = 0; k < rank_; ++k)
        for (std::size_t j = 0; j < out_dim; ++j) {
          double acc = 0.0;
          for (std::size_t c = 0; c < d; ++c)
            acc += static_cast<double>(up_[k * n + g * d + c]) * static_cast<double>(w_o[(h * d + c) * out_dim + j]);
          w_o_latent[(h * rank_ + k) * out_dim + j] = static_cast<float>(acc);
        }
    }
  }

 private:
  static std::string dims(std::size_t a, std::size_t b) { return std::to_string(a) + " x " + std::to_string(b); }

  static void require_shape(const weight_shape& s) {
    kvc::detail::require(s.d_model >= 1, "weight_shape.d_model", "at least 1", s.d_model);
    kvc::detail::require(s.kv_heads >= 1, "weight_shape.kv_heads", "at least 1", s.kv_heads);
    kvc::detail::require(s.head_dim >= 1, "weight_shape.head_dim", "at least 1", s.head_dim);
  }
  void require_built() const {
    kvc::detail::require(rank_ >= 1, "projector", "one built by from_svd or from_weight", "a default-constructed one");
  }
  void require_group(std::size_t q_heads) const {
    kvc::detail::require(q_heads >= 1 && q_heads % shape_.kv_heads == 0, "q_heads",
                         "a positive multiple of kv_heads (" + std::to_string(shape_.kv_heads) + ")", q_heads);
  }
  static void require_size(std::size_t actual, std::size_t expected, const char* name, const char* formula) {
    kvc::detail::require(actual == expected, std::string(name) + ".size()",
                         std::string(formula) + " = " + std::to_string(expected), actual);
  }

  // out[rows, n] = a[rows, inner] · b[inner, n], accumulated in double.
  static void multiply(std::span<const float> a, std::size_t rows, std::size_t inner, std::span<const float> b,
                       std::size_t n, std::span<float> out) {
    std::vector<double> acc(n);
    for (std::size_t i = 0; i < rows; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (std::size_t k = 0; k < inner; ++k) {
        const double aik = a[i * inner + k];
        for (std::size_t j = 0; j < n; ++j) acc[j] += aik * static_cast<double>(b[k * n + j]);
      }
      for (std::size_t j = 0; j < n; ++j) out[i * n + j] = static_cast<float>(acc[j]);
    }
  }

  weight_shape shape_{};
  std::size_t rank_ = 0;
  std::vector<float> down_, up_;
  std::vector<double> singular_values_;
};

static_assert(kvc::projector<low_rank_projector>);

}  // namespace kvc::project
