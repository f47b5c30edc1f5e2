// StreamingLLM: attention sinks + a recent window, end to end; and in-place compaction.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "kvc/core/compact.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/policy/streaming_llm.hpp"
#include "policy/random_layer.hpp"

using V = std::vector<kvc::index_t>;

TEST_CASE("streaming_llm: 4 sinks and budget 6 on 10 tokens keeps {0,1,2,3,8,9} with their keys") {
  const kvc::test::random_layer r(2, 1, 10, 3, 1, 5);
  const auto out = kvc::policy::streaming_llm{}(r.layer(), kvc::budget::tokens{6});
  const V expected{0, 1, 2, 3, 8, 9};
  for (std::size_t h = 0; h < 2; ++h) {
    CHECK(kvc::test::kept(out.keep(), h) == expected);
    for (std::size_t i = 0; i < 6; ++i) {
      const auto t = static_cast<std::size_t>(expected[i]);
      CHECK(out.positions(h)[i] == static_cast<std::int64_t>(t));
      for (std::size_t c = 0; c < 3; ++c) {
        CHECK(out.keys(h)(0, i, c) == r.keys[(h * 10 + t) * 3 + c]);
        CHECK(out.values(h)(0, i, c) == r.values[(h * 10 + t) * 3 + c]);
      }
    }
  }
  // budget::ratio(0.5) of 10 = 5 tokens: the 4 sinks and token 9.
  CHECK(kvc::test::kept(kvc::policy::streaming_llm{}.keep(r.layer(), kvc::budget::ratio{0.5}), 0) == V{0, 1, 2, 3, 9});
}

TEST_CASE("streaming_llm: properties on random layers") {
  for (std::uint64_t seed : {1u, 2u, 3u})
    for (std::size_t n : {4u, 9u, 65u}) {
      const kvc::test::random_layer r(3, 2, n, 4, 2, seed);
      const kvc::policy::streaming_llm p{};
      for (double f : {0.5, 0.8, 1.0}) {
        const std::size_t b = kvc::budget::ratio{f}.count(n);
        if (b < 4) continue;  // below the sinks: an error, tested below
        const auto k = p.keep(r.layer(), kvc::budget::ratio{f});
        CHECK(k == p.keep(r.layer(), kvc::budget::ratio{f}));
        CHECK(kvc::test::sorted_unique(k));
        for (std::size_t h = 0; h < 3; ++h) {
          CHECK(k.kept(h) == b);
          for (kvc::index_t t = 0; t < 4; ++t) CHECK(k.contains(h, t));
          CHECK(k.contains(h, static_cast<kvc::index_t>(n - 1)));
        }
      }
    }
}

TEST_CASE("streaming_llm: bad input names the argument") {
  const kvc::test::bad_layers bad;
  const kvc::policy::streaming_llm p{};
  const kvc::test::random_layer r(2, 1, 10, 3, 1, 5);
  CHECK(kvc::test::argument_of([&] { (void)p(bad.short_values(), kvc::budget::tokens{4}); }) == "values.extent(1)");
  CHECK(kvc::test::argument_of([&] { (void)p(bad.three_query_heads(), kvc::budget::tokens{4}); }) ==
        "queries.extent(0)");
  CHECK(kvc::test::argument_of([&] { (void)p(r.layer(), kvc::budget::tokens{11}); }) == "budget::tokens");
  CHECK(kvc::test::argument_of([&] { (void)p(r.layer(), kvc::budget::tokens{3}); }) == "budget");  // < 4 sinks
}

TEST_CASE("compact: moves the kept tokens to the front; a wrong keep_set changes nothing") {
  // 2 heads, 5 tokens, head_dim 1: keys = 10·h + t, values = −keys.
  std::vector<float> keys(10), values(10);
  for (std::size_t i = 0; i < 10; ++i) keys[i] = static_cast<float>(10 * (i / 5) + i % 5), values[i] = -keys[i];
  const auto k = kvc::strided_view<float>::contiguous(keys.data(), 2, 5, 1);
  const auto v = kvc::strided_view<float>::contiguous(values.data(), 2, 5, 1);
  const std::vector<float> keys_before = keys, values_before = values;

  // Wrong shapes: three heads, or a keep_set built for 6 tokens.
  const auto three_heads = kvc::keep_set::from_heads(5, {{0, 4}, {1}, {2}});
  const auto six_tokens = kvc::keep_set::from_heads(6, {{0, 5}, {1}});
  CHECK(kvc::test::argument_of([&] { kvc::compact(k, v, three_heads); }) == "keep.heads()");
  CHECK(kvc::test::argument_of([&] { kvc::compact(k, v, six_tokens); }) == "keep.tokens()");
  std::vector<std::int64_t> positions(9);  // should be 2 · 5
  const auto good = kvc::select::sink_window{.sinks = 1}(kvc::score_matrix(2, 5), 3);  // {0, 3, 4}
  CHECK(kvc::test::argument_of([&] { kvc::compact(k, v, good, positions); }) == "positions.size()");
  CHECK(keys == keys_before);
  CHECK(values == values_before);

  kvc::compact(k, v, good);
  CHECK(keys[0] == 0.0f);
  CHECK(keys[1] == 3.0f);
  CHECK(keys[2] == 4.0f);
  CHECK(keys[5] == 10.0f);
  CHECK(keys[6] == 13.0f);
  CHECK(values[7] == -14.0f);
}
