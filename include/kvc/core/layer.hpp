#pragma once
// kvc::layer: the one attention layer a policy compresses (DESIGN.md §1).
//   keys, values  [kv_heads, tokens, head_dim]
//   queries       [q_heads, window, head_dim]  the last `window` prompt queries; q_heads = group * kv_heads
//   positions     [tokens]   original positions (empty: 0..tokens-1)
//   attention     [q_heads, tokens] accumulated softmax weights the engine already has (optional)

#include "kvc/version.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "kvc/core/error.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/core/paged_layout.hpp"
#include "kvc/core/view.hpp"

namespace kvc {

using index_t = std::int32_t;  ///< token index inside one layer's cache

/// How the q_heads of one GQA group are folded into their kv_head's score.
enum class group_reduce { mean, max };

/// A view with no queries: `[kv_heads, 0, head_dim]`. For policies that never look at queries.
struct no_queries {
  std::size_t heads = 0, head_dim = 0;
  static constexpr std::size_t rank() noexcept { return 3; }
  KVC_HOST_DEVICE constexpr std::size_t extent(std::size_t i) const noexcept {
    return i == 0 ? heads : i == 1 ? 0 : head_dim;
  }
  KVC_HOST_DEVICE float operator()(std::size_t, std::size_t, std::size_t) const noexcept { return 0.0f; }
};

template <tensor_view K, tensor_view V, tensor_view Q = no_queries>
struct layer {
  K keys;
  V values;
  Q queries{};
  std::span<const std::int64_t> positions{};
  std::span<const float> attention{};

  using key_type = K;
  using value_type = V;
  using query_type = Q;

  [[nodiscard]] std::size_t kv_heads() const { return keys.extent(0); }
  [[nodiscard]] std::size_t tokens() const { return keys.extent(1); }
  [[nodiscard]] std::size_t head_dim() const { return keys.extent(2); }
  [[nodiscard]] std::size_t q_heads() const { return queries.extent(0); }
  [[nodiscard]] std::size_t window() const { return queries.extent(1); }
  [[nodiscard]] std::size_t group() const { return kv_heads() == 0 ? 0 : q_heads() / kv_heads(); }
  [[nodiscard]] std::int64_t position(std::size_t t) const {
    return positions.empty() ? static_cast<std::int64_t>(t) : positions[t];
  }
  /// Index, in the token array, of window query j (the window ends at the last token).
  [[nodiscard]] std::size_t query_token(std::size_t j) const { return tokens() - window() + j; }
};

template <tensor_view K, tensor_view V, tensor_view Q>
layer(K, V, Q) -> layer<K, V, Q>;

/// Build a layer without queries (StreamingLLM, key norm, random).
template <tensor_view K, tensor_view V>
layer<K, V> make_layer(K keys, V values) {
  return {keys, values, no_queries{keys.extent(0), keys.extent(2)}};
}
template <tensor_view K, tensor_view V, tensor_view Q>
layer<K, V, Q> make_layer(K keys, V values, Q queries) {
  return {keys, values, queries};
}

/// Is `L` a kvc::layer?
template <class L>
inline constexpr bool is_layer_v = false;
template <class K, class V, class Q>
inline constexpr bool is_layer_v<layer<K, V, Q>> = true;
template <class L>
concept layer_type = is_layer_v<std::remove_cvref_t<L>>;

template <layer_type L>
inline constexpr bool has_queries_v = !std::is_same_v<typename std::remove_cvref_t<L>::query_type, no_queries>;

namespace detail {
/// The extents of `l` and the sizes of its spans (DESIGN.md §5); reads no memory of the layer.
template <class K, class V, class Q>
void validate_extents(const layer<K, V, Q>& l) {
  using detail::require;
  using detail::to_text;
  require(l.kv_heads() > 0, "keys.extent(0)", "at least 1 kv head", l.kv_heads());
  require(l.tokens() > 0, "keys.extent(1)", "at least 1 cached token", l.tokens());
  require(l.head_dim() > 0, "keys.extent(2)", "head_dim of at least 1", l.head_dim());
  require(l.values.extent(0) == l.kv_heads(), "values.extent(0)", "kv_heads " + to_text(l.kv_heads()), l.values.extent(0));
  require(l.values.extent(1) == l.tokens(), "values.extent(1)", "tokens " + to_text(l.tokens()), l.values.extent(1));
  require(l.values.extent(2) > 0, "values.extent(2)", "head_dim of at least 1", l.values.extent(2));
  if (l.q_heads() > 0) {
    require(l.q_heads() % l.kv_heads() == 0, "queries.extent(0)",
            "a multiple of kv_heads " + to_text(l.kv_heads()), l.q_heads());
    require(l.queries.extent(2) == l.head_dim(), "queries.extent(2)", "head_dim " + to_text(l.head_dim()),
            l.queries.extent(2));
    require(l.window() <= l.tokens(), "queries.extent(1)", "a window of at most tokens " + to_text(l.tokens()),
            l.window());
  }
  require(l.positions.empty() || l.positions.size() == l.tokens(), "positions.size()",
          "0 or tokens " + to_text(l.tokens()), l.positions.size());
  require(l.attention.empty() || l.attention.size() == l.q_heads() * l.tokens(), "attention.size()",
          "0 or q_heads*tokens " + to_text(l.q_heads() * l.tokens()), l.attention.size());
}

/// What a single component (a scorer or merger called on its own) checks before it reads `l`:
/// the extents and each view's own memory map (a paged view's block table, read on the host).
template <class K, class V, class Q>
void validate_views(const layer<K, V, Q>& l) {
  validate_extents(l);
  validate_view(l.keys, "keys");
  validate_view(l.values, "values");
  validate_view(l.queries, "queries");
}
}  // namespace detail

/// Checks `l` before any work (DESIGN.md §5): every extent, each view's memory map (a paged
/// view's geometry and the block-table entries in use) and the engine's attention weights
/// (finite). Throws kvc::error naming the first bad one. Keys and queries are checked by the
/// scorers that read them (docs/architecture.md#non-finite-values).
template <class K, class V, class Q>
void validate(const layer<K, V, Q>& l) {
  detail::validate_views(l);
  for (std::size_t i = 0; i < l.attention.size(); ++i)
    detail::require(std::isfinite(l.attention[i]), "attention[" + detail::to_text(i) + "]", "a finite weight",
                    l.attention[i]);
}

/// The same, spelled with the execution tag as the one pipeline calls it (the device twin is in
/// kvc/device/validate.hpp).
template <class K, class V, class Q>
void validate(exec::host_t, const layer<K, V, Q>& l) {
  validate(l);
}

/// Throws unless the layer carries at least one query per q-head (for attention-based scorers).
template <class L>
void require_queries(const L& l, std::string_view who) {
  detail::require(l.q_heads() > 0 && l.window() > 0, "queries",
                  std::string(who) + " needs at least one observation-window query per head",
                  std::to_string(l.q_heads()) + " heads x " + std::to_string(l.window()) + " queries");
}

}  // namespace kvc
