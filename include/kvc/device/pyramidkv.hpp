#pragma once
// PyramidKV on the device: the same per-layer budgets as kvc::policy::pyramidkv, each layer
// compressed with the device SnapKV pipeline.

#include "kvc/version.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/budget.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/exec.hpp"
#include "kvc/device/pipeline.hpp"
#include "kvc/policy/pyramidkv.hpp"

namespace kvc {

/// Every layer of a model; `layers[i]` gets p.budgets(average, layers.size())[i] tokens per head.
template <class System, layer_type L>
auto compress(exec::device<System> e, const policy::pyramidkv& p, std::span<const L> layers, budget::tokens average) {
  detail::require(!layers.empty(), "layers", "at least one layer", 0);
  const std::vector<std::size_t> b = p.budgets(average.value, layers.size());
  // Every layer is checked before any is compressed, with the host's messages (policy::pyramidkv).
  for (std::size_t i = 0; i < layers.size(); ++i) {
    device::validate(e, layers[i]);
    detail::require(b[i] <= layers[i].tokens(), "budgets()[" + std::to_string(i) + "]",
                    "at most layer " + std::to_string(i) + "'s " + std::to_string(layers[i].tokens()) +
                        " cached tokens",
                    b[i]);
  }
  std::vector<decltype(compress(e, p.per_layer, layers[0], budget::tokens{1}))> out;
  out.reserve(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) out.push_back(compress(e, p.per_layer, layers[i], budget::tokens{b[i]}));
  return out;
}

}  // namespace kvc
