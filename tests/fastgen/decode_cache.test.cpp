#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "fastgen/hand_maps.hpp"
#include "kvc/core/budget.hpp"
#include "kvc/core/error.hpp"
#include "kvc/fastgen/decode_cache.hpp"
#include "kvc/policy/fastgen.hpp"

namespace fg = kvc::fastgen;
using fg::token_class;
using kvc::test::hand_head;

namespace {
std::vector<kvc::index_t> as_vector(std::span<const kvc::index_t> s) { return {s.begin(), s.end()}; }

// The 6-token example (cache_policy.test.cpp) profiled at T = 0.8: special+punct+frequent+local
// keeps {0, 1, 3, 4, 5} with accumulated 2.45, 1.45, 0.616667, 0.366667, 0.166667.
struct six_token_prompt {
  std::vector<token_class> cls{token_class::special, token_class::plain, token_class::plain,
                               token_class::punctuation, token_class::plain, token_class::plain};
  kvc::score_matrix acc{1, 6};
  fg::selection sel;
  six_token_prompt() {
    const float a[] = {2.45f, 1.45f, 0.95f, 0.6166667f, 0.3666667f, 0.1666667f};
    for (std::size_t t = 0; t < 6; ++t) acc(0, t) = a[t];
    sel = fg::selector{.classes = cls, .recovery_threshold = 0.8}(acc, 6);
  }
};
}  // namespace

TEST_CASE("fastgen::decode_cache by hand: the window slides, frequent keeps the heaviest, classes stay") {
  six_token_prompt p;
  REQUIRE(p.sel.table[0].policy == fg::special + fg::punctuation + fg::frequent + fg::local);
  fg::decode_cache cache(p.sel, p.acc, p.cls);
  CHECK(as_vector(cache.head(0)) == std::vector<kvc::index_t>{0, 1, 3, 4, 5});

  // Step to L = 7 with a plain token; share(0.3, 7) = 2. Weights 0.1 on each cached token, 0.5 on
  // itself: accumulated 2.55, 1.55, 0.716667, 0.466667, 0.266667, 0.5. Frequent {0, 1}, local
  // {5, 6}, special {0}, punct {3}: token 4 is evicted.
  const std::vector<float> w1{0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.5f};
  cache.append(token_class::plain, [&](std::size_t) { return std::span<const float>(w1); });
  CHECK(cache.length() == 7);
  CHECK(as_vector(cache.head(0)) == std::vector<kvc::index_t>{0, 1, 3, 5, 6});
  CHECK(cache.accumulated(0)[0] == doctest::Approx(2.55));
  CHECK(cache.accumulated(0)[4] == doctest::Approx(0.5));
  CHECK(cache.budget(0) == 1 + 1 + 2 + 2);

  // L = 8, a punctuation token; share(0.3, 8) = 2, the window is {6, 7}. Token 5 (0.266667 + 0.3)
  // stays below token 1 (1.55): it leaves with the window. The new punctuation token is kept.
  const std::vector<float> w2{0.2f, 0.0f, 0.0f, 0.3f, 0.4f, 0.1f};
  cache.append(token_class::punctuation, [&](std::size_t) { return std::span<const float>(w2); });
  CHECK(as_vector(cache.head(0)) == std::vector<kvc::index_t>{0, 1, 3, 6, 7});
  CHECK(cache.accumulated(0)[0] == doctest::Approx(2.75));
  CHECK(cache.class_of(7) == token_class::punctuation);
}

TEST_CASE("fastgen::decode_cache: a special head keeps only special tokens, a full head everything") {
  kvc::test::hand_layer hand({hand_head::sink, hand_head::diffuse});
  const kvc::policy::fastgen policy{.select = {.classes = hand.classes}};
  const auto l = hand.layer(2);
  fg::decode_cache cache(policy.keep(l, kvc::budget::ratio{1.0}), policy.scores(l), hand.classes);
  REQUIRE(cache.policy(0) == fg::special);
  REQUIRE(cache.policy(1) == fg::full);
  std::vector<std::vector<float>> w(2);
  auto step = [&](token_class c) {
    for (std::size_t h = 0; h < 2; ++h) w[h].assign(cache.kept(h) + 1, 0.5f);
    cache.append(c, [&](std::size_t h) { return std::span<const float>(w[h]); });
  };
  step(token_class::plain);        // 20: dropped by the special head
  step(token_class::special);      // 21: kept
  step(token_class::punctuation);  // 22: not its class
  CHECK(as_vector(cache.head(0)) == std::vector<kvc::index_t>{0, 21});
  CHECK(cache.kept(1) == 23);
  CHECK(cache.budget(0) == 2);
  CHECK(cache.budget(1) == 23);
}

TEST_CASE("fastgen::decode_cache keeps every head within its budget over 100 steps") {
  kvc::test::hand_layer hand({hand_head::sink, hand_head::local, hand_head::diffuse, hand_head::local});
  const auto l = hand.layer(4);
  const auto scores = kvc::policy::fastgen{.select = {.classes = hand.classes}}.scores(l);
  // Head 3 profiled at a lower T so that one head runs special+punct+frequent.
  auto sel = fg::selector{.classes = hand.classes}(scores, 20);
  const auto lower = fg::selector{.classes = hand.classes, .recovery_threshold = 0.8}(scores, 20);
  REQUIRE(lower.table[3].policy == fg::special + fg::punctuation + fg::frequent);
  std::vector<std::vector<kvc::index_t>> heads;
  for (std::size_t h = 0; h < 3; ++h) heads.emplace_back(sel.head(h).begin(), sel.head(h).end());
  heads.emplace_back(lower.head(3).begin(), lower.head(3).end());
  fg::selection mixed;
  static_cast<kvc::keep_set&>(mixed) = kvc::keep_set::from_heads(20, heads);
  mixed.table = sel.table;
  mixed.table.heads[3] = lower.table[3];

  fg::decode_cache cache(mixed, scores, hand.classes), twin(mixed, scores, hand.classes);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<std::vector<float>> w(4);
  std::size_t specials = 1, puncts = 2;
  for (std::size_t step = 0; step < 100; ++step) {
    const auto r = rng() % 10;
    const token_class c = r == 0 ? token_class::special : r < 3 ? token_class::punctuation : token_class::plain;
    specials += c == token_class::special;
    puncts += c == token_class::punctuation;
    for (std::size_t h = 0; h < 4; ++h) {
      w[h].resize(cache.kept(h) + 1);
      double sum = 0.0;
      for (auto& x : w[h]) sum += x = u(rng);
      for (auto& x : w[h]) x = static_cast<float>(x / sum);
    }
    auto weights = [&](std::size_t h) { return std::span<const float>(w[h]); };
    cache.append(c, weights);
    twin.append(c, weights);
    const std::size_t L = 21 + step;
    REQUIRE(cache.length() == L);
    for (std::size_t h = 0; h < 4; ++h) {
      INFO("step " << step << " head " << h << " " << cache.policy(h));
      const auto idx = cache.head(h);
      CHECK(idx.size() <= cache.budget(h));
      CHECK(static_cast<std::size_t>(idx.back()) < L);
      for (std::size_t i = 1; i < idx.size(); ++i) CHECK(idx[i - 1] < idx[i]);
      CHECK(cache.accumulated(h).size() == idx.size());
      const auto& p = cache.policy(h);
      if (p.full) CHECK(idx.size() == L);
      if (!p.full)
        CHECK(cache.budget(h) == std::min(L, (p.special ? specials : 0) + (p.punctuation ? puncts : 0) +
                                                 (p.frequent ? fg::share(0.3, L) : 0) +
                                                 (p.local ? fg::share(0.3, L) : 0)));
      if (p.local)  // the whole sliding window is cached
        for (std::size_t t = L - fg::share(0.3, L); t < L; ++t)
          CHECK(std::binary_search(idx.begin(), idx.end(), static_cast<kvc::index_t>(t)));
      for (std::size_t t = 0; t < L; ++t) {  // class tokens are never evicted from heads that keep the class
        const bool in = std::binary_search(idx.begin(), idx.end(), static_cast<kvc::index_t>(t));
        if (p.special && cache.class_of(t) == token_class::special) CHECK(in);
        if (p.punctuation && cache.class_of(t) == token_class::punctuation) CHECK(in);
      }
      CHECK(as_vector(idx) == as_vector(twin.head(h)));  // deterministic
    }
  }
  CHECK(cache.kept(0) == specials);  // the sink head holds exactly the special tokens
}

TEST_CASE("fastgen::decode_cache rejects bad input and leaves the cache unchanged") {
  six_token_prompt p;
  CHECK_THROWS_AS(fg::decode_cache(p.sel, kvc::score_matrix(2, 6, 1.0f), p.cls), kvc::error);
  CHECK_THROWS_AS(fg::decode_cache(p.sel, kvc::score_matrix(1, 5, 1.0f), p.cls), kvc::error);
  CHECK_THROWS_AS(fg::decode_cache(p.sel, p.acc, std::vector<token_class>(4, token_class::plain)), kvc::error);
  kvc::score_matrix neg = p.acc;
  neg(0, 1) = -1.0f;
  CHECK_THROWS_AS(fg::decode_cache(p.sel, neg, p.cls), kvc::error);

  fg::decode_cache cache(p.sel, p.acc, p.cls);
  const auto before = as_vector(cache.head(0));
  const std::vector<float> short_w{0.5f, 0.5f};
  CHECK_THROWS_AS(cache.append(token_class::plain, [&](std::size_t) { return std::span<const float>(short_w); }),
                  kvc::error);
  const std::vector<float> nan_w{0.1f, 0.1f, std::nanf(""), 0.1f, 0.1f, 0.1f};
  CHECK_THROWS_AS(cache.append(token_class::plain, [&](std::size_t) { return std::span<const float>(nan_w); }),
                  kvc::error);
  const std::vector<float> ok(6, 0.1f);
  CHECK_THROWS_AS(cache.append(static_cast<token_class>(9), [&](std::size_t) { return std::span<const float>(ok); }),
                  kvc::error);
  CHECK(cache.length() == 6);
  CHECK(as_vector(cache.head(0)) == before);
  CHECK(cache.accumulated(0)[0] == doctest::Approx(2.45));
}
