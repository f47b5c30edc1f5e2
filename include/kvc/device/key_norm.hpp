#pragma once
// Device version of kvc::score::key_norm: s[h, t] = −‖k_t‖₂, one token per thread, in double.

#include <cstddef>

#include <cuda/std/cmath>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform.h>

#include "kvc/device/detail/attention.hpp"
#include "kvc/device/implementation.hpp"
#include "kvc/device/score_buffer.hpp"
#include "kvc/score/key_norm.hpp"

namespace kvc::device {

namespace detail {
template <class K>
struct negative_key_norm {
  K keys;
  std::size_t tokens, head_dim;
  KVC_HOST_DEVICE float operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    return static_cast<float>(-::cuda::std::sqrt(dot(keys, h, t, keys, h, t, head_dim)));
  }
};
}  // namespace detail

template <>
struct implementation<score::key_norm> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System>, const score::key_norm&, const L& l, score_buffer<System>& out) {
    out.reset(l.kv_heads(), l.tokens());
    const auto index = thrust::counting_iterator<std::size_t>(0);
    thrust::transform(System{}, index, index + l.kv_heads() * l.tokens(), out.data(),
                      detail::negative_key_norm<typename L::key_type>{l.keys, l.tokens(), l.head_dim()});
  }
};

}  // namespace kvc::device
