// SnapKV: pooled observation-window attention; the window itself is kept.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kvc/policy/snapkv.hpp"
#include "policy/random_layer.hpp"

using V = std::vector<kvc::index_t>;

TEST_CASE("snapkv: pooling keeps the neighbours of a peak") {
  // 1 head, 6 tokens, one query at token 5 with logits 0,2,0,0,1,0:
  //   r = (1, e², 1, 1, e, 1)/(4+e+e²) = .0709 .5238 .0709 .0709 .1927 .0709
  // Max-pooled (kernel 3) prefix: .5238 .5238 .5238 .1927 .1927 -> with budget 3 the window
  // (token 5) plus the two best pooled, 0 and 1 (a three-way tie broken to the lower index).
  // Without pooling the two best raw are tokens 1 and 4.
  const float r2 = std::sqrt(2.0f);
  const std::vector<float> keys{0, 1, 2, 1, 0, 1, 0, 1, 1, 1, 0, 1}, queries{r2, 0};
  const auto l = kvc::make_layer(kvc::strided_view<const float>::contiguous(keys.data(), 1, 6, 2),
                                 kvc::strided_view<const float>::contiguous(keys.data(), 1, 6, 2),
                                 kvc::strided_view<const float>::contiguous(queries.data(), 1, 1, 2));
  const kvc::policy::snapkv pooled{.score = {.window = 1, .pool = 3}, .select = {.window = 1}};
  const kvc::policy::snapkv raw{.score = {.window = 1, .pool = 1}, .select = {.window = 1}};
  CHECK(kvc::test::kept(pooled.keep(l, kvc::budget::tokens{3}), 0) == V{0, 1, 5});
  CHECK(kvc::test::kept(raw.keep(l, kvc::budget::tokens{3}), 0) == V{1, 4, 5});
}

TEST_CASE("snapkv: properties on random layers") {
  for (std::uint64_t seed : {21u, 22u})
    for (std::size_t g : {1u, 2u}) {
      const kvc::test::random_layer r(2, g, 80, 8, 8, seed);
      const kvc::policy::snapkv p{.score = {.window = 8}, .select = {.window = 8}};
      for (std::size_t b : {8u, 20u, 40u, 80u}) {
        const auto k = p.keep(r.layer(), kvc::budget::tokens{b});
        CHECK(k == p.keep(r.layer(), kvc::budget::tokens{b}));
        CHECK(kvc::test::sorted_unique(k));
        for (std::size_t h = 0; h < 2; ++h) {
          CHECK(k.kept(h) == b);
          for (std::size_t t = 72; t < 80; ++t) CHECK(k.contains(h, static_cast<kvc::index_t>(t)));
        }
      }
    }
}

TEST_CASE("snapkv: bad input names the argument") {
  const kvc::test::bad_layers bad;
  const kvc::policy::snapkv small{.score = {.window = 2}, .select = {.window = 2}};
  const kvc::test::random_layer r(2, 1, 40, 4, 2, 5);
  CHECK(kvc::test::argument_of([&] { (void)small(bad.short_values(), kvc::budget::tokens{4}); }) ==
        "values.extent(1)");
  CHECK(kvc::test::argument_of([&] { (void)small(bad.three_query_heads(), kvc::budget::tokens{4}); }) ==
        "queries.extent(0)");
  CHECK(kvc::test::argument_of([&] { (void)small(r.layer(), kvc::budget::tokens{41}); }) == "budget::tokens");
  // The default window is 32 tokens: a budget of 16 cannot hold it.
  CHECK(kvc::test::argument_of([&] { (void)kvc::policy::snapkv{}(r.layer(), kvc::budget::tokens{16}); }) ==
        "budget");
}
