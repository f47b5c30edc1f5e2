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
#include "kvc/device/algorithm.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/validate.hpp"

namespace kvc::device {

/// Scores of `scorer` for layer `l` into `out` (re-shaped to [kv_heads, tokens]).
template <class System, class Scorer, layer_type L>
void score(exec::device<System> e, const Scorer& scorer, const L& l, score_matrix<System>& out) {
  validate(e, l);
  run_score(e, scorer, l, out);
}
template <class System, class Scorer, layer_type L>
score_matrix<System> score(exec::device<System> e, const Scorer& scorer, const L& l) {
  score_matrix<System> out;
  score(e, scorer, l, out);
  return out;
}

namespace detail {
/// A caller's score buffer holds heads * tokens scores (its values() can be resized from outside).
template <class System>
void require_consistent(const score_matrix<System>& s) {
  kvc::detail::require(s.values().size() == s.heads() * s.tokens(), "scores.values().size()",
                       "heads*tokens " + std::to_string(s.heads() * s.tokens()), s.values().size());
}

/// What device::merge checks of a caller's arguments before the merger reads them: the layer's
/// extents and views' maps, and the CSR of a caller-built selection (device::keep_set::validate).
/// The pipeline's own selections are built valid and skip it.
template <class System, layer_type L, class Selection>
void require_mergeable(const L& l, const score_matrix<System>& s, const Selection& selection) {
  validate_views<System>(l);
  require_consistent(s);
  if constexpr (std::is_base_of_v<device::keep_set<System>, Selection>)
    static_cast<const device::keep_set<System>&>(selection).validate();
}
}  // namespace detail

/// What `selector` keeps of scores `s` with `budget` tokens per head.
template <class System, class Selector>
auto select(exec::device<System> e, const Selector& selector, const score_matrix<System>& s, std::size_t budget) {
  detail::require_consistent(s);
  return run_select(e, selector, s, budget);
}

/// What `selector` keeps of layer `l` with scores `s`, the way the pipeline runs it: a
/// layer-aware selector gets the layer, any other just the scores (kvc::run_selector on the host).
template <class System, class Selector, layer_type L>
auto select(exec::device<System> e, const Selector& selector, const L& l, const score_matrix<System>& s,
            std::size_t budget) {
  detail::require_consistent(s);
  if constexpr (layer_aware_device_selector<Selector, System, L>) detail::validate_views<System>(l);
  return run_select(e, selector, l, s, budget);
}

/// The compressed layer `merger` builds from the layer, its scores and the selection: a
/// device::keep_set, or a richer type such as EMS's device::class_assignment, passed on as it is
/// (as the host pipeline passes a selector's result to its merger). With `out`, reusing its
/// memory where the merger can write into an existing layer, moving a new layer into it otherwise.
template <class System, class Merger, layer_type L, class Selection, class... Out>
  requires(sizeof...(Out) <= 1)
auto merge(exec::device<System> e, const Merger& merger, const L& l, const score_matrix<System>& s,
           const Selection& selection, Out&... out) {
  detail::require_runs_on_device<Merger>();
  detail::require_mergeable<System>(l, s, selection);
  return run_merge(e, merger, l, s, selection, out...);
}

/// A policy's scores (pipeline::scores on the device).
template <class System, class Scorer, class Selector, class Merger, layer_type L>
score_matrix<System> scores(exec::device<System> e, const pipeline<Scorer, Selector, Merger>& p, const L& l) {
  return p.scores(e, l);
}

/// What a policy keeps (pipeline::keep on the device).
template <class System, class Scorer, class Selector, class Merger, layer_type L, budget::per_head B>
auto keep(exec::device<System> e, const pipeline<Scorer, Selector, Merger>& p, const L& l, const B& b) {
  return p.keep(e, l, b);
}

}  // namespace kvc::device

namespace kvc {

// The device path's stages of the one pipeline (kvc/core/pipeline.hpp): the same names as the
// host reference's, taking exec::device<System>. Each names its component first, so a missing
// device version is one error before any other.

template <class System, class Scorer, layer_type L>
device::score_matrix<System> score_with(exec::device<System> e, const Scorer& scorer, const L& l) {
  device::detail::require_runs_on_device<Scorer>();
  device::score_matrix<System> out;  // the layer is validated by the pipeline's entry point
  device::run_score(e, scorer, l, out);
  return out;
}

template <class System, class Selector, layer_type L>
auto select_with(exec::device<System> e, const Selector& selector, const L& l, const device::score_matrix<System>& s,
                 std::size_t budget) {
  device::detail::require_runs_on_device<Selector>();
  return device::run_select(e, selector, l, s, budget);
}

/// The pipeline's own selection is built valid, so only the merger runs; into `out` if given.
template <class System, class Merger, layer_type L, class Selection, class... Out>
auto merge_with(exec::device<System> e, const Merger& merger, const L& l, const device::score_matrix<System>& s,
                const Selection& selection, Out&... out) {
  device::detail::require_runs_on_device<Merger>();
  if constexpr (sizeof...(Out) == 1)
    static_assert(std::is_same_v<std::remove_cvref_t<Out>...,
                                 device::compressed_layer<element_of<typename L::key_type>, System>>,
                  "kvc::compress(…, out): out must be a kvc::device::compressed_layer of the layer's key element "
                  "type on the same System");
  return device::run_merge(e, merger, l, s, selection, out...);
}

}  // namespace kvc
