// TOVA's scorer: the attention of the last query only.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kvc/core/layer.hpp"
#include "kvc/score/last_query_attention.hpp"

namespace {
using kvc::strided_view;
const double e = std::exp(1.0);
const float r2 = std::sqrt(2.0f);
}  // namespace

TEST_CASE("last_query_attention: only the query at the last token counts") {
  // Same layer as the H2O case: queries at tokens 2 and 3; only token 3's row is used:
  //   (1, e, 1, e²) / (2+e+e²) = .0825945 .2245167 .0825945 .6102943
  const std::vector<float> keys{0, 5, 1, -3, 0, 7, 2, 1}, queries{-r2, 0, r2, 0};
  const auto l = kvc::make_layer(strided_view<const float>::contiguous(keys.data(), 1, 4, 2),
                                 strided_view<const float>::contiguous(keys.data(), 1, 4, 2),
                                 strided_view<const float>::contiguous(queries.data(), 1, 2, 2));
  kvc::score_matrix s(1, 4);
  kvc::score::last_query_attention{}(l, s);
  const double z = 2 + e + e * e;
  CHECK(s(0, 0) == doctest::Approx(1 / z).epsilon(1e-5));
  CHECK(s(0, 1) == doctest::Approx(e / z).epsilon(1e-5));
  CHECK(s(0, 2) == doctest::Approx(1 / z).epsilon(1e-5));
  CHECK(s(0, 3) == doctest::Approx(e * e / z).epsilon(1e-5));
}

TEST_CASE("last_query_attention: GQA mean vs max, and one score shared by the layer") {
  // 2 kv heads, 2 q heads per kv head, 2 tokens; key[0] = 0, 1 in both kv heads.
  //   kv head 0: q = ( √2, 0) -> (1, e)/(1+e) = .2689414 .7310586
  //              q = (2√2, 0) -> (1, e²)/(1+e²) = .1192029 .8807971
  //   kv head 1: q = (-√2, 0) -> (e, 1)/(1+e) = .7310586 .2689414   (twice)
  const std::vector<float> keys{0, 0, 1, 0, 0, 0, 1, 0};
  const std::vector<float> queries{r2, 0, 2 * r2, 0, -r2, 0, -r2, 0};
  const auto l = kvc::make_layer(strided_view<const float>::contiguous(keys.data(), 2, 2, 2),
                                 strided_view<const float>::contiguous(keys.data(), 2, 2, 2),
                                 strided_view<const float>::contiguous(queries.data(), 4, 1, 2));
  const double a0 = 1 / (1 + e), a1 = e / (1 + e), b0 = 1 / (1 + e * e), b1 = e * e / (1 + e * e);
  kvc::score_matrix mean(2, 2), max(2, 2), shared(2, 2);
  kvc::score::last_query_attention{}(l, mean);
  kvc::score::last_query_attention{.group = kvc::group_reduce::max}(l, max);
  kvc::score::last_query_attention{.share_across_heads = true}(l, shared);
  CHECK(mean(0, 0) == doctest::Approx((a0 + b0) / 2).epsilon(1e-5));  // .1940722
  CHECK(mean(0, 1) == doctest::Approx((a1 + b1) / 2).epsilon(1e-5));  // .8059278
  CHECK(mean(1, 0) == doctest::Approx(a1).epsilon(1e-5));
  CHECK(mean(1, 1) == doctest::Approx(a0).epsilon(1e-5));
  CHECK(max(0, 0) == doctest::Approx(a0).epsilon(1e-5));  // .2689414
  CHECK(max(0, 1) == doctest::Approx(b1).epsilon(1e-5));  // .8807971
  CHECK(max(1, 0) == doctest::Approx(a1).epsilon(1e-5));
  // Shared: mean over all four q heads, (a0 + b0 + a1 + a1)/4 for token 0, written to both kv heads.
  for (std::size_t h = 0; h < 2; ++h) {
    CHECK(shared(h, 0) == doctest::Approx((a0 + b0 + 2 * a1) / 4).epsilon(1e-5));  // .4625654
    CHECK(shared(h, 1) == doctest::Approx((a1 + b1 + 2 * a0) / 4).epsilon(1e-5));
  }
}
