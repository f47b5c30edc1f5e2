#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kvc/core/budget.hpp"
#include "kvc/core/error.hpp"
#include "kvc/project/rank_schedule.hpp"

namespace {
using kvc::budget::ratio;
using kvc::project::progressive_rank;
using ranks = std::vector<std::size_t>;
const double e = std::exp(1.0);
}  // namespace

TEST_CASE("progressive_rank: lower end pinned at r_min, by hand") {
  // κ = e everywhere: c = (4, 3, 2, 1), s = (1, 2/3, 1/3, 0), Σs = 2. full_rank 12, ratio 0.5:
  // total 24, r_min = 3, r_max = 12. With b = 12, a = (24 − 24) / 2 = 0 < 3, so a = 3 and
  // b = 3 + (24 − 12) / 2 = 9: r = 3 + 6 s = (9, 7, 5, 3).
  const std::vector<double> kappa(4, e);
  CHECK(progressive_rank{}(kappa, 12, ratio{0.5}) == ranks{9, 7, 5, 3});
  const std::vector<double> c = progressive_rank{}.cumulative_condition(kappa);
  CHECK(c[0] == doctest::Approx(4.0));
  CHECK(c[3] == doctest::Approx(1.0));
}

TEST_CASE("progressive_rank: upper end pinned at r_max, by hand") {
  // Same κ, ratio 0.8: total round(38.4) = 38. b = 12 gives a = (38 − 24) / 2 = 7 >= 3:
  // exact r = 7 + 5 s = (12, 10.33, 8.67, 7); floors (12, 10, 8, 7) sum to 37, the one left
  // goes to the largest fraction (layer 2): (12, 10, 9, 7).
  const std::vector<double> kappa(4, e);
  CHECK(progressive_rank{}(kappa, 12, ratio{0.8}) == ranks{12, 10, 9, 7});
}

TEST_CASE("progressive_rank: equal cumulative conditions give uniform ranks") {
  // κ = 1 (orthogonal weights): c = 0 everywhere, every layer gets total / L.
  const std::vector<double> ones(3, 1.0);
  CHECK(progressive_rank{}(ones, 10, ratio{0.5}) == ranks{5, 5, 5});
  // total round(0.45 * 30) = 14 (13.5 rounds away from zero): 4.67 each, the two extra to the shallow layers.
  CHECK(progressive_rank{}(ones, 10, ratio{0.45}) == ranks{5, 5, 4});
  // A single layer keeps exactly the ratio.
  CHECK(progressive_rank{}(std::vector<double>{7.0}, 64, ratio{0.25}) == ranks{16});
}

TEST_CASE("progressive_rank: one ill-conditioned deep layer protects everything above it") {
  // κ = (1, 1, e^5, 1): c = (5, 5, 5, 0), s = (1, 1, 1, 0). full_rank 8, ratio 0.5: total 16,
  // r_min 2. b = 8: a = (16 − 24) / 1 < 2, so a = 2, b = 2 + (16 − 8) / 3 = 4.67: exact
  // (4.67, 4.67, 4.67, 2); floors sum to 14, the two left go to layers 0 and 1 (ties shallow first).
  const std::vector<double> kappa = {1.0, 1.0, std::exp(5.0), 1.0};
  CHECK(progressive_rank{}(kappa, 8, ratio{0.5}) == ranks{5, 5, 4, 2});
}

TEST_CASE("progressive_rank: sum cumulation") {
  // κ = (2, 3, 4): c = (9, 7, 4), s = (1, 0.6, 0), Σs = 1.6. full_rank 10, ratio 0.5, fractions
  // [0, 1]: total 15, r_min 1 (never 0), r_max 10. b = 10: a = (15 − 16) / 1.4 < 1, so a = 1,
  // b = 1 + 12 / 1.6 = 8.5: exact (8.5, 5.5, 1); floors 14, the one left to layer 0 (tie, shallower).
  const progressive_rank p{.min_rank_fraction = 0.0, .max_rank_fraction = 1.0, .accumulate = kvc::project::cumulation::sum};
  const std::vector<double> kappa = {2.0, 3.0, 4.0};
  const std::vector<double> c = p.cumulative_condition(kappa);
  CHECK(c == std::vector<double>{9.0, 7.0, 4.0});
  CHECK(p(kappa, 10, ratio{0.5}) == ranks{9, 5, 1});
}

TEST_CASE("progressive_rank: random condition numbers, monotone, exact total, within bounds, deterministic") {
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> log_kappa(0.0, 6.0), unit(0.0, 1.0);
  for (std::size_t L : {1u, 2u, 7u, 32u, 80u})
    for (std::size_t D : {8u, 64u, 128u, 1024u})
      for (int trial = 0; trial < 10; ++trial) {
        std::vector<double> kappa(L);
        for (auto& k : kappa) k = std::exp(log_kappa(rng));
        const progressive_rank p{.min_rank_fraction = 0.1 * unit(rng), .max_rank_fraction = 0.7 + 0.3 * unit(rng)};
        const double r_min = std::max<double>(1, std::llround(p.min_rank_fraction * static_cast<double>(D)));
        const double r_max = std::llround(p.max_rank_fraction * static_cast<double>(D));
        // A ratio strictly inside [r_min / D, r_max / D].
        const double value = (r_min + (r_max - r_min) * (0.05 + 0.9 * unit(rng))) / static_cast<double>(D);
        CAPTURE(L);
        CAPTURE(D);
        CAPTURE(value);
        const ranks r = p(kappa, D, ratio{value});
        REQUIRE(r.size() == L);
        const auto total = std::accumulate(r.begin(), r.end(), std::size_t{0});
        CHECK(total == static_cast<std::size_t>(std::llround(value * static_cast<double>(L * D))));
        for (std::size_t l = 0; l < L; ++l) {
          CHECK(static_cast<double>(r[l]) >= r_min);
          CHECK(static_cast<double>(r[l]) <= r_max);
          if (l > 0) CHECK(r[l] <= r[l - 1]);
        }
        CHECK(p(kappa, D, ratio{value}) == r);
      }
}

TEST_CASE("progressive_rank: bad input throws kvc::error") {
  const progressive_rank p{};
  const std::vector<double> good = {3.0, 2.0};
  CHECK_THROWS_AS((void)p(std::vector<double>{}, 8, ratio{0.5}), kvc::error);
  CHECK_THROWS_AS((void)p(std::vector<double>{0.5, 2.0}, 8, ratio{0.5}), kvc::error);  // κ < 1 is not a condition number
  CHECK_THROWS_AS((void)p(std::vector<double>{std::numeric_limits<double>::infinity(), 2.0}, 8, ratio{0.5}), kvc::error);
  CHECK_THROWS_AS((void)p(std::vector<double>{std::nan(""), 2.0}, 8, ratio{0.5}), kvc::error);
  CHECK_THROWS_AS((void)p(good, 0, ratio{0.5}), kvc::error);
  CHECK_THROWS_AS((void)p(good, 8, ratio{0.0}), kvc::error);
  CHECK_THROWS_AS((void)p(good, 8, ratio{1.5}), kvc::error);
  CHECK_THROWS_AS((void)p(good, 8, ratio{0.1}), kvc::error);  // total 2 < L * r_min = 4
  CHECK_THROWS_AS((void)(progressive_rank{.max_rank_fraction = 0.5})(good, 8, ratio{0.75}), kvc::error);  // above L * r_max
  CHECK_THROWS_AS((void)(progressive_rank{.min_rank_fraction = 0.6, .max_rank_fraction = 0.5})(good, 8, ratio{0.5}), kvc::error);
  CHECK_THROWS_AS((void)(progressive_rank{.min_rank_fraction = -0.1})(good, 8, ratio{0.5}), kvc::error);
}
