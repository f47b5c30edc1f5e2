#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "fastgen/hand_maps.hpp"
#include "kvc/core/attention.hpp"
#include "kvc/core/error.hpp"
#include "kvc/eval/synthetic.hpp"
#include "kvc/fastgen/profile.hpp"

namespace fg = kvc::fastgen;
using fg::token_class;
using kvc::test::hand_head;

namespace {
// Six tokens, one head, all six prompt queries zero: every causal row is uniform over 0..j.
struct six_tokens {
  std::vector<float> keys = std::vector<float>(6 * 2, 0.5f), queries = std::vector<float>(6 * 2, 0.0f);
  std::vector<token_class> classes{token_class::special, token_class::plain, token_class::plain,
                                   token_class::punctuation, token_class::plain, token_class::plain};
  auto layer() const {
    auto kv = kvc::strided_view<const float>::contiguous(keys.data(), 1, 6, 2);
    return kvc::make_layer(kv, kv, kvc::strided_view<const float>::contiguous(queries.data(), 1, 6, 2));
  }
};
}  // namespace

// Recoveries by hand (cache_policy.test.cpp): special 0.408333, +punct 0.511111, +frequent 0.752778
// (3 tokens), +local 0.841667 (5 tokens), full 1 (6 tokens).
TEST_CASE("fastgen::profile on 6 uniform causal rows picks the first candidate reaching T") {
  six_tokens s;
  auto pick = [&](double T) { return fg::profile(s.layer(), s.classes, {.recovery_threshold = T})[0]; };
  CHECK(pick(0.40).policy == fg::special);
  CHECK(pick(0.40).kept == 1);
  CHECK(pick(0.50).policy == fg::special + fg::punctuation);
  CHECK(pick(0.75).policy == fg::special + fg::punctuation + fg::frequent);
  CHECK(pick(0.75).kept == 3);
  CHECK(pick(0.75).recovery == doctest::Approx(0.752778).epsilon(1e-5));
  CHECK(pick(0.80).policy == fg::special + fg::punctuation + fg::frequent + fg::local);
  CHECK(pick(0.80).kept == 5);
  CHECK(pick(0.80).recovery == doctest::Approx(0.841667).epsilon(1e-5));
  CHECK(pick(0.95).policy == fg::full);  // the paper's T
  CHECK(pick(0.95).recovery == 1.0);
  CHECK(pick(0.95).kept == 6);
}

// Eq. 1 literally: mean over rows of ||A_row − A_row ⊙ 1_C||_1 ≤ 1 − T. For C = {0, 1, 3} the rows
// lose 0, 0, 1/3, 1/4, 2/5, 3/6 of their mass: mean 89/360 = 0.247222 = 1 − 0.752778.
TEST_CASE("fastgen recovery equals 1 − the mean per-row L1 distance of Eq. 1") {
  six_tokens s;
  const auto l = s.layer();
  const std::vector<char> keep{1, 1, 0, 1, 0, 0};
  std::vector<double> row(6);
  double l1 = 0.0;
  for (std::size_t j = 0; j < 6; ++j) {
    kvc::attention_row(l, 0, j, row);
    for (std::size_t t = 0; t < 6; ++t)
      if (!keep[t]) l1 += row[t];
  }
  CHECK(l1 / 6.0 == doctest::Approx(89.0 / 360.0).epsilon(1e-9));
  kvc::score_matrix acc(1, 6);
  kvc::score::accumulated_attention{}(l, acc);
  CHECK(fg::recovery(acc.row(0), keep) == doctest::Approx(1.0 - 89.0 / 360.0).epsilon(1e-6));
}

TEST_CASE("fastgen::profile on hand-built heads: sink -> special, local -> +local, diffuse -> full") {
  kvc::test::hand_layer hand({hand_head::sink, hand_head::local, hand_head::diffuse});
  const auto table = fg::profile(hand.layer(3), hand.classes);
  REQUIRE(table.size() == 3);
  CHECK(table.tokens == 20);
  // sink: 0.96 · 4 rows on token 0 of 4 rows.
  CHECK(table[0].policy == fg::special);
  CHECK(table[0].kept == 1);
  CHECK(table[0].recovery == doctest::Approx(0.96).epsilon(1e-6));
  // local: accumulated 1,2,3,4,4,4,3,2,1 sixths on tokens 11..19; frequent (6 of 20) takes 12..17
  // = 20/24 < 0.95; adding local {14..19} brings 18, 19: 23/24. Cost 3 classed + 12..19 = 11.
  CHECK(table[1].policy == fg::special + fg::punctuation + fg::frequent + fg::local);
  CHECK(table[1].kept == 11);
  CHECK(table[1].recovery == doctest::Approx(23.0 / 24.0).epsilon(1e-6));
  // diffuse: +local reaches only 0.62.
  CHECK(table[2].policy == fg::full);
  CHECK(table[2].kept == 20);
  CHECK(table.kept_fraction() == doctest::Approx(32.0 / 60.0));

  const std::string text = table.to_string();
  CHECK(text.find("head 0: special  recovery 0.9600  kept 1/20") != std::string::npos);
  CHECK(text.find("head 1: special+punct+frequent+local  recovery 0.9583  kept 11/20") != std::string::npos);
  CHECK(text.find("head 2: full  recovery 1.0000  kept 20/20") != std::string::npos);
}

TEST_CASE("fastgen::profile folds a GQA group: mean by default, max on request") {
  // Two query heads on one kv head: a sink at 0.96 and the local head. Mean fold (of 4 rows):
  // token 0 1.92; 11..19 carry 1,2,3,4,4,4,3,2,1 twelfths, plus 0.02 each on 16..19 (sink's self).
  // special 0.48; +frequent {0,13..17}: 1.92 + (3+4+4+4+3)/12 + 0.04 = 3.46 -> 0.865;
  // +local adds 18, 19: 3.75 -> 0.9375 < 0.95, so full.
  kvc::test::hand_layer hand({hand_head::sink, hand_head::local});
  const auto mean = fg::profile(hand.layer(1), hand.classes);
  REQUIRE(mean.size() == 1);
  CHECK(mean[0].policy == fg::full);
  CHECK(fg::profile(hand.layer(1), hand.classes, {.recovery_threshold = 0.93})[0].recovery ==
        doctest::Approx(0.9375).epsilon(1e-6));
  // Two sinks: the mean is a sink.
  kvc::test::hand_layer sinks({hand_head::sink, hand_head::sink});
  const auto t = fg::profile(sinks.layer(1), sinks.classes);
  CHECK(t[0].policy == fg::special);
  CHECK(t[0].recovery == doctest::Approx(0.96).epsilon(1e-6));
  // Max fold of sink + diffuse: token 0 keeps max(3.84, 0.217) but every other token takes the
  // diffuse head's weight, so special no longer reaches 0.95.
  kvc::test::hand_layer mixed({hand_head::sink, hand_head::diffuse});
  CHECK(fg::profile(mixed.layer(1), mixed.classes, {}, kvc::group_reduce::max)[0].policy != fg::special);
}

TEST_CASE("fastgen::profile properties on random synthetic layers") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    kvc::eval::synthetic_config cfg{.kv_heads = 4, .group = 2, .tokens = 97, .head_dim = 16, .window = 8,
                                    .held_out = 1, .seed = seed};
    const auto syn = kvc::eval::make_synthetic_layer(cfg);
    std::mt19937_64 rng(seed);
    std::vector<token_class> cls(cfg.tokens, token_class::plain);
    cls[0] = token_class::special;
    for (auto& c : cls)
      if (rng() % 9 == 0) c = token_class::punctuation;
    kvc::score_matrix acc(cfg.kv_heads, cfg.tokens);
    kvc::score::accumulated_attention{}(syn.layer(), acc);
    for (double T : {0.5, 0.9, 0.95, 0.99}) {
      const auto table = fg::profile(syn.layer(), cls, {.recovery_threshold = T});
      CHECK(table == fg::profile(syn.layer(), cls, {.recovery_threshold = T}));  // deterministic
      for (std::size_t h = 0; h < table.size(); ++h) {
        const auto& p = table[h];
        CHECK((p.recovery >= T || p.policy == fg::full));
        const auto keep = fg::kept_tokens(p.policy, cls, acc.row(h), 0.3, 0.3);
        CHECK(p.kept == static_cast<std::size_t>(std::count(keep.begin(), keep.end(), char{1})));
        CHECK(p.recovery == doctest::Approx(fg::recovery(acc.row(h), keep)));
        CHECK(keep[0] == 1);  // every candidate contains C_special
        // No cheaper candidate reaches T.
        for (const auto& c : fg::hybrid_candidates) {
          const auto k = fg::kept_tokens(c, cls, acc.row(h), 0.3, 0.3);
          const auto cost = static_cast<std::size_t>(std::count(k.begin(), k.end(), char{1}));
          if (cost < p.kept) CHECK(fg::recovery(acc.row(h), k) < T);
        }
      }
    }
    // A higher T never keeps less.
    const auto low = fg::profile(syn.layer(), cls, {.recovery_threshold = 0.8});
    const auto high = fg::profile(syn.layer(), cls, {.recovery_threshold = 0.98});
    for (std::size_t h = 0; h < low.size(); ++h) CHECK(low[h].kept <= high[h].kept);
  }
}

TEST_CASE("fastgen::profile rejects bad input") {
  six_tokens s;
  const auto l = s.layer();
  CHECK_THROWS_AS(fg::profile(l, s.classes, {.recovery_threshold = 0.0}), kvc::error);
  CHECK_THROWS_AS(fg::profile(l, s.classes, {.recovery_threshold = 1.01}), kvc::error);
  CHECK_THROWS_AS(fg::profile(l, s.classes, {.local_ratio = 0.0}), kvc::error);
  CHECK_THROWS_AS(fg::profile(l, s.classes, {.frequent_ratio = -0.1}), kvc::error);
  CHECK_THROWS_AS(fg::profile(l, std::vector<token_class>(5, token_class::plain)), kvc::error);
  // No queries and no attention: nothing to profile.
  auto kv = kvc::strided_view<const float>::contiguous(s.keys.data(), 1, 6, 2);
  CHECK_THROWS_AS(fg::profile(kvc::make_layer(kv, kv), s.classes), kvc::error);
  kvc::score_matrix zero(1, 6, 0.0f);
  CHECK_THROWS_AS(fg::profile(zero, s.classes), kvc::error);
  kvc::score_matrix nan(1, 6, 1.0f);
  nan(0, 2) = std::nanf("");
  CHECK_THROWS_AS(fg::profile(nan, s.classes), kvc::error);
  CHECK_THROWS_AS(fg::profile(kvc::score_matrix{}, {}), kvc::error);
}
