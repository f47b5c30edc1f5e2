#pragma once
// Device version of kvc::score::recency: s[h, t] = t.

#include "kvc/version.hpp"

#include <cstddef>

#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "kvc/device/implementation.hpp"
#include "kvc/device/score_buffer.hpp"
#include "kvc/score/recency.hpp"

namespace kvc::device {

namespace detail {
struct token_index {
  std::size_t tokens;
  KVC_HOST_DEVICE float operator()(std::size_t i) const { return static_cast<float>(i % tokens); }
};
}  // namespace detail

template <>
struct implementation<score::recency> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System>, const score::recency&, const L& l, score_buffer<System>& out) {
    out.reset(l.kv_heads(), l.tokens());
    const auto index = thrust::counting_iterator<std::size_t>(0);
    thrust::transform(System{}, index, index + kvc::device::detail::steps(l.kv_heads() * l.tokens()), out.data(), detail::token_index{l.tokens()});
  }
};

}  // namespace kvc::device
