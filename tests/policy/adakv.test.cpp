// Ada-KV on SnapKV scores: one top-k over the heads of a layer with a per-head floor.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kvc/policy/adakv.hpp"
#include "policy/random_layer.hpp"

TEST_CASE("adakv: a concentrated head gets fewer tokens than a dispersed one") {
  // 2 kv heads, 12 tokens, head_dim 2, one window query q = (4√2, 0) per kv head:
  //   head 0: token 3's key is (1, 0), the rest 0 -> logits 4 at token 3, 0 elsewhere:
  //           token 3 gets e⁴/(11+e⁴) = .832, every other token 1/(11+e⁴) = .0152
  //   head 1: all keys 0 -> 1/12 = .0833 everywhere.
  // Window 1 (token 11), budget 4 per head = 8 for the layer; floor = 1 + floor(.2·3) = 1 beyond
  // the window: head 0 keeps 3, head 1 keeps 0; the 4 left go to head 1's .0833s (they beat .0152).
  std::vector<float> keys(2 * 12 * 2, 0.0f);
  keys[3 * 2] = 1.0f;
  const float q = 4.0f * std::sqrt(2.0f);
  const std::vector<float> queries{q, 0, q, 0};
  const auto l = kvc::make_layer(kvc::strided_view<const float>::contiguous(keys.data(), 2, 12, 2),
                                 kvc::strided_view<const float>::contiguous(keys.data(), 2, 12, 2),
                                 kvc::strided_view<const float>::contiguous(queries.data(), 2, 1, 2));
  const kvc::policy::adakv p{.score = {.window = 1, .pool = 1}, .select = {.floor_fraction = 0.2, .recent = 1}};
  const auto k = p.keep(l, kvc::budget::tokens{4});
  CHECK(kvc::test::kept(k, 0) == std::vector<kvc::index_t>{3, 11});
  CHECK(kvc::test::kept(k, 1) == std::vector<kvc::index_t>{0, 1, 2, 3, 4, 11});
  CHECK(k.total() == 8);
}

TEST_CASE("adakv: properties on random layers (budget per layer, floor, window)") {
  for (std::uint64_t seed : {51u, 52u}) {
    const kvc::test::random_layer r(4, 2, 64, 8, 8, seed);
    const kvc::policy::adakv p{.score = {.window = 8}, .select = {.recent = 8}};
    for (std::size_t b : {8u, 16u, 32u, 64u}) {
      const auto k = p.keep(r.layer(), kvc::budget::tokens{b});
      CHECK(k == p.keep(r.layer(), kvc::budget::tokens{b}));
      CHECK(kvc::test::sorted_unique(k));
      CHECK(k.total() == 4 * b);
      const std::size_t floor = 8 + static_cast<std::size_t>(0.2 * static_cast<double>(b - 8));
      for (std::size_t h = 0; h < 4; ++h) {
        CHECK(k.kept(h) >= floor);
        for (std::size_t t = 56; t < 64; ++t) CHECK(k.contains(h, static_cast<kvc::index_t>(t)));
      }
      const auto out = p(r.layer(), kvc::budget::tokens{b});
      CHECK(out.keep() == k);
    }
  }
}

TEST_CASE("adakv: bad input names the argument") {
  const kvc::test::bad_layers bad;
  const kvc::policy::adakv p{.score = {.window = 2}, .select = {.recent = 2}};
  CHECK(kvc::test::argument_of([&] { (void)p(bad.short_values(), kvc::budget::tokens{4}); }) == "values.extent(1)");
  CHECK(kvc::test::argument_of([&] { (void)p(bad.three_query_heads(), kvc::budget::tokens{4}); }) ==
        "queries.extent(0)");
  const kvc::test::random_layer r(2, 1, 40, 4, 2, 5);
  CHECK(kvc::test::argument_of([&] { (void)kvc::policy::adakv{}(r.layer(), kvc::budget::tokens{20}); }) == "budget");
}
