#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/policy/lorc.hpp"

namespace {

using kvc::project::weight_shape;

// A layer weight with a decaying spectrum plus noise: W = Σ_j 2^{-j·decay} p_j q_j^T + noise·G.
std::vector<float> decaying_weight(const weight_shape& s, double decay, double noise, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const std::size_t n = s.columns(), k = std::min(s.d_model, n);
  std::vector<double> w(s.d_model * n, 0.0), p(s.d_model), q(n);
  for (std::size_t j = 0; j < k; ++j) {
    for (auto& x : p) x = normal(rng);
    for (auto& x : q) x = normal(rng);
    const double scale = std::pow(2.0, -decay * static_cast<double>(j));
    for (std::size_t a = 0; a < s.d_model; ++a)
      for (std::size_t b = 0; b < n; ++b) w[a * n + b] += scale * p[a] * q[b];
  }
  for (auto& x : w) x += noise * normal(rng);
  return std::vector<float>(w.begin(), w.end());
}

}  // namespace

TEST_CASE("policy::lorc: projectors per layer, monotone ranks, exact overall ratio") {
  const weight_shape s{.d_model = 32, .kv_heads = 2, .head_dim = 8};  // GQA-style 16 columns
  const std::size_t L = 6;
  std::vector<std::vector<float>> keys, values;
  for (std::size_t l = 0; l < L; ++l) {
    keys.push_back(decaying_weight(s, 0.2 + 0.05 * static_cast<double>(l), 0.01, 10 + l));
    values.push_back(decaying_weight(s, 0.1, 0.05, 50 + l));
  }
  std::vector<kvc::policy::lorc::layer_weights<float>> layers;
  for (std::size_t l = 0; l < L; ++l) layers.push_back({keys[l], values[l]});

  const auto model = kvc::policy::lorc{}(layers, s, kvc::budget::ratio{0.5});
  REQUIRE(model.keys.size() == L);
  REQUIRE(model.values.size() == L);
  for (const auto& ranks : {model.key_ranks(), model.value_ranks()}) {
    CHECK(std::accumulate(ranks.begin(), ranks.end(), std::size_t{0}) == L * 8);  // 0.5 · 6 · 16
    for (std::size_t l = 1; l < L; ++l) CHECK(ranks[l] <= ranks[l - 1]);
    CHECK(ranks.front() > ranks.back());
    for (std::size_t r : ranks) CHECK(r >= 4);  // r_min = 0.25 · 16
  }
  CHECK(model.kept_fraction() == doctest::Approx(0.5));
  for (std::size_t l = 0; l < L; ++l) {
    CHECK(model.key_condition[l] >= 1.0);
    CHECK(model.keys[l].input_dim() == 32);
    CHECK(model.keys[l].output_dim() == 16);
    // The projector's factors are the layer's own: σ of the key weight equal a fresh SVD's.
    const auto d = kvc::project::jacobi_svd{}(keys[l], 32, 16);
    CHECK(model.keys[l].singular_values()[0] == doctest::Approx(d.singular_values[0]));
    CHECK(model.key_condition[l] == doctest::Approx(d.condition_number()));
  }
  // Deterministic.
  const auto again = kvc::policy::lorc{}(layers, s, kvc::budget::ratio{0.5});
  CHECK(again.key_ranks() == model.key_ranks());
  CHECK(std::vector<float>(again.keys[2].up().begin(), again.keys[2].up().end()) ==
        std::vector<float>(model.keys[2].up().begin(), model.keys[2].up().end()));
}

TEST_CASE("policy::lorc: bad input throws kvc::error") {
  const weight_shape s{.d_model = 8, .kv_heads = 1, .head_dim = 4};
  const std::vector<float> w = decaying_weight(s, 0.3, 0.01, 1), short_w(31, 1.0f), zero(32, 0.0f);
  using weights = kvc::policy::lorc::layer_weights<float>;
  const kvc::policy::lorc lorc{};
  CHECK_THROWS_AS((void)lorc(std::vector<weights>{}, s, kvc::budget::ratio{0.5}), kvc::error);
  CHECK_THROWS_AS((void)lorc(std::vector<weights>{{w, short_w}}, s, kvc::budget::ratio{0.5}), kvc::error);
  CHECK_THROWS_AS((void)lorc(std::vector<weights>{{w, w}}, {.d_model = 8, .kv_heads = 0, .head_dim = 4}, kvc::budget::ratio{0.5}),
                  kvc::error);
  CHECK_THROWS_AS((void)lorc(std::vector<weights>{{w, w}}, s, kvc::budget::ratio{0.0}), kvc::error);
  // A rank-deficient weight has no finite condition number.
  CHECK_THROWS_AS((void)lorc(std::vector<weights>{{w, w}, {zero, w}}, s, kvc::budget::ratio{0.5}), kvc::error);
}

TEST_CASE("policy::lorc::rebuild: at full rank the cache is x W_k and x W_v, rotated keys, every token kept") {
  const weight_shape s{.d_model = 12, .kv_heads = 2, .head_dim = 4};
  std::vector<std::vector<float>> w{decaying_weight(s, 0.3, 0.01, 3), decaying_weight(s, 0.2, 0.02, 4)};
  const std::vector<kvc::policy::lorc::layer_weights<float>> layers{{w[0], w[1]}};
  const kvc::policy::lorc p{.schedule = {.min_rank_fraction = 1.0, .max_rank_fraction = 1.0}};
  const auto model = p(layers, s, kvc::budget::ratio{1.0});
  const std::size_t rows = 5, cols = s.columns();
  std::vector<float> x(rows * s.d_model);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.7f * static_cast<float>(i));
  std::size_t rotated = 0;
  const auto c = p.rebuild(model, 0, x, rows, s,
                           [&](std::span<float> k, std::size_t heads, std::size_t d, std::span<const std::int64_t> pos) {
                             CHECK(heads == 2);
                             CHECK(d == 4);
                             CHECK(pos.size() == rows);
                             for (auto& v : k) v = -v;  // a visible stand-in for RoPE
                             ++rotated;
                           });
  CHECK(rotated == 1);
  REQUIRE(c.heads() == 2);
  for (std::size_t h = 0; h < 2; ++h) {
    REQUIRE(c.kept(h) == rows);
    for (std::size_t t = 0; t < rows; ++t) {
      CHECK(c.positions(h)[t] == static_cast<std::int64_t>(t));
      for (std::size_t j = 0; j < 4; ++j) {
        double k = 0.0, v = 0.0;  // x W by hand
        for (std::size_t a = 0; a < s.d_model; ++a) {
          k += double(x[t * s.d_model + a]) * w[0][a * cols + h * 4 + j];
          v += double(x[t * s.d_model + a]) * w[1][a * cols + h * 4 + j];
        }
        CHECK(c.keys(h)(0, t, j) == doctest::Approx(-k).epsilon(1e-4));
        CHECK(c.values(h)(0, t, j) == doctest::Approx(v).epsilon(1e-4));
      }
    }
  }
  CHECK_THROWS_AS((void)p.rebuild(model, 1, x, rows, s, [](auto&&...) {}), kvc::error);
  CHECK_THROWS_AS((void)p.rebuild(model, 0, std::span<const float>(x).first(7), rows, s, [](auto&&...) {}), kvc::error);
}

TEST_CASE("policy::lorc::factorize: one factorisation serves every budget, as the weights would") {
  const weight_shape s{.d_model = 24, .kv_heads = 2, .head_dim = 6};
  const std::size_t L = 4;
  std::vector<std::vector<float>> keys, values;
  for (std::size_t l = 0; l < L; ++l) {
    keys.push_back(decaying_weight(s, 0.3 + 0.1 * static_cast<double>(l), 0.01, 70 + l));
    values.push_back(decaying_weight(s, 0.15, 0.05, 90 + l));
  }
  std::vector<kvc::policy::lorc::layer_weights<float>> layers;
  for (std::size_t l = 0; l < L; ++l) layers.push_back({keys[l], values[l]});
  const kvc::policy::lorc lorc{};
  const auto f = lorc.factorize(layers, s);
  REQUIRE(f.keys.size() == L);
  REQUIRE(f.values.size() == L);
  std::vector<float> x(5 * s.d_model);
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  for (double kept : {0.3, 0.5, 0.75, 1.0}) {
    const auto direct = lorc(layers, s, kvc::budget::ratio{kept});
    const auto reused = lorc(f, kvc::budget::ratio{kept});
    CHECK(reused.key_ranks() == direct.key_ranks());
    CHECK(reused.value_ranks() == direct.value_ranks());
    CHECK(reused.key_condition == direct.key_condition);
    for (std::size_t l = 0; l < L; ++l) {
      const auto& pd = direct.keys[l];
      const auto& pr = reused.keys[l];
      std::vector<float> ld(5 * pd.rank()), lr(5 * pr.rank());
      pd.compress(x, 5, ld);
      pr.compress(x, 5, lr);
      CHECK(ld == lr);  // the same SVD, bit for bit
    }
  }
  CHECK_THROWS_AS((void)lorc(f, kvc::budget::ratio{0.0}), kvc::error);
  CHECK_THROWS_AS((void)lorc(kvc::policy::lorc::factors{}, kvc::budget::ratio{0.5}), kvc::error);
}

TEST_CASE("policy::lorc with scale_by_inputs truncates what the inputs use least") {
  // W = diag(2, 1) ([d_model 2, one kv head of dim 2]); half the rank is 1. Alone, the weight keeps
  // its larger direction: Ŵ = diag(2, 0), so x = (1, 1) gives k̂ = (2, 0). With input RMS
  // s = (0.1, 10), diag(s) W = diag(0.2, 10) keeps the second direction:
  // Ŵ = diag(1/s) · diag(0, 10) = diag(0, 1), and k̂ = (0, 1).
  const weight_shape s{.d_model = 2, .kv_heads = 1, .head_dim = 2};
  const std::vector<float> w{2, 0, 0, 1}, rms{0.1f, 10.0f}, x{1, 1};
  const auto project = [&](const kvc::policy::lorc& p, std::span<const float> r) {
    const std::vector<kvc::policy::lorc::layer_weights<float>> layers{{w, w, r}};
    const auto model = p(layers, s, kvc::budget::ratio{0.5});
    REQUIRE(model.keys[0].rank() == 1);
    std::vector<float> c(1), y(2);
    model.keys[0].compress(x, 1, c);
    model.keys[0].reconstruct(c, 1, y);
    return y;
  };
  const auto alone = project({}, {});
  CHECK(alone[0] == doctest::Approx(2.0));
  CHECK(alone[1] == doctest::Approx(0.0).epsilon(1e-6));
  const auto scaled = project({.scale_by_inputs = true}, rms);
  CHECK(scaled[0] == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(scaled[1] == doctest::Approx(1.0));
  // The RMS is ignored without the option, and equal RMS values change nothing.
  CHECK(project({}, rms) == alone);
  const std::vector<float> flat{3.0f, 3.0f};
  const auto same = project({.scale_by_inputs = true}, flat);
  CHECK(same[0] == doctest::Approx(alone[0]));
  CHECK(same[1] == doctest::Approx(alone[1]).epsilon(1e-6));
}

TEST_CASE("policy::lorc with scale_by_inputs: missing or bad RMS values throw kvc::error") {
  const weight_shape s{.d_model = 2, .kv_heads = 1, .head_dim = 2};
  const std::vector<float> w{2, 0, 0, 1};
  const kvc::policy::lorc p{.scale_by_inputs = true};
  const auto message = [&](std::vector<float> r) {
    const std::vector<kvc::policy::lorc::layer_weights<float>> layers{{w, w, r}};
    try {
      (void)p.factorize(layers, s);
    } catch (const kvc::error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(message({}).find("layers[0].input_rms.size()") != std::string::npos);
  CHECK(message({1.0f}).find("layers[0].input_rms.size()") != std::string::npos);
  CHECK(message({1.0f, 0.0f}).find("layers[0].input_rms[1]") != std::string::npos);
  CHECK(message({-1.0f, 1.0f}).find("layers[0].input_rms[0]") != std::string::npos);
  CHECK(message({1.0f, std::nanf("")}).find("layers[0].input_rms[1]") != std::string::npos);
  CHECK(message({1.0f, 2.0f}).empty());
}
