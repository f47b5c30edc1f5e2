#pragma once
// How a component runs under kvc::exec::device<System> (DESIGN.md §4). Three ways, tried in
// this order by kvc::device::run_score / run_select / run_merge:
//
//  1. an explicit device algorithm, where the parallel algorithm really differs from the
//     reference's loops (segmented softmax, radix top-k, gather/compaction, CUDA kernels):
//     a specialisation of kvc::device::algorithm<Component>;
//
//       template <> struct kvc::device::algorithm<my_scorer> {
//         static constexpr bool available = true;
//         template <class System, class Layer>
//         static void score(exec::device<System>, const my_scorer&, const Layer&, score_matrix<System>&);
//       };
//
//  2. the generic driver, for a scorer whose math is a KVC_HOST_DEVICE function of one
//     (kv_head, token): `float element(const Layer&, std::size_t head, std::size_t token) const`
//     (kvc::element_wise_scorer). It is mapped over every (head, token) on System, so the
//     component has a device version without a second copy (score::random, score::recency);
//
//  3. lowering: a component with `lower(tokens, budget)` (kvc::lowered_component) runs as the
//     component it lowers to (select::window_topk and heavy_recent are topk with a protected
//     window).
//
// kvc::device::runs_on_device<Component> says whether one of them applies; a component for
// which none does is rejected at compile time by one static_assert naming this header.

#include "kvc/version.hpp"

#include <cstddef>
#include <type_traits>

#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "kvc/core/concepts.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/device/score_matrix.hpp"

namespace kvc::device {

/// An explicit device algorithm for `Component`; none unless specialised.
template <class Component>
struct algorithm {
  static constexpr bool available = false;
};

namespace detail {
template <class C>
inline constexpr bool has_algorithm_v = algorithm<std::remove_cvref_t<C>>::available;

template <class C>
consteval bool runs_on_device_v() {
  using T = std::remove_cvref_t<C>;
  if constexpr (has_algorithm_v<T>)
    return true;
  else if constexpr (element_wise_scorer<T>)
    return true;
  else if constexpr (lowered_component<T>)
    return runs_on_device_v<lowered_t<T>>();
  else
    return false;
}

template <class C>
consteval void require_runs_on_device() {
  static_assert(runs_on_device_v<C>(),
                "kvc::exec::device: this component has no device version: it has no element() function "
                "(kvc::element_wise_scorer), no lower() (kvc::lowered_component) and no specialisation of "
                "kvc::device::algorithm (kvc/device/algorithm.hpp); run it with kvc::exec::host or give it one");
}

/// The generic driver: out[h, t] = scorer.element(layer, h, t) over every (kv_head, token).
template <class Scorer, class L>
struct element_of_scorer {
  Scorer scorer;
  L layer;
  std::size_t tokens;
  KVC_HOST_DEVICE float operator()(std::size_t i) const { return scorer.element(layer, i / tokens, i % tokens); }
};
}  // namespace detail

/// Does `Component` (a scorer, selector or merger) run under kvc::exec::device?
template <class Component>
concept runs_on_device = detail::runs_on_device_v<Component>();

/// Scores of `scorer` into `out` (re-shaped to [kv_heads, tokens]), by whichever of the three
/// ways applies. Checks nothing itself: kvc::device::score validates the layer first.
template <class System, class Scorer, layer_type L>
void run_score(exec::device<System> e, const Scorer& scorer, const L& l, score_matrix<System>& out) {
  using T = std::remove_cvref_t<Scorer>;
  detail::require_runs_on_device<T>();
  if constexpr (detail::has_algorithm_v<T>) {
    algorithm<T>::score(e, scorer, l, out);
  } else if constexpr (element_wise_scorer<T>) {
    if constexpr (checked_component<T, L>) scorer.check(l);
    out.reset(l.kv_heads(), l.tokens());
    const auto index = thrust::counting_iterator<std::size_t>(0);
    thrust::transform(System{}, index, index + kvc::device::detail::steps(l.kv_heads() * l.tokens()), out.data(),
                      detail::element_of_scorer<T, L>{scorer, l, l.tokens()});
  }
}

/// What `selector` keeps of scores `s`: its algorithm, or the component it lowers to.
template <class System, class Selector>
auto run_select(exec::device<System> e, const Selector& selector, const score_matrix<System>& s, std::size_t budget) {
  using T = std::remove_cvref_t<Selector>;
  detail::require_runs_on_device<T>();
  if constexpr (detail::has_algorithm_v<T>)
    return algorithm<T>::select(e, selector, s, budget);
  else if constexpr (lowered_component<T>)
    return run_select(e, selector.lower(s.tokens(), budget), s, budget);
}

/// Does the device algorithm of `Selector` take the layer too (`select(e, selector, layer,
/// scores, budget)`, as EMS's evict_merge does to compare keys)?
template <class Selector, class System, class L>
concept layer_aware_device_selector =
    requires(exec::device<System> e, const Selector& selector, const L& l, const score_matrix<System>& s,
             std::size_t budget) { algorithm<std::remove_cvref_t<Selector>>::select(e, selector, l, s, budget); };

/// The same for a selector that may read the layer: it gets it if its algorithm takes it.
template <class System, class Selector, layer_type L>
auto run_select(exec::device<System> e, const Selector& selector, const L& l, const score_matrix<System>& s,
                std::size_t budget) {
  if constexpr (layer_aware_device_selector<Selector, System, L>)
    return algorithm<std::remove_cvref_t<Selector>>::select(e, selector, l, s, budget);
  else
    return run_select(e, selector, s, budget);
}

/// Does the device algorithm of `Merger` write into an existing compressed layer (reusing its
/// memory) as well as return a new one?
template <class Merger, class System, class L, class Selection, class Out>
concept merger_into = requires(exec::device<System> e, const Merger& merger, const L& l, const score_matrix<System>& s,
                               const Selection& selection, Out& out) {
  algorithm<std::remove_cvref_t<Merger>>::merge(e, merger, l, s, selection, out);
};

// g++ 12 flags calls on an empty merger (merge::drop) as "may be used uninitialized" at -O1;
// an empty class has nothing to initialise (the same note as kvc/core/pipeline.hpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
/// The compressed layer `merger` builds from the layer, its scores and the selection.
template <class System, class Merger, layer_type L, class Selection>
auto run_merge(exec::device<System> e, const Merger& merger, const L& l, const score_matrix<System>& s,
               const Selection& selection) {
  using T = std::remove_cvref_t<Merger>;
  detail::require_runs_on_device<T>();
  return algorithm<T>::merge(e, merger, l, s, selection);
}

/// The same into `out`: in place where the merger's algorithm can write into an existing layer.
template <class System, class Merger, layer_type L, class Selection, class Out>
void run_merge(exec::device<System> e, const Merger& merger, const L& l, const score_matrix<System>& s,
               const Selection& selection, Out& out) {
  using T = std::remove_cvref_t<Merger>;
  detail::require_runs_on_device<T>();
  if constexpr (merger_into<T, System, L, Selection, Out>)
    algorithm<T>::merge(e, merger, l, s, selection, out);
  else
    out = algorithm<T>::merge(e, merger, l, s, selection);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace kvc::device
