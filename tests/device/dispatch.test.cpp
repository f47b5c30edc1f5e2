// Device path: compile-time dispatch, hand-computed tie-breaking, and bad input (the host
// path's kvc::error messages, nothing written). Also built by nvcc through dispatch.test.cu.

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <thrust/copy.h>

#include "kvc/device/all.hpp"
#include "kvc/kvc.hpp"

namespace {

using device_system = thrust::device_system_tag;
using device_exec = kvc::exec::device<device_system>;

/// A user's scorer with no device version.
struct user_scorer {
  template <class L>
  void operator()(const L&, kvc::score_matrix&) const {}
};

static_assert(kvc::scorer<user_scorer>);
static_assert(!kvc::device::runs_on_device<user_scorer>);
static_assert(!kvc::device::runs_on_device<int>);
static_assert(kvc::device::runs_on_device<kvc::score::window_attention>);
static_assert(kvc::device::runs_on_device<kvc::score::accumulated_attention>);
static_assert(kvc::device::runs_on_device<kvc::score::last_query_attention>);
static_assert(kvc::device::runs_on_device<kvc::score::key_norm>);
static_assert(kvc::device::runs_on_device<const kvc::score::random&>);
static_assert(kvc::device::runs_on_device<kvc::score::recency>);
static_assert(kvc::device::runs_on_device<kvc::select::topk>);
static_assert(kvc::device::runs_on_device<kvc::select::window_topk>);
static_assert(kvc::device::runs_on_device<kvc::select::heavy_recent>);
static_assert(kvc::device::runs_on_device<kvc::select::sink_window>);
static_assert(kvc::device::runs_on_device<kvc::select::head_adaptive>);
static_assert(kvc::device::runs_on_device<kvc::merge::drop>);

kvc::device::score_matrix<device_system> upload(std::size_t heads, std::size_t tokens, const std::vector<float>& v) {
  kvc::score_matrix m(heads, tokens);
  std::copy(v.begin(), v.end(), m.flat().begin());
  return kvc::device::score_matrix<device_system>::from_host(m);
}

/// Runs `f` and returns the kvc::error message it throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const kvc::error& e) {
    return e.what();
  }
  return "";
}

struct small_layer {
  std::size_t heads = 2, tokens = 6, dim = 4, q_heads = 4, window = 2;
  std::vector<float> keys = std::vector<float>(heads * tokens * dim), values = keys,
                     queries = std::vector<float>(q_heads * window * dim);
  kvc::device::vector<float, device_system> d_keys, d_values, d_queries;
  small_layer() {
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = static_cast<float>(i % 7) - 3.0f;
    for (std::size_t i = 0; i < queries.size(); ++i) queries[i] = static_cast<float>(i % 5) * 0.5f;
    upload_all();
  }
  void upload_all() {
    d_keys.assign(keys.begin(), keys.end());
    d_values.assign(values.begin(), values.end());
    d_queries.assign(queries.begin(), queries.end());
  }
  template <class Vec>
  static kvc::strided_view<const float> v(const Vec& x, std::size_t a, std::size_t b, std::size_t c) {
    return kvc::strided_view<const float>::contiguous(thrust::raw_pointer_cast(x.data()), a, b, c);
  }
  [[nodiscard]] auto host() const {
    return kvc::make_layer(v(keys, heads, tokens, dim), v(values, heads, tokens, dim), v(queries, q_heads, window, dim));
  }
  [[nodiscard]] auto device() const {
    return kvc::make_layer(v(d_keys, heads, tokens, dim), v(d_values, heads, tokens, dim),
                           v(d_queries, q_heads, window, dim));
  }
};

}  // namespace

TEST_CASE("device top-k: ties go to the lower token index") {
  // Head 0: scores 1 3 3 2 3; top-2 are two of the three 3s -> tokens 1 and 2 (not 4).
  // Head 1: -0 and +0 rank equal, so with 5 5 -0 0 1 and budget 3 the third pick is token 2.
  const auto s = upload(2, 5, {1, 3, 3, 2, 3, 5, 5, -0.0f, 0.0f, 1});
  const auto two = kvc::device::select(device_exec{}, kvc::select::topk{}, s, 2).to_host();
  CHECK(std::vector<kvc::index_t>(two.head(0).begin(), two.head(0).end()) == std::vector<kvc::index_t>{1, 2});
  CHECK(std::vector<kvc::index_t>(two.head(1).begin(), two.head(1).end()) == std::vector<kvc::index_t>{0, 1});
  const auto three = kvc::device::select(device_exec{}, kvc::select::topk{}, s, 3).to_host();
  CHECK(std::vector<kvc::index_t>(three.head(1).begin(), three.head(1).end()) == std::vector<kvc::index_t>{0, 1, 4});
  // Protected last token (recent = 1) is kept even with the lowest score: head 0 keeps 1 and 4.
  const auto guarded = kvc::device::select(device_exec{}, kvc::select::topk{.recent = 1}, upload(1, 5, {1, 3, 3, 2, 0}), 2);
  const auto g = guarded.to_host();
  CHECK(std::vector<kvc::index_t>(g.head(0).begin(), g.head(0).end()) == std::vector<kvc::index_t>{1, 4});
}

TEST_CASE("device head_adaptive: joint ties go to the lower head, then the lower token") {
  // Two heads of 4 tokens, budget 2, no floor, no window: 4 picks over both heads jointly.
  // Scores h0: 9 1 5 5, h1: 5 9 0 0. Ranked: 9 (h0,t0), 9 (h1,t1), then the three 5s by head,
  // then token: (h0,t2), (h0,t3), (h1,t0). The first four: head 0 {0, 2, 3}, head 1 {1}.
  const auto s = upload(2, 4, {9, 1, 5, 5, 5, 9, 0, 0});
  const auto k = kvc::device::select(device_exec{}, kvc::select::head_adaptive{.floor_fraction = 0.0, .recent = 0}, s, 2)
                     .to_host();
  CHECK(std::vector<kvc::index_t>(k.head(0).begin(), k.head(0).end()) == std::vector<kvc::index_t>{0, 2, 3});
  CHECK(std::vector<kvc::index_t>(k.head(1).begin(), k.head(1).end()) == std::vector<kvc::index_t>{1});
  // With floor_fraction 1 every head first keeps its own top-2: head 1 gets {0, 1}, head 0 {0, 2}.
  const auto f = kvc::device::select(device_exec{}, kvc::select::head_adaptive{.floor_fraction = 1.0, .recent = 0}, s, 2)
                     .to_host();
  CHECK(std::vector<kvc::index_t>(f.head(0).begin(), f.head(0).end()) == std::vector<kvc::index_t>{0, 2});
  CHECK(std::vector<kvc::index_t>(f.head(1).begin(), f.head(1).end()) == std::vector<kvc::index_t>{0, 1});
}

TEST_CASE("device sink_window: first sinks and the last budget - sinks tokens, for every head") {
  // 10 tokens, 4 sinks, budget 6: tokens 0 1 2 3 and 8 9.
  const auto k = kvc::device::select(device_exec{}, kvc::select::sink_window{}, upload(3, 10, std::vector<float>(30)), 6)
                     .to_host();
  for (std::size_t h = 0; h < 3; ++h)
    CHECK(std::vector<kvc::index_t>(k.head(h).begin(), k.head(h).end()) == std::vector<kvc::index_t>{0, 1, 2, 3, 8, 9});
}

TEST_CASE("device path: bad input throws the host path's kvc::error and writes nothing") {
  small_layer data;
  const device_exec e{};
  const auto host_error = [&](auto policy, std::size_t budget) {
    return error_of([&] { (void)kvc::compress(kvc::exec::host, policy, data.host(), kvc::budget::tokens{budget}); });
  };
  const auto device_error = [&](auto policy, std::size_t budget) {
    return error_of([&] { (void)kvc::compress(e, policy, data.device(), kvc::budget::tokens{budget}); });
  };
  // Budget above the cache, below the protected window, bad parameters.
  for (std::size_t b : {7u, 1u}) {
    CAPTURE(b);
    const std::string h = host_error(kvc::policy::snapkv{.score = {.window = 2}, .select = {.window = 2}}, b);
    CHECK(!h.empty());
    CHECK(device_error(kvc::policy::snapkv{.score = {.window = 2}, .select = {.window = 2}}, b) == h);
  }
  CHECK(device_error(kvc::policy::snapkv{.score = {.pool = 4}}, 3) == host_error(kvc::policy::snapkv{.score = {.pool = 4}}, 3));
  CHECK(device_error(kvc::policy::h2o{.select = {.recent_fraction = 2}}, 3) ==
        host_error(kvc::policy::h2o{.select = {.recent_fraction = 2}}, 3));
  CHECK(device_error(kvc::policy::adakv{.select = {.floor_fraction = -1}}, 3) ==
        host_error(kvc::policy::adakv{.select = {.floor_fraction = -1}}, 3));
  CHECK(device_error(kvc::policy::streaming_llm{}, 3).find("protected") != std::string::npos);

  // A non-finite key: named by element, as on the host.
  data.keys[(1 * data.tokens + 4) * data.dim] = std::numeric_limits<float>::infinity();
  data.upload_all();
  const std::string h = host_error(kvc::policy::key_norm{}, 3);
  CHECK(h.find("keys(1, 4, 0)") != std::string::npos);
  CHECK(device_error(kvc::policy::key_norm{}, 3) == h);

  // Mismatched extents: q_heads not a multiple of kv_heads.
  const auto bad = kvc::make_layer(small_layer::v(data.d_keys, 2, 6, 4), small_layer::v(data.d_values, 2, 6, 4),
                                   small_layer::v(data.d_queries, 3, 2, 4));
  const auto bad_host = kvc::make_layer(small_layer::v(data.keys, 2, 6, 4), small_layer::v(data.values, 2, 6, 4),
                                        small_layer::v(data.queries, 3, 2, 4));
  CHECK(error_of([&] { (void)kvc::compress(e, kvc::policy::tova{}, bad, kvc::budget::tokens{2}); }) ==
        error_of([&] { (void)kvc::compress(kvc::exec::host, kvc::policy::tova{}, bad_host, kvc::budget::tokens{2}); }));

  // Non-finite engine attention weights: named by index.
  std::vector<float> attention(4 * 6, 0.5f);
  attention[13] = std::numeric_limits<float>::quiet_NaN();
  kvc::device::vector<float, device_system> d_attention(attention.begin(), attention.end());
  data.keys[(1 * data.tokens + 4) * data.dim] = 1.0f;
  data.upload_all();
  auto with_attention = data.device();
  with_attention.attention = {thrust::raw_pointer_cast(d_attention.data()), attention.size()};
  auto with_attention_host = data.host();
  with_attention_host.attention = attention;
  const std::string ha = error_of([&] { (void)kvc::policy::h2o{}.scores(with_attention_host); });
  CHECK(ha.find("attention[13]") != std::string::npos);
  CHECK(error_of([&] { (void)kvc::device::scores(e, kvc::policy::h2o{}, with_attention); }) == ha);

  // A failed scorer leaves the caller's score buffer as it was.
  auto out = upload(1, 3, {1, 2, 3});
  CHECK(!error_of([&] { kvc::device::score(e, kvc::score::window_attention{.pool = 2}, data.device(), out); }).empty());
  const auto kept = out.to_host();
  CHECK(kept.heads() == 1);
  CHECK(std::vector<float>(kept.flat().begin(), kept.flat().end()) == std::vector<float>{1, 2, 3});
}

TEST_CASE("device compact: bad positions throw and leave the buffers untouched") {
  small_layer data;
  auto* keys = thrust::raw_pointer_cast(data.d_keys.data());
  auto* values = thrust::raw_pointer_cast(data.d_values.data());
  const auto keep = kvc::keep_set::from_heads(6, {{1, 3}, {5}});
  kvc::device::vector<std::int64_t, device_system> positions(5, 7);
  const std::string host = error_of([&] {
    std::vector<float> k = data.keys, v = data.values;
    std::vector<std::int64_t> p(5, 7);
    kvc::compact(kvc::strided_view<float>::contiguous(k.data(), 2, 6, 4), kvc::strided_view<float>::contiguous(v.data(), 2, 6, 4),
                 keep, p);
  });
  CHECK(host.find("positions.size()") != std::string::npos);
  CHECK(error_of([&] {
          kvc::compact(device_exec{}, kvc::strided_view<float>::contiguous(keys, 2, 6, 4),
                       kvc::strided_view<float>::contiguous(values, 2, 6, 4), keep,
                       std::span<std::int64_t>(thrust::raw_pointer_cast(positions.data()), positions.size()));
        }) == host);
  std::vector<float> back(data.keys.size());
  thrust::copy(data.d_keys.begin(), data.d_keys.end(), back.begin());
  CHECK(back == data.keys);
}
