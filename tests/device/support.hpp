#pragma once
// What the device parity tests share: the system under test, a synthetic layer held on the host
// and in System memory, and the comparisons against the host reference. Compiled by g++ for
// Thrust's OMP system and, through the .test.cu wrappers, by nvcc for CUDA.

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <thrust/copy.h>

#include "kvc/device/all.hpp"
#include "kvc/eval/synthetic.hpp"
#include "kvc/kvc.hpp"

namespace kvc_device_test {

#if defined(__CUDACC__)
inline constexpr bool exact_scores = false;  // nvcc fuses multiply-adds and has its own exp
#else
inline constexpr bool exact_scores = true;
#endif

using device_system = thrust::device_system_tag;
using device_exec = kvc::exec::device<device_system>;

template <class T>
using view = kvc::strided_view<const T>;
template <class T>
using layer_t = kvc::layer<view<T>, view<T>, view<T>>;

/// A synthetic layer stored as T on the host, with a copy in System memory.
template <class T, class System = device_system>
struct test_layer {
  std::size_t heads, tokens, dim, q_heads, window;
  std::vector<T> keys, values, queries;
  std::vector<std::int64_t> positions;
  std::vector<float> attention;
  kvc::device::vector<T, System> d_keys, d_values, d_queries;
  kvc::device::vector<std::int64_t, System> d_positions;
  kvc::device::vector<float, System> d_attention;

  test_layer(std::size_t h, std::size_t group, std::size_t n, std::size_t d, std::uint64_t seed)
      : heads(h), tokens(n), dim(d), q_heads(h * group), window(n < 8 ? n : 8) {
    const auto s = kvc::eval::make_synthetic_layer(
        {.kv_heads = h, .group = group, .tokens = n, .head_dim = d, .window = window, .held_out = 1, .seed = seed});
    for (float x : s.keys) keys.push_back(kvc::from_float<T>(x));
    for (float x : s.values) values.push_back(kvc::from_float<T>(x));
    for (float x : s.queries) queries.push_back(kvc::from_float<T>(x));
    std::mt19937_64 rng(seed);
    std::int64_t p = 100;
    for (std::size_t t = 0; t < n; ++t) positions.push_back(p += 1 + static_cast<std::int64_t>(rng() % 3));
    std::uniform_real_distribution<float> u(0.0f, 2.0f);
    for (std::size_t i = 0; i < q_heads * n; ++i) attention.push_back(u(rng));
    upload();
  }
  void upload() {
    d_keys.assign(keys.begin(), keys.end());
    d_values.assign(values.begin(), values.end());
    d_queries.assign(queries.begin(), queries.end());
    d_positions.assign(positions.begin(), positions.end());
    d_attention.assign(attention.begin(), attention.end());
  }

  [[nodiscard]] layer_t<T> host(bool with_attention = false) const {
    layer_t<T> l{view<T>::contiguous(keys.data(), heads, tokens, dim), view<T>::contiguous(values.data(), heads, tokens, dim),
                 view<T>::contiguous(queries.data(), q_heads, window, dim)};
    l.positions = positions;
    if (with_attention) l.attention = attention;
    return l;
  }
  [[nodiscard]] layer_t<T> device(bool with_attention = false) const {
    layer_t<T> l{view<T>::contiguous(thrust::raw_pointer_cast(d_keys.data()), heads, tokens, dim),
                 view<T>::contiguous(thrust::raw_pointer_cast(d_values.data()), heads, tokens, dim),
                 view<T>::contiguous(thrust::raw_pointer_cast(d_queries.data()), q_heads, window, dim)};
    l.positions = {thrust::raw_pointer_cast(d_positions.data()), tokens};
    if (with_attention) l.attention = {thrust::raw_pointer_cast(d_attention.data()), q_heads * tokens};
    return l;
  }
};

/// Scores agree: CPP/OMP to the reference's relative 1e-6; CUDA to 2e-4 relative plus 1e-6
/// absolute (the fused fp32 kernel, docs/cuda.md).
inline void check_scores(const kvc::score_matrix& device, const kvc::score_matrix& host) {
  REQUIRE(device.heads() == host.heads());
  REQUIRE(device.tokens() == host.tokens());
  std::size_t off = 0;
  for (std::size_t i = 0; i < host.flat().size(); ++i) {
    const float d = device.flat()[i], h = host.flat()[i];
    const float tolerance = exact_scores ? 1e-6f * std::fabs(h) : 2e-4f * std::fabs(h) + 1e-6f;
    if (std::fabs(d - h) > tolerance) ++off;
  }
  CHECK(off == 0);
}

/// Same keep set, bit-identical keys and values, same positions.
template <class T>
void check_compressed(const kvc::compressed_layer<T>& d, const kvc::compressed_layer<T>& h) {
  REQUIRE(d.keep() == h.keep());
  REQUIRE(d.all_keys().size() == h.all_keys().size());
  CHECK(std::memcmp(d.all_keys().data(), h.all_keys().data(), h.all_keys().size_bytes()) == 0);
  CHECK(std::memcmp(d.all_values().data(), h.all_values().data(), h.all_values().size_bytes()) == 0);
  const auto dp = d.all_positions(), hp = h.all_positions();
  CHECK(std::vector<std::int64_t>(dp.begin(), dp.end()) == std::vector<std::int64_t>(hp.begin(), hp.end()));
}

/// The kvc::error message a call throws, or "no error".
template <class F>
std::string error_of(F&& call) {
  try {
    call();
  } catch (const kvc::error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace kvc_device_test
