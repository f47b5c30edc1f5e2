#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "kvc/core/concepts.hpp"
#include "kvc/core/error.hpp"
#include "kvc/project/low_rank.hpp"

namespace {

using kvc::project::low_rank_projector;
using kvc::project::weight_shape;

std::vector<float> gaussian(std::size_t count, std::uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(count);
  for (auto& x : v) x = normal(rng);
  return v;
}

// Row-major product [m, k] · [k, n] in double.
std::vector<double> matmul(const std::vector<float>& a, const std::vector<float>& b, std::size_t m, std::size_t k,
                           std::size_t n) {
  std::vector<double> out(m * n, 0.0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t t = 0; t < k; ++t)
      for (std::size_t j = 0; j < n; ++j) out[i * n + j] += static_cast<double>(a[i * k + t]) * b[t * n + j];
  return out;
}

// W = P Q with P [d_model, r], Q [r, cols]: exactly rank r (up to float rounding of W).
std::vector<float> rank_r_weight(const weight_shape& s, std::size_t r, std::uint64_t seed) {
  const std::vector<double> w = matmul(gaussian(s.d_model * r, seed), gaussian(r * s.columns(), seed + 1), s.d_model, r,
                                       s.columns());
  return std::vector<float>(w.begin(), w.end());
}

double relative_error(std::span<const float> got, const std::vector<double>& want) {
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / den);
}

}  // namespace

static_assert(kvc::projector<low_rank_projector>);

TEST_CASE("low_rank_projector: hand example") {
  // W = [[3, 0], [0, 1]] (d_model 2, one head of dim 2), rank 1: U_1 Σ_1 = (3, 0)^T, V_1^T = (1, 0).
  // x = (1, 2): c = x (U_1 Σ_1) = 3, k̂ = c V_1^T = (3, 0); the dropped part is σ_2 = 1.
  const std::vector<float> w = {3, 0, 0, 1};
  const auto p = low_rank_projector::from_weight(std::span<const float>(w), {.d_model = 2, .kv_heads = 1, .head_dim = 2}, 1);
  CHECK(p.rank() == 1);
  CHECK(p.input_dim() == 2);
  CHECK(p.output_dim() == 2);
  const std::vector<float> x = {1, 2};
  std::vector<float> c(1), y(2);
  p.compress(x, 1, c);
  CHECK(c[0] == doctest::Approx(3.0f));
  p.reconstruct(c, 1, y);
  CHECK(y[0] == doctest::Approx(3.0f));
  CHECK(y[1] == doctest::Approx(0.0f));
  CHECK(p.truncation_error() == doctest::Approx(1.0));
  CHECK(p.relative_truncation_error() == doctest::Approx(1.0 / std::sqrt(10.0)));
}

TEST_CASE("low_rank_projector: a rank-r weight is reproduced exactly at rank r") {
  const weight_shape s{.d_model = 24, .kv_heads = 2, .head_dim = 8};
  const std::size_t r = 5, rows = 9;
  const std::vector<float> w = rank_r_weight(s, r, 3);
  const auto p = low_rank_projector::from_weight(std::span<const float>(w), s, r);
  CHECK(p.relative_truncation_error() < 1e-6);  // σ_{r+1..} are float rounding of W
  const std::vector<float> x = gaussian(rows * s.d_model, 9);
  std::vector<float> c(rows * r), y(rows * s.columns());
  p.compress(x, rows, c);
  p.reconstruct(c, rows, y);
  CHECK(relative_error(y, matmul(x, w, rows, s.d_model, s.columns())) < 1e-5);
  // One rank lower loses a whole direction.
  const auto q = low_rank_projector::from_weight(std::span<const float>(w), s, r - 1);
  std::vector<float> c2(rows * (r - 1));
  q.compress(x, rows, c2);
  q.reconstruct(c2, rows, y);
  CHECK(relative_error(y, matmul(x, w, rows, s.d_model, s.columns())) > 1e-2);
}

TEST_CASE("low_rank_projector: full rank is lossless, and the weight error is the spectrum's tail") {
  const weight_shape s{.d_model = 16, .kv_heads = 1, .head_dim = 8};
  const std::vector<float> w = gaussian(s.d_model * s.columns(), 21);
  const kvc::project::svd_result d = kvc::project::jacobi_svd{}(w, s.d_model, s.columns());
  const auto full = low_rank_projector::from_svd(d, s, 8);
  CHECK(full.truncation_error() == 0.0);
  const std::vector<float> x = gaussian(4 * s.d_model, 22);
  std::vector<float> c(4 * 8), y(4 * 8);
  full.compress(x, 4, c);
  full.reconstruct(c, 4, y);
  CHECK(relative_error(y, matmul(x, w, 4, s.d_model, 8)) < 1e-5);
  for (std::size_t r = 1; r <= 8; ++r) {
    // W_r = down · up; ||W − W_r||_F must equal sqrt(Σ_{j>=r} σ_j²).
    const auto p = low_rank_projector::from_svd(d, s, r);
    const std::vector<float> down(p.down().begin(), p.down().end()), up(p.up().begin(), p.up().end());
    const std::vector<double> wr = matmul(down, up, s.d_model, r, 8);
    double sq = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) sq += (w[i] - wr[i]) * (w[i] - wr[i]);
    CHECK(std::sqrt(sq) == doctest::Approx(p.truncation_error()).epsilon(1e-4));
    CHECK(p.truncation_error() == doctest::Approx(d.tail_norm(r)));
  }
}

TEST_CASE("low_rank_projector: absorbed query scores equal scores against reconstructed keys (GQA)") {
  for (std::size_t group : {1u, 4u}) {
    CAPTURE(group);
    const weight_shape s{.d_model = 32, .kv_heads = 2, .head_dim = 8};
    const std::size_t r = 6, tokens = 11, queries = 3, q_heads = s.kv_heads * group, d = s.head_dim;
    const std::vector<float> w = gaussian(s.d_model * s.columns(), 31);
    const auto p = low_rank_projector::from_weight(std::span<const float>(w), s, r);
    const std::vector<float> x = gaussian(tokens * s.d_model, 32), q = gaussian(queries * q_heads * d, 33);
    std::vector<float> c(tokens * r), k(tokens * s.columns()), q_latent(queries * q_heads * r);
    p.compress(x, tokens, c);
    p.reconstruct(c, tokens, k);
    p.absorb_into_queries(q, queries, q_heads, q_latent);
    double worst = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < queries; ++i)
      for (std::size_t h = 0; h < q_heads; ++h)
        for (std::size_t t = 0; t < tokens; ++t) {
          double full = 0.0, absorbed = 0.0;  // q_h · k̂_{t, h / group}  vs  q'_h · c_t
          for (std::size_t e = 0; e < d; ++e)
            full += static_cast<double>(q[(i * q_heads + h) * d + e]) * k[t * s.columns() + (h / group) * d + e];
          for (std::size_t e = 0; e < r; ++e)
            absorbed += static_cast<double>(q_latent[(i * q_heads + h) * r + e]) * c[t * r + e];
          worst = std::max(worst, std::abs(full - absorbed));
          scale = std::max(scale, std::abs(full));
        }
    CHECK(worst <= 1e-5 * scale);
  }
}

TEST_CASE("low_rank_projector: value up-projection absorbed into W_o gives the same attention output") {
  const weight_shape s{.d_model = 20, .kv_heads = 2, .head_dim = 4};
  const std::size_t r = 5, tokens = 7, group = 2, q_heads = s.kv_heads * group, d = s.head_dim, out_dim = 20;
  const std::vector<float> w = gaussian(s.d_model * s.columns(), 41);
  const auto p = low_rank_projector::from_weight(std::span<const float>(w), s, r);
  const std::vector<float> x = gaussian(tokens * s.d_model, 42), w_o = gaussian(q_heads * d * out_dim, 43);
  std::vector<float> c(tokens * r), v(tokens * s.columns()), w_o_latent(q_heads * r * out_dim);
  p.compress(x, tokens, c);
  p.reconstruct(c, tokens, v);
  p.absorb_into_output(w_o, q_heads, out_dim, w_o_latent);
  // Any attention weights a[h][t] will do; softmax-like positive rows summing to 1.
  std::vector<double> a(q_heads * tokens);
  for (std::size_t h = 0; h < q_heads; ++h)
    for (std::size_t t = 0; t < tokens; ++t) a[h * tokens + t] = (1.0 + static_cast<double>((h + 2 * t) % 5)) / 20.0;
  std::vector<double> direct(out_dim, 0.0), latent(out_dim, 0.0);
  for (std::size_t h = 0; h < q_heads; ++h) {
    const std::size_t g = h / group;
    for (std::size_t e = 0; e < d; ++e) {  // o_h[e] = Σ_t a v̂_{t,g}[e], then o_h W_o,h
      double o = 0.0;
      for (std::size_t t = 0; t < tokens; ++t) o += a[h * tokens + t] * v[t * s.columns() + g * d + e];
      for (std::size_t j = 0; j < out_dim; ++j) direct[j] += o * w_o[(h * d + e) * out_dim + j];
    }
    for (std::size_t e = 0; e < r; ++e) {  // ĉ_h[e] = Σ_t a c_t[e], then ĉ_h W_o',h
      double ch = 0.0;
      for (std::size_t t = 0; t < tokens; ++t) ch += a[h * tokens + t] * c[t * r + e];
      for (std::size_t j = 0; j < out_dim; ++j) latent[j] += ch * w_o_latent[(h * r + e) * out_dim + j];
    }
  }
  double num = 0.0, den = 0.0;
  for (std::size_t j = 0; j < out_dim; ++j) {
    num += (direct[j] - latent[j]) * (direct[j] - latent[j]);
    den += direct[j] * direct[j];
  }
  CHECK(std::sqrt(num / den) < 1e-5);
}

TEST_CASE("low_rank_projector: bad input throws kvc::error and leaves buffers unchanged") {
  const weight_shape s{.d_model = 6, .kv_heads = 2, .head_dim = 2};
  const std::vector<float> w = gaussian(6 * 4, 51);
  const std::span<const float> ws(w);
  CHECK_THROWS_AS((void)low_rank_projector::from_weight(ws, s, 0), kvc::error);
  CHECK_THROWS_AS((void)low_rank_projector::from_weight(ws, s, 5), kvc::error);  // min(6, 4) = 4
  CHECK_THROWS_AS((void)low_rank_projector::from_weight(ws.first(20), s, 2), kvc::error);
  CHECK_THROWS_AS((void)low_rank_projector::from_weight(ws, {.d_model = 6, .kv_heads = 0, .head_dim = 2}, 2), kvc::error);
  const kvc::project::svd_result d = kvc::project::jacobi_svd{}(w, 6, 4);
  CHECK_THROWS_AS((void)low_rank_projector::from_svd(d, {.d_model = 4, .kv_heads = 3, .head_dim = 2}, 2), kvc::error);

  const auto p = low_rank_projector::from_weight(ws, s, 2);
  const std::vector<float> x(3 * 6, 1.0f);
  std::vector<float> c(3 * 2, -7.0f), y(3 * 4, -7.0f);
  CHECK_THROWS_AS((void)p.compress(std::span<const float>(x).first(17), 3, c), kvc::error);
  CHECK_THROWS_AS((void)p.compress(x, 3, std::span<float>(c).first(5)), kvc::error);
  CHECK(std::all_of(c.begin(), c.end(), [](float v) { return v == -7.0f; }));
  CHECK_THROWS_AS((void)p.reconstruct(c, 4, y), kvc::error);
  CHECK(std::all_of(y.begin(), y.end(), [](float v) { return v == -7.0f; }));
  std::vector<float> q(3 * 3 * 2, 1.0f), ql(3 * 3 * 2, -7.0f);
  CHECK_THROWS_AS((void)p.absorb_into_queries(q, 3, 3, ql), kvc::error);  // 3 q-heads over 2 kv-heads
  CHECK(std::all_of(ql.begin(), ql.end(), [](float v) { return v == -7.0f; }));
  std::vector<float> wo(4 * 2 * 5, 1.0f), wol(4 * 2 * 5, -7.0f);
  CHECK_THROWS_AS((void)p.absorb_into_output(std::span<const float>(wo).first(39), 4, 5, wol), kvc::error);
  CHECK(std::all_of(wol.begin(), wol.end(), [](float v) { return v == -7.0f; }));
  CHECK_THROWS_AS((void)p.absorb_into_output(wo, 4, 0, wol), kvc::error);

  const low_rank_projector empty;
  CHECK_THROWS_AS((void)empty.compress(x, 0, c), kvc::error);
}
