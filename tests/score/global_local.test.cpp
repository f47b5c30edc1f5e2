// kvc::score::global_local (EMS's Global-Local score); formula in docs/ems.md.
#include <doctest/doctest.h>

#include "support/ems.hpp"

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include <kvc/core/attention.hpp>
#include <kvc/score/global_local.hpp>

namespace {

using kvc_ems_test::owned_layer;
using kvc_ems_test::random_layer;

}  // namespace

TEST_CASE("global_local: hand-computed scores with uniform attention") {
  // 4 tokens, zero keys (every visible token gets the same weight), window queries at tokens 2
  // and 3, segments {0,1} and {2,3}, λ = 1/2.
  //   query at 2: A = 1/3 on tokens 0..2; local: seg0 mass 2/3 -> 1/3 / (2 · 2/3) = 1/4 each,
  //               seg1 mass 1/3 -> 1/3 / (2 · 1/3) = 1/2 for token 2.
  //   query at 3: A = 1/4 on tokens 0..3; local: every segment mass 1/2 -> 1/4 each.
  //   s(0) = s(1) = [(1/6 + 1/8) + (1/8 + 1/8)] / 2 observers = 13/48
  //   s(2)        = [(1/6 + 1/4) + (1/8 + 1/8)] / 2 observers = 1/3
  //   s(3)        =  (1/8 + 1/8) / 1 observer                = 1/4   (the causal count cancels)
  owned_layer l{1, 4, 2, 1, 2, std::vector<float>(8, 0.0f), std::vector<float>(8, 1.0f), {1, 0, 0, 1}};
  kvc::score_matrix s(1, 4);
  kvc::score::global_local{.window = 2, .segment = 2, .global_weight = 0.5}(l.layer(), s);
  CHECK(s(0, 0) == doctest::Approx(13.0 / 48.0));
  CHECK(s(0, 1) == doctest::Approx(13.0 / 48.0));
  CHECK(s(0, 2) == doctest::Approx(1.0 / 3.0));
  CHECK(s(0, 3) == doctest::Approx(1.0 / 4.0));
}

TEST_CASE("global_local: λ = 1 is the window attention averaged over the queries that see each token") {
  const auto l = random_layer(2, 2, 37, 8, 5, 7);
  kvc::score_matrix s(2, 37);
  kvc::score::global_local{.window = 5, .segment = 4, .global_weight = 1.0}(l.layer(), s);
  const auto sum = kvc::window_attention_sum(l.layer(), 5);
  for (std::size_t h = 0; h < 2; ++h)
    for (std::size_t t = 0; t < 37; ++t) {
      const double observers = t <= 32 ? 5.0 : static_cast<double>(37 - t);  // queries at tokens 32..36
      const double mean = (sum[(2 * h) * 37 + t] + sum[(2 * h + 1) * 37 + t]) / 2.0;
      CHECK(s(h, t) == doctest::Approx(mean / observers).epsilon(1e-5));
    }
}

TEST_CASE("global_local: the local view lifts a token that dominates a far segment") {
  // One head, d = 1. Query 1.0 · keys: token 0 (sink) has a huge key, token 5 a moderate one,
  // the rest zero. Globally the sink takes almost everything; locally token 5 wins its segment.
  owned_layer l{1, 12, 1, 1, 1, std::vector<float>(12, 0.0f), std::vector<float>(12, 0.0f), {1.0f}};
  l.keys[0] = 12.0f;
  l.keys[5] = 3.0f;
  kvc::score_matrix global(1, 12), mixed(1, 12);
  kvc::score::global_local{.window = 1, .segment = 4, .global_weight = 1.0}(l.layer(), global);
  kvc::score::global_local{.window = 1, .segment = 4, .global_weight = 0.5}(l.layer(), mixed);
  CHECK(global(0, 5) < 0.01f);
  CHECK(mixed(0, 5) > 0.1f);  // ≥ 1/2 · (share of 5 in segment {4..7}) / 3 segments ≈ 0.15
  CHECK(mixed(0, 5) > mixed(0, 4));
  CHECK(mixed(0, 0) > mixed(0, 5));
}

TEST_CASE("global_local: properties on random layers") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const auto l = random_layer(3, 4, 33, 16, 7, seed);
    kvc::score_matrix a(3, 33), b(3, 33, 5.0f);
    const kvc::score::global_local scorer{.window = 7, .segment = 8};
    scorer(l.layer(), a);
    scorer(l.layer(), b);
    CHECK(a.flat().size() == b.flat().size());
    for (std::size_t i = 0; i < a.flat().size(); ++i) {
      CHECK(a.flat()[i] == b.flat()[i]);  // deterministic, and `out` fully overwritten
      CHECK(std::isfinite(a.flat()[i]));
      CHECK(a.flat()[i] >= 0.0f);
      CHECK(a.flat()[i] <= 1.0f);
    }
  }
}

TEST_CASE("global_local: bad input throws kvc::error and leaves the scores untouched") {
  const auto l = random_layer(2, 1, 9, 4, 3, 11);
  kvc::score_matrix s(2, 9, 7.0f);
  auto untouched = [&] {
    for (float x : s.flat())
      if (x != 7.0f) return false;
    return true;
  };
  CHECK_THROWS_AS(kvc::score::global_local{.segment = 0}(l.layer(), s), kvc::error);
  CHECK_THROWS_AS(kvc::score::global_local{.window = 0}(l.layer(), s), kvc::error);
  CHECK_THROWS_AS(kvc::score::global_local{.global_weight = 1.5}(l.layer(), s), kvc::error);
  CHECK_THROWS_AS(kvc::score::global_local{}(kvc::make_layer(l.layer().keys, l.layer().values), s), kvc::error);
  kvc::score_matrix wrong(2, 8, 7.0f);
  CHECK_THROWS_AS(kvc::score::global_local{}(l.layer(), wrong), kvc::error);
  CHECK(untouched());
}
