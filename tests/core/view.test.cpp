#include <doctest/doctest.h>
#include <kvc/core/layer.hpp>
#include <kvc/core/view.hpp>

#include <cuda/std/mdspan>
#include <numeric>
#include <vector>

static_assert(kvc::tensor_view<kvc::strided_view<float>>);
static_assert(kvc::tensor_view<kvc::strided_view<const kvc::bf16>>);
static_assert(kvc::mutable_tensor_view<kvc::strided_view<float>>);
static_assert(!kvc::mutable_tensor_view<kvc::strided_view<const float>>);
static_assert(kvc::tensor_view<cuda::std::mdspan<const float, cuda::std::dextents<std::size_t, 3>>>);
static_assert(kvc::tensor_view<cuda::std::mdspan<float, cuda::std::dextents<int, 3>, cuda::std::layout_left>>);
static_assert(kvc::tensor_view<cuda::std::mdspan<float, cuda::std::extents<std::size_t, 8, cuda::std::dynamic_extent, 128>>>);
static_assert(!kvc::tensor_view<cuda::std::mdspan<float, cuda::std::dextents<std::size_t, 2>>>);
static_assert(!kvc::tensor_view<int>);

TEST_CASE("strided_view addresses row-major and token-major storage") {
  std::vector<int> storage(2 * 3 * 4);
  std::iota(storage.begin(), storage.end(), 0);
  std::vector<float> data(storage.begin(), storage.end());
  auto rm = kvc::strided_view<float>::contiguous(data.data(), 2, 3, 4);
  CHECK(rm.extent(0) == 2);
  CHECK(rm.extent(1) == 3);
  CHECK(rm.extent(2) == 4);
  CHECK(rm(1, 2, 3) == 23.0f);  // (1*3 + 2)*4 + 3
  CHECK(rm(0, 1, 0) == 4.0f);
  auto tm = kvc::strided_view<float>::token_major(data.data(), 2, 3, 4);
  CHECK(tm(1, 2, 3) == 23.0f);  // (2*2 + 1)*4 + 3 = 23 as well
  CHECK(tm(1, 0, 0) == 4.0f);   // head 1 of token 0 follows head 0 of token 0
  CHECK(tm(0, 1, 0) == 8.0f);   // token 1 starts after both heads of token 0
  rm(0, 0, 1) = -1.0f;
  CHECK(data[1] == -1.0f);
  kvc::strided_view<const float> ro = rm;
  CHECK(ro(0, 0, 1) == -1.0f);
}

TEST_CASE("mdspan with layout_left is read at the same logical coordinates") {
  std::vector<float> data(2 * 3 * 4);
  using ext = cuda::std::dextents<std::size_t, 3>;
  cuda::std::mdspan<float, ext, cuda::std::layout_left> left(data.data(), 2, 3, 4);
  left(1, 2, 3) = 7.0f;
  CHECK(data[1 + 2 * 2 + 3 * 6] == 7.0f);  // column-major offset
  auto l = kvc::make_layer(left, left);
  CHECK(l.kv_heads() == 2);
  CHECK(l.tokens() == 3);
  CHECK(l.head_dim() == 4);
  CHECK(kvc::to_float(l.keys(1, 2, 3)) == 7.0f);
}
