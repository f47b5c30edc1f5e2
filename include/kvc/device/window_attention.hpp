#pragma once
// Device version of kvc::score::window_attention (SnapKV): window attention folded over the
// group (detail/attention.hpp), then the same 1-D pooling over the prefix, one token per thread.

#include "kvc/version.hpp"

#include <cstddef>
#include <utility>

#include <cuda/std/limits>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include "kvc/core/error.hpp"
#include "kvc/device/detail/attention.hpp"
#include "kvc/device/fast_path.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/score_buffer.hpp"
#include "kvc/score/window_attention.hpp"

namespace kvc::device {

namespace detail {
/// Pooling of the prefix's raw scores exactly as the reference does it (float, same order).
struct pool_prefix {
  const float* raw;
  float* out;
  std::size_t tokens, prefix, half, pool;
  score::pooling kind;
  KVC_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t h = i / tokens, t = i % tokens;
    if (t >= prefix) {  // the window keeps its raw sum
      out[i] = raw[i];
      return;
    }
    const bool max = kind == score::pooling::max;
    const std::size_t lo = t >= half ? t - half : 0, hi = t + half + 1 < prefix ? t + half + 1 : prefix;
    float acc = max ? -::cuda::std::numeric_limits<float>::infinity() : 0.0f;
    for (std::size_t u = lo; u < hi; ++u) {
      const float x = raw[h * tokens + u];
      acc = max ? (acc < x ? x : acc) : acc + x;
    }
    out[i] = max ? acc : acc / static_cast<float>(pool);
  }
};
}  // namespace detail

template <>
struct algorithm<score::window_attention> {
  static constexpr bool available = true;

  template <class System, layer_type L>
  static void score(exec::device<System> e, const score::window_attention& p, const L& l, score_buffer<System>& out) {
    kvc::detail::require(p.window >= 1, "window_attention.window", "at least 1", p.window);
    kvc::detail::require(p.pool >= 1 && p.pool % 2 == 1, "window_attention.pool", "an odd kernel of at least 1",
                         p.pool);
    require_queries(l, "score::window_attention");
    if constexpr (fast_path<score::window_attention, System, L>::available) {
      if (fast_path<score::window_attention, System, L>::try_score(p, l, out)) return;
    }
    if constexpr (has_queries_v<L>) {
      const std::size_t n = l.tokens(), w = p.window < l.window() ? p.window : l.window();
      score_buffer<System> unpooled;
      detail::window_attention_scores(e, l, p.window, p.group, unpooled);
      out.reset(l.kv_heads(), n);
      const auto index = thrust::counting_iterator<std::size_t>(0);
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(l.kv_heads() * n),
                       detail::pool_prefix{std::as_const(unpooled).data(), out.data(), n, n - w, p.pool / 2, p.pool, p.kind});
    }
  }
};

}  // namespace kvc::device
