// Budgets: per-head counts and per-layer splits (uniform, PyramidKV).
#include <doctest/doctest.h>

#include <numeric>
#include <vector>

#include "kvc/core/budget.hpp"
#include "policy/random_layer.hpp"

using W = std::vector<std::size_t>;

TEST_CASE("budget::ratio and budget::tokens count tokens per head") {
  CHECK(kvc::budget::ratio{0.5}.count(10) == 5);
  CHECK(kvc::budget::ratio{0.25}.count(10) == 3);  // 2.5 rounds half away from zero
  CHECK(kvc::budget::ratio{0.2}.count(1024) == 205);  // 204.8
  CHECK(kvc::budget::ratio{0.01}.count(10) == 1);  // at least one token
  CHECK(kvc::budget::ratio{1.0}.count(7) == 7);
  CHECK(kvc::budget::ratio{}.value == 0.5);
  CHECK(kvc::budget::tokens{512}.count(1024) == 512);
  CHECK(kvc::budget::tokens{1024}.count(1024) == 1024);
}

TEST_CASE("budget: bad values name the budget") {
  using kvc::test::argument_of;
  CHECK(argument_of([] { (void)kvc::budget::ratio{0.0}.count(10); }) == "budget::ratio");
  CHECK(argument_of([] { (void)kvc::budget::ratio{1.5}.count(10); }) == "budget::ratio");
  CHECK(argument_of([] { (void)kvc::budget::ratio{-0.1}.count(10); }) == "budget::ratio");
  CHECK(argument_of([] { (void)kvc::budget::tokens{}.count(10); }) == "budget::tokens");
  CHECK(argument_of([] { (void)kvc::budget::tokens{11}.count(10); }) == "budget::tokens");
  CHECK(argument_of([] { (void)kvc::budget::uniform{}.split(8, 0); }) == "layers");
  CHECK(argument_of([] { (void)kvc::budget::pyramid{}.split(8, 0); }) == "layers");
  CHECK(argument_of([] { (void)kvc::budget::pyramid{.beta = 0.5}.split(8, 3); }) == "pyramid.beta");
}

TEST_CASE("budget::uniform gives every layer the average") {
  CHECK(kvc::budget::uniform{}.split(7, 3) == W{7, 7, 7});
  static_assert(kvc::budget::layer_allocator<kvc::budget::uniform>);
  static_assert(kvc::budget::layer_allocator<kvc::budget::pyramid>);
  static_assert(kvc::budget::per_head<kvc::budget::ratio>);
}

TEST_CASE("budget::pyramid: the arithmetic sequence by hand") {
  // average 10, 4 layers, β = 4: last = 10/4 = 2.5, first = 20 − 2.5 = 17.5, step 5:
  //   17.5 12.5 7.5 2.5 -> floors 17 12 7 2 (38); the 2 left go to the .5s, shallower first.
  CHECK(kvc::budget::pyramid{.beta = 4}.split(10, 4) == W{18, 13, 7, 2});
  // average 100, 5 layers, β = 20 (the default): last 5, first 195, step 47.5:
  //   195 147.5 100 52.5 5 -> 195 148 100 52 5 (sum 500).
  CHECK(kvc::budget::pyramid{}.split(100, 5) == W{195, 148, 100, 52, 5});
  // β = 1 is uniform; one layer gets the average.
  CHECK(kvc::budget::pyramid{.beta = 1}.split(9, 4) == W{9, 9, 9, 9});
  CHECK(kvc::budget::pyramid{}.split(9, 1) == W{9});
}

TEST_CASE("budget::pyramid: the total is exact and the budgets never grow with depth") {
  for (double beta : {1.0, 2.0, 7.0, 20.0, 100.0})
    for (std::size_t layers : {2u, 3u, 32u, 80u})
      for (std::size_t average : {0u, 1u, 17u, 128u, 2048u}) {
        const W b = kvc::budget::pyramid{.beta = beta}.split(average, layers);
        REQUIRE(b.size() == layers);
        CHECK(std::accumulate(b.begin(), b.end(), std::size_t{0}) == average * layers);
        for (std::size_t l = 1; l < layers; ++l) CHECK(b[l] <= b[l - 1]);
      }
}
