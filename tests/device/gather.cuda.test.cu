// CUDA gather / in-place compaction vs kvc::merge::drop and kvc::compact: bit-identical rows and
// positions for ragged keep_sets, contiguous (16-byte path) and token-major / odd-width layouts.
#include "kvc/device/cuda/gather.cuh"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kvc/core/compact.hpp"
#include "kvc/merge/drop.hpp"

namespace {

namespace kcuda = kvc::device::cuda;

kvc::keep_set random_keep(std::size_t heads, std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<kvc::index_t>> idx(heads);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t t = 0; t < n; ++t)
      if (rng() % (h + 2) == 0 || t == n - 1) idx[h].push_back(static_cast<kvc::index_t>(t));
  return kvc::keep_set::from_heads(n, idx);
}

template <class T>
bool same_bits(const std::vector<T>& a, std::span<const T> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
void check_gather(std::size_t heads, std::size_t n, std::size_t dim, bool token_major, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<T> keys(heads * n * dim), values(heads * n * dim);
  for (auto& x : keys) x = kvc::from_float<T>(normal(rng));
  for (auto& x : values) x = kvc::from_float<T>(normal(rng));
  std::vector<std::int64_t> positions(n);
  for (std::size_t t = 0; t < n; ++t) positions[t] = static_cast<std::int64_t>(1000 + 3 * t);
  const auto view = [&](const T* p) {
    return token_major ? kvc::strided_view<const T>::token_major(p, heads, n, dim)
                       : kvc::strided_view<const T>::contiguous(p, heads, n, dim);
  };
  const kvc::keep_set keep = random_keep(heads, n, seed);

  auto host_layer = kvc::make_layer(view(keys.data()), view(values.data()));
  host_layer.positions = positions;
  const auto host = kvc::merge::drop{}(host_layer, kvc::score_matrix{}, keep);

  kcuda::device_buffer<T> dk, dv, ok(keep.total() * dim), ov(keep.total() * dim);
  kcuda::device_buffer<std::int64_t> dp, op(keep.total());
  dk.upload(std::span<const T>(keys), nullptr);
  dv.upload(std::span<const T>(values), nullptr);
  dp.upload(std::span<const std::int64_t>(positions), nullptr);
  const auto dkeep = kcuda::device_keep_set::upload(keep, nullptr);
  kcuda::gather<T>(view(dk.data()), view(dv.data()), dkeep, ok.data(), ov.data(), dp.data(), op.data(), nullptr);
  CAPTURE(n);
  CAPTURE(dim);
  CAPTURE(token_major);
  CHECK(same_bits(ok.download(nullptr), host.all_keys()));
  CHECK(same_bits(ov.download(nullptr), host.all_values()));
  std::vector<std::int64_t> want;
  for (std::size_t h = 0; h < heads; ++h) want.insert(want.end(), host.positions(h).begin(), host.positions(h).end());
  CHECK(op.download(nullptr) == want);
}

}  // namespace

TEST_CASE_TEMPLATE("cuda gather equals merge::drop bit for bit", T, float, __half, __nv_bfloat16) {
  unsigned seed = 1;
  for (std::size_t n : {1u, 7u, 33u, 4097u}) {
    check_gather<T>(3, n, 128, false, seed++);  // 16-byte units
    check_gather<T>(3, n, 5, false, seed++);    // element copies
    check_gather<T>(2, n, 16, true, seed++);    // token-major
  }
}

TEST_CASE_TEMPLATE("cuda compact equals kvc::compact", T, float, __half) {
  for (std::size_t n : {1u, 7u, 33u, 4097u})
    for (std::size_t dim : {8u, 4096u + 3u}) {  // the second does not fit the stage: row pieces
      if (dim > 64 && n > 33) continue;
      const std::size_t heads = 3;
      std::mt19937 rng(static_cast<unsigned>(n * 7 + dim));
      std::normal_distribution<float> normal;
      std::vector<T> keys(heads * n * dim), values(heads * n * dim);
      for (auto& x : keys) x = kvc::from_float<T>(normal(rng));
      for (auto& x : values) x = kvc::from_float<T>(normal(rng));
      std::vector<std::int64_t> positions(heads * n);
      for (std::size_t i = 0; i < positions.size(); ++i) positions[i] = static_cast<std::int64_t>(i * 5);
      const kvc::keep_set keep = random_keep(heads, n, static_cast<unsigned>(n + dim));

      kcuda::device_buffer<T> dk, dv;
      kcuda::device_buffer<std::int64_t> dp;
      dk.upload(std::span<const T>(keys), nullptr);
      dv.upload(std::span<const T>(values), nullptr);
      dp.upload(std::span<const std::int64_t>(positions), nullptr);
      kcuda::compact<T>(kvc::strided_view<T>::contiguous(dk.data(), heads, n, dim),
                       kvc::strided_view<T>::contiguous(dv.data(), heads, n, dim),
                       kcuda::device_keep_set::upload(keep, nullptr), dp.data(), nullptr);

      kvc::compact(kvc::strided_view<T>::contiguous(keys.data(), heads, n, dim),
                   kvc::strided_view<T>::contiguous(values.data(), heads, n, dim), keep, positions);
      CAPTURE(n);
      CAPTURE(dim);
      CHECK(same_bits(dk.download(nullptr), std::span<const T>(keys)));
      CHECK(same_bits(dv.download(nullptr), std::span<const T>(values)));
      CHECK(dp.download(nullptr) == positions);
    }
}

TEST_CASE("cuda gather / compact: mismatched keep sets throw kvc::error") {
  kcuda::device_buffer<float> d(2 * 4 * 2);
  const auto view = kvc::strided_view<float>::contiguous(d.data(), 2, 4, 2);
  const auto wrong_heads = kcuda::device_keep_set::upload(kvc::keep_set::from_heads(4, {{0}}), nullptr);
  const auto wrong_tokens = kcuda::device_keep_set::upload(kvc::keep_set::from_heads(5, {{0}, {1}}), nullptr);
  CHECK_THROWS_AS(kcuda::compact<float>(view, view, wrong_heads, nullptr, nullptr), kvc::error);
  CHECK_THROWS_AS(kcuda::compact<float>(view, view, wrong_tokens, nullptr, nullptr), kvc::error);
  CHECK_THROWS_AS(kcuda::gather<float>(view, view, wrong_heads, d.data(), d.data(), nullptr, nullptr, nullptr),
                  kvc::error);
}
