// PyramidKV: SnapKV per layer with budgets that shrink linearly with depth.
#include <doctest/doctest.h>

#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "kvc/policy/pyramidkv.hpp"
#include "policy/random_layer.hpp"

TEST_CASE("pyramidkv: per-layer budgets by hand, window added to every layer") {
  // average 42, window 32: the pyramid splits 10 over 4 layers with β = 20:
  //   last = 10/20 = .5, first = 2·10 − .5 = 19.5, step 19/3: 19.5 13.1667 6.8333 .5
  //   floors 19 13 6 0 (38); the 2 left go to the largest fractions: layer 2 (.8333), then
  //   layer 0 (.5, tied with layer 3; the shallower wins) -> 20 13 7 0, plus 32 each.
  const kvc::policy::pyramidkv p{};
  CHECK(p.budgets(42, 4) == std::vector<std::size_t>{52, 45, 39, 32});
  CHECK(p.split.beta == 20.0);
}

TEST_CASE("pyramidkv: compresses a model, each layer to its budget, total kept") {
  std::vector<kvc::test::random_layer> storage;
  for (std::uint64_t i = 0; i < 5; ++i) storage.emplace_back(2, 2, 64, 8, 4, 60 + i);
  std::vector<decltype(storage[0].layer())> layers;
  for (const auto& s : storage) layers.push_back(s.layer());
  const kvc::policy::pyramidkv p{.per_layer = {.score = {.window = 4}, .select = {.window = 4}}};
  const auto b = p.budgets(24, 5);
  CHECK(std::accumulate(b.begin(), b.end(), std::size_t{0}) == 5 * 24);
  for (std::size_t i = 1; i < 5; ++i) CHECK(b[i] <= b[i - 1]);
  const auto out = p(std::span<const decltype(layers)::value_type>(layers), kvc::budget::tokens{24});
  REQUIRE(out.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(kvc::test::sorted_unique(out[i].keep()));
    for (std::size_t h = 0; h < 2; ++h) {
      CHECK(out[i].kept(h) == b[i]);
      for (std::size_t t = 60; t < 64; ++t) CHECK(out[i].keep().contains(h, static_cast<kvc::index_t>(t)));
    }
    // Each layer is exactly SnapKV at that layer's budget.
    CHECK(out[i].keep() == p.per_layer.keep(layers[i], kvc::budget::tokens{b[i]}));
  }
}

TEST_CASE("pyramidkv: bad input names the argument") {
  const kvc::policy::pyramidkv p{.per_layer = {.score = {.window = 4}, .select = {.window = 4}}};
  CHECK(kvc::test::argument_of([&] { (void)p.budgets(4, 3); }) == "average");  // not above the window
  CHECK(kvc::test::argument_of([&] { (void)p.budgets(10, 0); }) == "layers");
  const kvc::test::random_layer a(2, 1, 64, 4, 4, 1), small(2, 1, 16, 4, 4, 2);
  // Layer 0 would get 2·(30−4) − 26/20 + 4 ≈ 54 tokens: more than the 16-token layer holds.
  const std::vector<decltype(a.layer())> layers{small.layer(), a.layer()};
  CHECK(kvc::test::argument_of([&] {
          (void)p(std::span<const decltype(a.layer())>(layers), kvc::budget::tokens{30});
        }) == "budgets()[0]");
  const std::vector<decltype(a.layer())> none;
  CHECK(kvc::test::argument_of([&] {
          (void)p(std::span<const decltype(a.layer())>(none), kvc::budget::tokens{30});
        }) == "layers");
}
