// H2O's scorer: attention accumulated over every query the layer carries.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kvc/core/layer.hpp"
#include "kvc/score/accumulated_attention.hpp"

namespace {
using kvc::strided_view;
const double e = std::exp(1.0);
const float r2 = std::sqrt(2.0f);
}  // namespace

TEST_CASE("accumulated_attention: column sums of the causal attention, by hand") {
  // 1 head, 4 tokens, head_dim 2, key[0] = 0, 1, 0, 2; queries (√2, 0) at tokens 2 and 3:
  //   token 2: (1, e, 1, 0) / (2+e);  token 3: (1, e, 1, e²) / (2+e+e²)
  //   accumulated: .2945361 .8006336 .2945361 .6102943
  const std::vector<float> keys{0, 5, 1, -3, 0, 7, 2, 1}, queries{r2, 0, r2, 0};
  const auto l = kvc::make_layer(strided_view<const float>::contiguous(keys.data(), 1, 4, 2),
                                 strided_view<const float>::contiguous(keys.data(), 1, 4, 2),
                                 strided_view<const float>::contiguous(queries.data(), 1, 2, 2));
  kvc::score_matrix s(1, 4);
  kvc::score::accumulated_attention{}(l, s);
  const double z2 = 2 + e, z3 = 2 + e + e * e;
  CHECK(s(0, 0) == doctest::Approx(1 / z2 + 1 / z3).epsilon(1e-5));
  CHECK(s(0, 1) == doctest::Approx(e / z2 + e / z3).epsilon(1e-5));
  CHECK(s(0, 2) == doctest::Approx(1 / z2 + 1 / z3).epsilon(1e-5));
  CHECK(s(0, 3) == doctest::Approx(e * e / z3).epsilon(1e-5));
  // Every query's row sums to 1, so the total is the number of queries.
  CHECK(s(0, 0) + s(0, 1) + s(0, 2) + s(0, 3) == doctest::Approx(2.0).epsilon(1e-5));
}

TEST_CASE("accumulated_attention: the engine's accumulated weights are used as given") {
  // 1 kv head, 2 q heads, 3 tokens: rows (.5 .2 .3) and (.1 .6 .3).
  //   mean: .3 .4 .3     max: .5 .6 .3
  const std::vector<float> keys(3 * 2, 0.0f), queries(2 * 1 * 2, 0.0f);
  const std::vector<float> attention{0.5f, 0.2f, 0.3f, 0.1f, 0.6f, 0.3f};
  auto l = kvc::make_layer(strided_view<const float>::contiguous(keys.data(), 1, 3, 2),
                           strided_view<const float>::contiguous(keys.data(), 1, 3, 2),
                           strided_view<const float>::contiguous(queries.data(), 2, 1, 2));
  l.attention = attention;
  kvc::score_matrix mean(1, 3), max(1, 3);
  kvc::score::accumulated_attention{}(l, mean);
  kvc::score::accumulated_attention{.group = kvc::group_reduce::max}(l, max);
  CHECK(mean(0, 0) == doctest::Approx(0.3));
  CHECK(mean(0, 1) == doctest::Approx(0.4));
  CHECK(mean(0, 2) == doctest::Approx(0.3));
  CHECK(max(0, 0) == doctest::Approx(0.5));
  CHECK(max(0, 1) == doctest::Approx(0.6));
  CHECK(max(0, 2) == doctest::Approx(0.3));
}

TEST_CASE("accumulated_attention: no queries and no weights is an error naming the queries") {
  const std::vector<float> keys(3 * 2, 1.0f);
  const auto l = kvc::make_layer(strided_view<const float>::contiguous(keys.data(), 1, 3, 2),
                                 strided_view<const float>::contiguous(keys.data(), 1, 3, 2));
  kvc::score_matrix s(1, 3, -1.0f);
  try {
    kvc::score::accumulated_attention{}(l, s);
    FAIL("expected kvc::error");
  } catch (const kvc::error& err) {
    CHECK(err.argument() == "queries");
  }
  for (float v : s.flat()) CHECK(v == -1.0f);
}
