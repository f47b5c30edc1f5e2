#include <doctest/doctest.h>
#include <kvc/core/element.hpp>

#include <cmath>
#include <limits>

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
