#pragma once
// The device path's entry points (docs/device.md):
//
//   using exec = kvc::exec::device<thrust::omp::tag>;
//   auto out = kvc::compress(exec{}, kvc::policy::snapkv{}, layer, kvc::budget::ratio(0.2));
//   kvc::compressed_layer<float> host = out;                 // or out.to_host()
//
// or, reusing an engine's output object from call to call,
//
//   kvc::device::compressed_layer<float, thrust::omp::tag> out;
//   kvc::compress(exec{}, policy, layer, budget, out);
//
// and per stage: kvc::device::score / select / merge for one component, kvc::device::scores /
// keep for a policy. A selector's device version may take the layer too (layer-aware, as EMS's
// evict_merge) and may give a selection other than device::keep_set (EMS's
// device::class_assignment); the pipeline passes the layer to such a selector and its result to
// the merger, as the host pipeline does. Each validates on the host first, with the host path's kvc::error
// messages, and writes nothing when a check fails.

#include "kvc/version.hpp"

#include <cstddef>
#include <string>
#include <type_traits>

#include "kvc/core/budget.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/pipeline.hpp"
#include "kvc/device/compressed_layer.hpp"
#include "kvc/device/implementation.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_buffer.hpp"
#include "kvc/device/validate.hpp"

namespace kvc::device {

/// Scores of `scorer` for layer `l` into `out` (re-shaped to [kv_heads, tokens]).
template <class System, class Scorer, layer_type L>
void score(exec::device<System> e, const Scorer& scorer, const L& l, score_buffer<System>& out) {
  using impl = implementation_of<Scorer>;
  validate(e, l);
  impl::score(e, scorer, l, out);
}
template <class System, class Scorer, layer_type L>
score_buffer<System> score(exec::device<System> e, const Scorer& scorer, const L& l) {
  score_buffer<System> out;
  score(e, scorer, l, out);
  return out;
}

namespace detail {
/// A caller's score buffer holds heads * tokens scores (its values() can be resized from outside).
template <class System>
void require_consistent(const score_buffer<System>& s) {
  kvc::detail::require(s.values().size() == s.heads() * s.tokens(), "scores.values().size()",
                       "heads*tokens " + std::to_string(s.heads() * s.tokens()), s.values().size());
}
}  // namespace detail

/// What `selector` keeps of scores `s` with `budget` tokens per head.
template <class System, class Selector>
auto select(exec::device<System> e, const Selector& selector, const score_buffer<System>& s, std::size_t budget) {
  using impl = implementation_of<Selector>;
  detail::require_consistent(s);
  return impl::select(e, selector, s, budget);
}

/// Does the device version of `Selector` take the layer too (`select(e, selector, layer, scores,
/// budget)`, as EMS's evict_merge does to compare keys)?
template <class Selector, class System, class L>
concept layer_aware_device_selector =
    requires(exec::device<System> e, const Selector& selector, const L& l, const score_buffer<System>& s,
             std::size_t budget) {
      implementation<std::remove_cvref_t<Selector>>::select(e, selector, l, s, budget);
    };

/// What `selector` keeps of layer `l` with scores `s`, the way the pipeline runs it: a
/// layer-aware selector gets the layer, any other just the scores (kvc::run_selector on the host).
template <class System, class Selector, layer_type L>
auto select(exec::device<System> e, const Selector& selector, const L& l, const score_buffer<System>& s,
            std::size_t budget) {
  using impl = implementation_of<Selector>;
  detail::require_consistent(s);
  if constexpr (layer_aware_device_selector<Selector, System, L>) {
    detail::validate_views<System>(l);
    return impl::select(e, selector, l, s, budget);
  } else {
    return impl::select(e, selector, s, budget);
  }
}

/// Does the device version of `Merger` write into an existing compressed layer (reusing its
/// memory) as well as return a new one?
template <class Merger, class System, class L, class Selection, class Out>
concept merger_into = requires(exec::device<System> e, const Merger& merger, const L& l, const score_buffer<System>& s,
                               const Selection& selection, Out& out) {
  implementation<std::remove_cvref_t<Merger>>::merge(e, merger, l, s, selection, out);
};

namespace detail {
/// What device::merge checks of a caller's arguments before the merger reads them: the layer's
/// extents and views' maps, and the CSR of a caller-built selection (device::keep_set::validate).
/// The pipeline's own selections are built valid and skip it.
template <class System, layer_type L, class Selection>
void require_mergeable(const L& l, const score_buffer<System>& s, const Selection& selection) {
  validate_views<System>(l);
  require_consistent(s);
  if constexpr (std::is_base_of_v<device::keep_set<System>, Selection>)
    static_cast<const device::keep_set<System>&>(selection).validate();
}

// g++ 12 flags calls on an empty merger (merge::drop) as "may be used uninitialized" at -O1;
// an empty class has nothing to initialise (the same note as kvc/core/pipeline.hpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <class System, class Merger, layer_type L, class Selection>
auto merge_checked_selection(exec::device<System> e, const Merger& merger, const L& l, const score_buffer<System>& s,
                             const Selection& selection) {
  return implementation_of<Merger>::merge(e, merger, l, s, selection);
}
template <class System, class Merger, layer_type L, class Selection, class T>
void merge_checked_selection(exec::device<System> e, const Merger& merger, const L& l, const score_buffer<System>& s,
                             const Selection& selection, device::compressed_layer<T, System>& out) {
  using impl = implementation_of<Merger>;
  if constexpr (merger_into<Merger, System, L, Selection, device::compressed_layer<T, System>>)
    impl::merge(e, merger, l, s, selection, out);
  else
    out = impl::merge(e, merger, l, s, selection);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}  // namespace detail

/// The compressed layer `merger` builds from the layer, its scores and the selection: a
/// device::keep_set, or a richer type such as EMS's device::class_assignment, passed on as it is
/// (as the host pipeline passes a selector's result to its merger).
template <class System, class Merger, layer_type L, class Selection>
auto merge(exec::device<System> e, const Merger& merger, const L& l, const score_buffer<System>& s,
           const Selection& selection) {
  using impl [[maybe_unused]] = implementation_of<Merger>;
  detail::require_mergeable<System>(l, s, selection);
  return detail::merge_checked_selection(e, merger, l, s, selection);
}

/// The same, into `out`: reusing its memory where the merger can write into an existing layer,
/// moving a new layer into it otherwise.
template <class System, class Merger, layer_type L, class Selection, class T>
void merge(exec::device<System> e, const Merger& merger, const L& l, const score_buffer<System>& s,
           const Selection& selection, device::compressed_layer<T, System>& out) {
  using impl [[maybe_unused]] = implementation_of<Merger>;
  detail::require_mergeable<System>(l, s, selection);
  detail::merge_checked_selection(e, merger, l, s, selection, out);
}

/// A policy's scores (pipeline::scores on the device).
template <class System, class Scorer, class Selector, class Merger, layer_type L>
score_buffer<System> scores(exec::device<System> e, const pipeline<Scorer, Selector, Merger>& p, const L& l) {
  return score(e, p.score, l);
}

/// What a policy keeps (pipeline::keep on the device).
template <class System, class Scorer, class Selector, class Merger, layer_type L, budget::per_head B>
auto keep(exec::device<System> e, const pipeline<Scorer, Selector, Merger>& p, const L& l, const B& b) {
  using checked [[maybe_unused]] = implementation_of<Selector>;
  validate(e, l);
  const std::size_t k = b.count(l.tokens());
  return select(e, p.select, l, scores(e, p, l), k);
}

namespace detail {
/// What both kvc::compress overloads run: every stage named first (so a missing device version
/// is one error, before any other), the checks, the scores and the selection, then
/// `finish(scores, selection)`.
template <class System, class Scorer, class Selector, class Merger, layer_type L, budget::per_head B, class Finish>
decltype(auto) run_stages(exec::device<System> e, const pipeline<Scorer, Selector, Merger>& p, const L& l, const B& b,
                          Finish&& finish) {
  using scorer_impl [[maybe_unused]] = implementation_of<Scorer>;
  using selector_impl [[maybe_unused]] = implementation_of<Selector>;
  using merger_impl [[maybe_unused]] = implementation_of<Merger>;
  validate(e, l);
  const std::size_t k = b.count(l.tokens());
  const score_buffer<System> s = scores(e, p, l);
  const auto sel = select(e, p.select, l, s, k);
  return finish(s, sel);
}
}  // namespace detail

}  // namespace kvc::device

namespace kvc {

/// Compress on Thrust's `System`: the device twin of compress(exec::host, policy, layer, budget).
/// Gives a kvc::device::compressed_layer<T, System>, which converts to kvc::compressed_layer<T>.
template <class System, class Scorer, class Selector, class Merger, layer_type L, budget::per_head B>
auto compress(exec::device<System> e, const pipeline<Scorer, Selector, Merger>& p, const L& l, const B& b) {
  return device::detail::run_stages(e, p, l, b, [&](const auto& s, const auto& sel) {
    return device::detail::merge_checked_selection(e, p.merge, l, s, sel);
  });
}

/// Same, into `out`, which an engine keeps from call to call: with merge::drop (and relocate
/// over it) the result reuses out's memory, so repeated calls allocate only when the kept set
/// grows; another merger's result is moved into `out`. `out` is untouched when a check fails.
template <class System, class Scorer, class Selector, class Merger, layer_type L, budget::per_head B, class T>
void compress(exec::device<System> e, const pipeline<Scorer, Selector, Merger>& p, const L& l, const B& b,
              device::compressed_layer<T, System>& out) {
  static_assert(std::is_same_v<T, element_of<typename L::key_type>>,
                "kvc::compress(…, out): out must hold the layer's key element type");
  device::detail::run_stages(e, p, l, b, [&](const auto& s, const auto& sel) {
    device::detail::merge_checked_selection(e, p.merge, l, s, sel, out);
  });
}

}  // namespace kvc
