#pragma once
// Index arithmetic shared by the CUDA kernels and checked by host tests (tests/device_cuda_logic):
// which window query a score row is, which tokens it sees, which tokens are protected, the
// pooling window, tile counts, and the chunk order that makes in-place compaction safe.

#include "kvc/version.hpp"

#include <cstddef>

#include "kvc/core/element.hpp"  // KVC_HOST_DEVICE

namespace kvc::device::cuda::detail {

/// The score rows of one kv head: its `group` query heads times the `used` window queries,
/// query-head major (row = g * used + i). The queries view holds `window` queries; the used ones
/// are its last `used`, and the last query sits at token `tokens - 1`.
struct window_rows {
  std::size_t tokens = 0, window = 0, used = 0, group = 0;

  KVC_HOST_DEVICE constexpr std::size_t rows() const { return group * used; }
  KVC_HOST_DEVICE constexpr std::size_t query_head(std::size_t kv_head, std::size_t row) const {
    return kv_head * group + row / used;
  }
  /// Index of the row's query inside the queries view (extent(1) == window).
  KVC_HOST_DEVICE constexpr std::size_t query(std::size_t row) const { return window - used + row % used; }
  /// Causal mask: the row sees tokens 0..last_visible(row).
  KVC_HOST_DEVICE constexpr std::size_t last_visible(std::size_t row) const { return tokens - used + row % used; }
  /// Tokens before the window: pooled. The window's own tokens keep their raw score.
  KVC_HOST_DEVICE constexpr std::size_t prefix() const { return tokens - used; }
};

/// Half-open pooling window [lo, hi) of prefix token t: centred, clipped to the prefix.
struct pool_range {
  std::size_t lo = 0, hi = 0;
};
KVC_HOST_DEVICE constexpr pool_range pooling_window(std::size_t t, std::size_t prefix, std::size_t kernel) {
  const std::size_t half = kernel / 2;
  const std::size_t lo = t >= half ? t - half : 0;
  const std::size_t hi = t + half + 1 < prefix ? t + half + 1 : prefix;
  return {lo, hi};
}

/// Sinks are the first `sinks` tokens, recent the last `recent` (both clipped to n).
KVC_HOST_DEVICE constexpr bool is_protected(std::size_t t, std::size_t n, std::size_t sinks, std::size_t recent) {
  const std::size_t r = recent < n ? recent : n;
  return t < sinks || t >= n - r;
}
KVC_HOST_DEVICE constexpr std::size_t protected_count(std::size_t n, std::size_t sinks, std::size_t recent) {
  const std::size_t s = sinks < n ? sinks : n, r = recent < n ? recent : n;
  return s + r < n ? s + r : n;
}

KVC_HOST_DEVICE constexpr std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

/// In-place compaction moves head row idx[i] to slot i. Rows go in chunks of `chunk`, one chunk
/// after another, each read completely before it is written. Safe because idx ascends, so
/// idx[i] >= i: a chunk reads only slots >= its first destination, which no earlier chunk wrote,
/// and later chunks write only after this one has read. True when `idx` satisfies that.
KVC_HOST_DEVICE constexpr bool compaction_order_safe(const int* idx, std::size_t kept) {
  for (std::size_t i = 0; i < kept; ++i)
    if (idx[i] < 0 || static_cast<std::size_t>(idx[i]) < i || (i > 0 && idx[i] <= idx[i - 1])) return false;
  return true;
}

}  // namespace kvc::device::cuda::detail
