// The CUDA top-k's integer logic on the CPU: key order, digit choice, and a serial replay of the
// block radix select (same passes, same tie rule) against kvc::select::topk.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kvc/device/cuda/detail/index_math.hpp"
#include "kvc/device/cuda/detail/radix_key.hpp"
#include "kvc/select/topk.hpp"

namespace {

using namespace kvc::device::cuda::detail;

// What topk.cuh's kernel does for one head, pass by pass, serially.
std::vector<kvc::index_t> replay_select(std::span<const float> row, std::size_t budget, std::size_t sinks,
                                        std::size_t recent) {
  const std::size_t n = row.size();
  const std::size_t want = budget - protected_count(n, sinks, recent);
  std::uint32_t prefix = 0, threshold = 0xffffffffu, ties = 0;
  if (want > 0) {
    auto remaining = static_cast<std::uint32_t>(want);
    for (unsigned pass = 0; pass < radix_passes; ++pass) {
      std::uint32_t hist[radix_bins] = {};
      const std::uint32_t mask = pass == 0 ? 0u : radix_prefix_mask(pass - 1);
      for (std::size_t t = 0; t < n; ++t) {
        const std::uint32_t key = score_key(row[t]);
        if (!is_protected(t, n, sinks, recent) && (key & mask) == prefix) ++hist[radix_digit(key, pass)];
      }
      const digit_choice c = choose_digit(hist, remaining);
      remaining -= c.above;
      prefix |= c.digit << radix_shift(pass);
    }
    threshold = prefix;
    ties = remaining;
  }
  std::vector<kvc::index_t> out;
  std::uint32_t tie_seen = 0;
  for (std::size_t t = 0; t < n; ++t) {
    const std::uint32_t key = score_key(row[t]);
    bool keep = is_protected(t, n, sinks, recent);
    if (!keep && key > threshold && want > 0) keep = true;
    if (!keep && key == threshold && want > 0) keep = tie_seen++ < ties;
    if (keep) out.push_back(static_cast<kvc::index_t>(t));
  }
  return out;
}

}  // namespace

TEST_CASE("score_key orders floats as operator< does, with -0 == +0 and NaN last") {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> ascending = {-inf, -3.0e38f, -2.5f, -1.0f, -1.0e-40f, 0.0f, 1.0e-40f, 1.0f, 2.5f,
                                        3.0e38f, inf};
  for (std::size_t i = 0; i + 1 < ascending.size(); ++i)
    CHECK(score_key(ascending[i]) < score_key(ascending[i + 1]));
  CHECK(score_key(-0.0f) == score_key(0.0f));
  CHECK(score_key(std::nanf("")) == 0u);
  CHECK(score_key(std::nanf("")) < score_key(-inf));
  // +0 has only the flipped sign bit set; -1 (0xbf800000) flips to 0x407fffff.
  CHECK(score_key(0.0f) == 0x80000000u);
  CHECK(score_key(-1.0f) == 0x407fffffu);
}

TEST_CASE("rank_key: higher score first, ties to the lower index") {
  CHECK(rank_key(1.0f, 5) > rank_key(0.5f, 0));
  CHECK(rank_key(1.0f, 2) > rank_key(1.0f, 3));
  CHECK(rank_key(-0.0f, 1) > rank_key(0.0f, 2));
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> level(-3, 3);  // few levels: many ties
  std::vector<float> s(200);
  for (auto& x : s) x = static_cast<float>(level(rng)) * 0.25f;
  std::vector<std::uint32_t> by_key(s.size()), by_rule(s.size());
  for (std::uint32_t i = 0; i < s.size(); ++i) by_key[i] = by_rule[i] = i;
  std::sort(by_key.begin(), by_key.end(), [&](auto a, auto b) { return rank_key(s[a], a) > rank_key(s[b], b); });
  std::sort(by_rule.begin(), by_rule.end(), [&](auto a, auto b) {
    return kvc::select::detail::outranks(s, static_cast<kvc::index_t>(a), static_cast<kvc::index_t>(b));
  });
  CHECK(by_key == by_rule);
}

TEST_CASE("radix digits and prefix masks") {
  CHECK(radix_shift(0) == 24);
  CHECK(radix_shift(3) == 0);
  CHECK(radix_digit(0x12345678u, 0) == 0x12u);
  CHECK(radix_digit(0x12345678u, 3) == 0x78u);
  CHECK(radix_prefix_mask(0) == 0xff000000u);
  CHECK(radix_prefix_mask(2) == 0xffffff00u);
  CHECK(radix_prefix_mask(3) == 0xffffffffu);
}

TEST_CASE("choose_digit scans from the top bin") {
  std::uint32_t hist[radix_bins] = {};
  hist[255] = 2;
  hist[253] = 3;
  hist[7] = 10;
  // Want 4: the 2 keys of bin 255 are above, 2 more come from bin 253.
  auto c = choose_digit(hist, 4);
  CHECK(c.digit == 253u);
  CHECK(c.above == 2u);
  // Want exactly 2: bin 255 itself holds the threshold, nothing above it.
  c = choose_digit(hist, 2);
  CHECK(c.digit == 255u);
  CHECK(c.above == 0u);
  // Want 6: past bins 255 and 253 (5 keys) into bin 7.
  c = choose_digit(hist, 6);
  CHECK(c.digit == 7u);
  CHECK(c.above == 5u);
}

TEST_CASE("replayed radix select equals kvc::select::topk on awkward sizes, ties and ragged budgets") {
  std::mt19937 rng(20240611);
  for (std::size_t n : {1u, 7u, 33u, 4097u}) {
    for (int variant = 0; variant < 3; ++variant) {
      const std::size_t heads = 3;
      kvc::score_matrix s(heads, n);
      std::uniform_real_distribution<float> uni(-2.0f, 2.0f);
      std::uniform_int_distribution<int> level(-2, 2);
      for (auto& x : s.flat()) x = variant == 0 ? uni(rng) : variant == 1 ? 0.5f * level(rng) : -0.0f;
      if (variant == 2 && n > 3) s(1, 2) = 0.0f;  // +0 among -0: still a tie
      const kvc::select::topk sel{.sinks = variant == 1 ? 2u : 0u, .recent = variant == 0 ? 0u : 3u};
      const std::size_t floor = protected_count(n, sel.sinks, sel.recent);
      std::vector<std::vector<kvc::index_t>> device_heads(heads);
      for (std::size_t h = 0; h < heads; ++h) {
        // Ragged: each head its own budget, from the protected floor up to n.
        const std::size_t budget = std::max<std::size_t>({1, floor, (n * (h + 1)) / (heads + 1)});
        device_heads[h] = replay_select(s.row(h), budget, sel.sinks, sel.recent);
        kvc::score_matrix one(1, n);
        std::copy(s.row(h).begin(), s.row(h).end(), one.row(0).begin());
        const auto host = sel(one, budget);
        CAPTURE(n);
        CAPTURE(variant);
        CAPTURE(h);
        CHECK(device_heads[h].size() == budget);
        CHECK(std::vector<kvc::index_t>(host.head(0).begin(), host.head(0).end()) == device_heads[h]);
      }
    }
  }
}

TEST_CASE("all-equal scores keep the lowest indices") {
  const std::vector<float> row(10, 1.0f);
  CHECK(replay_select(row, 3, 0, 0) == std::vector<kvc::index_t>{0, 1, 2});
  // Protected tail 8, 9 plus the two lowest of the rest.
  CHECK(replay_select(row, 4, 0, 2) == std::vector<kvc::index_t>{0, 1, 8, 9});
}
