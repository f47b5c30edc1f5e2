// Index arithmetic of the CUDA kernels, checked on the CPU against hand-computed cases and
// against the host reference's own loops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "kvc/core/compact.hpp"
#include "kvc/device/cuda/detail/index_math.hpp"
#include "kvc/select/detail/rank.hpp"

using namespace kvc::device::cuda::detail;

TEST_CASE("window_rows: row -> query head, query and causal limit") {
  // 10 tokens, a 4-query view of which the last 3 are used, group 2: 6 rows per kv head.
  const window_rows w{.tokens = 10, .window = 4, .used = 3, .group = 2};
  CHECK(w.rows() == 6);
  CHECK(w.prefix() == 7);
  // Row 4 = query head g = 1 of the group, i = 1: view query 4 - 3 + 1 = 2, at token 10 - 3 + 1 = 8.
  CHECK(w.query_head(3, 4) == 7);  // kv head 3, group 2: q heads 6, 7
  CHECK(w.query(4) == 2);
  CHECK(w.last_visible(4) == 8);
  // The last used query sees every token.
  CHECK(w.last_visible(2) == 9);
  CHECK(w.last_visible(5) == 9);
  // layer::query_token(j) = tokens - window + j agrees for the used queries.
  for (std::size_t r = 0; r < w.rows(); ++r) CHECK(w.last_visible(r) == w.tokens - w.window + w.query(r));
}

TEST_CASE("pooling_window: centred kernel clipped to the prefix") {
  // prefix 5, kernel 7 (half 3): t = 0 -> [0, 4); t = 2 -> [0, 5); t = 4 -> [1, 5).
  CHECK(pooling_window(0, 5, 7).lo == 0);
  CHECK(pooling_window(0, 5, 7).hi == 4);
  CHECK(pooling_window(2, 5, 7).hi == 5);
  CHECK(pooling_window(4, 5, 7).lo == 1);
  CHECK(pooling_window(4, 5, 7).hi == 5);
  // Kernel 1 is the identity.
  CHECK(pooling_window(3, 5, 1).lo == 3);
  CHECK(pooling_window(3, 5, 1).hi == 4);
  // Interior: full width.
  CHECK(pooling_window(50, 100, 7).lo == 47);
  CHECK(pooling_window(50, 100, 7).hi == 54);
}

TEST_CASE("is_protected / protected_count match select::detail::protect") {
  for (std::size_t n : {1u, 2u, 7u, 33u})
    for (std::size_t s : {0u, 1u, 4u, 40u})
      for (std::size_t r : {0u, 3u, 32u, 50u}) {
        const auto guard = kvc::select::detail::protect(n, s, r);
        std::size_t count = 0;
        for (std::size_t t = 0; t < n; ++t) {
          CHECK(is_protected(t, n, s, r) == (guard[t] != 0));
          count += guard[t] != 0;
        }
        CHECK(protected_count(n, s, r) == count);
      }
}

TEST_CASE("ceil_div") {
  CHECK(ceil_div(1, 64) == 1);
  CHECK(ceil_div(64, 64) == 1);
  CHECK(ceil_div(65, 64) == 2);
  CHECK(ceil_div(4097, 64) == 65);
}

TEST_CASE("chunked in-place compaction (the kernel's order) equals kvc::compact") {
  std::mt19937 rng(3);
  for (std::size_t n : {1u, 7u, 33u, 300u})
    for (std::size_t chunk : {1u, 3u, 64u}) {
      std::vector<float> rows(n);
      for (std::size_t t = 0; t < n; ++t) rows[t] = static_cast<float>(100 + t);
      std::vector<kvc::index_t> idx;
      for (std::size_t t = 0; t < n; ++t)
        if (rng() % 3 == 0 || t + 1 == n) idx.push_back(static_cast<kvc::index_t>(t));
      REQUIRE(compaction_order_safe(idx.data(), idx.size()));
      // Kernel order: per chunk, read every source, then write every destination.
      std::vector<float> device = rows;
      for (std::size_t c0 = 0; c0 < idx.size(); c0 += chunk) {
        const std::size_t c1 = std::min(idx.size(), c0 + chunk);
        std::vector<float> staged;
        for (std::size_t i = c0; i < c1; ++i) staged.push_back(device[static_cast<std::size_t>(idx[i])]);
        for (std::size_t i = c0; i < c1; ++i) device[i] = staged[i - c0];
      }
      // Host reference on a [1, n, 1] view (row t holds 100 + t, so a wrong source shows).
      std::vector<float> host = rows, values = rows;
      auto kv = kvc::strided_view<float>::contiguous(host.data(), 1, n, 1);
      auto vv = kvc::strided_view<float>::contiguous(values.data(), 1, n, 1);
      kvc::compact(kv, vv, kvc::keep_set::from_heads(n, {idx}));
      CAPTURE(n);
      CAPTURE(chunk);
      CHECK(device == host);
    }
}

TEST_CASE("compaction_order_safe rejects what is not strictly ascending") {
  const int ok[] = {0, 2, 5};
  const int repeat[] = {1, 1};
  const int descending[] = {3, 2};
  const int behind[] = {0, 0};
  CHECK(compaction_order_safe(ok, 3));
  CHECK_FALSE(compaction_order_safe(repeat, 2));
  CHECK_FALSE(compaction_order_safe(descending, 2));
  CHECK_FALSE(compaction_order_safe(behind, 2));
}
