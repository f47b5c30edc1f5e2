#pragma once
// Every kvc method, once: its name, policy type, one-line summary, docs page, the registry's
// starting value of the policy and every parameter, with the members it sets and the values
// where it changes what the method keeps. The tests (reference, parity sweep, dispatch), the
// benchmarks, the evaluation and `kvc methods` iterate this list; adding a method is one
// function here and one line in all(). docs/architecture.md#adding-a-method
//
//   kvc::methods::for_each([](const auto& m) {
//     using policy = typename std::remove_cvref_t<decltype(m)>::policy_type;
//     std::printf("%s (%s)\n", m.name.data(), m.docs.data());
//     kvc::methods::for_each_parameter(m, [&](const auto& p) { ... p.get(m.start) ... });
//   });
//
// A parameter holds one member, or several that must stay equal (SnapKV's score.window and
// select.window are one observation window). Each `access` is a generic lambda
// `[](auto& policy) -> auto& { return policy.member; }`, so it reads a const policy and writes a
// mutable one. `sweep` lists values other than the starting one at which the parameter changes
// the result on a small random layer: the parity sweep runs the host reference and the device
// path at every one of them, and checks that each really changes the host's result.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "kvc/policy/adakv.hpp"
#include "kvc/policy/ems.hpp"
#include "kvc/policy/fastgen.hpp"
#include "kvc/policy/h2o.hpp"
#include "kvc/policy/intelllm.hpp"
#include "kvc/policy/key_norm.hpp"
#include "kvc/policy/lorc.hpp"
#include "kvc/policy/pyramidkv.hpp"
#include "kvc/policy/random.hpp"
#include "kvc/policy/snapkv.hpp"
#include "kvc/policy/streaming_llm.hpp"
#include "kvc/policy/tova.hpp"

namespace kvc::methods {

/// What a method compresses, and so how it is called.
enum class level {
  layer,    ///< one layer: policy(layer, budget), kvc::compress(exec, policy, layer, budget)
  model,    ///< every layer of a model: policy(span of layers, budget::tokens average)
  weights,  ///< the K/V projection weights of every layer (LoRC): policy(weights, shape, ratio)
};

/// One parameter: the members it sets, and values where it changes the result.
template <class T, class... Access>
struct parameter {
  using value_type = T;
  std::string_view name;
  std::string_view meaning;  ///< one line
  std::vector<T> sweep;      ///< values other than the start's where the result changes
  bool observation_window = false;  ///< a count of the last prompt queries the method reads
  std::tuple<Access...> access;

  /// Its value in `policy` (the first member's).
  template <class Policy>
  [[nodiscard]] T get(const Policy& policy) const {
    return std::get<0>(access)(policy);
  }
  /// Sets every member it holds in `policy` to `v`.
  template <class Policy>
  void set(Policy& policy, const T& v) const {
    std::apply([&](const auto&... a) { ((a(policy) = v), ...); }, access);
  }
};

/// A parameter of type T held by `access...` (one member, or several kept equal).
template <class T, class... Access>
parameter<T, Access...> param(std::string_view name, std::string_view meaning, std::initializer_list<T> sweep,
                              Access... access) {
  return {name, meaning, std::vector<T>(sweep), false, std::tuple<Access...>(std::move(access)...)};
}
/// The same for an observation window.
template <class T, class... Access>
parameter<T, Access...> window(std::string_view name, std::string_view meaning, std::initializer_list<T> sweep,
                               Access... access) {
  auto p = param<T>(name, meaning, sweep, std::move(access)...);
  p.observation_window = true;
  return p;
}

/// One method: a policy type, its starting value and its parameters (in the order they are set).
template <level Scope, class Policy, class... Parameters>
struct method {
  using policy_type = Policy;
  static constexpr level scope = Scope;
  std::string_view name;
  std::string_view summary;  ///< what it does, in one line
  std::string_view docs;     ///< its page, e.g. "docs/snapkv.md"
  Policy start{};            ///< the registry's starting value (the policy's defaults unless stated)
  std::tuple<Parameters...> parameters;
};

template <level Scope, class Policy, class... Parameters>
method<Scope, Policy, Parameters...> make(std::string_view name, std::string_view summary, std::string_view docs,
                                          Policy start, Parameters... ps) {
  return {name, summary, docs, std::move(start), std::tuple<Parameters...>(std::move(ps)...)};
}

/// Calls f(parameter) for every parameter of `m`, in order.
template <class Method, class F>
void for_each_parameter(const Method& m, F&& f) {
  std::apply([&](const auto&... p) { (f(p), ...); }, m.parameters);
}

// Parameters several methods share. `stage` reaches the component: [](auto& p) -> auto& { ... }.
namespace detail {
template <class Stage>
auto group(Stage stage) {
  return param<group_reduce>("group", "how a GQA group's query heads are folded into their kv head",
                             {group_reduce::max}, [stage](auto& p) -> auto& { return stage(p).group; });
}
template <class Stage>
auto pooling(Stage stage) {
  return std::tuple{param<std::size_t>("pool", "pooling kernel over tokens (odd; 1: no pooling)", {1, 3},
                                       [stage](auto& p) -> auto& { return stage(p).pool; }),
                    param<score::pooling>("pooling", "max pooling, or average counting the zero padding",
                                          {score::pooling::average}, [stage](auto& p) -> auto& { return stage(p).kind; }),
                    group(stage)};
}
template <class Stage>
auto guards(Stage stage) {
  return std::tuple{param<std::size_t>("sinks", "first tokens always kept", {2},
                                       [stage](auto& p) -> auto& { return stage(p).sinks; }),
                    param<std::size_t>("recent", "last tokens always kept", {3},
                                       [stage](auto& p) -> auto& { return stage(p).recent; })};
}
inline constexpr auto scorer_of = [](auto& p) -> auto& { return p.score; };
inline constexpr auto selector_of = [](auto& p) -> auto& { return p.select; };

template <level Scope, class Policy, class... Tuples>
auto make_from(std::string_view name, std::string_view summary, std::string_view docs, Policy start,
               Tuples... parts) {
  return std::apply(
      [&](auto... ps) { return make<Scope>(name, summary, docs, std::move(start), std::move(ps)...); },
      std::tuple_cat(std::move(parts)...));
}
}  // namespace detail

inline auto streaming_llm() {
  return make<level::layer>("streaming_llm", "attention sinks and the most recent tokens", "docs/streaming_llm.md",
              policy::streaming_llm{},
              param<std::size_t>("sinks", "first tokens always kept (attention sinks); the rest are the most recent",
                                 {0, 1, 9}, [](auto& p) -> auto& { return p.select.sinks; }));
}

inline auto h2o() {
  return make<level::layer>("h2o", "heavy hitters by accumulated attention and a recent window", "docs/h2o.md",
              policy::h2o{},
              param<double>("recent_fraction", "share of the budget given to the most recent tokens", {0.0, 0.2, 1.0},
                            [](auto& p) -> auto& { return p.select.recent_fraction; }),
              detail::group(detail::scorer_of));
}

inline auto snapkv() {
  return detail::make_from<level::layer>(
      "snapkv", "pooled observation-window attention; the window itself is kept", "docs/snapkv.md",
      policy::snapkv{},
      std::tuple{window<std::size_t>("window", "observation window: the last prefix queries scored, and the tokens kept",
                                     {1, 5}, [](auto& p) -> auto& { return p.score.window; },
                                     [](auto& p) -> auto& { return p.select.window; })},
      detail::pooling(detail::scorer_of));
}

inline auto tova() {
  return detail::make_from<level::layer>(
      "tova", "the tokens the last query attends to most", "docs/tova.md", policy::tova{},
      std::tuple{detail::group(detail::scorer_of),
                 param<bool>("share_across_heads", "one score per token, averaged over all query heads", {true},
                             [](auto& p) -> auto& { return p.score.share_across_heads; })},
      detail::guards(detail::selector_of));
}

inline auto key_norm() {
  return detail::make_from<level::layer>("key_norm", "the lowest-norm keys", "docs/key_norm.md", policy::key_norm{},
                           detail::guards(detail::selector_of));
}

/// Starts at seed 1 (the policy's own default is 0): the evaluation's control since it was added.
inline auto random() {
  return detail::make_from<level::layer>(
      "random", "uniform random scores from a seed: the control", "docs/random.md",
      policy::random{.score = {.seed = 1}},
      std::tuple{param<std::uint64_t>("seed", "seed of the scores (the same seed keeps the same tokens)", {2, 7},
                                      [](auto& p) -> auto& { return p.score.seed; })},
      detail::guards(detail::selector_of));
}

inline auto adakv() {
  return detail::make_from<level::layer>(
      "adakv", "SnapKV scores, one top-k over all heads of a layer with a per-head floor", "docs/adakv.md", policy::adakv{},
      std::tuple{window<std::size_t>("window", "observation window: the last prefix queries scored, and the tokens kept",
                                     {1, 5}, [](auto& p) -> auto& { return p.score.window; },
                                     [](auto& p) -> auto& { return p.select.recent; }),
                 param<double>("floor_fraction", "alpha: share of budget - window every head keeps by its own scores",
                               {0.5, 1.0}, [](auto& p) -> auto& { return p.select.floor_fraction; })},
      detail::pooling(detail::scorer_of));
}

inline auto pyramidkv() {
  constexpr auto per_layer_score = [](auto& p) -> auto& { return p.per_layer.score; };
  return detail::make_from<level::model>(
      "pyramidkv", "SnapKV with per-layer budgets that shrink with depth, same total", "docs/pyramidkv.md", policy::pyramidkv{},
      std::tuple{window<std::size_t>("window",
                                     "observation window: the last prefix queries scored, and the tokens kept in "
                                     "every layer",
                                     {1, 5}, [](auto& p) -> auto& { return p.per_layer.score.window; },
                                     [](auto& p) -> auto& { return p.per_layer.select.window; }),
                 param<double>("beta", "beta: the last layer keeps the average / beta beyond the window", {1.5, 5.0},
                               [](auto& p) -> auto& { return p.split.beta; })},
      detail::pooling(per_layer_score));
}

/// Starts with the budget as a cap (the policy's own default, budget_use::ignore, is the paper's:
/// T alone sets each head's size).
inline auto fastgen() {
  return make<level::layer>(
      "fastgen", "per head, the cheapest hybrid cache that recovers T of the attention", "docs/fastgen.md", policy::fastgen{.select = {.budget = kvc::fastgen::budget_use::trim}},
      param<double>("recovery_threshold", "T: share of the attention a head's cache must recover", {0.5, 0.8, 1.0},
                    [](auto& p) -> auto& { return p.select.recovery_threshold; }),
      param<double>("local_ratio", "r_l: the local cache, as a share of the tokens", {0.1, 0.6},
                    [](auto& p) -> auto& { return p.select.local_ratio; }),
      param<double>("frequent_ratio", "r_f: the frequent (heavy-hitter) cache, as a share of the tokens", {0.1, 0.6},
                    [](auto& p) -> auto& { return p.select.frequent_ratio; }),
      param<kvc::fastgen::budget_use>("budget_use",
                                      "ignore: T alone sets each head's cache (the paper); cap: no head keeps more "
                                      "than the budget, taking the largest candidate that fits; trim: no head keeps "
                                      "more than the budget, keeping its profiled policy's heaviest tokens",
                                      {kvc::fastgen::budget_use::ignore, kvc::fastgen::budget_use::cap},
                                      [](auto& p) -> auto& { return p.select.budget; }),
      detail::group(detail::scorer_of));
}

inline auto ems() {
  return make<level::layer>("ems", "Global-Local scores; per head keep, merge into the kept centers, or evict", "docs/ems.md", policy::ems{},
              window<std::size_t>("window",
                                  "observation window: the local view's queries, and the tokens kept as centers",
                                  {1, 5}, [](auto& p) -> auto& { return p.score.window; },
                                  [](auto& p) -> auto& { return p.select.recent; }),
              param<double>("global_weight", "lambda: share of the global view in the score", {0.0, 1.0},
                            [](auto& p) -> auto& { return p.score.global_weight; }),
              detail::group(detail::scorer_of),
              param<double>("merge_mass", "share of a head's score mass its kept and merged tokens hold; the rest is evicted",
                            {0.3, 1.0}, [](auto& p) -> auto& { return p.select.merge_mass; }),
              param<double>("min_similarity", "similarity a token needs to join a center (else it is evicted)", {0.2, 0.6},
                            [](auto& p) -> auto& { return p.select.min_similarity; }),
              param<kvc::ems::similarity_measure>("similarity",
                                                  "key_value: key cosine times value cosine; key: key cosine alone",
                                                  {kvc::ems::similarity_measure::key},
                                                  [](auto& p) -> auto& { return p.select.similarity; }),
              param<bool>("merge_keys", "merge the keys too, keeping their norm", {false},
                          [](auto& p) -> auto& { return p.merge.merge_keys; }),
              param<bool>("merge_values", "average the values into their center", {false},
                          [](auto& p) -> auto& { return p.merge.merge_values; }));
}

inline auto intelllm() {
  return make<level::layer>(
      "intelllm", "shields the attention's center of gravity (CGE); remote-gap positions (RGL)", "docs/intelllm.md", policy::intelllm{},
      window<std::size_t>("window",
                          "observation window: the last prefix queries scored, and the tokens kept (exclude_last "
                          "follows it unless set)",
                          {1, 5}, [](auto& p) -> auto& { return p.score.window; },
                          [](auto& p) -> auto& { return p.select.inner.window; },
                          [](auto& p) -> auto& { return p.select.exclude_last; }),
      detail::group(detail::scorer_of),
      param<std::size_t>("radius", "tokens shielded on each side of the center of gravity", {0, 3},
                         [](auto& p) -> auto& { return p.select.radius; }),
      param<std::size_t>("exclude_first", "first tokens left out of the center of gravity", {3, 12},
                         [](auto& p) -> auto& { return p.select.exclude_first; }),
      param<std::size_t>("exclude_last", "last tokens left out of the center of gravity", {0, 12},
                         [](auto& p) -> auto& { return p.select.exclude_last; }),
      param<merge::position_mode>("positions",
                                  "positions of the kept tokens: original, repacked, or remote_gap (RGL)",
                                  {merge::position_mode::original, merge::position_mode::repacked},
                                  [](auto& p) -> auto& { return p.merge.mode; }),
      param<std::size_t>("local", "kept tokens in the contiguous local region (remote_gap)", {2, 9},
                         [](auto& p) -> auto& { return p.merge.local; }));
}

inline auto lorc() {
  return make<level::weights>("lorc", "low-rank K/V projection weights with progressive per-layer ranks (budget: share of the rank)",
              "docs/lorc.md", policy::lorc{},
              param<double>("min_rank_fraction", "r_min as a share of the full rank", {0.05, 0.4},
                            [](auto& p) -> auto& { return p.schedule.min_rank_fraction; }),
              param<double>("max_rank_fraction", "r_max as a share of the full rank", {0.5, 0.6},
                            [](auto& p) -> auto& { return p.schedule.max_rank_fraction; }),
              param<project::cumulation>("accumulate", "how condition numbers add up over the later layers",
                                         {project::cumulation::sum},
                                         [](auto& p) -> auto& { return p.schedule.accumulate; }),
              param<double>("tolerance", "the SVD's convergence tolerance", {1e-2},
                            [](auto& p) -> auto& { return p.decompose.tolerance; }),
              param<std::size_t>("max_sweeps", "the SVD's sweep limit", {1},
                                 [](auto& p) -> auto& { return p.decompose.max_sweeps; }),
              param<bool>("scale_by_inputs",
                          "decompose the weights scaled by their inputs' RMS per feature (kvc's option; the paper "
                          "decomposes the weights alone)",
                          {true}, [](auto& p) -> auto& { return p.scale_by_inputs; }));
}

/// Every method, in the order `kvc methods` lists them.
inline auto all() {
  return std::tuple{streaming_llm(), h2o(), snapkv(), tova(), key_norm(), random(), adakv(), pyramidkv(),
                    fastgen(),       ems(), intelllm(), lorc()};
}

/// Calls f(method) for every method, in order.
template <class F>
void for_each(F&& f) {
  std::apply([&](const auto&... m) { (f(m), ...); }, all());
}

}  // namespace kvc::methods
