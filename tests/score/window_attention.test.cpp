// SnapKV's scorer: observation-window attention, summed, then pooled over the prefix.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/score/window_attention.hpp"

namespace {

using kvc::strided_view;
const double e = std::exp(1.0);
const float r2 = std::sqrt(2.0f);  // q = (√2, 0) makes the logit q·k/√d equal k[0] for d = 2

// 1 head, 4 tokens, head_dim 2; keys' first components 0, 1, 0, 2 (the second is ignored by q).
// Two window queries q = (√2, 0) at tokens 2 and 3 (causal):
//   query at token 2 sees logits 0,1,0   -> (1, e, 1) / (2+e)          = .2119416 .5761169 .2119416 0
//   query at token 3 sees logits 0,1,0,2 -> (1, e, 1, e²) / (2+e+e²)   = .0825945 .2245167 .0825945 .6102943
//   summed over the window: .2945361 .8006336 .2945361 .6102943
struct four_tokens {
  std::vector<float> keys{0, 5, 1, -3, 0, 7, 2, 1};
  std::vector<float> queries{r2, 0, r2, 0};
  auto layer() const {
    return kvc::make_layer(strided_view<const float>::contiguous(keys.data(), 1, 4, 2),
                           strided_view<const float>::contiguous(keys.data(), 1, 4, 2),
                           strided_view<const float>::contiguous(queries.data(), 1, 2, 2));
  }
};
const double z2 = 2 + e, z3 = 2 + e + e * e;
const double sum0 = 1 / z2 + 1 / z3, sum1 = e / z2 + e / z3, sum3 = e * e / z3;

// 1 head, 6 tokens, one query (at token 5) with logits 0,2,0,0,1,0:
//   r = (1, e², 1, 1, e, 1) / (4+e+e²) = .0708852 .5237756 .0708852 .0708852 .1926858 .0708852
struct six_tokens {
  std::vector<float> keys{0, 1, 2, 1, 0, 1, 0, 1, 1, 1, 0, 1};
  std::vector<float> queries{r2, 0};
  auto layer() const {
    return kvc::make_layer(strided_view<const float>::contiguous(keys.data(), 1, 6, 2),
                           strided_view<const float>::contiguous(keys.data(), 1, 6, 2),
                           strided_view<const float>::contiguous(queries.data(), 1, 1, 2));
  }
};
const double z6 = 4 + e + e * e;

}  // namespace

TEST_CASE("window_attention: window sums by hand, no pooling") {
  const four_tokens f;
  kvc::score_matrix s(1, 4);
  kvc::score::window_attention{.window = 2, .pool = 1}(f.layer(), s);
  CHECK(s(0, 0) == doctest::Approx(sum0).epsilon(1e-5));  // .2945361
  CHECK(s(0, 1) == doctest::Approx(sum1).epsilon(1e-5));  // .8006336
  CHECK(s(0, 2) == doctest::Approx(sum0).epsilon(1e-5));
  CHECK(s(0, 3) == doctest::Approx(sum3).epsilon(1e-5));  // .6102943
}

TEST_CASE("window_attention: the window size picks the last queries only") {
  const four_tokens f;
  kvc::score_matrix s(1, 4);
  // window 1: only the query at token 3 votes; tokens 0..2 are the prefix.
  kvc::score::window_attention{.window = 1, .pool = 1}(f.layer(), s);
  CHECK(s(0, 0) == doctest::Approx(1 / z3).epsilon(1e-5));
  CHECK(s(0, 1) == doctest::Approx(e / z3).epsilon(1e-5));
  CHECK(s(0, 3) == doctest::Approx(e * e / z3).epsilon(1e-5));
}

TEST_CASE("window_attention: max pooling over the prefix, window tokens raw") {
  const four_tokens f;
  kvc::score_matrix s(1, 4);
  kvc::score::window_attention{.window = 2, .pool = 3}(f.layer(), s);
  // prefix = tokens 0, 1: both see max(.2945361, .8006336).
  CHECK(s(0, 0) == doctest::Approx(sum1).epsilon(1e-5));
  CHECK(s(0, 1) == doctest::Approx(sum1).epsilon(1e-5));
  CHECK(s(0, 2) == doctest::Approx(sum0).epsilon(1e-5));  // window: not pooled
  CHECK(s(0, 3) == doctest::Approx(sum3).epsilon(1e-5));

  const six_tokens x;
  kvc::score_matrix m(1, 6);
  kvc::score::window_attention{.window = 1, .pool = 3}(x.layer(), m);
  // max over {r0,r1}, {r0,r1,r2}, {r1,r2,r3}, {r2,r3,r4}, {r3,r4}; token 5 is the window.
  CHECK(m(0, 0) == doctest::Approx(e * e / z6).epsilon(1e-5));  // .5237756
  CHECK(m(0, 1) == doctest::Approx(e * e / z6).epsilon(1e-5));
  CHECK(m(0, 2) == doctest::Approx(e * e / z6).epsilon(1e-5));
  CHECK(m(0, 3) == doctest::Approx(e / z6).epsilon(1e-5));  // .1926858
  CHECK(m(0, 4) == doctest::Approx(e / z6).epsilon(1e-5));
  CHECK(m(0, 5) == doctest::Approx(1 / z6).epsilon(1e-5));  // .0708852
}

TEST_CASE("window_attention: average pooling counts the zero padding") {
  const six_tokens x;
  kvc::score_matrix m(1, 6);
  kvc::score::window_attention{.window = 1, .pool = 3, .kind = kvc::score::pooling::average}(x.layer(), m);
  // (0 + r0 + r1)/3, (r0+r1+r2)/3, (r1+r2+r3)/3, (r2+r3+r4)/3, (r3+r4+0)/3
  CHECK(m(0, 0) == doctest::Approx((1 + e * e) / z6 / 3).epsilon(1e-5));      // .1982203
  CHECK(m(0, 1) == doctest::Approx((2 + e * e) / z6 / 3).epsilon(1e-5));      // .2218487
  CHECK(m(0, 2) == doctest::Approx((2 + e * e) / z6 / 3).epsilon(1e-5));
  CHECK(m(0, 3) == doctest::Approx((2 + e) / z6 / 3).epsilon(1e-5));          // .1114854
  CHECK(m(0, 4) == doctest::Approx((1 + e) / z6 / 3).epsilon(1e-5));          // .0878570
  CHECK(m(0, 5) == doctest::Approx(1 / z6).epsilon(1e-5));
}

TEST_CASE("window_attention: GQA group folded by mean or max") {
  // 1 kv head, 2 query heads, 3 tokens with key[0] = 0, 1, 2; one query per head at token 2.
  //   head a: q = ( √2, 0) -> logits 0, 1, 2  -> (1, e, e²)/(1+e+e²) = .0900306 .2447285 .6652410
  //   head b: q = (-√2, 0) -> logits 0,-1,-2  -> (e², e, 1)/(1+e+e²) = .6652410 .2447285 .0900306
  const std::vector<float> keys{0, 0, 1, 0, 2, 0}, queries{r2, 0, -r2, 0};
  const auto l = kvc::make_layer(strided_view<const float>::contiguous(keys.data(), 1, 3, 2),
                                 strided_view<const float>::contiguous(keys.data(), 1, 3, 2),
                                 strided_view<const float>::contiguous(queries.data(), 2, 1, 2));
  const double z = 1 + e + e * e;
  kvc::score_matrix mean(1, 3), max(1, 3);
  kvc::score::window_attention{.window = 1, .pool = 1}(l, mean);
  kvc::score::window_attention{.window = 1, .pool = 1, .group = kvc::group_reduce::max}(l, max);
  CHECK(mean(0, 0) == doctest::Approx((1 + e * e) / z / 2).epsilon(1e-5));  // .3776358
  CHECK(mean(0, 1) == doctest::Approx(e / z).epsilon(1e-5));
  CHECK(mean(0, 2) == doctest::Approx((1 + e * e) / z / 2).epsilon(1e-5));
  CHECK(max(0, 0) == doctest::Approx(e * e / z).epsilon(1e-5));  // .6652410
  CHECK(max(0, 1) == doctest::Approx(e / z).epsilon(1e-5));
  CHECK(max(0, 2) == doctest::Approx(e * e / z).epsilon(1e-5));
}

TEST_CASE("window_attention: defaults are SnapKV's setting") {
  constexpr kvc::score::window_attention d{};
  CHECK(d.window == 32);
  CHECK(d.pool == 7);
  CHECK(d.kind == kvc::score::pooling::max);
  CHECK(d.group == kvc::group_reduce::mean);
}

TEST_CASE("window_attention: bad parameters and missing queries are named") {
  const four_tokens f;
  kvc::score_matrix s(1, 4, -1.0f);
  auto argument_of = [&](const kvc::score::window_attention& w, const auto& l) {
    try {
      w(l, s);
    } catch (const kvc::error& err) {
      return err.argument();
    }
    return std::string("no error");
  };
  CHECK(argument_of({.window = 0}, f.layer()) == "window_attention.window");
  CHECK(argument_of({.window = 2, .pool = 4}, f.layer()) == "window_attention.pool");
  CHECK(argument_of({.window = 2, .pool = 0}, f.layer()) == "window_attention.pool");
  const auto no_q = kvc::make_layer(strided_view<const float>::contiguous(f.keys.data(), 1, 4, 2),
                                    strided_view<const float>::contiguous(f.keys.data(), 1, 4, 2));
  CHECK(argument_of({}, no_q) == "queries");
  for (float v : s.flat()) CHECK(v == -1.0f);  // nothing written on failure
}
