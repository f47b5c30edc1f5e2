// The random control scorer: a pure function of (seed, head, token).
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kvc/core/layer.hpp"
#include "kvc/score/random.hpp"

namespace {
kvc::score_matrix scores(std::uint64_t seed, std::size_t heads, std::size_t tokens) {
  std::vector<float> keys(heads * tokens, 0.0f);
  const auto k = kvc::strided_view<const float>::contiguous(keys.data(), heads, tokens, 1);
  kvc::score_matrix s(heads, tokens);
  kvc::score::random{.seed = seed}(kvc::make_layer(k, k), s);
  return s;
}
}  // namespace

TEST_CASE("random: reproducible for a seed, different for another, in [0, 1)") {
  const auto a = scores(7, 3, 64), b = scores(7, 3, 64), c = scores(8, 3, 64);
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.flat().size(); ++i) {
    CHECK(a.flat()[i] == b.flat()[i]);
    CHECK(a.flat()[i] >= 0.0f);
    CHECK(a.flat()[i] < 1.0f);
    same += a.flat()[i] == c.flat()[i];
  }
  CHECK(same < 4);  // 24-bit values: a collision between seeds is a 1-in-16M event per entry
}

TEST_CASE("random: a token's score does not depend on the cache length") {
  const auto short_cache = scores(3, 2, 16), long_cache = scores(3, 2, 48);
  for (std::size_t h = 0; h < 2; ++h)
    for (std::size_t t = 0; t < 16; ++t) CHECK(short_cache(h, t) == long_cache(h, t));
}

TEST_CASE("random: heads get different scores and the mean is near 1/2") {
  const auto s = scores(11, 2, 4096);
  double mean = 0.0;
  std::size_t equal = 0;
  for (std::size_t t = 0; t < 4096; ++t) {
    mean += s(0, t) + s(1, t);
    equal += s(0, t) == s(1, t);
  }
  mean /= 8192.0;
  CHECK(mean == doctest::Approx(0.5).epsilon(0.03));  // σ of the mean ≈ 0.0032
  CHECK(equal < 4);
}
