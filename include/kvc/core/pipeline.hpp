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

  /// Scores of every (kv_head, token), after validating the layer.
  template <layer_type L>
  score_matrix scores(const L& l) const {
    static_assert(scorer<Scorer, L>, "kvc::pipeline: the Scorer cannot score this layer type (see kvc::scorer)");
    validate(l);
    score_matrix s(l.kv_heads(), l.tokens());
    score(l, s);
    return s;
  }

  /// What would be kept, without building the compressed layer.
  template <layer_type L, budget::per_head B>
  selection_t<Selector, L> keep(const L& l, const B& b) const {
    validate(l);
    const std::size_t k = b.count(l.tokens());
    return run_selector(select, l, scores(l), k);
  }

  /// Compress on the host reference.
  template <layer_type L, budget::per_head B>
  auto operator()(const L& l, const B& b) const {
    return (*this)(exec::host, l, b);
  }
  template <layer_type L, budget::per_head B>
  auto operator()(exec::host_t, const L& l, const B& b) const {
    validate(l);
    const std::size_t k = b.count(l.tokens());
    const score_matrix s = scores(l);
    const auto sel = run_selector(select, l, s, k);
// g++ 12 flags calls on an empty stage (merge::drop) of a designated-initialised temporary
// as "may be used uninitialized"; an empty class has nothing to initialise.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    return merge(l, s, sel);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  }
};

/// Host compression through a free function, the spelling the device backends share:
/// `kvc::compress(kvc::exec::host, policy, layer, budget)`.
template <class Policy, layer_type L, budget::per_head B>
auto compress(exec::host_t e, const Policy& policy, const L& l, const B& b) {
  return policy(e, l, b);
}

}  // namespace kvc
