#pragma once
// Device version of kvc::select::sink_window (StreamingLLM): every head keeps the same
// indices, the first `sinks` and the last budget − sinks, written straight into the CSR.

#include "kvc/version.hpp"

#include <cstddef>

#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "kvc/device/algorithm.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/select/detail/rank.hpp"
#include "kvc/select/sink_window.hpp"

namespace kvc::device {

namespace detail {
/// Entry i of the CSR: slot j = i % budget of its head (sinks, then the recent tail).
struct sink_or_recent {
  std::size_t tokens, budget, sinks;
  KVC_HOST_DEVICE index_t operator()(std::size_t i) const {
    const std::size_t j = i % budget;
    return static_cast<index_t>(j < sinks ? j : tokens - (budget - sinks) + (j - sinks));
  }
};
struct uniform_offset {
  std::size_t budget;
  KVC_HOST_DEVICE std::size_t operator()(std::size_t h) const { return h * budget; }
};
}  // namespace detail

template <>
struct algorithm<select::sink_window> {
  static constexpr bool available = true;

  template <class System>
  static device::keep_set<System> select(exec::device<System>, const select::sink_window& p,
                                         const score_matrix<System>& s, std::size_t budget) {
    const std::size_t n = s.tokens(), sinks = p.sinks < n ? p.sinks : n;
    select::detail::require_budget(budget, sinks, n);
    device::keep_set<System> out(s.heads(), n, s.heads() * budget);
    const auto index = thrust::counting_iterator<std::size_t>(0);
    thrust::transform(System{}, index, index + kvc::device::detail::steps(s.heads() + 1), out.offsets().begin(), detail::uniform_offset{budget});
    thrust::transform(System{}, index, index + kvc::device::detail::steps(s.heads() * budget), out.indices().begin(),
                      detail::sink_or_recent{n, budget, sinks});
    return out;
  }
};

}  // namespace kvc::device
