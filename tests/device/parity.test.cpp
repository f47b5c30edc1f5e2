// Device path (kvc::exec::device<System>) against the host reference on random inputs of
// awkward sizes. Compiled by g++ for Thrust's OMP system and, through parity.test.cu, by nvcc
// for CUDA. Scores must agree to a relative 1e-6 (docs/device.md#tolerance); keep_sets exactly:
// on CUDA against the host selector run on the device's own scores, and on the CPP/OMP
// systems (same libm, no fused multiply-add) also against the whole host pipeline.

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <thrust/copy.h>

#include "device/support.hpp"
#include "kvc/device/all.hpp"
#include "kvc/eval/synthetic.hpp"
#include "kvc/kvc.hpp"

namespace {

using namespace kvc_device_test;

/// One policy on one layer: scores, keep_set and compressed layer, device against host.
template <class System, class Policy, class T>
void check_policy(const Policy& p, const test_layer<T, System>& data, std::size_t budget, bool with_attention = false) {
  const kvc::exec::device<System> e{};
  const auto host_layer = data.host(with_attention);
  const auto device_layer = data.device(with_attention);
  const kvc::score_matrix host_scores = p.scores(host_layer);
  const kvc::score_matrix device_scores = kvc::device::scores(e, p, device_layer).to_host();
  check_scores(device_scores, host_scores);

  // The selector alone, fed identical scores, must agree exactly on every backend.
  const auto uploaded = kvc::device::score_matrix<System>::from_host(device_scores);
  CHECK(kvc::device::select(e, p.select, uploaded, budget).to_host() == p.select(device_scores, budget));

  const kvc::compressed_layer<T> device_out = kvc::compress(e, p, device_layer, kvc::budget::tokens{budget});
  if constexpr (exact_scores) {
    check_compressed(device_out, kvc::compress(kvc::exec::host, p, host_layer, kvc::budget::tokens{budget}));
  } else {
    const auto sel = p.select(device_scores, budget);
    check_compressed(device_out, p.merge(host_layer, device_scores, sel));
  }
}

/// Budgets for a cache of n tokens that every policy below accepts (the window is min(8, n)).
std::vector<std::size_t> budgets_for(std::size_t n) {
  std::vector<std::size_t> b{n, n < 8 ? n : 8};
  if (n > 9) b.push_back(n / 2 + 1);
  return b;
}

constexpr std::size_t sizes[] = {1, 7, 33, 4097};

/// `contiguous` ([heads, tokens, dim]) data copied into storage with the given strides.
template <class T>
std::vector<T> relaid(const std::vector<T>& contiguous, std::size_t heads, std::size_t tokens, std::size_t dim,
                      std::array<std::size_t, 3> strides) {
  std::vector<T> out(contiguous.size());
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t t = 0; t < tokens; ++t)
      for (std::size_t c = 0; c < dim; ++c)
        out[h * strides[0] + t * strides[1] + c * strides[2]] = contiguous[(h * tokens + t) * dim + c];
  return out;
}

/// Key norm and the gather behind every merger, on rows longer than one conversion chunk (the
/// host systems read contiguous rows in chunks of 32) and on layouts whose rows are and are not
/// contiguous: head-major, token-major, and head_dim outermost.
template <class T>
void check_layouts() {
  const std::size_t heads = 3, n = 300, dim = 70;
  const test_layer<T> data(heads, 2, n, dim, 41);
  const std::array<std::size_t, 3> layouts[] = {{n * dim, dim, 1}, {dim, heads * dim, 1}, {n, 1, heads * n}};
  const kvc::exec::device<device_system> e{};
  const kvc::policy::key_norm p{};
  for (const auto& strides : layouts) {
    CAPTURE(strides[2]);
    const std::vector<T> keys = relaid(data.keys, heads, n, dim, strides);
    const std::vector<T> values = relaid(data.values, heads, n, dim, strides);
    const kvc::device::vector<T, device_system> d_keys(keys.begin(), keys.end()), d_values(values.begin(), values.end());
    auto host = data.host();
    auto device = data.device();
    host.keys = view<T>(keys.data(), {heads, n, dim}, strides);
    host.values = view<T>(values.data(), {heads, n, dim}, strides);
    device.keys = view<T>(thrust::raw_pointer_cast(d_keys.data()), {heads, n, dim}, strides);
    device.values = view<T>(thrust::raw_pointer_cast(d_values.data()), {heads, n, dim}, strides);
    const kvc::score_matrix host_scores = p.scores(host);
    const kvc::score_matrix device_scores = kvc::device::scores(e, p, device).to_host();
    check_scores(device_scores, host_scores);
    const kvc::compressed_layer<T> device_out = kvc::compress(e, p, device, kvc::budget::tokens{n / 3});
    check_compressed(device_out, p.merge(host, device_scores, p.select(device_scores, n / 3)));
  }
}

template <class T>
void check_all_policies(std::size_t heads, std::size_t group) {
  for (std::size_t n : sizes) {
    CAPTURE(n);
    const test_layer<T> data(heads, group, n, n > 1000 ? 20 : 19, 17 + n + group);
    const std::size_t w = data.window;
    for (std::size_t b : budgets_for(n)) {
      CAPTURE(b);
      check_policy<device_system>(kvc::policy::snapkv{.score = {.window = w}, .select = {.window = w}}, data, b);
      check_policy<device_system>(kvc::policy::h2o{}, data, b);
      check_policy<device_system>(kvc::policy::h2o{}, data, b, /*with_attention=*/true);
      check_policy<device_system>(kvc::policy::tova{}, data, b);
      check_policy<device_system>(kvc::policy::key_norm{}, data, b);
      check_policy<device_system>(kvc::policy::random{.score = {.seed = 5}}, data, b);
      check_policy<device_system>(kvc::policy::streaming_llm{}, data, b);
      check_policy<device_system>(kvc::policy::adakv{.score = {.window = w}, .select = {.recent = w}}, data, b);
    }
  }
}

}  // namespace

#if defined(KVC_HAS_FLOAT16)
#define KVC_TEST_ELEMENTS float, _Float16, kvc::bf16
#else
#define KVC_TEST_ELEMENTS float, kvc::bf16
#endif

TEST_CASE_TEMPLATE("device: key norm and the gather agree with the host on long rows in every layout", T,
                   KVC_TEST_ELEMENTS) {
  check_layouts<T>();
}

TEST_CASE_TEMPLATE("device: every policy matches the host reference, group 1", T, KVC_TEST_ELEMENTS) {
  check_all_policies<T>(3, 1);
}

TEST_CASE_TEMPLATE("device: every policy matches the host reference, group 4", T, KVC_TEST_ELEMENTS) {
  check_all_policies<T>(3, 4);
}

TEST_CASE("device: scorer options (max group fold, average pooling, short windows) match the host") {
  const test_layer<float> data(2, 4, 4097, 16, 3);
  using kvc::group_reduce;
  using kvc::score::pooling;
  for (auto how : {group_reduce::mean, group_reduce::max})
    for (auto kind : {pooling::max, pooling::average})
      for (std::size_t pool : {1u, 7u})
        for (std::size_t window : {1u, 8u, 64u}) {
          CAPTURE(window);
          const kvc::pipeline<kvc::score::window_attention, kvc::select::topk> p{
              .score = {.window = window, .pool = pool, .kind = kind, .group = how}, .select = {.sinks = 2, .recent = 3}};
          check_policy<device_system>(p, data, 100);
        }
  check_policy<device_system>(kvc::pipeline<kvc::score::accumulated_attention, kvc::select::topk>{
                                  .score = {.group = group_reduce::max}},
                              data, 50, true);
  check_policy<device_system>(kvc::pipeline<kvc::score::last_query_attention, kvc::select::heavy_recent>{
                                  .score = {.group = group_reduce::max}, .select = {.recent_fraction = 0.25}},
                              data, 50);
}

TEST_CASE("device: head_adaptive gives ragged budgets equal to the host's") {
  for (std::size_t n : sizes) {
    const test_layer<float> data(8, 4, n, 16, 40 + n);
    const std::size_t w = data.window;
    for (double floor : {0.0, 0.2, 1.0})
      for (std::size_t b : budgets_for(n)) {
        CAPTURE(n);
        CAPTURE(b);
        const kvc::policy::adakv p{.score = {.window = w}, .select = {.floor_fraction = floor, .recent = w}};
        check_policy<device_system>(p, data, b);
        const auto keep = kvc::device::keep(device_exec{}, p, data.device(), kvc::budget::tokens{b}).to_host();
        CHECK(keep.total() == 8 * b);  // the layer's total is heads · budget, however it is split
      }
  }
  // The split is uneven on the synthetic layer (sink and heavy heads give budget to diffuse ones).
  const test_layer<float> data(8, 4, 4097, 16, 9);
  const auto keep = kvc::device::keep(device_exec{}, kvc::policy::adakv{.score = {.window = 8}, .select = {.recent = 8}},
                                      data.device(), kvc::budget::tokens{256})
                        .to_host();
  bool ragged = false;
  for (std::size_t h = 1; h < keep.heads(); ++h) ragged = ragged || keep.kept(h) != keep.kept(0);
  CHECK(ragged);
}

TEST_CASE("device: pyramidkv matches the host layer by layer") {
  std::vector<test_layer<float>> data;
  data.reserve(4);
  for (std::uint64_t i = 0; i < 4; ++i) data.emplace_back(2, 4, 300, 16, 70 + i);
  std::vector<layer_t<float>> host, device;
  for (const auto& d : data) {
    host.push_back(d.host());
    device.push_back(d.device());
  }
  const kvc::policy::pyramidkv p{.per_layer = {.score = {.window = 8}, .select = {.window = 8}}};
  const auto h = p(std::span<const layer_t<float>>(host), kvc::budget::tokens{64});
  const auto d = kvc::compress(device_exec{}, p, std::span<const layer_t<float>>(device), kvc::budget::tokens{64});
  REQUIRE(d.size() == h.size());
  for (std::size_t i = 0; i < h.size(); ++i) check_compressed(kvc::compressed_layer<float>(d[i]), h[i]);
  CHECK(h.front().kept(0) > h.back().kept(0));
}

TEST_CASE("device: compaction of the engine's buffers matches kvc::compact") {
  for (std::size_t n : sizes) {
    CAPTURE(n);
    test_layer<kvc::bf16> data(4, 1, n, 9, 90 + n);
    // A ragged keep_set, as Ada-KV gives.
    const auto keep = kvc::select::head_adaptive{.recent = 1}(kvc::policy::key_norm{}.scores(data.host()), n / 2 + 1);
    std::vector<kvc::bf16> hk = data.keys, hv = data.values;
    std::vector<std::int64_t> hp(4 * n);
    for (std::size_t i = 0; i < hp.size(); ++i) hp[i] = static_cast<std::int64_t>(i * 3);
    kvc::device::vector<std::int64_t, device_system> dp(hp.begin(), hp.end());
    auto* dk = thrust::raw_pointer_cast(data.d_keys.data());
    auto* dv = thrust::raw_pointer_cast(data.d_values.data());
    kvc::compact(kvc::strided_view<kvc::bf16>::contiguous(hk.data(), 4, n, 9),
                 kvc::strided_view<kvc::bf16>::token_major(hv.data(), 4, n, 9), keep, hp);
    kvc::compact(device_exec{}, kvc::strided_view<kvc::bf16>::contiguous(dk, 4, n, 9),
                 kvc::strided_view<kvc::bf16>::token_major(dv, 4, n, 9), keep,
                 std::span<std::int64_t>(thrust::raw_pointer_cast(dp.data()), dp.size()));
    std::vector<kvc::bf16> back_k(hk.size()), back_v(hv.size());
    std::vector<std::int64_t> back_p(hp.size());
    thrust::copy(data.d_keys.begin(), data.d_keys.end(), back_k.begin());
    thrust::copy(data.d_values.begin(), data.d_values.end(), back_v.begin());
    thrust::copy(dp.begin(), dp.end(), back_p.begin());
    CHECK(std::memcmp(back_k.data(), hk.data(), hk.size() * sizeof(kvc::bf16)) == 0);
    CHECK(std::memcmp(back_v.data(), hv.data(), hv.size() * sizeof(kvc::bf16)) == 0);
    CHECK(back_p == hp);
  }
}

TEST_CASE("device: the same inputs give the same keep_set twice") {
  const test_layer<float> data(4, 4, 4097, 16, 11);
  const auto a = kvc::device::keep(device_exec{}, kvc::policy::h2o{}, data.device(), kvc::budget::ratio{0.1}).to_host();
  const auto b = kvc::device::keep(device_exec{}, kvc::policy::h2o{}, data.device(), kvc::budget::ratio{0.1}).to_host();
  CHECK(a == b);
}

/// compress(…, out) into one object again and again gives what a fresh compress gives, reuses
/// out's memory while the kept set does not grow (merge::drop, and relocate over it), and leaves
/// out as it was when a check fails.
template <class Policy>
void check_compress_into(const Policy& p, bool reuses_memory) {
  const test_layer<float> data(3, 2, 300, 70, 43);
  const device_exec e{};
  kvc::device::compressed_layer<float, device_system> out;
  const float* first = nullptr;
  for (std::size_t budget : {200u, 50u, 120u}) {
    CAPTURE(budget);
    kvc::compress(e, p, data.device(), kvc::budget::tokens{budget}, out);
    check_compressed(out.to_host(), kvc::compress(e, p, data.device(), kvc::budget::tokens{budget}).to_host());
    if (first == nullptr) first = thrust::raw_pointer_cast(out.keys().data());
    if (reuses_memory) CHECK(thrust::raw_pointer_cast(out.keys().data()) == first);
  }
  const kvc::compressed_layer<float> before = out.to_host();
  CHECK_THROWS_AS(kvc::compress(e, p, data.device(), kvc::budget::tokens{301}, out), kvc::error);
  check_compressed(out.to_host(), before);
}

TEST_CASE("device: compress into an existing layer reuses its memory and matches a fresh compress") {
  check_compress_into(kvc::policy::streaming_llm{}, true);
  check_compress_into(kvc::policy::key_norm{}, true);
  check_compress_into(kvc::policy::intelllm{}, true);  // merge::relocate over merge::drop
  check_compress_into(kvc::policy::ems{}, false);      // center_merge: a new layer moved in
}

#if !defined(__CUDACC__)
TEST_CASE("device: thrust::cpp::tag runs the same source and matches the host") {
  const test_layer<float, thrust::cpp::tag> data(3, 4, 4097, 16, 23);
  check_policy<thrust::cpp::tag>(kvc::policy::snapkv{.score = {.window = 8}, .select = {.window = 8}}, data, 300);
  check_policy<thrust::cpp::tag>(kvc::policy::adakv{.score = {.window = 8}, .select = {.recent = 8}}, data, 300);
  check_policy<thrust::cpp::tag>(kvc::policy::streaming_llm{}, data, 300);
}
#endif
