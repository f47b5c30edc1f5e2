#include <doctest/doctest.h>
#include <kvc/kvc.hpp>

#include <cstdint>
#include <vector>

TEST_CASE("a paged cache is an mdspan layout: logical [head, token, dim] through a block table") {
  // 2 heads, head_dim 2, blocks of 2 tokens; the pool holds 3 blocks laid out [block, slot, head, dim].
  const std::size_t heads = 2, dim = 2, block = 2;
  std::vector<float> pool(3 * block * heads * dim);
  for (std::size_t i = 0; i < pool.size(); ++i) pool[i] = static_cast<float>(i);
  const std::vector<std::int32_t> table{2, 0};  // tokens 0-1 live in block 2, tokens 2-3 in block 0
  auto v = kvc::make_paged_view(pool.data(), table.data(), 3, block, heads, 3, dim);
  static_assert(kvc::tensor_view<decltype(v)>);
  CHECK(v.extent(1) == 3);
  // token 1, head 1, dim 0: block 2, slot 1 -> ((2*2 + 1)*2 + 1)*2 + 0 = 22
  CHECK(v(1, 1, 0) == 22.0f);
  // token 2, head 0, dim 1: block 0, slot 0 -> 1
  CHECK(v(0, 2, 1) == 1.0f);
  CHECK(v.mapping().required_span_size() == pool.size());
}

TEST_CASE("a policy runs on a paged cache exactly as on the same data stored contiguously") {
  const std::size_t heads = 2, dim = 4, block = 4, tokens = 10;
  std::vector<float> pool(4 * block * heads * dim);
  for (std::size_t i = 0; i < pool.size(); ++i) pool[i] = static_cast<float>((i * 37) % 11) - 5.0f;
  const std::vector<std::int32_t> table{3, 1, 0};
  auto paged = kvc::make_paged_view<const float>(pool.data(), table.data(), 4, block, heads, tokens, dim);
  std::vector<float> flat(heads * tokens * dim);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t t = 0; t < tokens; ++t)
      for (std::size_t d = 0; d < dim; ++d) flat[(h * tokens + t) * dim + d] = paged(h, t, d);
  auto dense = kvc::strided_view<const float>::contiguous(flat.data(), heads, tokens, dim);
  const auto a = kvc::policy::key_norm{}(kvc::make_layer(paged, paged), kvc::budget::tokens{4});
  const auto b = kvc::policy::key_norm{}(kvc::make_layer(dense, dense), kvc::budget::tokens{4});
  CHECK(a.keep() == b.keep());
  CHECK(std::vector<float>(a.all_keys().begin(), a.all_keys().end()) ==
        std::vector<float>(b.all_keys().begin(), b.all_keys().end()));
}
