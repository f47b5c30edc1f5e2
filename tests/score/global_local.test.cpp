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
  // 4 tokens, zero keys (every visible token gets the same weight), queries at tokens 2 and 3,
  // local view = the last query, λ = 1/2.
  //   query at 2: A = 1/3 on tokens 0..2;  query at 3: A = 1/4 on tokens 0..3.
  //   global G = (7/24, 7/24, 7/24, 1/4) (means over observers: the causal count cancels),
  //          mean 9/32, so G / mean = (28/27, 28/27, 28/27, 8/9);
  //   local  L = 1/4 everywhere, L / mean = 1;
  //   s = (55/54, 55/54, 55/54, 17/18).
  owned_layer l{1, 4, 2, 1, 2, std::vector<float>(8, 0.0f), std::vector<float>(8, 1.0f), {1, 0, 0, 1}};
  kvc::score_matrix s(1, 4);
  kvc::score::global_local{.window = 1, .global_weight = 0.5}(l.layer(), s);
  CHECK(s(0, 0) == doctest::Approx(55.0 / 54.0));
  CHECK(s(0, 1) == doctest::Approx(55.0 / 54.0));
  CHECK(s(0, 2) == doctest::Approx(55.0 / 54.0));
  CHECK(s(0, 3) == doctest::Approx(17.0 / 18.0));
}

TEST_CASE("global_local: the engine's accumulated weights give the global view, over n - t observers") {
  // The same layer with layer.attention = (2, 1, 1, 0.5) summed over a 4-query prefill:
  //   G = (2/4, 1/3, 1/2, 0.5/1), mean 11/24; L / mean = 1 as above;
  //   s = 1/2 · G · 24/11 + 1/2 = (23/22, 19/22, 23/22, 23/22).
  owned_layer l{1, 4, 2, 1, 2, std::vector<float>(8, 0.0f), std::vector<float>(8, 1.0f), {1, 0, 0, 1}};
  const std::vector<float> accumulated{2.0f, 1.0f, 1.0f, 0.5f};
  auto layer = l.layer();
  layer.attention = accumulated;
  kvc::score_matrix s(1, 4);
  kvc::score::global_local{.window = 1, .global_weight = 0.5}(layer, s);
  CHECK(s(0, 0) == doctest::Approx(23.0 / 22.0));
  CHECK(s(0, 1) == doctest::Approx(19.0 / 22.0));
  CHECK(s(0, 2) == doctest::Approx(23.0 / 22.0));
  CHECK(s(0, 3) == doctest::Approx(23.0 / 22.0));
}

TEST_CASE("global_local: λ = 1 is the attention over all queries, averaged over observers, over its mean") {
  const auto l = random_layer(2, 2, 37, 8, 5, 7);
  kvc::score_matrix s(2, 37);
  kvc::score::global_local{.window = 2, .global_weight = 1.0}(l.layer(), s);
  const auto sum = kvc::window_attention_sum(l.layer(), 5);
  for (std::size_t h = 0; h < 2; ++h) {
    std::vector<double> view[2];
    double mean[2] = {0.0, 0.0};
    for (std::size_t g = 0; g < 2; ++g)
      for (std::size_t t = 0; t < 37; ++t) {
        const double observers = t <= 32 ? 5.0 : static_cast<double>(37 - t);  // queries at tokens 32..36
        view[g].push_back(sum[(2 * h + g) * 37 + t] / observers);
        mean[g] += view[g].back() / 37.0;
      }
    for (std::size_t t = 0; t < 37; ++t)
      CHECK(s(h, t) == doctest::Approx((view[0][t] / mean[0] + view[1][t] / mean[1]) / 2.0).epsilon(1e-5));
  }
}

TEST_CASE("global_local: the local view lifts what the window's queries attend") {
  // One head, d = 1, three queries at tokens 9..11. Keys: a sink at 0, token 5 moderate. The
  // last query alone (the local view) attends token 5 strongly; the two before attend nothing
  // but the sink (their query is 0 except for a sink-favouring sign).
  owned_layer l{1, 12, 1, 1, 3, std::vector<float>(12, 0.0f), std::vector<float>(12, 0.0f), {0.0f, 0.0f, 1.0f}};
  l.keys[0] = 1.0f;
  l.keys[5] = 6.0f;
  kvc::score_matrix global(1, 12), mixed(1, 12);
  kvc::score::global_local{.window = 1, .global_weight = 1.0}(l.layer(), global);
  kvc::score::global_local{.window = 1, .global_weight = 0.0}(l.layer(), mixed);
  CHECK(mixed(0, 5) > global(0, 5));
  CHECK(mixed(0, 5) > mixed(0, 4));
}

TEST_CASE("global_local: properties on random layers") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const auto l = random_layer(3, 4, 33, 16, 7, seed);
    kvc::score_matrix a(3, 33), b(3, 33, 5.0f);
    const kvc::score::global_local scorer{.window = 3};
    scorer(l.layer(), a);
    scorer(l.layer(), b);
    CHECK(a.flat().size() == b.flat().size());
    for (std::size_t i = 0; i < a.flat().size(); ++i) {
      CHECK(a.flat()[i] == b.flat()[i]);  // deterministic, and `out` fully overwritten
      CHECK(std::isfinite(a.flat()[i]));
      CHECK(a.flat()[i] >= 0.0f);
    }
    // Both views are divided by their means and the fold is a mean: every head averages 1.
    for (std::size_t h = 0; h < 3; ++h) {
      double mean = 0.0;
      for (std::size_t t = 0; t < 33; ++t) mean += a(h, t) / 33.0;
      CHECK(mean == doctest::Approx(1.0).epsilon(1e-5));
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
  CHECK_THROWS_AS(kvc::score::global_local{.window = 0}(l.layer(), s), kvc::error);
  CHECK_THROWS_AS(kvc::score::global_local{.global_weight = 1.5}(l.layer(), s), kvc::error);
  CHECK_THROWS_AS(kvc::score::global_local{.global_weight = -0.5}(l.layer(), s), kvc::error);
  CHECK_THROWS_AS(kvc::score::global_local{}(kvc::make_layer(l.layer().keys, l.layer().values), s), kvc::error);
  kvc::score_matrix wrong(2, 8, 7.0f);
  CHECK_THROWS_AS(kvc::score::global_local{}(l.layer(), wrong), kvc::error);
  CHECK(untouched());
}
