// Device path: what it refuses before any work, with the host path's messages and nothing
// written — paged block tables, caller-built device keep sets, non-finite keys and queries —
// and two results the policy fuzzer (fuzz/policy.fuzz.cpp) found differing from the reference.
// Compiled by g++ for Thrust's OMP system.

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <thrust/copy.h>

#include "device/support.hpp"
#include "kvc/device/all.hpp"
#include "kvc/kvc.hpp"

namespace {

using namespace kvc_device_test;
template <class T>
using dvector = kvc::device::vector<T, device_system>;

template <class Vector>
auto download(const Vector& v) {
  std::vector<typename Vector::value_type> h(v.size());
  thrust::copy(v.begin(), v.end(), h.begin());
  return h;
}

/// 2 heads, head_dim 2, 5 tokens in blocks of 2 (3 in use) of a pool of 4, on the host and in
/// System memory (pools and table).
struct paged_cache {
  static constexpr std::size_t heads = 2, dim = 2, block = 2, blocks = 4, tokens = 5;
  std::vector<float> keys, values, queries;
  std::vector<std::int32_t> table{3, 0, 2};
  dvector<float> d_keys, d_values, d_queries;
  dvector<std::int32_t> d_table;
  paged_cache() : keys(blocks * block * heads * dim), values(keys.size()), queries(heads * 2 * dim) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      keys[i] = static_cast<float>(i % 7) - 3.0f;
      values[i] = static_cast<float>(i);
    }
    for (std::size_t i = 0; i < queries.size(); ++i) queries[i] = static_cast<float>(i % 3) * 0.5f;
    upload();
  }
  void upload() {
    d_keys.assign(keys.begin(), keys.end());
    d_values.assign(values.begin(), values.end());
    d_queries.assign(queries.begin(), queries.end());
    d_table.assign(table.begin(), table.end());
  }
  template <class T>
  static auto paged(T* pool, const std::int32_t* t) {
    return kvc::make_paged_view<T>(pool, t, blocks, block, heads, tokens, dim);
  }
  [[nodiscard]] auto host() const {
    return kvc::make_layer(paged<const float>(keys.data(), table.data()), paged<const float>(values.data(), table.data()),
                           view<float>::contiguous(queries.data(), heads, 2, dim));
  }
  [[nodiscard]] auto device() const {
    const auto* t = thrust::raw_pointer_cast(d_table.data());
    return kvc::make_layer(paged<const float>(thrust::raw_pointer_cast(d_keys.data()), t),
                           paged<const float>(thrust::raw_pointer_cast(d_values.data()), t),
                           view<float>::contiguous(thrust::raw_pointer_cast(d_queries.data()), heads, 2, dim));
  }
};

}  // namespace

TEST_CASE("device path: a paged view's block table is checked where it lives, as on the host") {
  paged_cache c;
  const device_exec e{};
  const kvc::policy::snapkv snapkv{.score = {.window = 2}, .select = {.window = 2}};
  // A good table: the device result is the host's.
  const kvc::compressed_layer<float> good = kvc::compress(e, snapkv, c.device(), kvc::budget::tokens{3});
  CHECK(good.keep() == snapkv(c.host(), kvc::budget::tokens{3}).keep());

  for (const std::int32_t bad : {4, -1, 1000}) {
    CAPTURE(bad);
    c.table = {3, bad, 2};
    c.upload();
    const std::string host = error_of([&] { (void)snapkv(c.host(), kvc::budget::tokens{3}); });
    CHECK(host.find("'keys.block_table[1]'") != std::string::npos);
    CHECK(host.find("got " + std::to_string(bad)) != std::string::npos);
    CHECK(error_of([&] { (void)kvc::compress(e, snapkv, c.device(), kvc::budget::tokens{3}); }) == host);
    CHECK(error_of([&] { (void)kvc::device::scores(e, snapkv, c.device()); }) == host);
    // Per-stage merge with a good keep set: the layer is checked first.
    const auto keep = kvc::device::keep_set<device_system>::from_host(good.keep());
    const kvc::device::score_matrix<device_system> s(paged_cache::heads, paged_cache::tokens);
    CHECK(error_of([&] { (void)kvc::device::merge(e, snapkv.merge, c.device(), s, keep); }) == host);
    // In-place compaction: refused before a write.
    auto* keys = thrust::raw_pointer_cast(c.d_keys.data());
    auto* values = thrust::raw_pointer_cast(c.d_values.data());
    const auto* t = thrust::raw_pointer_cast(c.d_table.data());
    std::vector<float> hk = c.keys, hv = c.values;
    const std::string host_compact = error_of(
        [&] { kvc::compact(paged_cache::paged(hk.data(), c.table.data()), paged_cache::paged(hv.data(), c.table.data()), good.keep()); });
    CHECK(host_compact == host);
    CHECK(error_of([&] { kvc::compact(e, paged_cache::paged(keys, t), paged_cache::paged(values, t), good.keep()); }) == host);
    CHECK(download(c.d_keys) == c.keys);
    CHECK(download(c.d_values) == c.values);
    CHECK(download(c.d_table) == c.table);
  }
  // The values' table: named as values.
  c.table = {3, 0, 2};
  c.upload();
  dvector<std::int32_t> other(std::vector<std::int32_t>{0, 1, -3});
  auto l = c.device();
  l.values = paged_cache::paged(thrust::raw_pointer_cast(std::as_const(c.d_values).data()),
                                thrust::raw_pointer_cast(std::as_const(other).data()));
  CHECK(error_of([&] { (void)kvc::compress(e, kvc::policy::key_norm{}, l, kvc::budget::tokens{3}); }) ==
        "kvc: invalid argument 'values.block_table[2]': expected a block in [0, num_blocks = 4), got -3");
}

TEST_CASE("device path: a caller-built device keep set is checked, offsets before indices") {
  const device_exec e{};
  std::vector<float> k(2 * 4), v(2 * 4);
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = v[i] = static_cast<float>(i);
  dvector<float> dk(k.begin(), k.end()), dv(v.begin(), v.end());
  const auto keys = view<float>::contiguous(thrust::raw_pointer_cast(dk.data()), 2, 4, 1);
  const auto values = view<float>::contiguous(thrust::raw_pointer_cast(dv.data()), 2, 4, 1);
  auto mutable_keys = kvc::strided_view<float>::contiguous(thrust::raw_pointer_cast(dk.data()), 2, 4, 1);
  auto mutable_values = kvc::strided_view<float>::contiguous(thrust::raw_pointer_cast(dv.data()), 2, 4, 1);

  struct csr {
    std::vector<std::size_t> offsets;
    std::vector<kvc::index_t> indices;
    const char* argument;
  };
  const csr cases[] = {
      {{0, 10, 2}, {1, 2}, "keep_set.offsets[2]"},   // offsets[1] far past the indices
      {{1, 1, 2}, {1, 2}, "keep_set.offsets[0]"},
      {{0, 1, 3}, {1, 2}, "keep_set.offsets.back()"},
      {{0, 1, 2}, {1, 4}, "keep_set.indices"},        // past the 4 tokens
      {{0, 1, 2}, {-1, 2}, "keep_set.indices"},
      {{0, 2, 2}, {3, 1}, "keep_set.indices"},        // not ascending in head 0
  };
  for (const csr& c : cases) {
    CAPTURE(c.argument);
    std::string host;
    try {
      (void)kvc::keep_set(4, c.offsets, c.indices);
    } catch (const kvc::error& err) {
      CHECK(err.argument() == c.argument);
      host = err.what();
    }
    REQUIRE(!host.empty());
    kvc::device::keep_set<device_system> keep(2, 4, c.indices.size());
    thrust::copy(c.offsets.begin(), c.offsets.end(), keep.offsets().begin());
    thrust::copy(c.indices.begin(), c.indices.end(), keep.indices().begin());
    CHECK(error_of([&] { keep.validate(); }) == host);
    CHECK(error_of([&] { kvc::compact(e, mutable_keys, mutable_values, keep); }) == host);
    const auto l = kvc::make_layer(keys, values);
    const kvc::device::score_matrix<device_system> s(2, 4);
    CHECK(error_of([&] { (void)kvc::device::merge(e, kvc::merge::drop{}, l, s, keep); }) == host);
  }
  // Offsets of the wrong length for the declared heads.
  kvc::device::keep_set<device_system> short_offsets(2, 4, 0);
  short_offsets.offsets().resize(2);
  CHECK(error_of([&] { kvc::compact(e, mutable_keys, mutable_values, short_offsets); }).find("'keep_set.offsets.size()'") !=
        std::string::npos);
  CHECK(download(dk) == k);
  CHECK(download(dv) == v);
  // A well-formed one is accepted: head 0 keeps token 2, head 1 tokens 0 and 3.
  kvc::device::keep_set<device_system> fine(2, 4, 3);
  const std::vector<std::size_t> offsets{0, 1, 3};
  const std::vector<kvc::index_t> indices{2, 0, 3};
  thrust::copy(offsets.begin(), offsets.end(), fine.offsets().begin());
  thrust::copy(indices.begin(), indices.end(), fine.indices().begin());
  kvc::compact(e, mutable_keys, mutable_values, fine);
  const auto after = download(dk);
  CHECK(after[0] == 2.0f);
  CHECK(after[4] == 4.0f);
  CHECK(after[5] == 7.0f);
}

TEST_CASE("device path: non-finite keys and queries are named by element, as on the host") {
  const device_exec e{};
  test_layer<float> data(2, 2, 12, 4, 3);  // 2 kv heads, group 2, 12 tokens, head_dim 4, window 8
  const kvc::policy::snapkv snapkv{.score = {.window = 8}, .select = {.window = 8}};
  const kvc::policy::ems ems{.score = {.window = 8}, .select = {.recent = 8}};
  auto check_same = [&](const auto& policy, const std::string& argument) {
    const std::string host = error_of([&] { (void)policy(data.host(), kvc::budget::tokens{8}); });
    CHECK(host.find("'" + argument + "'") != std::string::npos);
    CHECK(error_of([&] { (void)kvc::compress(e, policy, data.device(), kvc::budget::tokens{8}); }) == host);
  };
  // Key (1, 5, 2) is NaN: every attention scorer and key norm read it.
  data.keys[(1 * data.tokens + 5) * data.dim + 2] = std::numeric_limits<float>::quiet_NaN();
  data.upload();
  check_same(snapkv, "keys(1, 5, 2)");
  check_same(kvc::policy::tova{}, "keys(1, 5, 2)");
  check_same(kvc::policy::h2o{}, "keys(1, 5, 2)");
  check_same(kvc::policy::key_norm{}, "keys(1, 5, 2)");
  check_same(ems, "keys(1, 5, 2)");
  check_same(kvc::policy::intelllm{.score = {.window = 8}, .select = {.inner = {.window = 8}, .radius = 0}},
             "keys(1, 5, 2)");
  // ... and StreamingLLM does not.
  CHECK(error_of([&] { (void)kvc::compress(e, kvc::policy::streaming_llm{}, data.device(), kvc::budget::tokens{8}); }) ==
        "no error");
  // A refused key leaves the caller's score buffer as it was.
  auto out = kvc::device::score_matrix<device_system>::from_host(kvc::score_matrix(1, 3, 4.0f));
  CHECK(error_of([&] { kvc::device::score(e, kvc::score::key_norm{}, data.device(), out); }).find("keys(1, 5, 2)") !=
        std::string::npos);
  CHECK(error_of([&] { kvc::device::score(e, kvc::score::window_attention{.window = 8}, data.device(), out); })
            .find("keys(1, 5, 2)") != std::string::npos);
  const auto kept = out.to_host();
  CHECK(kept.heads() == 1);
  CHECK(std::vector<float>(kept.flat().begin(), kept.flat().end()) == std::vector<float>{4, 4, 4});

  // An infinite query of q-head 3, window query 6: read by SnapKV (window 8), not by TOVA (last only).
  data.keys[(1 * data.tokens + 5) * data.dim + 2] = 0.25f;
  data.queries[(3 * data.window + 6) * data.dim] = -std::numeric_limits<float>::infinity();
  data.upload();
  check_same(snapkv, "queries(3, 6, 0)");
  check_same(ems, "queries(3, 6, 0)");
  CHECK(error_of([&] { (void)kvc::compress(e, kvc::policy::tova{}, data.device(), kvc::budget::tokens{8}); }) ==
        "no error");
  // A key norm above the largest float.
  data.queries[(3 * data.window + 6) * data.dim] = 0.5f;
  for (std::size_t c = 0; c < data.dim; ++c) data.keys[(0 * data.tokens + 2) * data.dim + c] = 3e38f;
  data.upload();
  check_same(kvc::policy::key_norm{}, "keys(0, 2, :)");
}

TEST_CASE("device path: TOVA shared across heads and Ada-KV's floor are the reference's") {
  // Found by fuzz/policy.fuzz.cpp: the device TOVA scorer ignored share_across_heads, and the
  // device Ada-KV floor was max(recent, α·budget) where the reference guarantees
  // recent + floor(α·(budget − recent)).
  const device_exec e{};
  const test_layer<float> data(3, 3, 33, 7, 11);
  const kvc::policy::tova shared{.score = {.share_across_heads = true}};
  check_scores(kvc::device::scores(e, shared, data.device()).to_host(), shared.scores(data.host()));
  const auto s = shared.scores(data.host());
  for (std::size_t h = 1; h < s.heads(); ++h) CHECK(std::vector<float>(s.row(h).begin(), s.row(h).end()) ==
                                                    std::vector<float>(s.row(0).begin(), s.row(0).end()));
  CHECK(kvc::compress(e, shared, data.device(), kvc::budget::tokens{9}).to_host().keep() ==
        shared(data.host(), kvc::budget::tokens{9}).keep());
  // Ada-KV, 3 heads, budget 3, recent 1, α = 0.5: every head keeps its window token and its own best
  // floor(0.5 · 2) = 1 more; the device used to guarantee max(1, floor(0.5 · 3)) = 1 in all.
  const kvc::policy::adakv adakv{.score = {.window = 8}, .select = {.floor_fraction = 0.5, .recent = 1}};
  const auto scores = adakv.scores(data.host());
  const auto host = adakv.select(scores, 3);
  for (std::size_t h = 0; h < 3; ++h) CHECK(host.kept(h) >= 2);
  CHECK(kvc::device::select(e, adakv.select, kvc::device::score_matrix<device_system>::from_host(scores), 3).to_host() ==
        host);
}
