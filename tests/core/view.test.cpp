#include <doctest/doctest.h>
#include <kvc/core/layer.hpp>
#include <kvc/core/paged_layout.hpp>
#include <kvc/core/view.hpp>

#include <cuda/std/mdspan>
#include <cstdint>
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

namespace {
/// A view that computes its elements: nothing to point at.
struct computed_view {
  static constexpr std::size_t rank() { return 3; }
  std::size_t extent(std::size_t i) const { return i == 2 ? 4 : 2; }
  float operator()(std::size_t h, std::size_t t, std::size_t d) const { return static_cast<float>(h + t + d); }
};
}  // namespace

TEST_CASE("contiguous_row points at a row only where its head_dim elements are adjacent in memory") {
  std::vector<float> data(2 * 3 * 4);
  using kvc::detail::contiguous_row;
  const auto rm = kvc::strided_view<float>::contiguous(data.data(), 2, 3, 4);
  CHECK(contiguous_row(rm, 1, 2) == data.data() + 20);  // (1*3 + 2)*4
  const auto tm = kvc::strided_view<float>::token_major(data.data(), 2, 3, 4);
  CHECK(contiguous_row(tm, 1, 2) == data.data() + 20);  // (2*2 + 1)*4
  // head_dim outermost: the elements of a row are 6 apart.
  const kvc::strided_view<float> dim_major(data.data(), {2, 3, 4}, {3, 1, 6});
  CHECK(contiguous_row(dim_major, 1, 2) == nullptr);
  const cuda::std::mdspan<float, cuda::std::dextents<std::size_t, 3>, cuda::std::layout_left> left(data.data(), 2, 3, 4);
  CHECK(contiguous_row(left, 0, 0) == nullptr);
  const cuda::std::mdspan<float, cuda::std::dextents<std::size_t, 3>> right(data.data(), 2, 3, 4);
  CHECK(contiguous_row(right, 1, 1) == data.data() + 16);
  // A single element is a contiguous row whatever the strides say; an empty row is none.
  const kvc::strided_view<float> one(data.data(), {2, 3, 1}, {3, 1, 6});
  CHECK(contiguous_row(one, 1, 2) == data.data() + 5);
  const auto empty = kvc::strided_view<float>::contiguous(data.data(), 2, 3, 0);
  CHECK(contiguous_row(empty, 0, 0) == nullptr);
  CHECK(contiguous_row(computed_view{}, 0, 0) == nullptr);
  // A paged cache: rows live inside blocks, [block, slot, head, dim], so they are contiguous.
  const std::vector<std::int32_t> table{1, 0};
  std::vector<float> pool(2 * 2 * 2 * 4);
  const auto paged = kvc::make_paged_view(pool.data(), table.data(), 2, 2, 2, 3, 4);
  CHECK(contiguous_row(paged, 1, 2) == pool.data() + ((0 * 2 + 0) * 2 + 1) * 4);  // token 2 → block 0, slot 0
  CHECK(contiguous_row(paged, 0, 1) == pool.data() + ((1 * 2 + 1) * 2 + 0) * 4);  // token 1 → block 1, slot 1
}
