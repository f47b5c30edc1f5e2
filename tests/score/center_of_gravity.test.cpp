// IntelLLM CGE, scorer half: the observation window's accumulated attention and its centroid.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kvc/core/layer.hpp"
#include "kvc/score/center_of_gravity.hpp"
#include "support/random_layer.hpp"

namespace {
using kvc::strided_view;
auto view(const std::vector<float>& v, std::size_t a, std::size_t b, std::size_t c) {
  return strided_view<const float>::contiguous(v.data(), a, b, c);
}
}  // namespace

TEST_CASE("centroid: score-weighted mean index, by hand") {
  // (2*1 + 3*3) / (1 + 3) = 11/4
  const std::vector<float> m{0, 0, 1, 3, 0, 0};
  CHECK(*kvc::score::centroid(m, 0, 6) == doctest::Approx(2.75));
  // Only tokens [3, 6): all the mass sits on token 3.
  CHECK(*kvc::score::centroid(m, 3, 6) == doctest::Approx(3.0));
  // `last` past the end is clipped; an empty span or a span without mass has no centroid.
  CHECK(*kvc::score::centroid(m, 0, 100) == doctest::Approx(2.75));
  CHECK_FALSE(kvc::score::centroid(m, 4, 6).has_value());
  CHECK_FALSE(kvc::score::centroid(m, 5, 2).has_value());
}

TEST_CASE("center_of_gravity: attention proportional to chosen weights gives their centroid") {
  // head_dim 1, query 1, key_t = ln w_t: logits ln w_t (scale 1/sqrt(1)), softmax = w / sum w.
  // w = 1 2 3 2 -> attention .125 .25 .375 .25; centroid (0 + 2 + 6 + 6) / 8 = 1.75.
  const std::vector<float> keys{0.0f, std::log(2.0f), std::log(3.0f), std::log(2.0f)}, queries{1.0f};
  const auto l = kvc::make_layer(view(keys, 1, 4, 1), view(keys, 1, 4, 1), view(queries, 1, 1, 1));
  kvc::score_matrix s(1, 4);
  kvc::score::center_of_gravity{}(l, s);
  CHECK(s(0, 0) == doctest::Approx(0.125));
  CHECK(s(0, 1) == doctest::Approx(0.25));
  CHECK(s(0, 2) == doctest::Approx(0.375));
  CHECK(s(0, 3) == doctest::Approx(0.25));
  const auto c = kvc::score::center_of_gravity{}.centroids(l);
  REQUIRE(c.size() == 1);
  CHECK(*c[0] == doctest::Approx(1.75));
}

TEST_CASE("center_of_gravity: causal window of two queries over equal keys, by hand") {
  // Zero keys: each query spreads evenly over what it sees. Query 0 (token 2) sees 0..2: 1/3 each;
  // query 1 (token 3) sees 0..3: 1/4 each. m = 7/12 7/12 7/12 3/12, total 2.
  //   all tokens:        (7/12 + 14/12 + 9/12) / 2 = 30/24 = 1.25
  //   without token 3:   (0 + 7/12 + 14/12) / (21/12) = 1
  //   without token 0:   (30/12) / (17/12) = 30/17
  //   window = 1 (query 1 only): uniform over 0..3 -> 1.5
  const std::vector<float> keys(4 * 2, 0.0f), queries{0.3f, -1.0f, 2.0f, 0.5f};
  const auto l = kvc::make_layer(view(keys, 1, 4, 2), view(keys, 1, 4, 2), view(queries, 1, 2, 2));
  kvc::score_matrix s(1, 4);
  kvc::score::center_of_gravity{}(l, s);
  CHECK(s(0, 0) == doctest::Approx(7.0 / 12));
  CHECK(s(0, 3) == doctest::Approx(3.0 / 12));
  const kvc::score::center_of_gravity cge{};
  CHECK(*cge.centroids(l)[0] == doctest::Approx(1.25));
  CHECK(*cge.centroids(l, 0, 1)[0] == doctest::Approx(1.0));
  CHECK(*cge.centroids(l, 1, 0)[0] == doctest::Approx(30.0 / 17));
  CHECK(*kvc::score::center_of_gravity{.window = 1}.centroids(l)[0] == doctest::Approx(1.5));
  // Excluding everything leaves no centroid.
  CHECK_FALSE(cge.centroids(l, 2, 2)[0].has_value());
}

TEST_CASE("center_of_gravity: the engine's weights are used, folded per GQA group") {
  // 1 kv head, 2 q heads: rows (.5 .2 .3) and (.1 .6 .3).
  //   mean .3 .4 .3 -> centroid (.4 + .6) / 1 = 1;  max .5 .6 .3 -> (.6 + .6) / 1.4 = 6/7
  const std::vector<float> keys(3 * 2, 0.0f), queries(2 * 1 * 2, 0.0f);
  const std::vector<float> attention{0.5f, 0.2f, 0.3f, 0.1f, 0.6f, 0.3f};
  auto l = kvc::make_layer(view(keys, 1, 3, 2), view(keys, 1, 3, 2), view(queries, 2, 1, 2));
  l.attention = attention;
  CHECK(*kvc::score::center_of_gravity{}.centroids(l)[0] == doctest::Approx(1.0));
  CHECK(*kvc::score::center_of_gravity{.group = kvc::group_reduce::max}.centroids(l)[0] ==
        doctest::Approx(6.0 / 7));
}

TEST_CASE("center_of_gravity: every head's centroid lies inside its span; same result twice") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const kvc_test::random_layer<float> r(3, 33, 8, 2, 5, seed);
    const auto l = r.layer();
    const kvc::score::center_of_gravity cge{.window = 4};
    const auto c = cge.centroids(l, 2, 5);
    for (const auto& x : c) {
      REQUIRE(x.has_value());
      CHECK(*x >= 2.0);
      CHECK(*x <= 33.0 - 5 - 1);
    }
    CHECK(c == cge.centroids(l, 2, 5));
  }
}

TEST_CASE("center_of_gravity: bad input throws and leaves the scores alone") {
  const std::vector<float> keys(3 * 2, 1.0f), queries(2, 1.0f), negative{-1.0f, 2.0f};
  const auto with_queries = kvc::make_layer(view(keys, 1, 3, 2), view(keys, 1, 3, 2), view(queries, 1, 1, 2));
  const auto without = kvc::make_layer(view(keys, 1, 3, 2), view(keys, 1, 3, 2));
  kvc::score_matrix s(1, 3, -1.0f);
  CHECK_THROWS_AS(kvc::score::center_of_gravity{.window = 0}(with_queries, s), kvc::error);
  try {
    kvc::score::center_of_gravity{}(without, s);
    FAIL("expected kvc::error");
  } catch (const kvc::error& e) {
    CHECK(e.argument() == "queries");
  }
  for (float x : s.flat()) CHECK(x == -1.0f);
  CHECK_THROWS_AS((void)kvc::score::center_of_gravity{}.centroids(without), kvc::error);
  CHECK_THROWS_AS((void)kvc::score::centroid(negative, 0, 2), kvc::error);
  const std::vector<float> nan{0.5f, std::nanf("")};
  CHECK_THROWS_AS((void)kvc::score::centroid(nan, 0, 2), kvc::error);
}
