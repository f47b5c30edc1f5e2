#pragma once
// kvc::compact: in-place compaction of the engine's own buffers, for engines that cannot
// allocate. Head h's kept tokens move to slots 0..kept(h)-1 in order; the rest is left as is.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "kvc/core/error.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/paged_layout.hpp"
#include "kvc/core/view.hpp"

namespace kvc {

namespace detail {
/// The checks every compaction makes before touching a buffer that read no memory of the views
/// (host and device versions); the views' own maps (paged block tables) are checked after these.
template <tensor_view K, tensor_view V, class Keep>
void require_compactable_extents(const K& keys, const V& values, const Keep& keep, std::size_t positions) {
  const std::size_t heads = keys.extent(0), n = keys.extent(1);
  require(keep.heads() == heads, "keep.heads()", "kv_heads " + std::to_string(heads), keep.heads());
  require(keep.tokens() == n, "keep.tokens()", "tokens " + std::to_string(n), keep.tokens());
  require(values.extent(0) == heads, "values.extent(0)", "kv_heads " + std::to_string(heads), values.extent(0));
  require(values.extent(1) == n, "values.extent(1)", "tokens " + std::to_string(n), values.extent(1));
  require(positions == 0 || positions == heads * n, "positions.size()",
          "0 or kv_heads*tokens " + std::to_string(heads * n), positions);
}

/// Everything the host compaction checks: the extents above, then each view's map.
template <tensor_view K, tensor_view V>
void require_compactable(const K& keys, const V& values, const keep_set& keep, std::size_t positions) {
  require_compactable_extents(keys, values, keep, positions);
  validate_view(keys, "keys");
  validate_view(values, "values");
}
}  // namespace detail

/// Moves each head's kept keys/values (and, if given, positions `[kv_heads * tokens]`) to the
/// front. Validates everything first (extents, and a paged view's block table); on error nothing
/// is written. `keep` is valid by construction (kvc::keep_set checks itself).
template <mutable_tensor_view K, mutable_tensor_view V>
void compact(const K& keys, const V& values, const keep_set& keep, std::span<std::int64_t> positions = {}) {
  detail::require_compactable(keys, values, keep, positions.size());
  const std::size_t heads = keys.extent(0), n = keys.extent(1);
  for (std::size_t h = 0; h < heads; ++h) {
    const auto idx = keep.head(h);
    // Indices ascend, so idx[i] >= i: a forward copy never overwrites a token still to be read.
    for (std::size_t i = 0; i < idx.size(); ++i) {
      const auto t = static_cast<std::size_t>(idx[i]);
      if (t == i) continue;
      for (std::size_t c = 0; c < keys.extent(2); ++c) keys(h, i, c) = keys(h, t, c);
      for (std::size_t c = 0; c < values.extent(2); ++c) values(h, i, c) = values(h, t, c);
      if (!positions.empty()) positions[h * n + i] = positions[h * n + t];
    }
  }
}

}  // namespace kvc
