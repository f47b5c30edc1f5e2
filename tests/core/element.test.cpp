#include <doctest/doctest.h>
#include <kvc/core/element.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

TEST_CASE("bf16 keeps the upper 16 bits of a float and rounds to nearest even") {
  CHECK(kvc::bf16(1.0f).bits == 0x3f80);
  CHECK(static_cast<float>(kvc::bf16(1.0f)) == 1.0f);
  CHECK(static_cast<float>(kvc::bf16(-2.5f)) == -2.5f);
  // 1 + 2^-8 lies exactly between 1 and 1 + 2^-7 (bf16 has 7 mantissa bits): ties go to even (1.0).
  CHECK(static_cast<float>(kvc::bf16(1.0f + 1.0f / 256.0f)) == 1.0f);
  // 1 + 3*2^-8 lies between 1 + 2^-7 and 1 + 2^-6: ties to even gives 1 + 2^-6.
  CHECK(static_cast<float>(kvc::bf16(1.0f + 3.0f / 256.0f)) == 1.0f + 1.0f / 64.0f);
  CHECK(std::isnan(static_cast<float>(kvc::bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isinf(static_cast<float>(kvc::bf16(std::numeric_limits<float>::infinity()))));
}

TEST_CASE("to_float is the one conversion point for every element type") {
  CHECK(kvc::to_float(1.5f) == 1.5f);
  CHECK(kvc::to_float(0.25) == 0.25f);
  CHECK(kvc::to_float(kvc::bf16(3.0f)) == 3.0f);
  CHECK(kvc::from_float<kvc::bf16>(0.5f).bits == kvc::bf16(0.5f).bits);
#ifdef KVC_HAS_FLOAT16
  CHECK(kvc::to_float(static_cast<_Float16>(0.333984375f)) == 0.333984375f);  // exact in fp16
  CHECK(kvc::to_float(kvc::from_float<_Float16>(65504.0f)) == 65504.0f);      // fp16 max
#endif
  static_assert(kvc::element<float> && kvc::element<kvc::bf16> && !kvc::element<int>);
}

TEST_CASE("binary16 bits convert to the float of the same value") {
  using kvc::detail::half_bits_to_float;
  CHECK(half_bits_to_float(0x3c00) == 1.0f);
  CHECK(half_bits_to_float(0xc000) == -2.0f);
  CHECK(half_bits_to_float(0x3555) == 0.333251953125f);             // 2^-2 · (1 + 341/1024)
  CHECK(half_bits_to_float(0x7bff) == 65504.0f);                    // largest finite half
  CHECK(half_bits_to_float(0x0400) == std::ldexp(1.0f, -14));       // smallest normal
  CHECK(half_bits_to_float(0x0001) == std::ldexp(1.0f, -24));       // smallest subnormal
  CHECK(half_bits_to_float(0x03ff) == std::ldexp(1023.0f, -24));    // largest subnormal
  CHECK(half_bits_to_float(0x8001) == -std::ldexp(1.0f, -24));
  CHECK(half_bits_to_float(0x0000) == 0.0f);
  CHECK(std::signbit(half_bits_to_float(0x8000)));
  CHECK(half_bits_to_float(0x7c00) == std::numeric_limits<float>::infinity());
  CHECK(half_bits_to_float(0xfc00) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(half_bits_to_float(0x7e00)));
  CHECK(std::isnan(half_bits_to_float(0x7c01)));  // a signalling NaN stays a NaN, not an infinity
  CHECK(std::signbit(half_bits_to_float(0xfe00)));
  static_assert(kvc::detail::half_bits_to_float(0x4248) == 3.140625f);  // usable in constant expressions
}

#ifdef KVC_HAS_FLOAT16
TEST_CASE("_Float16 to float agrees with the compiler's conversion on all 65536 bit patterns") {
  int mismatches = 0;
  for (std::uint32_t b = 0; b <= 0xffffu; ++b) {
    const auto h = std::bit_cast<_Float16>(static_cast<std::uint16_t>(b));
    const float ours = kvc::to_float(h), theirs = static_cast<float>(h);
    const bool same = std::isnan(theirs) ? std::isnan(ours) && std::signbit(ours) == std::signbit(theirs)
                                         : std::bit_cast<std::uint32_t>(ours) == std::bit_cast<std::uint32_t>(theirs);
    if (!same) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("to_float_n on _Float16 runs gives the same floats as the branch-free conversion") {
  // to_float_n picks F16C when the processor has it (g++, x86-64) and the bit conversion
  // otherwise; both must agree with half_bits_to_float on every pattern, in whole vectors of
  // eight and in the tail.
  std::vector<_Float16> in(0x10000);
  for (std::uint32_t b = 0; b <= 0xffffu; ++b) in[b] = std::bit_cast<_Float16>(static_cast<std::uint16_t>(b));
  for (std::size_t n : {std::size_t{0x10000}, std::size_t{0xfffd}, std::size_t{5}}) {
    std::vector<float> out(n, -7.0f), soft(n, -7.0f);
    kvc::to_float_n(in.data() + (0x10000 - n), n, out.data());
    kvc::detail::half_to_float_bits(in.data() + (0x10000 - n), n, soft.data());  // the path without F16C
    int mismatches = 0;
    for (std::size_t i = 0; i < n; ++i) {
      CHECK(std::bit_cast<std::uint32_t>(soft[i]) ==
            std::bit_cast<std::uint32_t>(kvc::detail::half_bits_to_float(static_cast<std::uint16_t>(0x10000 - n + i))));
      const float want = kvc::detail::half_bits_to_float(static_cast<std::uint16_t>(0x10000 - n + i));
      const bool same = std::isnan(want) ? std::isnan(out[i]) && std::signbit(out[i]) == std::signbit(want)
                                         : std::bit_cast<std::uint32_t>(out[i]) == std::bit_cast<std::uint32_t>(want);
      if (!same) ++mismatches;
    }
    CAPTURE(n);
    CHECK(mismatches == 0);
  }
}
#endif
