// README.md's first example, compiled and run: CTest checks that README.md still shows the
// region between the [readme] markers (tests/check_snippets.cmake) and runs this program.
#include <kvc/kvc.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

int main() {
  const std::size_t kv_heads = 2, q_heads = 4, tokens = 64, window = 8, head_dim = 16;
  std::vector<float> k(kv_heads * tokens * head_dim), v(k.size()), q(q_heads * window * head_dim);
  for (std::size_t i = 0; i < k.size(); ++i) {
    k[i] = std::sin(0.13f * static_cast<float>(i));
    v[i] = std::cos(0.29f * static_cast<float>(i));
  }
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.07f * static_cast<float>(i) + 1.0f);
  const auto keys = kvc::strided_view<const float>::contiguous(k.data(), kv_heads, tokens, head_dim);
  const auto values = kvc::strided_view<const float>::contiguous(v.data(), kv_heads, tokens, head_dim);
  const auto queries = kvc::strided_view<const float>::contiguous(q.data(), q_heads, window, head_dim);
  std::vector<float> engine_k = k, engine_v = v;  // the engine's own cache, compacted in place below
  const auto my_keys = kvc::strided_view<float>::contiguous(engine_k.data(), kv_heads, tokens, head_dim);
  const auto my_values = kvc::strided_view<float>::contiguous(engine_v.data(), kv_heads, tokens, head_dim);

// [readme]
auto layer = kvc::make_layer(keys, values, queries);   // [kv_heads, tokens, head_dim], [q_heads, window, head_dim]
auto out   = kvc::policy::snapkv{.score = {.window = 8}, .select = {.window = 8}}(layer, kvc::budget::ratio{0.2});
// out.keys(h), out.values(h), out.positions(h): what head h keeps; or compact in place:
kvc::compact(my_keys, my_values, out.keep());
// [readme]

  // Head 0's first kept token is now in slot 0 of the engine's cache.
  const auto first = static_cast<std::size_t>(out.keep().head(0)[0]);
  const bool moved = engine_k[0] == k[first * head_dim] && out.kept(0) == 13;
  std::printf("snapkv keeps %zu of %zu tokens per head; compacted: %s\n", out.kept(0), tokens, moved ? "yes" : "no");
  return moved ? 0 : 1;
}
