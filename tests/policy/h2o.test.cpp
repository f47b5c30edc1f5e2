// H2O: heavy hitters by accumulated attention + a recent window, end to end.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kvc/policy/h2o.hpp"
#include "policy/random_layer.hpp"

using V = std::vector<kvc::index_t>;

TEST_CASE("h2o: hand case, the recent half and the heaviest hitters") {
  // 1 head, 4 tokens (key[0] = 0, 1, 0, 2), queries (√2, 0) at tokens 2 and 3; accumulated
  // attention .2945361 .8006336 .2945361 .6102943 (see tests/score/accumulated_attention).
  const float r2 = std::sqrt(2.0f);
  const std::vector<float> keys{0, 5, 1, -3, 0, 7, 2, 1}, queries{r2, 0, r2, 0};
  const auto l = kvc::make_layer(kvc::strided_view<const float>::contiguous(keys.data(), 1, 4, 2),
                                 kvc::strided_view<const float>::contiguous(keys.data(), 1, 4, 2),
                                 kvc::strided_view<const float>::contiguous(queries.data(), 1, 2, 2));
  const kvc::policy::h2o p{};
  // budget 2: recent 1 (token 3) + heaviest of 0..2 (token 1).
  CHECK(kvc::test::kept(p.keep(l, kvc::budget::tokens{2}), 0) == V{1, 3});
  // budget 3: recent 1 + tokens 1 and 0 (0 and 2 tie at .2945361; the earlier wins).
  CHECK(kvc::test::kept(p.keep(l, kvc::budget::tokens{3}), 0) == V{0, 1, 3});
  // budget 2 without a recent window: the two heaviest, 1 and 3.
  const kvc::policy::h2o heavy_only{.select = {.recent_fraction = 0.0}};
  CHECK(kvc::test::kept(heavy_only.keep(l, kvc::budget::tokens{2}), 0) == V{1, 3});
  CHECK(kvc::test::kept(heavy_only.keep(l, kvc::budget::tokens{1}), 0) == V{1});
}

TEST_CASE("h2o: properties on random layers") {
  for (std::uint64_t seed : {11u, 12u})
    for (std::size_t g : {1u, 4u}) {
      const kvc::test::random_layer r(2, g, 50, 8, 6, seed);
      const kvc::policy::h2o p{};
      for (std::size_t b : {2u, 10u, 25u, 50u}) {
        const auto k = p.keep(r.layer(), kvc::budget::tokens{b});
        CHECK(k == p.keep(r.layer(), kvc::budget::tokens{b}));
        CHECK(kvc::test::sorted_unique(k));
        for (std::size_t h = 0; h < 2; ++h) {
          CHECK(k.kept(h) == b);
          for (std::size_t t = 50 - b / 2; t < 50; ++t) CHECK(k.contains(h, static_cast<kvc::index_t>(t)));
        }
        const auto out = p(r.layer(), kvc::budget::tokens{b});
        CHECK(out.keep() == k);
      }
    }
}

TEST_CASE("h2o: bad input names the argument") {
  const kvc::test::bad_layers bad;
  const kvc::policy::h2o p{};
  const kvc::test::random_layer r(2, 1, 10, 3, 2, 5);
  CHECK(kvc::test::argument_of([&] { (void)p(bad.short_values(), kvc::budget::tokens{4}); }) == "values.extent(1)");
  CHECK(kvc::test::argument_of([&] { (void)p(bad.three_query_heads(), kvc::budget::tokens{4}); }) ==
        "queries.extent(0)");
  CHECK(kvc::test::argument_of([&] { (void)p(r.layer(), kvc::budget::tokens{11}); }) == "budget::tokens");
  const auto no_queries = kvc::make_layer(r.key_view(), r.value_view());
  CHECK(kvc::test::argument_of([&] { (void)p(no_queries, kvc::budget::tokens{4}); }) == "queries");
}
