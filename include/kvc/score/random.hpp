#pragma once
// A control: uniform random scores from a seed, a pure function of (seed, head, token) so the
// same seed gives the same keep_set on every backend (the device path maps element()).

#include "kvc/version.hpp"

#include <cstdint>

#include "kvc/core/element.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::score {

namespace detail {
/// splitmix64 finaliser: a bijective mix of a 64-bit counter.
KVC_HOST_DEVICE constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
/// Uniform in [0, 1) with 24 random bits, exact in float.
KVC_HOST_DEVICE constexpr float uniform01(std::uint64_t seed, std::uint64_t head, std::uint64_t token) {
  const std::uint64_t x = mix64(seed ^ mix64((head << 32) ^ token));
  return static_cast<float>(x >> 40) * (1.0f / 16777216.0f);
}
}  // namespace detail

struct random {
  std::uint64_t seed = 0;

  /// s[h, t]: the element math, which the device path maps over every (head, token).
  template <layer_type L>
  KVC_HOST_DEVICE float element(const L&, std::size_t h, std::size_t t) const {
    return detail::uniform01(seed, h, t);
  }

  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    score_elements(*this, l, out);
  }
};

}  // namespace kvc::score
