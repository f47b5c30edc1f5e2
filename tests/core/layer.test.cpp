#include <doctest/doctest.h>
#include <kvc/kvc.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "support/random_layer.hpp"

namespace {
auto view(const std::vector<float>& v, std::size_t h, std::size_t t, std::size_t d) {
  return kvc::strided_view<const float>::contiguous(v.data(), h, t, d);
}
}  // namespace

TEST_CASE("layer reports its shape, GQA group and query positions") {
  kvc_test::random_layer<float> r(2, 10, 4, 4, 3, 1);
  const auto l = r.layer();
  CHECK(l.kv_heads() == 2);
  CHECK(l.q_heads() == 8);
  CHECK(l.group() == 4);
  CHECK(l.window() == 3);
  CHECK(l.query_token(0) == 7);
  CHECK(l.query_token(2) == 9);
  CHECK(l.position(5) == 5);
  CHECK_NOTHROW(kvc::validate(l));
}

TEST_CASE("validate names the first bad extent with expected and actual values") {
  std::vector<float> k(2 * 10 * 4), v(2 * 9 * 4), q(6 * 3 * 4), q5(8 * 3 * 5), q11(8 * 11 * 4);
  CHECK_THROWS_WITH_AS(kvc::validate(kvc::make_layer(view(k, 2, 10, 4), view(v, 2, 9, 4))),
                       "kvc: invalid argument 'values.extent(1)': expected tokens 10, got 9", kvc::error);
  CHECK_THROWS_WITH_AS(kvc::validate(kvc::make_layer(view(k, 2, 10, 4), view(k, 2, 10, 4), view(q, 3, 3, 4))),
                       "kvc: invalid argument 'queries.extent(0)': expected a multiple of kv_heads 2, got 3",
                       kvc::error);
  CHECK_THROWS_WITH_AS(kvc::validate(kvc::make_layer(view(k, 2, 10, 4), view(k, 2, 10, 4), view(q5, 8, 3, 5))),
                       doctest::Contains("queries.extent(2)"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::validate(kvc::make_layer(view(k, 2, 10, 4), view(k, 2, 10, 4), view(q11, 8, 11, 4))),
                       doctest::Contains("queries.extent(1)"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::validate(kvc::make_layer(view(k, 2, 0, 4), view(k, 2, 0, 4))),
                       doctest::Contains("keys.extent(1)"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::validate(kvc::make_layer(view(k, 0, 10, 4), view(k, 0, 10, 4))),
                       doctest::Contains("keys.extent(0)"), kvc::error);
  auto l = kvc::make_layer(view(k, 2, 10, 4), view(k, 2, 10, 4));
  const std::vector<std::int64_t> pos(9);
  l.positions = pos;
  CHECK_THROWS_WITH_AS(kvc::validate(l), doctest::Contains("positions.size()"), kvc::error);
}

TEST_CASE("non-finite engine attention is rejected") {
  kvc_test::random_layer<float> r(1, 4, 2, 1, 1, 2);
  auto l = r.layer();
  std::vector<float> att{0.1f, std::numeric_limits<float>::quiet_NaN(), 0.2f, 0.3f};
  l.attention = att;
  CHECK_THROWS_WITH_AS(kvc::validate(l), doctest::Contains("attention[1]"), kvc::error);
}

TEST_CASE("attention-based scorers need queries") {
  std::vector<float> k(1 * 5 * 2, 1.0f);
  const auto l = kvc::make_layer(view(k, 1, 5, 2), view(k, 1, 5, 2));
  CHECK_THROWS_WITH_AS(kvc::policy::snapkv{}(l, kvc::budget::tokens{2}), doctest::Contains("'queries'"), kvc::error);
  CHECK_NOTHROW(kvc::policy::key_norm{}(l, kvc::budget::tokens{2}));
}
