// TOVA: keep the tokens the last query attends to most.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kvc/policy/tova.hpp"
#include "policy/random_layer.hpp"

using V = std::vector<kvc::index_t>;

TEST_CASE("tova: hand case, only the last query's attention counts") {
  // key[0] = 0, 1, 0, 2; the query at token 2 points the other way (−√2, 0) and is ignored.
  // The last query (√2, 0): (1, e, 1, e²)/(2+e+e²) = .0826 .2245 .0826 .6103.
  const float r2 = std::sqrt(2.0f);
  const std::vector<float> keys{0, 5, 1, -3, 0, 7, 2, 1}, queries{-r2, 0, r2, 0};
  const auto l = kvc::make_layer(kvc::strided_view<const float>::contiguous(keys.data(), 1, 4, 2),
                                 kvc::strided_view<const float>::contiguous(keys.data(), 1, 4, 2),
                                 kvc::strided_view<const float>::contiguous(queries.data(), 1, 2, 2));
  CHECK(kvc::test::kept(kvc::policy::tova{}.keep(l, kvc::budget::tokens{2}), 0) == V{1, 3});
  CHECK(kvc::test::kept(kvc::policy::tova{}.keep(l, kvc::budget::tokens{3}), 0) == V{0, 1, 3});  // 0 ties 2
}

TEST_CASE("tova: properties on random layers; shared scores keep the same tokens in every head") {
  for (std::uint64_t seed : {31u, 32u}) {
    const kvc::test::random_layer r(3, 2, 60, 8, 4, seed);
    const kvc::policy::tova p{};
    const kvc::policy::tova shared{.score = {.share_across_heads = true}};
    for (std::size_t b : {1u, 15u, 60u}) {
      const auto k = p.keep(r.layer(), kvc::budget::tokens{b});
      CHECK(k == p.keep(r.layer(), kvc::budget::tokens{b}));
      CHECK(kvc::test::sorted_unique(k));
      for (std::size_t h = 0; h < 3; ++h) CHECK(k.kept(h) == b);
      const auto ks = shared.keep(r.layer(), kvc::budget::tokens{b});
      CHECK(kvc::test::kept(ks, 1) == kvc::test::kept(ks, 0));
      CHECK(kvc::test::kept(ks, 2) == kvc::test::kept(ks, 0));
    }
  }
}

TEST_CASE("tova: bad input names the argument") {
  const kvc::test::bad_layers bad;
  const kvc::test::random_layer r(2, 1, 10, 3, 2, 5);
  const kvc::policy::tova p{};
  CHECK(kvc::test::argument_of([&] { (void)p(bad.short_values(), kvc::budget::tokens{4}); }) == "values.extent(1)");
  CHECK(kvc::test::argument_of([&] { (void)p(bad.three_query_heads(), kvc::budget::tokens{4}); }) ==
        "queries.extent(0)");
  CHECK(kvc::test::argument_of([&] { (void)p(r.layer(), kvc::budget::tokens{0}); }) == "budget::tokens");
  CHECK(kvc::test::argument_of([&] { (void)p(kvc::make_layer(r.key_view(), r.value_view()), kvc::budget::tokens{2}); }) ==
        "queries");
}
