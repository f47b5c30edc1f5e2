// Key-norm scorer: s = −‖k‖₂.
#include <doctest/doctest.h>

#include <vector>

#include "kvc/core/element.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/score/key_norm.hpp"

TEST_CASE("key_norm: minus the L2 norm of each key, by hand") {
  // Head 0: (3,4) -> -5, (0,0) -> 0, (-6,8) -> -10, (1,0) -> -1.  Head 1: (5,12) -> -13, ...
  const std::vector<float> keys{3, 4, 0, 0, -6, 8, 1, 0, 5, 12, 0, -2, 8, 15, 0.6f, 0.8f};
  const auto k = kvc::strided_view<const float>::contiguous(keys.data(), 2, 4, 2);
  const auto l = kvc::make_layer(k, k);
  kvc::score_matrix s(2, 4);
  kvc::score::key_norm{}(l, s);
  CHECK(s(0, 0) == doctest::Approx(-5.0));
  CHECK(s(0, 1) == 0.0f);
  CHECK(s(0, 2) == doctest::Approx(-10.0));
  CHECK(s(0, 3) == doctest::Approx(-1.0));
  CHECK(s(1, 0) == doctest::Approx(-13.0));
  CHECK(s(1, 1) == doctest::Approx(-2.0));
  CHECK(s(1, 2) == doctest::Approx(-17.0));
  CHECK(s(1, 3) == doctest::Approx(-1.0));
}

TEST_CASE("key_norm: reads any layout and bf16 keys") {
  // Token-major storage [tokens, heads, head_dim] of the same two heads' first two tokens.
  const std::vector<float> token_major{3, 4, 5, 12, 0, 0, 0, -2};
  const auto k = kvc::strided_view<const float>::token_major(token_major.data(), 2, 2, 2);
  kvc::score_matrix s(2, 2);
  kvc::score::key_norm{}(kvc::make_layer(k, k), s);
  CHECK(s(0, 0) == doctest::Approx(-5.0));
  CHECK(s(1, 0) == doctest::Approx(-13.0));
  CHECK(s(1, 1) == doctest::Approx(-2.0));

  // 3, 4 and 12 are exact in bf16.
  const std::vector<kvc::bf16> b{kvc::bf16(3.0f), kvc::bf16(4.0f), kvc::bf16(0.0f), kvc::bf16(-12.0f)};
  const auto kb = kvc::strided_view<const kvc::bf16>::contiguous(b.data(), 1, 2, 2);
  kvc::score_matrix sb(1, 2);
  kvc::score::key_norm{}(kvc::make_layer(kb, kb), sb);
  CHECK(sb(0, 0) == doctest::Approx(-5.0));
  CHECK(sb(0, 1) == doctest::Approx(-12.0));
}
