#pragma once
// The one conversion point from stored element types to the float that scores use.
// Supported: float, double, _Float16 (where the compiler has it), kvc::bf16,
// and CUDA's __half / __nv_bfloat16 when <cuda_fp16.h> / <cuda_bf16.h> were included first.

#include "kvc/version.hpp"

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kvc/core/config.hpp"

namespace kvc {

/// bfloat16 storage: the upper 16 bits of an IEEE float. Conversion rounds to nearest even.
struct bf16 {
  std::uint16_t bits = 0;

  constexpr bf16() = default;
  KVC_HOST_DEVICE explicit bf16(float f) : bits(from_float(f)) {}
  KVC_HOST_DEVICE explicit operator float() const { return to_float(bits); }

  KVC_HOST_DEVICE static std::uint16_t from_float(float f) {
    std::uint32_t u = 0;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0u)  // NaN stays a quiet NaN
      return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
  }
  KVC_HOST_DEVICE static float to_float(std::uint16_t b) {
    const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
    float f = 0.0f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
};

/// element_traits<T>::to_float / from_float: specialise this (and only this) for a new storage type.
template <class T>
struct element_traits;

template <>
struct element_traits<float> {
  KVC_HOST_DEVICE static float to_float(float x) { return x; }
  KVC_HOST_DEVICE static float from_float(float x) { return x; }
};
template <>
struct element_traits<double> {
  KVC_HOST_DEVICE static float to_float(double x) { return static_cast<float>(x); }
  KVC_HOST_DEVICE static double from_float(float x) { return x; }
};
template <>
struct element_traits<bf16> {
  KVC_HOST_DEVICE static float to_float(bf16 x) { return static_cast<float>(x); }
  KVC_HOST_DEVICE static bf16 from_float(float x) { return bf16(x); }
};
namespace detail {
/// IEEE binary16 bits to the float of the same value, exactly (every half is a float), in plain
/// integer arithmetic without branches: without F16C (g++ without `-march`) a `_Float16` → float
/// cast is a library call per element, while a loop of this vectorises. NaNs keep their sign and
/// payload (a signalling NaN stays signalling).
constexpr float half_bits_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t magnitude = h & 0x7fffu;
  const std::uint32_t shifted = magnitude << 13;                  // exponent and mantissa in float's places
  const std::uint32_t normal = shifted + ((127u - 15u) << 23);   // rebias the exponent
  const std::uint32_t special = shifted | 0x7f800000u;           // exponent 31: Inf or NaN
  // Exponent 0: zero or subnormal, m · 2^-24 = (2^-14 · (1 + m/1024)) − 2^-14, exact in float and
  // free of float subnormals (so flush-to-zero modes do not change it).
  const std::uint32_t tiny = std::bit_cast<std::uint32_t>(std::bit_cast<float>(shifted + (113u << 23)) - 0x1p-14f);
  const std::uint32_t is_special = 0u - static_cast<std::uint32_t>(magnitude >= 0x7c00u);
  const std::uint32_t is_normal = 0u - static_cast<std::uint32_t>(magnitude >= 0x0400u);
  const std::uint32_t bits = (special & is_special) | (normal & is_normal & ~is_special) | (tiny & ~is_normal);
  return std::bit_cast<float>(bits | sign);
}
}  // namespace detail

#ifdef KVC_HAS_FLOAT16
template <>
struct element_traits<_Float16> {
#ifdef KVC_DETAIL_F16C_NATIVE
  static float to_float(_Float16 x) { return static_cast<float>(x); }  // one instruction
#else
  static float to_float(_Float16 x) { return detail::half_bits_to_float(std::bit_cast<std::uint16_t>(x)); }
#endif
  static _Float16 from_float(float x) { return static_cast<_Float16>(x); }
};
#endif
#if defined(__CUDA_FP16_H__)
template <>
struct element_traits<__half> {
  KVC_HOST_DEVICE static float to_float(__half x) { return __half2float(x); }
  KVC_HOST_DEVICE static __half from_float(float x) { return __float2half_rn(x); }
};
#endif
#if defined(__CUDA_BF16_H__)
template <>
struct element_traits<__nv_bfloat16> {
  KVC_HOST_DEVICE static float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
  KVC_HOST_DEVICE static __nv_bfloat16 from_float(float x) { return __float2bfloat16_rn(x); }
};
#endif

/// A type kvc can read keys, values and queries from.
template <class T>
concept element = requires(const T& x, float f) {
  { element_traits<std::remove_cv_t<T>>::to_float(x) } -> std::convertible_to<float>;
  { element_traits<std::remove_cv_t<T>>::from_float(f) } -> std::convertible_to<std::remove_cv_t<T>>;
};

template <class T>
KVC_HOST_DEVICE inline float to_float(const T& x) {
  return element_traits<std::remove_cv_t<T>>::to_float(x);
}

template <class T>
KVC_HOST_DEVICE inline std::remove_cv_t<T> from_float(float x) {
  return element_traits<std::remove_cv_t<T>>::from_float(x);
}

namespace detail {
/// An element of type E stored as T: copied as it is when the types agree (float → T → float is
/// the identity for every value a T holds), converted through float otherwise. What the mergers
/// use to gather kept rows "as stored".
template <class T, class E>
KVC_HOST_DEVICE T stored_as(const E& x) {
  if constexpr (std::is_same_v<std::remove_cv_t<E>, T>)
    return x;
  else
    return from_float<T>(to_float(x));
}
}  // namespace detail

#ifdef KVC_HAS_FLOAT16
namespace detail {
/// _Float16 → float from the bits (half_bits_to_float) in chunks, a loop the compiler vectorises.
inline void half_to_float_bits(const _Float16* in, std::size_t n, float* out) {
  constexpr std::size_t chunk = 32;  // a fixed-size copy stays a few vector moves, not a call
  const std::size_t whole = n - n % chunk;
  std::uint16_t bits[chunk];
  for (std::size_t i = 0; i < whole; i += chunk) {
    std::memcpy(bits, in + i, sizeof bits);
    for (std::size_t j = 0; j < chunk; ++j) out[i + j] = half_bits_to_float(bits[j]);
  }
  for (std::size_t i = whole; i < n; ++i) out[i] = half_bits_to_float(std::bit_cast<std::uint16_t>(in[i]));
}
}  // namespace detail
#endif

#ifdef KVC_DETAIL_F16C_AT_RUN_TIME
// A build without -march=...f16c still runs on processors that have F16C (every x86-64 since
// 2012): g++ picks the instruction at run time.
namespace detail {
/// _Float16 → float with F16C (vcvtph2ps, eight at a time). Call only where has_f16c() holds.
[[gnu::target("avx,f16c")]] inline void half_to_float_f16c(const _Float16* in, std::size_t n, float* out) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h;
    std::memcpy(&h, in + i, sizeof h);
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) out[i] = static_cast<float>(in[i]);
}

inline bool has_f16c() {
  static const bool yes = (__builtin_cpu_init(), __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx"));
  return yes;
}
}  // namespace detail
#endif

/// out[i] = to_float(in[i]) for i < n: the bulk form of the conversion point, for host loops over
/// contiguous rows. A `_Float16` run uses F16C when the build targets it (`-march`), or, with g++
/// on x86-64, when the processor has it (checked once at run time); otherwise it is converted
/// from its bits in chunks, a loop the compiler vectorises. Every path gives the same floats.
template <element T>
inline void to_float_n(const T* in, std::size_t n, float* out) {
#if defined(KVC_HAS_FLOAT16) && !defined(KVC_DETAIL_F16C_NATIVE)
  if constexpr (std::is_same_v<std::remove_cv_t<T>, _Float16>) {
#ifdef KVC_DETAIL_F16C_AT_RUN_TIME
    if (detail::has_f16c()) {
      detail::half_to_float_f16c(in, n, out);
      return;
    }
#endif
    detail::half_to_float_bits(in, n, out);
    return;
  }
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = to_float(in[i]);
}

}  // namespace kvc
