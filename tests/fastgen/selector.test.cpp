#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "fastgen/hand_maps.hpp"
#include "kvc/core/budget.hpp"
#include "kvc/core/concepts.hpp"
#include "kvc/core/error.hpp"
#include "kvc/eval/synthetic.hpp"
#include "kvc/fastgen/selector.hpp"
#include "kvc/policy/fastgen.hpp"

namespace fg = kvc::fastgen;
using fg::token_class;
using kvc::test::hand_head;

static_assert(kvc::selector<fg::selector>);
static_assert(kvc::scorer<kvc::policy::fastgen::scorer_type>);

TEST_CASE("policy::fastgen composes into a pipeline with ragged per-head caches") {
  kvc::test::hand_layer hand({hand_head::sink, hand_head::local, hand_head::diffuse});
  const kvc::policy::fastgen policy{.select = {.classes = hand.classes}};
  const auto l = hand.layer(3);
  const auto sel = policy.keep(l, kvc::budget::ratio{1.0});
  REQUIRE(sel.heads() == 3);
  CHECK(std::vector<kvc::index_t>(sel.head(0).begin(), sel.head(0).end()) == std::vector<kvc::index_t>{0});
  CHECK(std::vector<kvc::index_t>(sel.head(1).begin(), sel.head(1).end()) ==
        std::vector<kvc::index_t>{0, 5, 10, 12, 13, 14, 15, 16, 17, 18, 19});
  CHECK(sel.kept(2) == 20);
  CHECK(sel.table[0].policy == fg::special);
  CHECK(sel.table[2].policy == fg::full);
  // The budget is ignored by default: any valid budget gives the same selection.
  CHECK(policy.keep(l, kvc::budget::tokens{2}) == sel);

  const auto compressed = policy(l, kvc::budget::ratio{1.0});
  CHECK(compressed.kept(0) == 1);
  CHECK(compressed.kept(1) == 11);
  CHECK(compressed.kept(2) == 20);
  CHECK(compressed.positions(1)[3] == 12);
}

namespace {
// The 6-token example (profile.test.cpp): its classes and accumulated attention (total 6).
std::vector<token_class> six_classes() {
  return {token_class::special, token_class::plain,       token_class::plain,
          token_class::punctuation, token_class::plain, token_class::plain};
}
kvc::score_matrix six_scores() {
  kvc::score_matrix acc(1, 6);
  const float a[] = {2.45f, 1.45f, 0.95f, 0.6166667f, 0.3666667f, 0.1666667f};
  for (std::size_t t = 0; t < 6; ++t) acc(0, t) = a[t];
  return acc;
}
}  // namespace

// The 6-token example (profile.test.cpp): candidate costs 1, 2, 3, 5, 6; T = 0.95 asks for full.
TEST_CASE("fastgen::selector with budget_use::cap keeps each head under the budget") {
  const std::vector<token_class> cls = six_classes();
  const kvc::score_matrix acc = six_scores();
  const fg::selector capped{.classes = cls, .budget = fg::budget_use::cap};
  // +local (5) does not fit: +frequent {0, 1, 3} is the most that does, and the fourth slot goes
  // to the heaviest token left, 2 (0.95). Recovery (2.45 + 1.45 + 0.95 + 0.6166667) / 6 = 0.911111.
  auto s = capped(acc, 4);
  CHECK(s.table[0].policy == fg::special + fg::punctuation + fg::frequent);
  CHECK(s.table[0].capped);
  CHECK(s.kept(0) == 4);
  CHECK(std::vector<kvc::index_t>(s.head(0).begin(), s.head(0).end()) == std::vector<kvc::index_t>{0, 1, 2, 3});
  CHECK(s.table[0].recovery == doctest::Approx(0.911111).epsilon(1e-5));
  // Cap 2: only special+punct {0, 3} fits; nothing is left to fill, and it is labelled +frequent
  // only when a token was added.
  auto two = capped(acc, 2);
  CHECK(std::vector<kvc::index_t>(two.head(0).begin(), two.head(0).end()) == std::vector<kvc::index_t>{0, 3});
  CHECK_FALSE(capped(acc, 6).table[0].capped);
  CHECK(capped(acc, 6).kept(0) == 6);
  // Even C_special is over the cap: its best-scored special tokens.
  std::vector<token_class> three(cls);
  three[1] = three[2] = token_class::special;
  auto t = fg::selector{.classes = three, .budget = fg::budget_use::cap}(acc, 2);
  CHECK(std::vector<kvc::index_t>(t.head(0).begin(), t.head(0).end()) == std::vector<kvc::index_t>{0, 1});
  CHECK(t.table[0].policy == fg::special);
  CHECK(t.table[0].kept == 2);
  CHECK_THROWS_AS(capped(acc, 0), kvc::error);
  CHECK_THROWS_AS(capped(acc, 7), kvc::error);
}

// The same example under budget_use::trim: C* stays full, and the cap keeps its special token, then
// its heaviest tokens. Total attention 6.
TEST_CASE("fastgen::selector with budget_use::trim keeps the profiled policy's heaviest tokens") {
  const std::vector<token_class> cls = six_classes();
  const kvc::score_matrix acc = six_scores();
  const fg::selector trim{.classes = cls, .budget = fg::budget_use::trim};
  // Cap 2: the special token 0, then token 1 (1.45); the punctuation token 3 (0.617), which
  // budget_use::cap keeps, is not among the heaviest. Recovery (2.45 + 1.45) / 6 = 0.65.
  auto two = trim(acc, 2);
  CHECK(std::vector<kvc::index_t>(two.head(0).begin(), two.head(0).end()) == std::vector<kvc::index_t>{0, 1});
  CHECK(two.table[0].policy == fg::full);
  CHECK(two.table[0].capped);
  CHECK(two.table[0].kept == 2);
  CHECK(two.table[0].recovery == doctest::Approx(0.65).epsilon(1e-6));
  // Cap 4: tokens 0, 1, 2, 3 (the special one, then 1.45, 0.95, 0.617).
  auto four = trim(acc, 4);
  CHECK(std::vector<kvc::index_t>(four.head(0).begin(), four.head(0).end()) == std::vector<kvc::index_t>{0, 1, 2, 3});
  CHECK_FALSE(trim(acc, 6).table[0].capped);
  // A low-scored special token still comes first: with token 4 special, cap 2 keeps {0, 4}.
  std::vector<token_class> late(cls);
  late[4] = token_class::special;
  auto s = fg::selector{.classes = late, .budget = fg::budget_use::trim}(acc, 2);
  CHECK(std::vector<kvc::index_t>(s.head(0).begin(), s.head(0).end()) == std::vector<kvc::index_t>{0, 4});
  // A head whose C* fits keeps C* whole, under the cap: T = 0.5 chooses special + punct {0, 3}.
  auto fits = fg::selector{.classes = cls, .recovery_threshold = 0.5, .budget = fg::budget_use::trim}(acc, 3);
  CHECK(std::vector<kvc::index_t>(fits.head(0).begin(), fits.head(0).end()) == std::vector<kvc::index_t>{0, 3});
  CHECK_FALSE(fits.table[0].capped);
  CHECK_THROWS_AS(trim(acc, 0), kvc::error);
  CHECK_THROWS_AS(trim(acc, 7), kvc::error);
}

TEST_CASE("fastgen::selector properties on random scores") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (std::size_t n : {1u, 7u, 33u, 257u}) {
    kvc::score_matrix s(5, n);
    for (auto& x : s.flat()) x = u(rng) * u(rng);
    std::vector<token_class> cls(n, token_class::plain);
    for (auto& c : cls) {
      const auto r = rng() % 10;
      c = r == 0 ? token_class::special : r < 3 ? token_class::punctuation : token_class::plain;
    }
    const auto uncapped = fg::selector{.classes = cls}(s, 1);
    for (auto use : {fg::budget_use::ignore, fg::budget_use::cap, fg::budget_use::trim}) {
      const std::size_t budget = std::max<std::size_t>(1, n / 3);
      const fg::selector sel{.classes = cls, .budget = use};
      const auto a = sel(s, budget);
      CHECK(a == sel(s, budget));
      CHECK(a.table == sel(s, budget).table);
      for (std::size_t h = 0; h < s.heads(); ++h) {
        const auto idx = a.head(h);
        for (std::size_t i = 1; i < idx.size(); ++i) CHECK(idx[i - 1] < idx[i]);
        CHECK(a.kept(h) == a.table[h].kept);
        if (use != fg::budget_use::ignore) CHECK(a.kept(h) <= budget);
        if (use == fg::budget_use::trim) {  // a subset of C*, and C* itself when it fits
          CHECK(a.table[h].policy == uncapped.table[h].policy);
          for (auto t : idx) CHECK(uncapped.contains(h, t));
          CHECK(a.kept(h) == std::min(budget, uncapped.kept(h)));
        }
        if (use == fg::budget_use::ignore) {
          CHECK((a.table[h].recovery >= 0.95 || a.table[h].policy == fg::full));
          for (std::size_t t = 0; t < n; ++t)  // special tokens are in every candidate
            if (cls[t] == token_class::special) CHECK(a.contains(h, static_cast<kvc::index_t>(t)));
        }
      }
    }
  }
}

TEST_CASE("fastgen::selector rejects bad input before selecting") {
  kvc::score_matrix s(2, 4, 1.0f);
  CHECK_THROWS_AS((fg::selector{.recovery_threshold = 0.0}(s, 4)), kvc::error);
  CHECK_THROWS_AS((fg::selector{.local_ratio = 2.0}(s, 4)), kvc::error);
  const std::vector<token_class> wrong(3, token_class::plain);
  CHECK_THROWS_AS((fg::selector{.classes = wrong}(s, 4)), kvc::error);
  s(1, 2) = -1.0f;
  CHECK_THROWS_AS((fg::selector{}(s, 4)), kvc::error);
  s(1, 2) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS((fg::selector{}(s, 4)), kvc::error);
}

TEST_CASE("policy::fastgen on the synthetic layer: diffuse heads keep everything, sink and local heads less") {
  const auto syn = kvc::eval::make_synthetic_layer({.kv_heads = 8, .group = 2, .tokens = 256, .head_dim = 32,
                                                    .window = 16, .held_out = 1, .seed = 3});
  std::vector<token_class> cls(256, token_class::plain);
  cls[0] = token_class::special;
  const auto sel = kvc::policy::fastgen{.select = {.classes = cls}}.keep(syn.layer(), kvc::budget::ratio{1.0});
  for (std::size_t h = 0; h < 8; ++h) {
    INFO("head " << h << ": " << sel.table[h].policy);
    if (syn.kinds[h] == kvc::eval::head_kind::diffuse) CHECK(sel.table[h].policy == fg::full);
    if (syn.kinds[h] == kvc::eval::head_kind::sink || syn.kinds[h] == kvc::eval::head_kind::local)
      CHECK(sel.kept(h) < 256);
  }
}
