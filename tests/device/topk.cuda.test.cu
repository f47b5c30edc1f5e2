// CUDA radix-select top-k vs kvc::select::topk: identical keep_sets on random scores with many
// exact ties, -0/+0, protected sinks/recent tokens, ragged per-head budgets, 1..4097 tokens.
#include "kvc/device/cuda/topk.cuh"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <random>
#include <vector>

#include "kvc/select/topk.hpp"

namespace {

namespace kcuda = kvc::device::cuda;

// Host reference for ragged budgets: kvc::select::topk run per head.
kvc::keep_set host_topk(const kvc::select::topk& sel, const kvc::score_matrix& s, const std::vector<std::size_t>& budgets) {
  std::vector<std::vector<kvc::index_t>> heads;
  for (std::size_t h = 0; h < s.heads(); ++h) {
    kvc::score_matrix one(1, s.tokens());
    std::copy(s.row(h).begin(), s.row(h).end(), one.row(0).begin());
    const auto k = sel(one, budgets[h]);
    heads.emplace_back(k.head(0).begin(), k.head(0).end());
  }
  return kvc::keep_set::from_heads(s.tokens(), heads);
}

kvc::keep_set device_topk(const kvc::select::topk& sel, const kvc::score_matrix& s, const std::vector<std::size_t>& budgets) {
  kcuda::device_buffer<float> d_scores;
  d_scores.upload(s.flat(), nullptr);
  kcuda::device_keep_set keep;
  kcuda::topk(sel, d_scores.data(), s.heads(), s.tokens(), budgets, keep, nullptr);
  return keep.download(nullptr);
}

}  // namespace

TEST_CASE("cuda topk equals kvc::select::topk, ties to the lower index") {
  std::mt19937 rng(11);
  for (std::size_t n : {1u, 7u, 33u, 4097u})
    for (int variant = 0; variant < 4; ++variant) {
      const std::size_t heads = 5;
      kvc::score_matrix s(heads, n);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::uniform_int_distribution<int> level(-3, 3);
      for (std::size_t h = 0; h < heads; ++h)
        for (std::size_t t = 0; t < n; ++t) {
          float x = variant == 0 ? normal(rng) : variant == 1 ? 0.125f * static_cast<float>(level(rng)) : 1.0f;
          if (variant == 3) x = (t % 2 == 0) ? -0.0f : 0.0f;  // signed zeros tie
          s(h, t) = x;
        }
      const kvc::select::topk sel{.sinks = variant == 2 ? 3u : 0u, .recent = variant >= 1 ? 4u : 0u};
      const std::size_t floor = std::max<std::size_t>(1, std::min(n, std::min(sel.sinks, n) + std::min(sel.recent, n)));
      std::vector<std::size_t> budgets;
      for (std::size_t h = 0; h < heads; ++h)  // ragged: the floor, all, and in between
        budgets.push_back(h == 0 ? floor : h == 1 ? n : std::max(floor, (n * h) / (heads + 2)));
      CAPTURE(n);
      CAPTURE(variant);
      const auto device = device_topk(sel, s, budgets);
      CHECK(device == host_topk(sel, s, budgets));
      // Same answer twice (no dependence on scheduling).
      CHECK(device == device_topk(sel, s, budgets));
    }
}

TEST_CASE("cuda topk: hand-checked head") {
  // Scores 3 1 3 2 0 with budget 3, no protection: 3 (t0), 3 (t2), 2 (t3) -> {0, 2, 3}.
  // With recent = 1 (t4 kept) and budget 3: t0, t2 by score, plus t4 -> {0, 2, 4}.
  kvc::score_matrix s(1, 5);
  const float row[] = {3, 1, 3, 2, 0};
  std::copy(row, row + 5, s.row(0).begin());
  CHECK(device_topk({}, s, {3}) == kvc::keep_set::from_heads(5, {{0, 2, 3}}));
  CHECK(device_topk({.recent = 1}, s, {3}) == kvc::keep_set::from_heads(5, {{0, 2, 4}}));
}

TEST_CASE("cuda topk: bad budgets throw kvc::error and leave the keep set as it was") {
  kvc::score_matrix s(2, 10, 1.0f);
  kcuda::device_buffer<float> d_scores;
  d_scores.upload(s.flat(), nullptr);
  kcuda::device_keep_set keep = kcuda::device_keep_set::upload(kvc::keep_set::from_heads(10, {{1}, {2}}), nullptr);
  const std::vector<std::size_t> too_many{3, 11}, below_protected{3, 2}, wrong_count{3};
  CHECK_THROWS_AS(kcuda::topk({}, d_scores.data(), 2, 10, too_many, keep, nullptr), kvc::error);
  CHECK_THROWS_AS(kcuda::topk({.recent = 3}, d_scores.data(), 2, 10, below_protected, keep, nullptr), kvc::error);
  CHECK_THROWS_AS(kcuda::topk({}, d_scores.data(), 2, 10, wrong_count, keep, nullptr), kvc::error);
  CHECK(keep.download(nullptr) == kvc::keep_set::from_heads(10, {{1}, {2}}));
}
