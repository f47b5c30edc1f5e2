// IntelLLM CGE, selector half: the tokens around the scores' center of gravity are shielded.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <limits>
#include <vector>

#include "kvc/core/pipeline.hpp"
#include "kvc/eval/synthetic.hpp"
#include "kvc/policy/snapkv.hpp"
#include "kvc/score/center_of_gravity.hpp"
#include "kvc/score/window_attention.hpp"
#include "kvc/select/centroid_protected.hpp"
#include "kvc/select/detail/rank.hpp"
#include "kvc/select/topk.hpp"

namespace {
using kvc::index_t;
using kvc::select::centroid_protected;
using kvc::select::token_span;

kvc::score_matrix one_row(const std::vector<float>& row) {
  kvc::score_matrix s(1, row.size());
  std::copy(row.begin(), row.end(), s.row(0).begin());
  return s;
}
std::vector<index_t> head(const kvc::keep_set& k, std::size_t h) { return {k.head(h).begin(), k.head(h).end()}; }

// Every property a centroid_protected selection must have, for any scores and budget.
template <class Inner>
void check_selection(const centroid_protected<Inner>& sel, const kvc::score_matrix& s, std::size_t budget) {
  const auto keep = sel(s, budget);
  const auto shield = sel.regions(s);
  REQUIRE(keep.heads() == s.heads());
  for (std::size_t h = 0; h < s.heads(); ++h) {
    const auto idx = keep.head(h);
    CHECK(idx.size() == budget);
    CHECK(std::adjacent_find(idx.begin(), idx.end(), std::greater_equal<>()) == idx.end());  // ascending, unique
    for (std::size_t t = shield[h].first; t < shield[h].last; ++t) CHECK(keep.contains(h, static_cast<index_t>(t)));
  }
  CHECK(keep == sel(s, budget));  // deterministic
}
}  // namespace

TEST_CASE("centroid_protected: the region around the centroid beats higher-scored tokens, by hand") {
  // s = 4 0 0 1 1 1 1 0 0 4. Mass 12, moment 0 + 3 + 4 + 5 + 6 + 36 = 54: centroid 4.5, which
  // rounds to token 4 (x.5 goes to the lower token). radius 1 shields 3 4 5; the fourth token is
  // the best of the rest: 0 (ties with 9, the lower index wins).
  const auto s = one_row({4, 0, 0, 1, 1, 1, 1, 0, 0, 4});
  const centroid_protected<> cge{.radius = 1};
  CHECK(cge.regions(s) == std::vector<token_span>{{3, 6}});
  CHECK(head(cge(s, 4), 0) == std::vector<index_t>{0, 3, 4, 5});
  // Plain top-k keeps 0 3 4 9: the shield is what keeps 5.
  CHECK(head(kvc::select::topk{}(s, 4), 0) == std::vector<index_t>{0, 3, 4, 9});
  // radius 0 shields the centre token only.
  CHECK(head(centroid_protected<>{.radius = 0}(s, 3), 0) == std::vector<index_t>{0, 4, 9});
}

TEST_CASE("centroid_protected: rounding to the nearest token and clipping at the ends") {
  // (4*2 + 5*3) / 5 = 4.6 -> token 5; radius 2 -> 3..7.
  CHECK(centroid_protected<>{.radius = 2}.regions(one_row({0, 0, 0, 0, 2, 3, 0, 0})) ==
        std::vector<token_span>{{3, 8}});
  // All mass on token 1: radius 3 clips to 0..4; a huge radius covers every token.
  CHECK(centroid_protected<>{.radius = 3}.regions(one_row({0, 5, 0, 0, 0, 0, 0})) ==
        std::vector<token_span>{{0, 5}});
  const std::size_t huge = std::numeric_limits<std::size_t>::max();
  CHECK(centroid_protected<>{.radius = huge}.regions(one_row({0, 5, 0})) == std::vector<token_span>{{0, 3}});
  // No mass: nothing is shielded and the inner selector decides alone.
  const auto zero = one_row({0, 0, 0, 0});
  CHECK(centroid_protected<>{}.regions(zero) == std::vector<token_span>{{0, 0}});
  CHECK(centroid_protected<>{}(zero, 2) == kvc::select::topk{}(zero, 2));
}

TEST_CASE("centroid_protected: the centroid skips what the inner selector always keeps") {
  CHECK(centroid_protected<kvc::select::window_topk>{.inner = {.window = 2}}.exclude_last == 2);
  const centroid_protected<kvc::select::topk> t{.inner = {.sinks = 1, .recent = 3}};
  CHECK(t.exclude_first == 1);
  CHECK(t.exclude_last == 3);
  CHECK(centroid_protected<kvc::select::heavy_recent>{}.exclude_last == 0);

  // s = 9 1 0 0 0 2 2 0 8 8 with a kept window of 2 (tokens 8, 9).
  //   centroid over 0..7: (1 + 10 + 12) / 14 = 23/14 = 1.64 -> token 2, radius 1 -> 1 2 3;
  //   budget 6: window 8 9, shield 1 2 3, best of the rest 0.
  //   centroid over all tokens: (23 + 64 + 72) / 30 = 5.3 -> token 5 -> 4 5 6, then 0.
  const auto s = one_row({9, 1, 0, 0, 0, 2, 2, 0, 8, 8});
  const centroid_protected<kvc::select::window_topk> cge{.inner = {.window = 2}, .radius = 1};
  CHECK(head(cge(s, 6), 0) == std::vector<index_t>{0, 1, 2, 3, 8, 9});
  CHECK(head(kvc::select::window_topk{.window = 2}(s, 6), 0) == std::vector<index_t>{0, 1, 5, 6, 8, 9});
  const centroid_protected<kvc::select::window_topk> all{.inner = {.window = 2}, .radius = 1, .exclude_last = 0};
  CHECK(all.regions(s) == std::vector<token_span>{{4, 7}});
  CHECK(head(all(s, 6), 0) == std::vector<index_t>{0, 4, 5, 6, 8, 9});
}

TEST_CASE("centroid_protected: shielding still works when the best score is the largest float") {
  // Mass at both ends: centroid 4.5 -> token 4. radius 0, budget 1: token 4 alone.
  const float big = std::numeric_limits<float>::max();
  const auto s = one_row({big, 0, 0, 0, 0, 0, 0, 0, 0, big});
  CHECK(head(centroid_protected<>{.radius = 0}(s, 1), 0) == std::vector<index_t>{4});
  CHECK(head(centroid_protected<>{.radius = 0}(s, 2), 0) == std::vector<index_t>{0, 4});
}

TEST_CASE("centroid_protected: the rest is ranked by score") {
  // Properties on the synthetic layer's attention scores, several budgets and seeds: size, order,
  // shield kept, window kept, and every unshielded kept token outranks every evicted one.
  for (std::uint64_t seed : {1u, 7u}) {
    const auto syn = kvc::eval::make_synthetic_layer({.kv_heads = 4, .group = 2, .tokens = 200, .head_dim = 16,
                                                      .window = 8, .held_out = 2, .seed = seed});
    kvc::score_matrix s(4, 200);
    kvc::score::center_of_gravity{.window = 8}(syn.layer(), s);
    const centroid_protected<kvc::select::window_topk> sel{.inner = {.window = 8}, .radius = 5};
    for (std::size_t budget : {19u, 20u, 40u, 111u, 200u}) {
      check_selection(sel, s, budget);
      const auto keep = sel(s, budget);
      const auto shield = sel.regions(s);
      for (std::size_t h = 0; h < 4; ++h) {
        for (index_t t = 192; t < 200; ++t) CHECK(keep.contains(h, t));
        index_t worst_kept = -1, best_evicted = -1;
        for (index_t t = 0; t < 192; ++t) {
          if (shield[h].contains(static_cast<std::size_t>(t))) continue;
          if (keep.contains(h, t)) {
            if (worst_kept < 0 || kvc::select::detail::outranks(s.row(h), worst_kept, t)) worst_kept = t;
          } else if (best_evicted < 0 || kvc::select::detail::outranks(s.row(h), t, best_evicted)) {
            best_evicted = t;
          }
        }
        if (worst_kept >= 0 && best_evicted >= 0) CHECK(kvc::select::detail::outranks(s.row(h), worst_kept, best_evicted));
      }
    }
  }
}

TEST_CASE("centroid_protected: CGE on top of SnapKV's scores is one pipeline type") {
  using cge_snapkv = kvc::pipeline<kvc::score::window_attention, centroid_protected<kvc::select::window_topk>>;
  static_assert(kvc::selector<centroid_protected<kvc::select::window_topk>>);
  const auto syn = kvc::eval::make_synthetic_layer(
      {.kv_heads = 4, .group = 2, .tokens = 256, .head_dim = 16, .window = 32, .held_out = 2, .seed = 3});
  const auto l = syn.layer();
  const cge_snapkv policy{};
  const kvc::policy::snapkv snap{};
  const auto s = policy.scores(l);
  CHECK(s.flat()[0] == snap.scores(l).flat()[0]);  // the same scorer
  const auto keep = policy.keep(l, kvc::budget::tokens{64});
  const auto shield = policy.select.regions(s);
  check_selection(policy.select, s, 64);
  for (std::size_t h = 0; h < 4; ++h)
    for (index_t t = 224; t < 256; ++t) CHECK(keep.contains(h, t));
  // The centroid is the one of SnapKV's scores over the prefix 0..223; the shield is the 17
  // tokens around it, clipped at token 0 (the sink head's centroid sits near the start).
  for (std::size_t h = 0; h < 4; ++h) {
    const auto center = static_cast<std::size_t>(std::ceil(*kvc::score::centroid(s.row(h), 0, 224) - 0.5));
    CHECK(shield[h] == token_span{center - std::min<std::size_t>(8, center), center + 9});
  }
  const auto compressed = policy(l, kvc::budget::tokens{64});
  CHECK(compressed.keep() == keep);
}

TEST_CASE("centroid_protected: bad input throws kvc::error naming the argument") {
  const auto s = one_row({4, 0, 0, 1, 1, 1, 1, 0, 0, 4});
  auto argument_of = [](auto&& call) {
    try {
      call();
    } catch (const kvc::error& e) {
      return e.argument();
    }
    return std::string("no error");
  };
  // Budget below the shield (3 tokens), zero, or above the cache.
  CHECK(argument_of([&] { (void)centroid_protected<>{.radius = 1}(s, 2); }) == "budget");
  CHECK(argument_of([&] { (void)centroid_protected<>{.radius = 0}(s, 0); }) == "budget");
  CHECK(argument_of([&] { (void)centroid_protected<>{.radius = 0}(s, 11); }) == "budget");
  // Budget fits the shield but not the shield beside the inner selector's own recent window.
  CHECK(argument_of([&] {
          (void)centroid_protected<kvc::select::topk>{.inner = {.recent = 3}, .radius = 1, .exclude_last = 0}(s, 4);
        }) == "budget");
  // Negative and non-finite scores cannot be weights.
  CHECK(argument_of([&] { (void)centroid_protected<>{}(one_row({1, -1, 2}), 2); }) == "scores(0, 1)");
  CHECK(argument_of([&] { (void)centroid_protected<>{}(one_row({1, std::nanf(""), 2}), 2); }) == "scores(0, 1)");
  CHECK(argument_of([&] { (void)centroid_protected<>{}.regions(one_row({1, 2, -0.5f})); }) == "scores(0, 2)");
}
