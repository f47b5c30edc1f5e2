// Key norm: keep the lowest-norm keys.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "kvc/policy/key_norm.hpp"
#include "policy/random_layer.hpp"

using V = std::vector<kvc::index_t>;

TEST_CASE("key_norm: keeps the smallest keys; ties to the lower index") {
  // Norms 5, 0, 10, 1, 5: budget 2 keeps tokens 1 and 3; budget 3 adds token 0 (ties token 4).
  const std::vector<float> keys{3, 4, 0, 0, -6, 8, 1, 0, 0, -5};
  const auto k = kvc::strided_view<const float>::contiguous(keys.data(), 1, 5, 2);
  const auto l = kvc::make_layer(k, k);
  CHECK(kvc::test::kept(kvc::policy::key_norm{}.keep(l, kvc::budget::tokens{2}), 0) == V{1, 3});
  CHECK(kvc::test::kept(kvc::policy::key_norm{}.keep(l, kvc::budget::tokens{3}), 0) == V{0, 1, 3});
}

TEST_CASE("key_norm: properties on random layers") {
  for (std::uint64_t seed : {41u, 42u}) {
    const kvc::test::random_layer r(4, 1, 33, 16, 1, seed);
    const kvc::policy::key_norm p{};
    for (double f : {0.2, 0.5, 1.0}) {
      const auto k = p.keep(r.layer(), kvc::budget::ratio{f});
      CHECK(k == p.keep(r.layer(), kvc::budget::ratio{f}));
      CHECK(kvc::test::sorted_unique(k));
      for (std::size_t h = 0; h < 4; ++h) CHECK(k.kept(h) == kvc::budget::ratio{f}.count(33));
    }
  }
}

TEST_CASE("key_norm: bad input names the argument") {
  const kvc::test::bad_layers bad;
  const kvc::policy::key_norm p{};
  CHECK(kvc::test::argument_of([&] { (void)p(bad.short_values(), kvc::budget::tokens{4}); }) == "values.extent(1)");
  CHECK(kvc::test::argument_of([&] { (void)p(bad.three_query_heads(), kvc::budget::tokens{4}); }) ==
        "queries.extent(0)");
  CHECK(kvc::test::argument_of([&] { (void)p(bad.three_query_heads(), kvc::budget::ratio{0.0}); }) ==
        "queries.extent(0)");  // the layer is checked before the budget
  std::vector<float> keys{1, 2, 3, 4};
  const auto k = kvc::strided_view<const float>::contiguous(keys.data(), 1, 2, 2);
  CHECK(kvc::test::argument_of([&] { (void)p(kvc::make_layer(k, k), kvc::budget::ratio{1.5}); }) == "budget::ratio");
  keys[1] = std::numeric_limits<float>::quiet_NaN();  // a NaN key is named by element
  CHECK(kvc::test::argument_of([&] { (void)p(kvc::make_layer(k, k), kvc::budget::tokens{1}); }) == "keys(0, 0, 1)");
}
