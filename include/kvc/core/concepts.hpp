#pragma once
// The four roles (DESIGN.md §2) as concepts, checked against a reference layer type so that
// a wrong composition reads as one message naming the role.

#include "kvc/version.hpp"

#include <concepts>
#include <cstddef>
#include <type_traits>

#include "kvc/core/compressed_layer.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/core/view.hpp"

namespace kvc {

/// The layer type roles are checked against when no concrete layer is at hand.
using reference_layer = layer<strided_view<const float>, strided_view<const float>, strided_view<const float>>;

/// A Scorer writes one importance per (kv_head, token) of `Layer` into a score_matrix.
template <class S, class Layer = reference_layer>
concept scorer = std::is_default_constructible_v<S> && requires(const S& s, const Layer& l, score_matrix& out) {
  { s(l, out) } -> std::same_as<void>;
};

/// A Selector turns scores and a per-head token budget into a keep_set (or a type derived
/// from it that carries more, such as EMS's class assignment). It is called as
/// `s(scores, budget)`, or as `s(layer, scores, budget)` when it also needs the layer's
/// keys (EMS decides merge-versus-evict by key similarity); the pipeline prefers the latter.
template <class S, class Layer = reference_layer>
concept layer_aware_selector = requires(const S& s, const Layer& l, const score_matrix& m, std::size_t b) {
  { s(l, m, b) } -> std::derived_from<keep_set>;
};
template <class S>
concept score_only_selector = requires(const S& s, const score_matrix& m, std::size_t b) {
  { s(m, b) } -> std::derived_from<keep_set>;
};
template <class S, class Layer = reference_layer>
concept selector = std::is_default_constructible_v<S> && (score_only_selector<S> || layer_aware_selector<S, Layer>);

/// Runs selector `s` the way the pipeline does.
template <class S, class Layer>
  requires selector<S, Layer>
decltype(auto) run_selector(const S& s, const Layer& l, const score_matrix& m, std::size_t budget) {
  if constexpr (layer_aware_selector<S, Layer>)
    return s(l, m, budget);
  else
    return s(m, budget);
}

/// The result type of Selector S on Layer.
template <class S, class Layer = reference_layer>
  requires selector<S, Layer>
using selection_t = std::remove_cvref_t<decltype(run_selector(std::declval<const S&>(), std::declval<const Layer&>(),
                                                              std::declval<const score_matrix&>(), std::size_t{}))>;

/// A Merger builds the compressed layer from the layer, its scores and the selection.
template <class M, class Selection = keep_set, class Layer = reference_layer>
concept merger = std::is_default_constructible_v<M> &&
                 requires(const M& m, const Layer& l, const score_matrix& s, const Selection& sel) {
                   { m(l, s, sel) } -> std::same_as<compressed_layer<element_of<typename Layer::key_type>>>;
                 };

/// How a component is stated once (DESIGN.md §4). An element-wise scorer's math is one
/// KVC_HOST_DEVICE function of (kv_head, token): its host reference loops over it, and the
/// device path maps it over every (head, token) without a second copy (kvc/device/algorithm.hpp).
template <class S, class Layer = reference_layer>
concept element_wise_scorer = requires(const S& s, const Layer& l, std::size_t i) {
  { s.element(l, i, i) } -> std::convertible_to<float>;
};

/// A component that is another with some parameters fixed from the cache's size and the budget
/// (select::window_topk is a topk whose recent window is min(window, tokens)): `lower(tokens,
/// budget)` checks its own parameters and gives the component that runs.
template <class C>
concept lowered_component = requires(const C& c, std::size_t n) { c.lower(n, n); };
template <lowered_component C>
using lowered_t = std::remove_cvref_t<decltype(std::declval<const C&>().lower(std::size_t{}, std::size_t{}))>;

/// A component whose parameters are checked against a layer by a member `check(layer)`, which
/// throws kvc::error naming the parameter; the reference and the device path both call it.
template <class C, class Layer = reference_layer>
concept checked_component = requires(const C& c, const Layer& l) { c.check(l); };

/// A Projector maps a `[rows, cols]` row-major float matrix (tokens × features, or a weight)
/// to a rank-r latent and back.
template <class P>
concept projector = requires(const P& p, std::span<const float> x, std::span<float> c, std::span<const float> c2,
                             std::span<float> y, std::size_t rows) {
  { p.rank() } -> std::convertible_to<std::size_t>;
  { p.input_dim() } -> std::convertible_to<std::size_t>;
  { p.compress(x, rows, c) } -> std::same_as<void>;
  { p.reconstruct(c2, rows, y) } -> std::same_as<void>;
};

}  // namespace kvc
