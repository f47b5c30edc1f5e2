// kvc::ems::assign_centers, kvc::merge::center_merge and the kvc::policy::ems pipeline.
#include <doctest/doctest.h>

#include "support/ems.hpp"

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include <kvc/ems/assign_centers.hpp>
#include <kvc/merge/center_merge.hpp>
#include <kvc/policy/ems.hpp>

using kvc::ems::class_assignment;
using kvc::ems::class_id;

namespace {

using kvc_ems_test::owned_layer;
using kvc_ems_test::random_layer;

/// The 5-token example of docs/ems.md: one head, d = 2, no queries needed by the merger.
owned_layer five_tokens() {
  return {1, 5, 2, 1, 1,
          /*keys*/ {1, 0, 1, 0.1f, 0, 1, 0.1f, 1, -1, -1},
          /*values*/ {2, 0, 6, 4, 0, 3, 9, 3, 100, 100},
          /*queries*/ {0, 0}};
}

kvc::score_matrix five_scores() {
  kvc::score_matrix s(1, 5);
  const float v[5] = {0.4f, 0.1f, 0.3f, 0.2f, 0.05f};
  for (std::size_t t = 0; t < 5; ++t) s(0, t) = v[t];
  return s;
}

std::vector<float> row(kvc::strided_view<const float> v, std::size_t i) {
  return {v(0, i, 0), v(0, i, 1)};
}

}  // namespace

TEST_CASE("center_merge: hand-computed 5-token example") {
  // Budget 2, no recent window: centers are tokens 0 (score 0.4) and 2 (0.3). By rank the mass
  // runs 0.4, 0.7, 0.9, 1.0 >= 0.9 · 1.05, so tokens 3 and 1 are merge candidates and token 4
  // (the last 0.05) is evicted. Similarity = key cosine · value cosine:
  //   token 1 (k (1, 0.1), v (6, 4)):  center 0: 0.995 · 0.832 = 0.828;  center 2: 0.0995 · 0.555 = 0.055
  //   token 3 (k (0.1, 1), v (9, 3)):  center 0: 0.0995 · 0.949 = 0.094; center 2: 0.995 · 0.316 = 0.315
  // Classes: [1, 1, 2, 2, 0].
  //   values:  center 0: (0.4 · (2, 0) + 0.1 · (6, 4)) / 0.5 = (2.8, 0.8)
  //            center 2: (0.3 · (0, 3) + 0.2 · (9, 3)) / 0.5 = (3.6, 3.0)
  //   keys:    the weighted mean k̄_0 = (1, 0.02), ‖k̄_0‖ = 1.0002, rescaled to the weighted mean
  //            norm (0.4 · 1 + 0.1 · 1.00499) / 0.5 = 1.0009975: k̂_0 = (1.000797, 0.020016);
  //            k̄_2 = (0.04, 1) to (0.3 · 1 + 0.2 · 1.00499) / 0.5: k̂_2 = (0.040048, 1.001194).
  const auto l = five_tokens();
  const auto s = five_scores();
  const auto a = kvc::select::evict_merge{.recent = 0}(s, 2);
  const auto classes = kvc::ems::assign_centers(l.layer(), a, 0.0);
  CHECK(std::vector<class_id>(classes.row(0).begin(), classes.row(0).end()) == std::vector<class_id>{1, 1, 2, 2, 0});

  // The pipeline's form of the selector (with the layer) gives the same complete assignment.
  const auto direct = kvc::select::evict_merge{.recent = 0}(l.layer(), s, 2);
  CHECK(std::vector<class_id>(direct.ids().begin(), direct.ids().end()) ==
        std::vector<class_id>(classes.ids().begin(), classes.ids().end()));

  const auto out = kvc::merge::center_merge{}(l.layer(), s, classes);
  REQUIRE(out.kept(0) == 2);
  CHECK(out.positions(0)[0] == 0);
  CHECK(out.positions(0)[1] == 2);
  const auto v = row(out.values(0), 0), w = row(out.values(0), 1);
  CHECK(v[0] == doctest::Approx(2.8));
  CHECK(v[1] == doctest::Approx(0.8));
  CHECK(w[0] == doctest::Approx(3.6));
  CHECK(w[1] == doctest::Approx(3.0));
  const auto k0 = row(out.keys(0), 0), k2 = row(out.keys(0), 1);
  CHECK(k0[0] == doctest::Approx(1.0007974));
  CHECK(k0[1] == doctest::Approx(0.0200159));
  CHECK(k2[0] == doctest::Approx(0.0400478));
  CHECK(k2[1] == doctest::Approx(1.0011944));

  const auto own_keys = kvc::merge::center_merge{.merge_keys = false}(l.layer(), s, classes);
  CHECK(row(own_keys.keys(0), 0) == std::vector<float>{1, 0});  // the centers' own keys
  CHECK(row(own_keys.keys(0), 1) == std::vector<float>{0, 1});
  CHECK(row(own_keys.values(0), 0) == v);

  // Key cosine alone (kvc's earlier reading) gives the same classes here: 0.995 against 0.0995.
  const auto by_key = kvc::select::evict_merge{.recent = 0, .similarity = kvc::ems::similarity_measure::key}(l.layer(), s, 2);
  CHECK(std::vector<class_id>(by_key.row(0).begin(), by_key.row(0).end()) == std::vector<class_id>{1, 1, 2, 2, 0});
  // With all the mass relevant, token 4 is a candidate; its key points away from both centers
  // (cosine -0.71), so the similarity threshold 0 evicts it.
  const auto all = kvc::select::evict_merge{.recent = 0, .merge_mass = 1.0}(l.layer(), s, 2);
  CHECK(all.id(0, 4) == class_assignment::zero_class);

  // Demanding a near-copy (0.9 > 0.828) evicts every candidate: the centers stay as stored.
  const auto strict =
      kvc::merge::center_merge{}(l.layer(), s, kvc::select::evict_merge{.recent = 0, .min_similarity = 0.9}(l.layer(), s, 2));
  CHECK(row(strict.values(0), 0) == std::vector<float>{2, 0});
  CHECK(row(strict.values(0), 1) == std::vector<float>{0, 3});
}

TEST_CASE("center_merge: a class without positive weight takes the plain mean") {
  const auto l = five_tokens();
  const kvc::score_matrix zero(1, 5, 0.0f);
  const class_assignment a(kvc::keep_set::from_heads(5, {{1}}), {1, 1, 0, 0, 0});
  const auto out = kvc::merge::center_merge{}(l.layer(), zero, a);
  CHECK(row(out.values(0), 0) == std::vector<float>{4, 2});  // ((2, 0) + (6, 4)) / 2
  CHECK(out.positions(0)[0] == 1);
}

TEST_CASE("center_merge: merged keys keep their norm") {
  // Two unit keys 90 degrees apart, equal weights: the plain mean (0.5, 0.5) has norm 0.707; the
  // merged key is rescaled to the members' mean norm, 1: (0.7071, 0.7071).
  owned_layer l{1, 2, 2, 1, 1, {1, 0, 0, 1}, {1, 0, 0, 1}, {0, 0}};
  const kvc::score_matrix s(1, 2, 1.0f);
  const class_assignment a(kvc::keep_set::from_heads(2, {{1}}), {1, 1});
  const auto out = kvc::merge::center_merge{}(l.layer(), s, a);
  const auto k = row(out.keys(0), 0);
  CHECK(k[0] == doctest::Approx(std::sqrt(0.5)));
  CHECK(k[1] == doctest::Approx(std::sqrt(0.5)));
  CHECK(row(out.values(0), 0) == std::vector<float>{0.5f, 0.5f});  // values: the plain weighted mean
}

TEST_CASE("assign_centers: a head with duplicated keys merges them") {
  // Tokens 2 and 3 repeat the keys of tokens 0 and 1; token 4 is unlike both.
  owned_layer l{1, 5, 2, 1, 1, {1, 2, 3, -1, 1, 2, 3, -1, -2, 1}, std::vector<float>(10, 1.0f), {0, 0}};
  const class_assignment a(kvc::keep_set::from_heads(5, {{0, 1}}), {1, 2, -1, -1, -1});
  const auto done = kvc::ems::assign_centers(l.layer(), a, 0.99, kvc::ems::similarity_measure::key);
  CHECK(done.complete());
  CHECK(done.center(0, 2) == 0);
  CHECK(done.center(0, 3) == 1);
  CHECK(done.id(0, 4) == class_assignment::zero_class);
  CHECK(done.merged(0) == 2);
  CHECK(done.evicted(0) == 1);
}

TEST_CASE("policy::ems: class ids are consistent on random layers") {
  for (std::uint64_t seed : {1u, 2u, 3u})
    for (std::size_t n : {7u, 33u, 97u}) {
      const auto l = random_layer(3, 2, n, 8, 4, seed);
      const kvc::policy::ems ems{.score = {.window = 4}, .select = {.recent = 4}};
      for (std::size_t budget : {4u, 6u}) {
        const auto scores = ems.scores(l.layer());
        const auto classes = ems.keep(l.layer(), kvc::budget::tokens{budget});
        CHECK(classes.complete());
        for (std::size_t h = 0; h < 3; ++h) {
          CHECK(classes.kept(h) == budget);
          for (std::size_t t = 0; t < n; ++t) {
            const class_id id = classes.id(h, t);
            if (id == class_assignment::zero_class) continue;  // evicted
            REQUIRE(id >= 1);
            const auto c = classes.center(h, t);
            CHECK(classes.contains(h, c));            // merged tokens point to a kept center
            CHECK(classes.id(h, static_cast<std::size_t>(c)) == id);
            if (classes.contains(h, static_cast<kvc::index_t>(t))) CHECK(c == static_cast<kvc::index_t>(t));
          }
          CHECK(classes.merged(h) + classes.evicted(h) + budget == n);
        }
        const auto a = ems(l.layer(), kvc::budget::tokens{budget});
        const auto b = ems(l.layer(), kvc::budget::tokens{budget});
        CHECK(a.keep() == static_cast<const kvc::keep_set&>(classes));
        CHECK(std::vector<float>(a.all_values().begin(), a.all_values().end()) ==
              std::vector<float>(b.all_values().begin(), b.all_values().end()));  // deterministic
        for (std::size_t h = 0; h < 3; ++h) {
          const auto idx = a.keep().head(h);
          for (std::size_t i = 0; i < idx.size(); ++i) CHECK(a.positions(h)[i] == idx[i]);
        }
        for (float x : a.all_values()) CHECK(std::isfinite(x));
      }
    }
}

TEST_CASE("policy::ems: the defaults") {
  const kvc::policy::ems ems{};
  CHECK(ems.score.window == 32);
  CHECK(ems.score.global_weight == 0.5);
  CHECK(ems.select.recent == 32);
  CHECK(ems.select.merge_mass == 0.9);
  CHECK(ems.select.min_similarity == 0.0);
  CHECK(ems.select.similarity == kvc::ems::similarity_measure::key_value);
  CHECK(ems.merge.merge_keys);
  CHECK(ems.merge.merge_values);
  static_assert(std::is_same_v<kvc::selection_t<kvc::select::evict_merge>, class_assignment>);
}

TEST_CASE("center_merge: bad input throws kvc::error and leaves the layer untouched") {
  auto l = random_layer(2, 1, 9, 4, 3, 5);
  const auto keys = l.keys, values = l.values;
  kvc::score_matrix s(2, 9, 1.0f);
  const auto a = kvc::select::evict_merge{.recent = 0}(l.layer(), s, 3);
  const kvc::merge::center_merge merge{};
  CHECK_NOTHROW(merge(l.layer(), s, a));
  // A scores-only assignment still has pending candidates: the merger refuses it.
  CHECK_THROWS_WITH_AS(merge(l.layer(), s, kvc::select::evict_merge{.recent = 0}(s, 3)),
                       doctest::Contains("class_assignment"), kvc::error);
  const auto other = kvc::select::evict_merge{.recent = 0}(kvc::score_matrix(2, 8, 1.0f), 3);
  CHECK_THROWS_AS(merge(l.layer(), s, other), kvc::error);                     // tokens differ
  CHECK_THROWS_AS(merge(l.layer(), kvc::score_matrix(2, 8), a), kvc::error);  // scores shape
  auto nan = s;
  nan(1, 2) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(merge(l.layer(), nan, a), kvc::error);
  CHECK_THROWS_AS((kvc::select::evict_merge{.recent = 0, .min_similarity = 2.0}(l.layer(), s, 3)), kvc::error);
  // The default window protects min(32, 9) = 9 tokens, more than a budget of 3.
  CHECK_THROWS_AS(kvc::policy::ems{}(l.layer(), kvc::budget::tokens{3}), kvc::error);
  CHECK(l.keys == keys);
  CHECK(l.values == values);
}
