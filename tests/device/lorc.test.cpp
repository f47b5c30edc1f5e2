// LoRC's projector on the device (kvc::device::low_rank_projector<System>) against the host
// kvc::project::low_rank_projector: compress C = X U_r Σ_r and reconstruct K̂ = C V_r^T for
// awkward row counts, ranks and element types. Compiled by g++ for Thrust's OMP system and,
// through lorc.test.cu, by nvcc. Each output sums float products, exact in double, in the host's
// order: on CPP/OMP the results are the host's bit for bit; on CUDA the tests allow 1e-6
// relative to the row's magnitude (docs/device.md#lorc).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <thrust/copy.h>

#include "device/support.hpp"
#include "kvc/core/element.hpp"
#include "kvc/device/low_rank.hpp"
#include "kvc/device/vector.hpp"
#include "kvc/project/low_rank.hpp"

namespace {

using kvc_device_test::error_of;

#if defined(__CUDACC__)
inline constexpr bool exact = false;
#else
inline constexpr bool exact = true;
#endif

using device_system = thrust::device_system_tag;
using device_exec = kvc::exec::device<device_system>;
using kvc::project::low_rank_projector;
using kvc::project::weight_shape;
template <class T>
using dvector = kvc::device::vector<T, device_system>;

std::vector<float> gaussian(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = normal(rng);
  return v;
}

template <class Vector>
std::span<const typename Vector::value_type> in(const Vector& v) {
  return {thrust::raw_pointer_cast(v.data()), v.size()};
}
std::span<float> out(dvector<float>& v) { return {thrust::raw_pointer_cast(v.data()), v.size()}; }
std::vector<float> download(const dvector<float>& v) {
  std::vector<float> h(v.size());
  thrust::copy(v.begin(), v.end(), h.begin());
  return h;
}

/// Device result against the host's: equal (CPP/OMP) or within 1e-6 of the row's scale (CUDA).
void check_equal(const std::vector<float>& device, const std::vector<float>& host, std::size_t cols) {
  REQUIRE(device.size() == host.size());
  std::size_t off = 0;
  for (std::size_t i = 0; i < host.size(); ++i) {
    if constexpr (exact) {
      if (device[i] != host[i]) ++off;
    } else {
      float scale = 0.0f;
      for (std::size_t j = i / cols * cols; j < (i / cols + 1) * cols; ++j) scale = std::max(scale, std::fabs(host[j]));
      if (std::fabs(device[i] - host[i]) > 1e-6f * scale) ++off;
    }
  }
  CHECK(off == 0);
}


/// X stored as T: the host sees the same values as floats.
template <class T>
void check_projector(std::size_t kv_heads, std::size_t rows) {
  const weight_shape shape{.d_model = 24, .kv_heads = kv_heads, .head_dim = 6};
  const std::vector<float> w = gaussian(shape.d_model * shape.columns(), 3 + kv_heads);
  const std::size_t full = std::min(shape.d_model, shape.columns());
  for (std::size_t rank : {std::size_t{1}, std::size_t{3}, full}) {
    CAPTURE(rank);
    const auto host = low_rank_projector::from_weight(std::span<const float>(w), shape, rank);
    const kvc::device::low_rank_projector<device_system> device(host);
    CHECK(device.rank() == rank);
    CHECK(device.input_dim() == shape.d_model);
    CHECK(device.output_dim() == shape.columns());

    std::vector<T> x;
    std::vector<float> x_float;
    for (float v : gaussian(rows * shape.d_model, 100 + rows)) {
      x.push_back(kvc::from_float<T>(v));
      x_float.push_back(kvc::to_float(x.back()));
    }
    const dvector<T> d_x(x.begin(), x.end());
    dvector<float> d_c(rows * rank);
    device.compress(device_exec{}, in(d_x), rows, out(d_c));
    std::vector<float> c(rows * rank);
    host.compress(x_float, rows, c);
    check_equal(download(d_c), c, rank);

    // The latent as the cache stores it (T), up-projected.
    std::vector<T> c_stored;
    std::vector<float> c_float;
    for (float v : c) {
      c_stored.push_back(kvc::from_float<T>(v));
      c_float.push_back(kvc::to_float(c_stored.back()));
    }
    const dvector<T> d_cs(c_stored.begin(), c_stored.end());
    dvector<float> d_y(rows * shape.columns());
    device.reconstruct(device_exec{}, in(d_cs), rows, out(d_y));
    std::vector<float> y(rows * shape.columns());
    host.reconstruct(c_float, rows, y);
    check_equal(download(d_y), y, shape.columns());

    // Same result twice.
    dvector<float> again(rows * shape.columns());
    device.reconstruct(device_exec{}, in(d_cs), rows, out(again));
    CHECK(download(again) == download(d_y));
  }
}

}  // namespace

#if defined(KVC_HAS_FLOAT16)
#define KVC_TEST_ELEMENTS float, _Float16, kvc::bf16
#else
#define KVC_TEST_ELEMENTS float, kvc::bf16
#endif

TEST_CASE_TEMPLATE("device lorc: compress and reconstruct match the host projector", T, KVC_TEST_ELEMENTS) {
  for (std::size_t kv_heads : {1u, 4u})
    for (std::size_t rows : {1u, 7u, 33u, 4097u}) {
      CAPTURE(kv_heads);
      CAPTURE(rows);
      check_projector<T>(kv_heads, rows);
    }
}

TEST_CASE("device lorc: a hand example — rank 1 of a rank-1 weight") {
  // W = [[3, 4], [6, 8]] = (1, 2)^T (3, 4) has rank 1, so rank 1 reproduces it: for x = (1, 1),
  // C V_1^T = x W = (3 + 6, 4 + 8) = (9, 12), whatever the singular vectors' signs.
  const std::vector<float> w{3, 4, 6, 8};
  const auto host = low_rank_projector::from_weight(std::span<const float>(w), {.d_model = 2, .kv_heads = 1, .head_dim = 2}, 1);
  const kvc::device::low_rank_projector<device_system> device(host);
  const dvector<float> x(2, 1.0f);
  dvector<float> c(1), y(2);
  device.compress(device_exec{}, in(x), 1, out(c));
  device.reconstruct(device_exec{}, in(c), 1, out(y));
  const auto k = download(y);
  CHECK(k[0] == doctest::Approx(9.0).epsilon(1e-6));
  CHECK(k[1] == doctest::Approx(12.0).epsilon(1e-6));
}

TEST_CASE("device lorc: bad input throws the host's kvc::error and leaves the output alone") {
  const weight_shape s{.d_model = 6, .kv_heads = 2, .head_dim = 2};
  const std::vector<float> w = gaussian(6 * 4, 51);
  const auto host = low_rank_projector::from_weight(std::span<const float>(w), s, 2);
  const kvc::device::low_rank_projector<device_system> device(host);
  const std::vector<float> hx(3 * 6, 1.0f);
  std::vector<float> hc(3 * 2, -7.0f), hy(3 * 4, -7.0f);
  const dvector<float> x(3 * 6, 1.0f);
  dvector<float> c(3 * 2, -7.0f), y(3 * 4, -7.0f);
  CHECK(error_of([&] { device.compress(device_exec{}, in(x).first(17), 3, out(c)); }) ==
        error_of([&] { host.compress(std::span<const float>(hx).first(17), 3, hc); }));
  CHECK(error_of([&] { device.compress(device_exec{}, in(x), 3, out(c).first(5)); }) ==
        error_of([&] { host.compress(hx, 3, std::span<float>(hc).first(5)); }));
  CHECK(error_of([&] { device.reconstruct(device_exec{}, in(c), 4, out(y)); }) ==
        error_of([&] { host.reconstruct(hc, 4, hy); }));
  CHECK(error_of([&] { device.reconstruct(device_exec{}, in(c), 3, out(y).first(11)); }) ==
        error_of([&] { host.reconstruct(hc, 3, std::span<float>(hy).first(11)); }));
  CHECK(error_of([&] { device.reconstruct(device_exec{}, in(c), 3, out(y)); }) == "no error");
  const auto c_after = download(c);
  CHECK(std::all_of(c_after.begin(), c_after.end(), [](float v) { return v == -7.0f; }));
  // A default-constructed host projector has no factors to upload.
  const low_rank_projector empty;
  CHECK(error_of([&] { kvc::device::low_rank_projector<device_system>{empty}; }) ==
        error_of([&] { empty.compress(hx, 0, hc); }));
  CHECK(error_of([&] { kvc::device::low_rank_projector<device_system>{empty}; }) != "no error");
}
