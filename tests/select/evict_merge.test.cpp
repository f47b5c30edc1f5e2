// kvc::select::evict_merge and kvc::ems::class_assignment (EMS's zero-class mechanism).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include <kvc/ems/class_assignment.hpp>
#include <kvc/select/evict_merge.hpp>

using kvc::ems::class_assignment;

namespace {

/// Even heads are sparse (one token holds nearly all the mass), odd heads flat with many ties.
kvc::score_matrix random_scores(std::size_t heads, std::size_t tokens, std::uint64_t seed) {
  kvc::score_matrix s(heads, tokens);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::uniform_int_distribution<int> coarse(0, 3);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t t = 0; t < tokens; ++t)
      s(h, t) = h % 2 == 0 ? (t == (h * 7) % tokens ? 1000.0f : 0.001f * uniform(rng))
                           : static_cast<float>(coarse(rng));
  return s;
}

}  // namespace

TEST_CASE("evict_merge: three bands: kept, merge candidates, evicted") {
  // Scores 4, 3, 2, 1, 0, 0 (mass 10), budget 1, merge_mass 0.9: by rank the cumulative mass is
  // 4, 7, 9 >= 9, so tokens 0..2 are relevant: 0 is kept, 1 and 2 are merge candidates, and
  // tokens 3..5 (the last 10% of the mass and the zero scores) are evicted.
  kvc::score_matrix s(1, 6);
  const float row[6] = {4.0f, 3.0f, 2.0f, 1.0f, 0.0f, 0.0f};
  for (std::size_t t = 0; t < 6; ++t) s(0, t) = row[t];
  const auto a = kvc::select::evict_merge{.recent = 0}(s, 1);
  CHECK(std::vector<kvc::ems::class_id>(a.row(0).begin(), a.row(0).end()) ==
        std::vector<kvc::ems::class_id>{1, -1, -1, 0, 0, 0});
  // merge_mass 1: every token of positive score is relevant; 0: none beyond the kept.
  const auto all = kvc::select::evict_merge{.recent = 0, .merge_mass = 1.0}(s, 1);
  CHECK(std::vector<kvc::ems::class_id>(all.row(0).begin(), all.row(0).end()) ==
        std::vector<kvc::ems::class_id>{1, -1, -1, -1, 0, 0});
  const auto none = kvc::select::evict_merge{.recent = 0, .merge_mass = 0.0}(s, 1);
  CHECK(none.evicted(0) == 5);
}

TEST_CASE("kvc::ems::relevant_count: the fewest leading ranks holding the mass") {
  const float ranked[5] = {5.0f, 3.0f, 1.0f, 1.0f, -2.0f};  // positive mass 10
  const auto at = [&](std::size_t r) { return ranked[r]; };
  CHECK(kvc::ems::relevant_count(at, 5, 0.5) == 1);   // 5 >= 5
  CHECK(kvc::ems::relevant_count(at, 5, 0.6) == 2);   // 8 >= 6
  CHECK(kvc::ems::relevant_count(at, 5, 0.85) == 3);  // 9 >= 8.5
  CHECK(kvc::ems::relevant_count(at, 5, 1.0) == 4);   // 10 >= 10 at rank 3; the negative adds nothing
  CHECK(kvc::ems::relevant_count(at, 5, 0.0) == 1);
  const float negative[2] = {-1.0f, -3.0f};
  CHECK(kvc::ems::relevant_count([&](std::size_t r) { return negative[r]; }, 2, 0.9) == 0);
}

TEST_CASE("evict_merge: a sparse head evicts, a flat head leaves merge candidates") {
  // Head 0: the two kept tokens hold 9.5 of 10 >= 0.9 of it: nothing else is relevant, the rest
  // is evicted. Head 1: six equal scores: all are needed for 0.9 of the mass, so the rest is
  // pending (merge candidates).
  kvc::score_matrix s(2, 6);
  const float rows[2][6] = {{0.1f, 9.0f, 0.1f, 0.2f, 0.1f, 0.5f}, {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f}};
  for (std::size_t h = 0; h < 2; ++h)
    for (std::size_t t = 0; t < 6; ++t) s(h, t) = rows[h][t];
  const auto a = kvc::select::evict_merge{.recent = 0}(s, 2);
  CHECK(std::vector<kvc::index_t>(a.head(0).begin(), a.head(0).end()) == std::vector<kvc::index_t>{1, 5});
  CHECK(std::vector<kvc::ems::class_id>(a.row(0).begin(), a.row(0).end()) ==
        std::vector<kvc::ems::class_id>{0, 1, 0, 0, 0, 2});
  // Ties go to the lower index: tokens 0 and 1 are the centers.
  CHECK(std::vector<kvc::index_t>(a.head(1).begin(), a.head(1).end()) == std::vector<kvc::index_t>{0, 1});
  CHECK(std::vector<kvc::ems::class_id>(a.row(1).begin(), a.row(1).end()) ==
        std::vector<kvc::ems::class_id>{1, 2, -1, -1, -1, -1});
  CHECK(a.evicted(0) == 4);
  CHECK(a.pending_count(1) == 4);
  CHECK_FALSE(a.complete());
  CHECK(a.max_classes() == 3);
  CHECK(a.center(0, 5) == 5);
  CHECK(a.center(0, 2) == -1);
}

TEST_CASE("evict_merge: the recent window is always a center") {
  kvc::score_matrix s(1, 8);
  for (std::size_t t = 0; t < 8; ++t) s(0, t) = static_cast<float>(8 - t);  // early tokens score high
  const auto a = kvc::select::evict_merge{.recent = 3}(s, 4);
  CHECK(std::vector<kvc::index_t>(a.head(0).begin(), a.head(0).end()) == std::vector<kvc::index_t>{0, 5, 6, 7});
}

TEST_CASE("evict_merge: properties on random scores") {
  for (std::uint64_t seed : {1u, 2u, 3u, 4u})
    for (std::size_t n : {1u, 7u, 33u, 200u})
      for (std::size_t budget : {1u, 3u, 16u}) {
        if (budget > n) continue;
        const auto s = random_scores(4, n, seed);
        const kvc::select::evict_merge select{.recent = std::min<std::size_t>(1, budget)};
        const auto a = select(s, budget);
        CHECK(a == select(s, budget));  // deterministic
        REQUIRE(a.heads() == 4);
        REQUIRE(a.ids().size() == 4 * n);
        for (std::size_t h = 0; h < 4; ++h) {
          const auto kept = a.head(h);
          CHECK(kept.size() == budget);
          CHECK(std::adjacent_find(kept.begin(), kept.end(), [](auto x, auto y) { return x >= y; }) == kept.end());
          CHECK(a.contains(h, static_cast<kvc::index_t>(n - 1)));  // recent token protected
          std::size_t own = 0;
          for (std::size_t t = 0; t < n; ++t) {
            const auto id = a.id(h, t);
            if (a.contains(h, static_cast<kvc::index_t>(t))) {
              CHECK(a.center(h, t) == static_cast<kvc::index_t>(t));
              ++own;
            } else {
              CHECK((id == class_assignment::zero_class || id == class_assignment::pending));
            }
          }
          CHECK(own == budget);
          CHECK(a.evicted(h) + a.pending_count(h) + budget == n);
          // The bands follow the scores: no evicted token outscores a merge candidate, and the
          // kept and merge bands hold merge_mass (0.9) of the head's positive mass.
          double lowest_pending = std::numeric_limits<double>::infinity(), highest_evicted = -1e30;
          double held = 0.0, total = 0.0;
          for (std::size_t t = 0; t < n; ++t) {
            const double x = s(h, t), positive = std::max(x, 0.0);
            total += positive;
            if (a.id(h, t) == class_assignment::pending) lowest_pending = std::min(lowest_pending, x);
            if (a.id(h, t) == class_assignment::zero_class) highest_evicted = std::max(highest_evicted, x);
            if (a.id(h, t) != class_assignment::zero_class) held += positive;
          }
          CHECK(highest_evicted <= lowest_pending);
          CHECK(held >= 0.9 * total * (1.0 - 1e-12));
        }
        if (budget >= 3 && budget * 8 <= n) {  // a flat head keeps far below 0.9 of its mass
          CHECK(a.evicted(0) == n - budget);  // the sparse heads evict
          CHECK(a.pending_count(1) > 0);
          CHECK(a.evicted(1) > 0);  // its zero scores are never relevant
        }
      }
}

TEST_CASE("class_assignment: the constructor checks the id convention") {
  const auto keep = kvc::keep_set::from_heads(4, {{1, 3}});
  CHECK_NOTHROW(class_assignment(keep, {0, 1, 1, 2}));
  CHECK_NOTHROW(class_assignment(keep, {-1, 1, 2, 2}));
  CHECK_THROWS_AS(class_assignment(keep, {0, 2, 0, 1}), kvc::error);   // kept token not its own center
  CHECK_THROWS_AS(class_assignment(keep, {3, 1, 0, 2}), kvc::error);   // no center 3
  CHECK_THROWS_AS(class_assignment(keep, {-2, 1, 0, 2}), kvc::error);  // below pending
  CHECK_THROWS_AS(class_assignment(keep, {0, 1, 0}), kvc::error);      // wrong size
}

TEST_CASE("evict_merge: bad input throws kvc::error") {
  const auto s = random_scores(2, 10, 5);
  CHECK_THROWS_AS(kvc::select::evict_merge{.recent = 0}(s, 0), kvc::error);
  CHECK_THROWS_AS(kvc::select::evict_merge{.recent = 0}(s, 11), kvc::error);
  CHECK_THROWS_AS(kvc::select::evict_merge{.recent = 4}(s, 3), kvc::error);
  CHECK_THROWS_AS((kvc::select::evict_merge{.recent = 0, .merge_mass = 1.5}(s, 3)), kvc::error);
  auto bad = s;
  bad(1, 4) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(kvc::select::evict_merge{.recent = 0}(bad, 3), kvc::error);
}
