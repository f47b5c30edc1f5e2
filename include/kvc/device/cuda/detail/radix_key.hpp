#pragma once
// The order the CUDA top-k selects in, as integers: a token outranks another when its score is
// higher, or equal with a lower token index (the host rule, kvc/select/detail/rank.hpp).
// score_key maps a float to a uint32 that orders the same way (and -0 == +0, as floats compare);
// rank_key appends the reversed index so the whole rule is one unsigned comparison. The block
// radix select (topk.cuh) walks score_key 8 bits at a time with choose_digit, then breaks the
// remaining ties by index. Plain C++ so the host tests check it on the CPU (docs/cuda.md).

#include "kvc/version.hpp"

#include <cstdint>
#include <cstring>

#include "kvc/core/element.hpp"  // KVC_HOST_DEVICE

namespace kvc::device::cuda::detail {

inline constexpr unsigned radix_bits = 8;
inline constexpr unsigned radix_bins = 1u << radix_bits;
inline constexpr unsigned radix_passes = 32 / radix_bits;

/// Larger score -> larger key. NaN gets 0, below -inf (the host rejects non-finite scores).
KVC_HOST_DEVICE inline std::uint32_t score_key(float score) {
  if (score != score) return 0u;
  if (score == 0.0f) score = 0.0f;  // -0 and +0 tie, as they do under operator>
  std::uint32_t bits = 0;
  std::memcpy(&bits, &score, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

/// Larger key <=> outranks: score first, then the lower token index.
KVC_HOST_DEVICE inline std::uint64_t rank_key(float score, std::uint32_t token) {
  return (static_cast<std::uint64_t>(score_key(score)) << 32) | static_cast<std::uint64_t>(0xffffffffu - token);
}

/// Radix pass p (0 = most significant) looks at bits [shift, shift + 8) of the key.
KVC_HOST_DEVICE constexpr unsigned radix_shift(unsigned pass) { return 32u - radix_bits * (pass + 1u); }
KVC_HOST_DEVICE constexpr std::uint32_t radix_digit(std::uint32_t key, unsigned pass) {
  return (key >> radix_shift(pass)) & (radix_bins - 1u);
}
/// Mask of the bits fixed after passes 0..pass.
KVC_HOST_DEVICE constexpr std::uint32_t radix_prefix_mask(unsigned pass) {
  return pass + 1u >= radix_passes ? 0xffffffffu : ~((1u << radix_shift(pass)) - 1u);
}

struct digit_choice {
  std::uint32_t digit = 0;  ///< the bin holding the remaining-th largest key
  std::uint32_t above = 0;  ///< keys in bins above it (all selected)
};

/// Given a histogram of the candidates still tied on the prefix, and how many of them are still
/// wanted (1 <= remaining <= sum of hist), the bin the threshold falls in: scanned from the top.
KVC_HOST_DEVICE inline digit_choice choose_digit(const std::uint32_t* hist, std::uint32_t remaining) {
  std::uint32_t above = 0;
  for (std::uint32_t b = radix_bins; b-- > 0;) {
    if (above + hist[b] >= remaining) return {b, above};
    above += hist[b];
  }
  return {0u, above};
}

}  // namespace kvc::device::cuda::detail
