// kvc::device::cuda::snapkv_compress vs the host policy kvc::policy::snapkv: scores within
// tolerance; the keep_set equal to the host selector run on the device scores, and equal to the
// host pipeline's except where two host scores at the budget boundary are closer than the
// tolerance; kept keys/values/positions bit-identical to merge::drop. Plus kvc::cuda_error.
#include "kvc/device/cuda/snapkv_compress.cuh"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kvc/merge/drop.hpp"
#include "kvc/policy/snapkv.hpp"

namespace {

namespace kcuda = kvc::device::cuda;

template <class T>
void check_snapkv(std::size_t kv_heads, std::size_t group, std::size_t n, std::size_t window, unsigned seed) {
  const std::size_t d = 32, q_heads = kv_heads * group;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<T> keys(kv_heads * n * d), values(kv_heads * n * d), queries(q_heads * window * d);
  for (auto& x : keys) x = kvc::from_float<T>(normal(rng));
  for (auto& x : values) x = kvc::from_float<T>(normal(rng));
  for (auto& x : queries) x = kvc::from_float<T>(1.5f * normal(rng));
  std::vector<std::int64_t> positions(n);
  for (std::size_t t = 0; t < n; ++t) positions[t] = static_cast<std::int64_t>(7 + 2 * t);

  const kvc::policy::snapkv policy{.score = {.window = window}, .select = {.window = window}};
  const auto view = [&](const T* p, std::size_t h, std::size_t t) { return kvc::strided_view<const T>::contiguous(p, h, t, d); };
  auto host_layer = kvc::make_layer(view(keys.data(), kv_heads, n), view(values.data(), kv_heads, n),
                                    view(queries.data(), q_heads, window));
  host_layer.positions = positions;

  // Ragged budgets between the protected window and the whole cache.
  std::vector<std::size_t> budgets;
  for (std::size_t h = 0; h < kv_heads; ++h) budgets.push_back(std::min(n, window + (h * n) / (2 * kv_heads) + 1));

  kcuda::device_buffer<T> dk, dv, dq;
  kcuda::device_buffer<std::int64_t> dp;
  dk.upload(std::span<const T>(keys), nullptr);
  dv.upload(std::span<const T>(values), nullptr);
  dq.upload(std::span<const T>(queries), nullptr);
  dp.upload(std::span<const std::int64_t>(positions), nullptr);
  kcuda::device_layer<T> device_layer =
      kvc::make_layer(view(dk.data(), kv_heads, n), view(dv.data(), kv_heads, n), view(dq.data(), q_heads, window));
  device_layer.positions = std::span<const std::int64_t>(dp.data(), n);
  kcuda::snapkv_result<T> out;
  kcuda::snapkv_compress(policy, device_layer, std::span<const std::size_t>(budgets), out, nullptr);

  kvc::score_matrix host_scores(kv_heads, n), device_scores(kv_heads, n);
  policy.score(host_layer, host_scores);
  const auto ds = out.scores.download(nullptr);
  std::copy(ds.begin(), ds.end(), device_scores.flat().begin());
  const auto tolerance = [](float x) { return 2e-4f * std::fabs(x) + 1e-6f; };
  for (std::size_t i = 0; i < ds.size(); ++i) REQUIRE(std::fabs(ds[i] - host_scores.flat()[i]) <= tolerance(host_scores.flat()[i]));

  const kvc::keep_set keep = out.keep.download(nullptr);
  CAPTURE(n);
  CAPTURE(group);
  for (std::size_t h = 0; h < kv_heads; ++h) {
    kvc::score_matrix dev_row(1, n), host_row(1, n);
    std::copy(device_scores.row(h).begin(), device_scores.row(h).end(), dev_row.row(0).begin());
    std::copy(host_scores.row(h).begin(), host_scores.row(h).end(), host_row.row(0).begin());
    const auto on_device_scores = policy.select(dev_row, budgets[h]);
    CHECK(std::equal(keep.head(h).begin(), keep.head(h).end(), on_device_scores.head(0).begin(),
                     on_device_scores.head(0).end()));
    // Against the all-host pipeline: a token kept on one side only must sit at the boundary.
    const auto host_keep = policy.select(host_row, budgets[h]);
    float boundary = INFINITY;
    for (auto t : host_keep.head(0))
      if (static_cast<std::size_t>(t) < n - std::min(window, n)) boundary = std::min(boundary, host_row(0, t));
    for (std::size_t t = 0; t < n; ++t) {
      const bool a = keep.contains(h, static_cast<kvc::index_t>(t)), b = host_keep.contains(0, static_cast<kvc::index_t>(t));
      if (a != b) CHECK(std::fabs(host_row(0, t) - boundary) <= 2.0f * tolerance(boundary));
    }
  }

  const auto host_drop = kvc::merge::drop{}(host_layer, host_scores, keep);
  const auto ok = out.keys.download(nullptr), ov = out.values.download(nullptr);
  CHECK(std::memcmp(ok.data(), host_drop.all_keys().data(), ok.size() * sizeof(T)) == 0);
  CHECK(std::memcmp(ov.data(), host_drop.all_values().data(), ov.size() * sizeof(T)) == 0);
  std::vector<std::int64_t> want;
  for (std::size_t h = 0; h < kv_heads; ++h)
    want.insert(want.end(), host_drop.positions(h).begin(), host_drop.positions(h).end());
  CHECK(out.positions.download(nullptr) == want);
}

}  // namespace

TEST_CASE_TEMPLATE("cuda snapkv_compress matches policy::snapkv", T, float, __half, __nv_bfloat16) {
  unsigned seed = 100;
  for (std::size_t n : {1u, 7u, 33u, 4097u})
    for (std::size_t group : {1u, 4u}) check_snapkv<T>(3, group, n, std::min<std::size_t>(n, 8), seed++);
}

TEST_CASE("cuda snapkv_compress: uniform budget form keeps budget.count(n) per head") {
  const std::size_t n = 64, d = 16;
  std::vector<float> kv(2 * n * d, 0.5f), q(2 * 4 * d, 1.0f);
  kcuda::device_buffer<float> dk, dq;
  dk.upload(std::span<const float>(kv), nullptr);
  dq.upload(std::span<const float>(q), nullptr);
  const auto v = kvc::strided_view<const float>::contiguous(dk.data(), 2, n, d);
  const kcuda::device_layer<float> l = kvc::make_layer(v, v, kvc::strided_view<const float>::contiguous(dq.data(), 2, 4, d));
  kcuda::snapkv_result<float> out;
  const kvc::policy::snapkv policy{.score = {.window = 4}, .select = {.window = 4}};
  kcuda::snapkv_compress(policy, l, kvc::budget::ratio{0.25}, out, nullptr);
  // ratio 0.25 of 64 = 16 per head; the window (4 queries -> last 4 tokens) is among them.
  CHECK(out.keep.total() == 32);
  const auto keep = out.keep.download(nullptr);
  for (std::size_t h = 0; h < 2; ++h)
    for (kvc::index_t t = 60; t < 64; ++t) CHECK(keep.contains(h, t));
}

TEST_CASE("cuda snapkv_compress: bad input throws kvc::error, result untouched") {
  const std::size_t n = 16, d = 8;
  std::vector<float> kv(n * d, 1.0f);
  kcuda::device_buffer<float> dk;
  dk.upload(std::span<const float>(kv), nullptr);
  const auto v = kvc::strided_view<const float>::contiguous(dk.data(), 1, n, d);
  const kcuda::device_layer<float> l = kvc::make_layer(v, v, kvc::strided_view<const float>::contiguous(dk.data(), 1, 4, d));
  kcuda::snapkv_result<float> out;
  const kvc::policy::snapkv policy{.score = {.window = 4}, .select = {.window = 4}};
  const std::vector<std::size_t> below_window{3}, too_many{17}, two_heads{8, 8};
  CHECK_THROWS_AS(kcuda::snapkv_compress(policy, l, std::span<const std::size_t>(below_window), out, nullptr), kvc::error);
  CHECK_THROWS_AS(kcuda::snapkv_compress(policy, l, std::span<const std::size_t>(too_many), out, nullptr), kvc::error);
  CHECK_THROWS_AS(kcuda::snapkv_compress(policy, l, std::span<const std::size_t>(two_heads), out, nullptr), kvc::error);
  CHECK(out.scores.empty());
  CHECK(out.keep.total() == 0);
}

TEST_CASE("KVC_CUDA_CHECK turns a failing call into kvc::cuda_error naming it") {
  try {
    KVC_CUDA_CHECK(cudaMemcpy(nullptr, reinterpret_cast<const void*>(0x10), 1 << 20, cudaMemcpyDeviceToDevice));
    FAIL("expected kvc::cuda_error");
  } catch (const kvc::cuda_error& e) {
    const std::string what = e.what();
    CHECK(what.find("cudaMemcpy(nullptr") != std::string::npos);
  }
  cudaGetLastError();  // not a sticky error; cleared so later calls start clean
  try {
    kvc::device::cuda::check(cudaErrorInvalidValue, "cudaStreamCreate(&s)");
    FAIL("expected kvc::cuda_error");
  } catch (const kvc::cuda_error& e) {
    const std::string what = e.what();
    CHECK(what.find("cudaStreamCreate(&s)") != std::string::npos);
    CHECK(what.find("cudaErrorInvalidValue") != std::string::npos);
  }
}
