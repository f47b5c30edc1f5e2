#pragma once
// PyramidKV (Cai et al. 2024): SnapKV per layer with budgets that shrink linearly from the
// first to the last layer and keep the model's total. docs/pyramidkv.md

#include "kvc/version.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/budget.hpp"
#include "kvc/core/compressed_layer.hpp"
#include "kvc/core/error.hpp"
#include "kvc/policy/snapkv.hpp"

namespace kvc::policy {

struct pyramidkv {
  snapkv per_layer{};
  budget::pyramid split{};  ///< beta = 20, the paper's setting

  /// Per-layer token budgets for an average of `average` tokens per head: the observation
  /// window is kept in every layer and the rest (average − window) follows the pyramid.
  [[nodiscard]] std::vector<std::size_t> budgets(std::size_t average, std::size_t layers) const {
    const std::size_t w = per_layer.select.window;
    kvc::detail::require(average > w, "average", "more than the " + std::to_string(w) + "-token window", average);
    std::vector<std::size_t> out = split.split(average - w, layers);
    for (auto& b : out) b += w;
    return out;
  }

  /// Compresses every layer of a model on the execution tag `e` (the host reference, or
  /// exec::device<System> with kvc/device/all.hpp); `layers[i]` gets budgets(average,
  /// layers.size())[i] tokens per head.
  template <class Exec, layer_type L>
  auto operator()(Exec e, std::span<const L> layers, budget::tokens average) const {
    kvc::detail::require(!layers.empty(), "layers", "at least one layer", 0);
    const std::vector<std::size_t> b = budgets(average.value, layers.size());
    // Every layer is checked before any is compressed, so a bad one fails the whole call.
    for (std::size_t i = 0; i < layers.size(); ++i) {
      validate(e, layers[i]);
      kvc::detail::require(b[i] <= layers[i].tokens(), "budgets()[" + std::to_string(i) + "]",
                           "at most layer " + std::to_string(i) + "'s " + std::to_string(layers[i].tokens()) +
                               " cached tokens",
                           b[i]);
    }
    std::vector<decltype(per_layer(e, layers[0], budget::tokens{1}))> out;
    out.reserve(layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) out.push_back(per_layer(e, layers[i], budget::tokens{b[i]}));
    return out;
  }
  template <layer_type L>
  auto operator()(std::span<const L> layers, budget::tokens average) const {
    return (*this)(exec::host, layers, average);
  }
};

}  // namespace kvc::policy

namespace kvc {
/// PyramidKV through the free function on any execution tag: `kvc::compress(exec, p, layers, average)`.
template <class Exec, layer_type L>
auto compress(Exec e, const policy::pyramidkv& p, std::span<const L> layers, budget::tokens average) {
  return p(e, layers, average);
}
}  // namespace kvc
