#pragma once
// Device version of kvc::score::random: the same pure function of (seed, head, token).

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>

#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "kvc/device/implementation.hpp"
#include "kvc/device/score_buffer.hpp"
#include "kvc/score/random.hpp"

namespace kvc::device {

namespace detail {
struct seeded_uniform {
  std::uint64_t seed;
  std::size_t tokens;
  KVC_HOST_DEVICE float operator()(std::size_t i) const { return score::detail::uniform01(seed, i / tokens, i % tokens); }
};
}  // namespace detail

template <>
struct implementation<score::random> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System>, const score::random& p, const L& l, score_buffer<System>& out) {
    out.reset(l.kv_heads(), l.tokens());
    const auto index = thrust::counting_iterator<std::size_t>(0);
    thrust::transform(System{}, index, index + kvc::device::detail::steps(l.kv_heads() * l.tokens()), out.data(),
                      detail::seeded_uniform{p.seed, l.tokens()});
  }
};

}  // namespace kvc::device
