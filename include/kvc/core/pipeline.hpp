#pragma once
// kvc::pipeline<Scorer, Selector, Merger>: a policy composed at compile time (DESIGN.md §2).
//
//   using snapkv = kvc::pipeline<kvc::score::window_attention, kvc::select::topk, kvc::merge::drop>;
//   auto compressed = snapkv{}(layer, kvc::budget::ratio(0.2));

#include "kvc/version.hpp"

#include <cstddef>

#include "kvc/core/budget.hpp"
#include "kvc/core/concepts.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/merge/drop.hpp"

namespace kvc {

namespace detail {
template <class Merger, class Selector>
consteval bool merger_fits() {
  if constexpr (selector<Selector>)
    return merger<Merger, selection_t<Selector>>;
  else
    return true;  // the selector's own assertion already fired
}
}  // namespace detail

template <class Scorer, class Selector, class Merger = merge::drop>
struct pipeline {
  static_assert(scorer<Scorer>,
                "kvc::pipeline: the first parameter is not a kvc::scorer; it needs a default constructor and "
                "`void operator()(const Layer&, kvc::score_matrix&) const`");
  static_assert(selector<Selector>,
                "kvc::pipeline: the second parameter is not a kvc::selector; it needs a default constructor and "
                "`operator()([const Layer&,] const kvc::score_matrix&, std::size_t budget) const` returning a kvc::keep_set");
  static_assert(detail::merger_fits<Merger, Selector>(),
                "kvc::pipeline: the third parameter is not a kvc::merger for this selector's result; it needs "
                "`operator()(const Layer&, const kvc::score_matrix&, const Selection&) const` returning a "
                "kvc::compressed_layer");

  using scorer_type = Scorer;
  using selector_type = Selector;
  using merger_type = Merger;

  Scorer score{};
  Selector select{};
  Merger merge{};

  // One pipeline over the execution tag: each stage is named once (score_with, select_with,
  // merge_with) and routed by the tag to the host reference (below) or to the device path
  // (kvc/device/pipeline.hpp, found through the layer's namespace).

  /// Scores of every (kv_head, token), after validating the layer: a kvc::score_matrix on the
  /// host, a kvc::device::score_matrix<System> under exec::device<System>.
  template <class Exec, layer_type L>
  auto scores(Exec e, const L& l) const {
    validate(e, l);
    return scored(e, l);
  }
  template <layer_type L>
  score_matrix scores(const L& l) const {
    return scores(exec::host, l);
  }

  /// What would be kept, without building the compressed layer.
  template <class Exec, layer_type L, budget::per_head B>
  auto keep(Exec e, const L& l, const B& b) const {
    validate(e, l);
    const std::size_t k = b.count(l.tokens());
    return select_with(e, select, l, scored(e, l), k);
  }
  template <layer_type L, budget::per_head B>
  selection_t<Selector, L> keep(const L& l, const B& b) const {
    return keep(exec::host, l, b);
  }

  /// Compress: validate, score, select, merge. `out` (optional) receives the result, reusing its
  /// memory where the merger can (the device path's compressed layer); untouched when a check fails.
  template <class Exec, layer_type L, budget::per_head B, class... Out>
    requires(sizeof...(Out) <= 1 && !layer_type<Exec>)
  auto operator()(Exec e, const L& l, const B& b, Out&... out) const {
    validate(e, l);
    const std::size_t k = b.count(l.tokens());
    const auto s = scored(e, l);
    const auto sel = select_with(e, select, l, s, k);
    return merge_with(e, merge, l, s, sel, out...);
  }
  template <layer_type L, budget::per_head B>
  auto operator()(const L& l, const B& b) const {
    return (*this)(exec::host, l, b);
  }

 private:
  /// The scores of a layer the caller has validated (each entry point validates once).
  template <class Exec, layer_type L>
  auto scored(Exec e, const L& l) const {
    static_assert(scorer<Scorer, L>, "kvc::pipeline: the Scorer cannot score this layer type (see kvc::scorer)");
    return score_with(e, score, l);
  }
};

// The host reference's stages.

/// Scores of `scorer` for layer `l` (validated by the pipeline's entry point).
template <class Scorer, layer_type L>
score_matrix score_with(exec::host_t, const Scorer& scorer, const L& l) {
  score_matrix s(l.kv_heads(), l.tokens());
  scorer(l, s);
  return s;
}

/// What `selector` keeps of scores `s` with `budget` tokens per head (the layer for a layer-aware one).
template <class Selector, layer_type L>
auto select_with(exec::host_t, const Selector& selector, const L& l, const score_matrix& s, std::size_t budget) {
  return run_selector(selector, l, s, budget);
}

/// The compressed layer `merger` builds from the layer, its scores and the selection.
template <class Merger, layer_type L, class Selection>
auto merge_with(exec::host_t, const Merger& merger, const L& l, const score_matrix& s, const Selection& selection) {
// g++ 12 flags calls on an empty stage (merge::drop) of a designated-initialised temporary
// as "may be used uninitialized"; an empty class has nothing to initialise.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  return merger(l, s, selection);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}

/// Compression through a free function on any execution tag:
/// `kvc::compress(kvc::exec::host, policy, layer, budget)`, or `kvc::exec::device<System>{}`
/// (kvc/device/pipeline.hpp), optionally into an `out` the engine keeps from call to call.
template <class Exec, class Policy, layer_type L, budget::per_head B, class... Out>
  requires(sizeof...(Out) <= 1)
auto compress(Exec e, const Policy& policy, const L& l, const B& b, Out&... out) {
  return policy(e, l, b, out...);
}

}  // namespace kvc
