// Ada-KV's head-adaptive selection: one top-k over all heads with a per-head floor.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/select/head_adaptive.hpp"
#include "policy/random_layer.hpp"

using V = std::vector<kvc::index_t>;

TEST_CASE("head_adaptive: a concentrated head gives budget to a dispersed one, floor respected") {
  // 2 heads, 12 tokens, budget 6 per head (12 for the layer), window 2 (tokens 10, 11), α = 0.5:
  //   floor = 2 + floor(0.5 · (6 − 2)) = 4 tokens per head.
  // Head 0 is concentrated: token 0 has .82, the rest of the prefix .02 each.
  // Head 1 is dispersed: tokens 0..9 have .10, .09, ..., .01.
  kvc::score_matrix s(2, 12);
  for (std::size_t t = 0; t < 10; ++t) {
    s(0, t) = t == 0 ? 0.82f : 0.02f;
    s(1, t) = 0.10f - 0.01f * static_cast<float>(t);
  }
  const auto k = kvc::select::head_adaptive{.floor_fraction = 0.5, .recent = 2}(s, 6);
  // Floors: head 0 keeps 10, 11 + token 0 + token 1 (ties at .02 go to the lower index);
  //         head 1 keeps 10, 11 + tokens 0, 1 (.10, .09).
  // 12 − 8 = 4 more by one joint top-k over the rest: head 1's .08 .07 .06 .05 beat head 0's .02.
  CHECK(kvc::test::kept(k, 0) == V{0, 1, 10, 11});
  CHECK(kvc::test::kept(k, 1) == V{0, 1, 2, 3, 4, 5, 10, 11});
  CHECK(k.kept(0) < k.kept(1));
  CHECK(k.total() == 12);

  // Without a floor beyond the window, head 0 keeps only its peak: 0.82 beats everything.
  const auto k0 = kvc::select::head_adaptive{.floor_fraction = 0.0, .recent = 2}(s, 6);
  CHECK(kvc::test::kept(k0, 0) == V{0, 10, 11});
  CHECK(k0.kept(1) == 9);
  // α = 1 is the uniform split.
  const auto k1 = kvc::select::head_adaptive{.floor_fraction = 1.0, .recent = 2}(s, 6);
  CHECK(k1.kept(0) == 6);
  CHECK(k1.kept(1) == 6);
}

TEST_CASE("head_adaptive: defaults") {
  constexpr kvc::select::head_adaptive d{};
  CHECK(d.floor_fraction == 0.2);
  CHECK(d.recent == 32);
}

TEST_CASE("head_adaptive: properties on random scores") {
  std::mt19937 rng(99);
  std::exponential_distribution<float> expo(1.0f);
  for (std::size_t n : {8u, 40u, 129u})
    for (std::size_t heads : {1u, 4u}) {
      kvc::score_matrix s(heads, n);
      for (std::size_t h = 0; h < heads; ++h)  // heads of different sharpness
        for (std::size_t t = 0; t < n; ++t) s(h, t) = std::pow(expo(rng), static_cast<float>(h + 1));
      const kvc::select::head_adaptive sel{.floor_fraction = 0.2, .recent = 4};
      for (std::size_t budget : {std::size_t{4}, n / 2, n}) {
        const auto k = sel(s, budget);
        CHECK(k == sel(s, budget));
        CHECK(kvc::test::sorted_unique(k));
        CHECK(k.total() == heads * budget);  // the layer's budget, exactly
        const std::size_t floor = 4 + static_cast<std::size_t>(0.2 * static_cast<double>(budget - 4));
        for (std::size_t h = 0; h < heads; ++h) {
          CHECK(k.kept(h) >= floor);
          CHECK(k.kept(h) <= n);
          for (std::size_t t = n - 4; t < n; ++t) CHECK(k.contains(h, static_cast<kvc::index_t>(t)));
        }
      }
    }
}

TEST_CASE("head_adaptive: bad input names the argument") {
  kvc::score_matrix s(2, 8, 1.0f);
  auto argument_of = [&](const kvc::select::head_adaptive& sel, std::size_t budget) {
    try {
      (void)sel(s, budget);
    } catch (const kvc::error& e) {
      return e.argument();
    }
    return std::string("no error");
  };
  CHECK(argument_of({.recent = 4}, 9) == "budget");
  CHECK(argument_of({.recent = 4}, 3) == "budget");  // below the window
  CHECK(argument_of({.floor_fraction = -0.1, .recent = 2}, 4) == "head_adaptive.floor_fraction");
  s(1, 3) = std::numeric_limits<float>::quiet_NaN();
  CHECK(argument_of({.recent = 2}, 4) == "scores(1, 3)");
}
