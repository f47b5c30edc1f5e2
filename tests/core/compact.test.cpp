#include <doctest/doctest.h>
#include <kvc/kvc.hpp>

#include <vector>

TEST_CASE("compact moves each head's kept tokens to the front of the caller's buffers") {
  // 2 heads, 5 tokens, head_dim 1: key = 10*h + t, value = -(10*h + t).
  std::vector<float> k(10), v(10);
  for (int i = 0; i < 10; ++i) {
    k[static_cast<std::size_t>(i)] = static_cast<float>((i / 5) * 10 + i % 5);
    v[static_cast<std::size_t>(i)] = -k[static_cast<std::size_t>(i)];
  }
  std::vector<std::int64_t> pos{0, 1, 2, 3, 4, 0, 1, 2, 3, 4};
  auto kv = kvc::strided_view<float>::contiguous(k.data(), 2, 5, 1);
  auto vv = kvc::strided_view<float>::contiguous(v.data(), 2, 5, 1);
  const auto keep = kvc::keep_set::from_heads(5, {{1, 3, 4}, {0, 4}});
  kvc::compact(kv, vv, keep, pos);
  CHECK(std::vector<float>(k.begin(), k.begin() + 3) == std::vector<float>{1, 3, 4});
  CHECK(std::vector<float>(k.begin() + 5, k.begin() + 7) == std::vector<float>{10, 14});
  CHECK(std::vector<float>(v.begin(), v.begin() + 3) == std::vector<float>{-1, -3, -4});
  CHECK(pos[5 + 1] == 4);
  CHECK(pos[2] == 4);
}

TEST_CASE("compact on a token-major cache") {
  // [tokens=4, heads=2, dim=1] storage: element (h, t) at t*2 + h.
  std::vector<float> k{0, 100, 1, 101, 2, 102, 3, 103};
  std::vector<float> v = k;
  auto kv = kvc::strided_view<float>::token_major(k.data(), 2, 4, 1);
  auto vv = kvc::strided_view<float>::token_major(v.data(), 2, 4, 1);
  kvc::compact(kv, vv, kvc::keep_set::from_heads(4, {{2, 3}, {1}}));
  CHECK(k[0] == 2);    // head 0 slot 0 <- token 2
  CHECK(k[2] == 3);    // head 0 slot 1 <- token 3
  CHECK(k[1] == 101);  // head 1 slot 0 <- token 1
}

TEST_CASE("a failed compact writes nothing") {
  std::vector<float> k(2 * 5), v(2 * 5);
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = v[i] = static_cast<float>(i);
  const auto before = k;
  std::vector<std::int64_t> pos(10, 7);
  auto kv = kvc::strided_view<float>::contiguous(k.data(), 2, 5, 1);
  auto vv = kvc::strided_view<float>::contiguous(v.data(), 2, 5, 1);
  CHECK_THROWS_WITH_AS(kvc::compact(kv, vv, kvc::keep_set::from_heads(5, {{1}})), doctest::Contains("keep.heads()"),
                       kvc::error);
  CHECK_THROWS_WITH_AS(kvc::compact(kv, vv, kvc::keep_set::from_heads(6, {{1}, {5}})),
                       doctest::Contains("keep.tokens()"), kvc::error);
  std::vector<std::int64_t> short_pos(3);
  CHECK_THROWS_WITH_AS(kvc::compact(kv, vv, kvc::keep_set::from_heads(5, {{1}, {4}}), short_pos),
                       doctest::Contains("positions.size()"), kvc::error);
  CHECK(k == before);
  CHECK(v == before);
}

TEST_CASE("compact agrees with the gathered compressed layer") {
  std::vector<float> k(3 * 20 * 4), v(3 * 20 * 4);
  for (std::size_t i = 0; i < k.size(); ++i) {
    k[i] = static_cast<float>((i * 7919) % 23) - 11.0f;
    v[i] = static_cast<float>((i * 104729) % 17) - 8.0f;
  }
  auto kc = kvc::strided_view<const float>::contiguous(k.data(), 3, 20, 4);
  auto vc = kvc::strided_view<const float>::contiguous(v.data(), 3, 20, 4);
  const auto gathered = kvc::policy::key_norm{}(kvc::make_layer(kc, vc), kvc::budget::ratio{0.3});
  kvc::compact(kvc::strided_view<float>::contiguous(k.data(), 3, 20, 4),
               kvc::strided_view<float>::contiguous(v.data(), 3, 20, 4), gathered.keep());
  for (std::size_t h = 0; h < 3; ++h)
    for (std::size_t i = 0; i < gathered.kept(h); ++i)
      for (std::size_t c = 0; c < 4; ++c) {
        CHECK(k[(h * 20 + i) * 4 + c] == gathered.keys(h)(0, i, c));
        CHECK(v[(h * 20 + i) * 4 + c] == gathered.values(h)(0, i, c));
      }
}

TEST_CASE("merge::drop refuses a keep set of another layer's shape") {
  std::vector<float> k(2 * 5), v(2 * 5);
  auto kc = kvc::strided_view<const float>::contiguous(k.data(), 2, 5, 1);
  const auto l = kvc::make_layer(kc, kc);
  const kvc::score_matrix s(2, 5);
  CHECK_THROWS_WITH_AS((void)kvc::merge::drop{}(l, s, kvc::keep_set::from_heads(5, {{1}})),
                       doctest::Contains("keep.heads()"), kvc::error);
  // Token 7 of a 9-token keep set is past this layer's 5 tokens.
  CHECK_THROWS_WITH_AS((void)kvc::merge::drop{}(l, s, kvc::keep_set::from_heads(9, {{1}, {7}})),
                       doctest::Contains("keep.tokens()"), kvc::error);
}
