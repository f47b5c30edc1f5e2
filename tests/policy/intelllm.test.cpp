// kvc::policy::intelllm end to end: CGE keeps the span the attention centres on; RGL positions.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kvc/eval/synthetic.hpp"
#include "kvc/policy/intelllm.hpp"
#include "kvc/policy/snapkv.hpp"

namespace {
using kvc::index_t;

// 1 head, 128 tokens, head_dim 1, 4 window queries of value 1, key_t = ln w_t: every query's
// attention over the prefix 0..123 is proportional to w_t.
//   w = 1 on the middle span 56..71, 3 on six heavy hitters 8 16 24 103 111 119 (symmetric
//   about 63.5), 0.05 elsewhere.
// Centroid over the prefix (the window 124..127 is kept anyway):
//   mass   = 16 + 18 + 0.05 * 102 = 39.1
//   moment = 16 * 63.5 + 3 * 381 + 0.05 * (7626 - 1016 - 381) = 1016 + 1143 + 311.45 = 2470.45
//   c = 2470.45 / 39.1 = 63.18 -> token 63; radius 8 shields 55..71, which holds the span.
struct middle_span {
  std::vector<float> keys = [] {
    std::vector<float> k(128, std::log(0.05f));
    for (std::size_t t = 56; t < 72; ++t) k[t] = 0.0f;
    for (std::size_t t : {8u, 16u, 24u, 103u, 111u, 119u}) k[t] = std::log(3.0f);
    return k;
  }();
  std::vector<float> queries = std::vector<float>(4, 1.0f);
  auto layer() const {
    return kvc::make_layer(kvc::strided_view<const float>::contiguous(keys.data(), 1, 128, 1),
                           kvc::strided_view<const float>::contiguous(keys.data(), 1, 128, 1),
                           kvc::strided_view<const float>::contiguous(queries.data(), 1, 4, 1));
  }
};
std::size_t span_kept(const kvc::keep_set& k) {
  std::size_t n = 0;
  for (index_t t = 56; t < 72; ++t) n += k.contains(0, t);
  return n;
}
}  // namespace

TEST_CASE("intelllm: a head whose attention centres on a middle span keeps the span at a tight budget") {
  const middle_span m;
  const auto l = m.layer();
  const kvc::policy::intelllm cge{.score = {.window = 4}, .select = {.inner = {.window = 4}}};
  CHECK(*cge.score.centroids(l, 0, 4)[0] == doctest::Approx(2470.45 / 39.1).epsilon(1e-5));
  // 21 = the 4 window tokens + the 17 shielded ones: exactly window ∪ 55..71.
  const auto keep = cge.keep(l, kvc::budget::tokens{21});
  std::vector<index_t> expected;
  for (index_t t = 55; t < 72; ++t) expected.push_back(t);
  for (index_t t = 124; t < 128; ++t) expected.push_back(t);
  CHECK(std::vector<index_t>(keep.head(0).begin(), keep.head(0).end()) == expected);
  CHECK(span_kept(keep) == 16);
  // Without the shield the same scores keep the six heavy hitters and only 11 span tokens;
  // SnapKV's max-pooling widens each heavy hitter to 7 tokens of score 3 (42 > 17 free slots,
  // taken from the lowest index: 5..11, 13..19, 21..23) and keeps none of the span.
  using unshielded = kvc::pipeline<kvc::score::center_of_gravity, kvc::select::window_topk>;
  CHECK(span_kept(unshielded{.score = {.window = 4}, .select = {.window = 4}}.keep(l, kvc::budget::tokens{21})) == 11);
  CHECK(span_kept(kvc::policy::snapkv{.score = {.window = 4}, .select = {.window = 4}}.keep(
            l, kvc::budget::tokens{21})) == 0);
}

TEST_CASE("intelllm: defaults, and the kept positions follow the chosen RGL mode exactly") {
  const kvc::policy::intelllm p{};
  CHECK(p.score.window == 32);
  CHECK(p.select.inner.window == 32);
  CHECK(p.select.exclude_last == 32);
  CHECK(p.select.radius == 8);
  CHECK(p.merge.mode == kvc::merge::position_mode::remote_gap);
  CHECK(p.merge.local == 64);

  const auto syn = kvc::eval::make_synthetic_layer(
      {.kv_heads = 4, .group = 2, .tokens = 300, .head_dim = 16, .window = 32, .held_out = 2, .seed = 5});
  const auto l = syn.layer();
  for (auto mode : {kvc::merge::position_mode::original, kvc::merge::position_mode::repacked,
                    kvc::merge::position_mode::remote_gap}) {
    const kvc::policy::intelllm policy{.merge = {.mode = mode}};
    const auto c = policy(l, kvc::budget::ratio{0.4});  // 120 tokens per head
    CHECK(c.keep() == policy.keep(l, kvc::budget::ratio{0.4}));
    for (std::size_t h = 0; h < 4; ++h) {
      const auto idx = c.keep().head(h);
      const auto pos = c.positions(h);
      REQUIRE(idx.size() == 120);
      for (std::size_t i = 0; i < 120; ++i) {
        // Positions of an uncompressed prompt are the token indices 0..299; the local region is
        // the last 64 kept tokens, contiguous up to the last token 299.
        const std::int64_t want = mode == kvc::merge::position_mode::original ? idx[i]
                                  : mode == kvc::merge::position_mode::repacked
                                      ? static_cast<std::int64_t>(i)
                                      : (i < 120 - 64 ? idx[i] : 299 - static_cast<std::int64_t>(119 - i));
        CHECK(pos[i] == want);
      }
    }
  }
}

TEST_CASE("intelllm: budget respected, shield and window kept, sorted unique, same result twice") {
  for (std::uint64_t seed : {11u, 12u}) {
    const auto syn = kvc::eval::make_synthetic_layer(
        {.kv_heads = 4, .group = 4, .tokens = 257, .head_dim = 32, .window = 32, .held_out = 2, .seed = seed});
    const auto l = syn.layer();
    const kvc::policy::intelllm policy{};
    const auto shield = policy.select.regions(policy.scores(l));
    // The selector's centroid is the attention centroid computed from the queries and keys.
    const auto c = policy.score.centroids(l, 0, 32);
    for (std::size_t h = 0; h < 4; ++h)
      CHECK(shield[h].first + std::min<std::size_t>(8, static_cast<std::size_t>(std::ceil(*c[h] - 0.5))) ==
            static_cast<std::size_t>(std::ceil(*c[h] - 0.5)));
    for (std::size_t budget : {49u, 64u, 128u, 257u}) {
      const auto keep = policy.keep(l, kvc::budget::tokens{budget});
      CHECK(keep == policy.keep(l, kvc::budget::tokens{budget}));
      for (std::size_t h = 0; h < 4; ++h) {
        const auto idx = keep.head(h);
        CHECK(idx.size() == budget);
        for (std::size_t i = 1; i < idx.size(); ++i) CHECK(idx[i - 1] < idx[i]);
        for (std::size_t t = shield[h].first; t < shield[h].last; ++t) CHECK(keep.contains(h, static_cast<index_t>(t)));
        for (index_t t = 225; t < 257; ++t) CHECK(keep.contains(h, t));
      }
    }
  }
}

TEST_CASE("intelllm: bad input is an error") {
  const auto syn = kvc::eval::make_synthetic_layer(
      {.kv_heads = 2, .group = 1, .tokens = 64, .head_dim = 8, .window = 32, .held_out = 1, .seed = 1});
  const kvc::policy::intelllm policy{};
  // 32 window tokens + 17 shielded need a budget of up to 49.
  CHECK_THROWS_AS((void)policy(syn.layer(), kvc::budget::tokens{40}), kvc::error);
  CHECK_THROWS_AS((void)policy(syn.layer(), kvc::budget::tokens{65}), kvc::error);
  const auto no_queries = kvc::make_layer(syn.key_view(), syn.value_view());
  CHECK_THROWS_AS((void)policy(no_queries, kvc::budget::ratio{0.5}), kvc::error);
}
