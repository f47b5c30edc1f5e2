// Random eviction with a seed: the control.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "kvc/policy/random.hpp"
#include "policy/random_layer.hpp"

TEST_CASE("random: reproducible for a seed, different for another") {
  const kvc::test::random_layer r(4, 1, 100, 4, 1, 3);
  const kvc::policy::random a{.score = {.seed = 1}}, b{.score = {.seed = 2}};
  const auto ka = a.keep(r.layer(), kvc::budget::tokens{30});
  CHECK(ka == a.keep(r.layer(), kvc::budget::tokens{30}));
  CHECK(ka != b.keep(r.layer(), kvc::budget::tokens{30}));
  // Heads draw independently.
  CHECK(kvc::test::kept(ka, 0) != kvc::test::kept(ka, 1));
}

TEST_CASE("random: properties on random layers; the keys do not matter") {
  for (std::uint64_t seed : {0u, 5u, 77u}) {
    const kvc::test::random_layer r(3, 1, 40, 4, 1, seed), other(3, 1, 40, 4, 1, seed + 1000);
    const kvc::policy::random p{.score = {.seed = seed}};
    for (std::size_t b : {1u, 13u, 40u}) {
      const auto k = p.keep(r.layer(), kvc::budget::tokens{b});
      CHECK(kvc::test::sorted_unique(k));
      for (std::size_t h = 0; h < 3; ++h) CHECK(k.kept(h) == b);
      CHECK(k == p.keep(other.layer(), kvc::budget::tokens{b}));
    }
  }
}

TEST_CASE("random: bad input names the argument") {
  const kvc::test::bad_layers bad;
  const kvc::policy::random p{};
  CHECK(kvc::test::argument_of([&] { (void)p(bad.short_values(), kvc::budget::tokens{4}); }) == "values.extent(1)");
  CHECK(kvc::test::argument_of([&] { (void)p(bad.three_query_heads(), kvc::budget::tokens{4}); }) ==
        "queries.extent(0)");
  const kvc::test::random_layer r(1, 1, 5, 2, 1, 1);
  CHECK(kvc::test::argument_of([&] { (void)p(r.layer(), kvc::budget::tokens{6}); }) == "budget::tokens");
}
