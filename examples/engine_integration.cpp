// How an engine with a paged bf16 cache uses kvc: wrap the pool in a paged mdspan, score and
// select with a policy, then compact the engine's own blocks in place (no allocation of K/V).
#include <kvc/eval/synthetic.hpp>
#include <kvc/kvc.hpp>

#include <cstdint>
#include <cstdio>
#include <numeric>
#include <vector>

int main() {
  // The engine's state for one layer: a block pool [block, slot, kv_head, dim] and a block table.
  const std::size_t heads = 4, dim = 64, block = 16, tokens = 500, window = 16;
  const std::size_t blocks = (tokens + block - 1) / block;
  std::vector<kvc::bf16> key_pool(blocks * block * heads * dim), value_pool(key_pool.size());
  std::vector<std::int32_t> table(blocks);
  std::iota(table.rbegin(), table.rend(), 0);  // blocks handed out in reverse, as a real allocator might

  // Fill it from a synthetic layer (standing in for the engine's prefill).
  const auto src = kvc::eval::make_synthetic_layer(
      {.kv_heads = heads, .group = 2, .tokens = tokens, .head_dim = dim, .window = window, .held_out = 1, .seed = 5});
  auto keys = kvc::make_paged_view(key_pool.data(), table.data(), blocks, block, heads, tokens, dim);
  auto values = kvc::make_paged_view(value_pool.data(), table.data(), blocks, block, heads, tokens, dim);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t t = 0; t < tokens; ++t)
      for (std::size_t c = 0; c < dim; ++c) {
        keys(h, t, c) = kvc::bf16(src.key_view()(h, t, c));
        values(h, t, c) = kvc::bf16(src.value_view()(h, t, c));
      }

  // Score and select on the paged cache directly; the engine's observation-window queries are fp32.
  const auto layer = kvc::make_layer(keys, values, src.query_view());
  const kvc::policy::snapkv policy{.score = {.window = window}, .select = {.window = window}};
  const kvc::keep_set keep = policy.keep(layer, kvc::budget::ratio{0.25});

  // Compact in place: head h's kept tokens now occupy its first keep.kept(h) logical slots.
  kvc::compact(keys, values, keep);
  std::printf("paged bf16 cache: %zu kv heads, %zu tokens in %zu blocks of %zu\n", heads, tokens, blocks, block);
  for (std::size_t h = 0; h < heads; ++h)
    std::printf("head %zu keeps %zu tokens; first kept token %d, last %d; blocks now needed: %zu\n", h, keep.kept(h),
                keep.head(h).front(), keep.head(h).back(), (keep.kept(h) + block - 1) / block);
  // The first slot of head 0 now holds the key of its first kept token.
  const auto first = static_cast<std::size_t>(keep.head(0)[0]);
  return kvc::to_float(keys(0, 0, 0)) == static_cast<float>(kvc::bf16(src.key_view()(0, first, 0))) ? 0 : 1;
}
