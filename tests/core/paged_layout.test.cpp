#include <doctest/doctest.h>
#include <kvc/kvc.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
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

namespace {
/// The argument a kvc::error names, or "no error".
template <class F>
std::string argument_of(F&& call) {
  try {
    call();
  } catch (const kvc::error& e) {
    return e.argument();
  }
  return "no error";
}

/// 2 heads, head_dim 2, 5 tokens in blocks of 2 (3 blocks in use) out of a pool of 4 blocks.
struct paged_cache {
  static constexpr std::size_t heads = 2, dim = 2, block = 2, blocks = 4, tokens = 5;
  std::vector<float> keys, values;
  std::vector<std::int32_t> table{3, 0, 2};
  paged_cache() : keys(blocks * block * heads * dim), values(keys.size()) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      keys[i] = static_cast<float>(i % 7) - 3.0f;
      values[i] = static_cast<float>(i);
    }
  }
  template <class T = const float>
  auto k(T* pool = nullptr) {
    return kvc::make_paged_view<T>(pool != nullptr ? pool : keys.data(), table.data(), blocks, block, heads, tokens, dim);
  }
  template <class T = const float>
  auto v(T* pool = nullptr) {
    return kvc::make_paged_view<T>(pool != nullptr ? pool : values.data(), table.data(), blocks, block, heads, tokens, dim);
  }
};
}  // namespace

TEST_CASE("a paged view refuses, when it is built, a geometry that cannot be addressed") {
  std::vector<float> pool(4 * 2 * 2 * 2);
  const std::vector<std::int32_t> table{0, 1, 2};
  // block_size 0 would divide by zero in every access.
  try {
    (void)kvc::make_paged_view(pool.data(), table.data(), 4, 0, 2, 5, 2);
    FAIL("no throw");
  } catch (const kvc::error& e) {
    CHECK(e.argument() == "block_size");
    CHECK(std::string(e.what()).find("got 0") != std::string::npos);
  }
  // 5 tokens in blocks of 2 need ceil(5 / 2) = 3 blocks; a pool of 2 holds 4 tokens.
  try {
    (void)kvc::make_paged_view(pool.data(), table.data(), 2, 2, 2, 5, 2);
    FAIL("no throw");
  } catch (const kvc::error& e) {
    CHECK(e.argument() == "num_blocks");
    CHECK(std::string(e.what()).find("= 3 blocks for 5 tokens, got 2") != std::string::npos);
  }
  CHECK(argument_of([&] { (void)kvc::make_paged_view(pool.data(), nullptr, 4, 2, 2, 5, 2); }) == "block_table");
  // A pool whose element count overflows the index type.
  const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2;
  CHECK(argument_of([&] { (void)kvc::make_paged_view(pool.data(), table.data(), huge, 2, 2, 5, 2); }) == "num_blocks");
  // Exactly enough blocks, and a view of no tokens without a table, are fine.
  CHECK(argument_of([&] { (void)kvc::make_paged_view(pool.data(), table.data(), 3, 2, 2, 5, 2); }) == "no error");
  CHECK(argument_of([&] { (void)kvc::make_paged_view(pool.data(), nullptr, 0, 2, 2, 0, 2); }) == "no error");
}

TEST_CASE("every entry point checks the block-table entries in use and names the view and entry") {
  paged_cache c;
  const auto keys_before = c.keys, values_before = c.values;
  const auto table_before = c.table;
  const kvc::policy::key_norm p{};

  c.table[1] = 4;  // one past the pool of 4 blocks
  try {
    (void)p(kvc::make_layer(c.k(), c.v()), kvc::budget::tokens{2});
    FAIL("no throw");
  } catch (const kvc::error& e) {
    CHECK(e.argument() == "keys.block_table[1]");
    CHECK(std::string(e.what()) ==
          "kvc: invalid argument 'keys.block_table[1]': expected a block in [0, num_blocks = 4), got 4");
  }
  c.table[1] = -1;  // negative: would be read as a huge block index
  CHECK(argument_of([&] { (void)p(kvc::make_layer(c.k(), c.v()), kvc::budget::tokens{2}); }) == "keys.block_table[1]");
  CHECK(argument_of([&] { kvc::validate(kvc::make_layer(c.k(), c.v())); }) == "keys.block_table[1]");

  // The values' own table is checked too (here it is the keys' that is good).
  std::vector<std::int32_t> other{0, 1, 7};
  const auto values = kvc::make_paged_view<const float>(c.values.data(), other.data(), 4, 2, 2, 5, 2);
  c.table[1] = 0;
  CHECK(argument_of([&] { (void)p(kvc::make_layer(c.k(), values), kvc::budget::tokens{2}); }) ==
        "values.block_table[2]");
  // A table changed after the view was built is checked when the view is used.
  auto k = c.k();
  c.table[2] = 9;
  CHECK(argument_of([&] { (void)kvc::policy::streaming_llm{.select = {.sinks = 1}}(kvc::make_layer(k, c.v()), kvc::budget::tokens{2}); }) ==
        "keys.block_table[2]");
  // A scorer or merger called on its own checks its layer as well.
  kvc::score_matrix out(2, 5, 7.0f);
  CHECK(argument_of([&] { kvc::score::key_norm{}(kvc::make_layer(k, c.v()), out); }) == "keys.block_table[2]");
  CHECK(std::all_of(out.flat().begin(), out.flat().end(), [](float s) { return s == 7.0f; }));
  const auto keep = kvc::keep_set::from_heads(5, {{0, 4}, {1}});
  CHECK(argument_of([&] { (void)kvc::merge::drop{}(kvc::make_layer(k, c.v()), out, keep); }) == "keys.block_table[2]");
  // Nothing was written anywhere.
  c.table = table_before;
  CHECK(c.keys == keys_before);
  CHECK(c.values == values_before);
}

TEST_CASE("only the block-table entries the tokens use are read") {
  paged_cache c;
  c.table.push_back(-5);  // a fourth entry, past the 3 blocks that 5 tokens in blocks of 2 use
  const auto a = kvc::policy::key_norm{}(kvc::make_layer(c.k(), c.v()), kvc::budget::tokens{2});
  CHECK(a.keep().total() == 4);
}

TEST_CASE("compact checks a paged view's table before it writes") {
  paged_cache c;
  const auto keys_before = c.keys, values_before = c.values;
  std::vector<std::int64_t> positions(10, 3);
  c.table[0] = 4;
  const auto keep = kvc::keep_set::from_heads(5, {{1, 4}, {0, 2, 3}});
  CHECK(argument_of([&] { kvc::compact(c.k(c.keys.data()), c.v(c.values.data()), keep, positions); }) ==
        "keys.block_table[0]");
  CHECK(c.keys == keys_before);
  CHECK(c.values == values_before);
  CHECK(positions == std::vector<std::int64_t>(10, 3));
  // With a good table the same call moves the rows: head 0, slot 0 <- token 1, slot 1 <- token 4.
  c.table[0] = 3;
  const float token4 = c.k()(0, 4, 1), token1 = c.k()(0, 1, 0);
  kvc::compact(c.k(c.keys.data()), c.v(c.values.data()), keep, positions);
  CHECK(c.k()(0, 0, 0) == token1);
  CHECK(c.k()(0, 1, 1) == token4);
}
