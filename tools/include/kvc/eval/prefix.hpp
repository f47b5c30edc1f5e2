#pragma once
// A real model's layer cut at a prefix: what an engine knows when it compresses after P tokens.
//   cache        tokens [0, P): keys and values                       [kv_heads, P, head_dim]
//   queries      the last `window` prefix queries (SnapKV's window)  [q_heads, window, head_dim]
//   attention    every prefix query's causal softmax weights summed  [q_heads, P]
//                per token (the accumulated attention H2O keeps during prefill)
//   future       the next `future` real queries, held out for judging [q_heads, future, head_dim]
// Nothing after P reaches a policy; `future` only reaches kvc::eval::evaluate.

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/view.hpp"
#include "kvc/io/trace.hpp"

namespace kvc::eval {

struct prefix_options {
  std::size_t prefix = 0;    ///< P: tokens in the compressed cache
  std::size_t window = 32;   ///< prefix queries the layer carries (SnapKV's observation window)
  std::size_t future = 128;  ///< later queries held out for judging (0: none)
};

/// Causal attention of queries `q` `[q_heads, n, d]` over keys `k` `[kv_heads, n, d]` (query j sees
/// tokens 0..j), summed over the queries per (q_head, token): `[q_heads * n]`.
inline std::vector<float> accumulated_causal_attention(strided_view<const float> q, strided_view<const float> k) {
  const std::size_t qh_count = q.extent(0), n = q.extent(1), d = q.extent(2), group = qh_count / k.extent(0);
  kvc::detail::require(k.extent(1) == n && k.extent(2) == d, "k", "[kv_heads, " + std::to_string(n) + ", " +
                       std::to_string(d) + "]", std::to_string(k.extent(1)) + " x " + std::to_string(k.extent(2)));
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> acc(qh_count * n, 0.0f), logits(n);
  std::vector<double> sum(n);
  for (std::size_t qh = 0; qh < qh_count; ++qh) {
    const std::size_t h = qh / group;
    std::fill(sum.begin(), sum.end(), 0.0);
    for (std::size_t j = 0; j < n; ++j) {
      const float* qj = &q(qh, j, 0);
      float peak = -std::numeric_limits<float>::infinity();
      for (std::size_t t = 0; t <= j; ++t) {
        const float* kt = &k(h, t, 0);
        float part[4] = {0, 0, 0, 0};  // four partial sums: vectorizes without reassociation flags
        std::size_t i = 0;
        for (; i + 4 <= d; i += 4)
          for (std::size_t u = 0; u < 4; ++u) part[u] += qj[i + u] * kt[i + u];
        for (; i < d; ++i) part[0] += qj[i] * kt[i];
        logits[t] = (part[0] + part[1] + part[2] + part[3]) * scale;
        peak = std::max(peak, logits[t]);
      }
      double z = 0.0;
      for (std::size_t t = 0; t <= j; ++t) z += std::exp(static_cast<double>(logits[t] - peak));
      for (std::size_t t = 0; t <= j; ++t) sum[t] += std::exp(static_cast<double>(logits[t] - peak)) / z;
    }
    for (std::size_t t = 0; t < n; ++t) acc[qh * n + t] = static_cast<float>(sum[t]);
  }
  return acc;
}

/// One trace layer cut at `options.prefix`. Views point into `trace`, which must outlive this.
class prefix_layer {
 public:
  prefix_layer(const io::trace_layer& trace, prefix_options options) : trace_(&trace), options_(options) {
    const std::size_t T = trace.k.shape.at(1), P = options.prefix;
    kvc::detail::require(P >= 1 && P <= T, "prefix", "between 1 and the trace's " + std::to_string(T) + " tokens", P);
    kvc::detail::require(options.window >= 1 && options.window <= P, "window",
                         "between 1 and prefix " + std::to_string(P), options.window);
    kvc::detail::require(P + options.future <= T, "future",
                         "at most the " + std::to_string(T - P) + " tokens after the prefix", options.future);
    attention_ = accumulated_causal_attention(cut(trace.q, 0, P), cut(trace.k, 0, P));
  }

  [[nodiscard]] std::size_t index() const noexcept { return trace_->index; }
  [[nodiscard]] const io::trace_layer& trace() const noexcept { return *trace_; }
  [[nodiscard]] const prefix_options& options() const noexcept { return options_; }

  /// The kvc::layer a policy compresses: the prefix cache, the window queries, the accumulated attention.
  [[nodiscard]] auto layer() const {
    const std::size_t P = options_.prefix;
    kvc::layer l{cut(trace_->k, 0, P), cut(trace_->v, 0, P), cut(trace_->q, P - options_.window, P)};
    l.attention = attention_;
    return l;
  }
  /// The same layer without the accumulated attention: attention-based scorers then see only
  /// the window queries (the last prompt queries, the closest to what generation will ask).
  [[nodiscard]] auto window_layer() const {
    auto l = layer();
    l.attention = {};
    return l;
  }
  /// The held-out later queries `[q_heads, future, head_dim]`.
  [[nodiscard]] strided_view<const float> future() const {
    return cut(trace_->q, options_.prefix, options_.prefix + options_.future);
  }

 private:
  /// Tokens [begin, end) of a `[heads, tokens, dim]` array.
  static strided_view<const float> cut(const io::npy_array& a, std::size_t begin, std::size_t end) {
    const std::size_t T = a.shape[1], d = a.shape[2];
    return {a.data.data() + begin * d, {a.shape[0], end - begin, d}, {T * d, d, 1}};
  }

  const io::trace_layer* trace_;
  prefix_options options_;
  std::vector<float> attention_;
};

}  // namespace kvc::eval
