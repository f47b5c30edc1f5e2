// IntelLLM RGL: the position policy for the kept tokens (original, repacked, remote_gap).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "kvc/core/concepts.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/merge/drop.hpp"
#include "kvc/merge/relocate.hpp"

namespace {
using kvc::merge::position_mode;
using positions = std::vector<std::int64_t>;

// 2 kv heads, 17 tokens, head_dim 1; key/value of token t is t, original position 100 + 2t.
struct fixture {
  std::vector<float> kv = [] {
    std::vector<float> v(2 * 17);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 17);
    return v;
  }();
  std::vector<std::int64_t> pos = [] {
    std::vector<std::int64_t> p(17);
    for (std::size_t t = 0; t < 17; ++t) p[t] = 100 + 2 * static_cast<std::int64_t>(t);
    return p;
  }();
  kvc::keep_set keep = kvc::keep_set::from_heads(17, {{0, 3, 7, 8, 12, 15, 16}, {2, 16}});

  kvc::compressed_layer<float> compressed() const {
    auto l = kvc::make_layer(kvc::strided_view<const float>::contiguous(kv.data(), 2, 17, 1),
                             kvc::strided_view<const float>::contiguous(kv.data(), 2, 17, 1));
    l.positions = pos;
    return kvc::merge::drop{}(l, kvc::score_matrix(2, 17), keep);
  }
};
positions of(const kvc::compressed_layer<float>& c, std::size_t h) {
  return {c.positions(h).begin(), c.positions(h).end()};
}
}  // namespace

TEST_CASE("relocate_positions: each mode gives the positions it promises, by hand") {
  // Head 0 keeps tokens 0 3 7 8 12 15 16 -> original positions 100 106 114 116 124 130 132.
  // Head 1 keeps 2 16 -> 104 132.
  const fixture f;
  auto c = f.compressed();
  CHECK(of(c, 0) == positions{100, 106, 114, 116, 124, 130, 132});

  auto original = c;
  kvc::merge::relocate_positions(original, position_mode::original);
  CHECK(of(original, 0) == of(c, 0));
  CHECK(of(original, 1) == of(c, 1));

  auto repacked = c;
  kvc::merge::relocate_positions(repacked, position_mode::repacked);
  CHECK(of(repacked, 0) == positions{0, 1, 2, 3, 4, 5, 6});
  CHECK(of(repacked, 1) == positions{0, 1});

  // local 3: the last three kept tokens become contiguous ending at 132 (130 131 132); the four
  // remote ones keep 100 106 114 116. Head 1 has only two kept tokens: both are local (131 132).
  auto gap = c;
  kvc::merge::relocate_positions(gap, position_mode::remote_gap, 3);
  CHECK(of(gap, 0) == positions{100, 106, 114, 116, 130, 131, 132});
  CHECK(of(gap, 1) == positions{131, 132});

  // local 0 keeps every gap; local >= kept makes the whole head contiguous up to the end.
  auto none = c;
  kvc::merge::relocate_positions(none, position_mode::remote_gap, 0);
  CHECK(of(none, 0) == of(c, 0));
  auto all = c;
  kvc::merge::relocate_positions(all, position_mode::remote_gap, 1000);
  CHECK(of(all, 0) == positions{126, 127, 128, 129, 130, 131, 132});

  // Keys and values are untouched: only positions move.
  for (auto* r : {&repacked, &gap, &all}) {
    CHECK(r->all_keys().size() == c.all_keys().size());
    for (std::size_t i = 0; i < c.all_keys().size(); ++i) CHECK(r->all_keys()[i] == c.all_keys()[i]);
  }
}

TEST_CASE("relocate: the merger wrapper relocates what the inner merger built") {
  const fixture f;
  auto l = kvc::make_layer(kvc::strided_view<const float>::contiguous(f.kv.data(), 2, 17, 1),
                           kvc::strided_view<const float>::contiguous(f.kv.data(), 2, 17, 1));
  l.positions = f.pos;
  static_assert(kvc::merger<kvc::merge::relocate<>>);
  const kvc::score_matrix s(2, 17);
  const auto gap = kvc::merge::relocate<>{.local = 3}(l, s, f.keep);
  CHECK(of(gap, 0) == positions{100, 106, 114, 116, 130, 131, 132});
  CHECK(gap.keep() == f.keep);
  const auto repacked = kvc::merge::relocate<>{.mode = position_mode::repacked}(l, s, f.keep);
  CHECK(of(repacked, 1) == positions{0, 1});
  const auto original = kvc::merge::relocate<>{.mode = position_mode::original}(l, s, f.keep);
  CHECK(of(original, 1) == positions{104, 132});
  // Default: remote_gap with a local region of 64 kept tokens, i.e. every head here.
  CHECK(of(kvc::merge::relocate<>{}(l, s, f.keep), 0) == positions{126, 127, 128, 129, 130, 131, 132});
}

TEST_CASE("relocate_positions: remote_gap keeps positions strictly ascending, remote gaps exact") {
  // Random keep sets over 0..199 with random ascending positions; for every local size the
  // result ascends, the remote part is unchanged and the local part is a run ending at the last.
  std::uint64_t state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull, state >> 33; };
  std::vector<float> kv(3 * 200, 0.0f);
  std::vector<std::int64_t> pos(200);
  for (std::size_t t = 0, p = 0; t < 200; ++t) pos[t] = static_cast<std::int64_t>(p += 1 + next() % 5);
  auto l = kvc::make_layer(kvc::strided_view<const float>::contiguous(kv.data(), 3, 200, 1),
                           kvc::strided_view<const float>::contiguous(kv.data(), 3, 200, 1));
  l.positions = pos;
  for (int round = 0; round < 5; ++round) {
    std::vector<std::vector<kvc::index_t>> heads(3);
    for (auto& h : heads)
      for (kvc::index_t t = 0; t < 200; ++t)
        if (next() % 3 == 0) h.push_back(t);
    const auto keep = kvc::keep_set::from_heads(200, heads);
    const auto base = kvc::merge::drop{}(l, kvc::score_matrix(3, 200), keep);
    for (std::size_t local : {0u, 1u, 5u, 30u, 500u}) {
      auto c = base;
      kvc::merge::relocate_positions(c, position_mode::remote_gap, local);
      for (std::size_t h = 0; h < 3; ++h) {
        const auto p = std::as_const(c).positions(h), p0 = base.positions(h);
        const std::size_t k = p.size(), L = std::min(local, k);
        for (std::size_t i = 1; i < k; ++i) CHECK(p[i - 1] < p[i]);
        for (std::size_t i = 0; i < k - L; ++i) CHECK(p[i] == p0[i]);
        for (std::size_t i = k - L; i < k; ++i) CHECK(p[i] == p0[k - 1] - static_cast<std::int64_t>(k - 1 - i));
      }
    }
  }
}

TEST_CASE("relocate_positions: bad input throws and changes nothing") {
  const fixture f;
  auto c = f.compressed();
  const auto before0 = of(c, 0), before1 = of(c, 1);
  CHECK_THROWS_AS(kvc::merge::relocate_positions(c, static_cast<position_mode>(7)), kvc::error);
  // Head 1 descending: remote_gap cannot keep remote gaps of an unordered head.
  c.positions(1)[0] = 500;
  try {
    kvc::merge::relocate_positions(c, position_mode::remote_gap, 1);
    FAIL("expected kvc::error");
  } catch (const kvc::error& e) {
    CHECK(e.argument() == "positions(1)");
  }
  CHECK(of(c, 0) == before0);  // head 0 was valid and still was not touched
  CHECK(of(c, 1) == positions{500, before1[1]});
  auto l = kvc::make_layer(kvc::strided_view<const float>::contiguous(f.kv.data(), 2, 17, 1),
                           kvc::strided_view<const float>::contiguous(f.kv.data(), 2, 17, 1));
  CHECK_THROWS_AS((void)kvc::merge::relocate<>{.mode = static_cast<position_mode>(-1)}(l, kvc::score_matrix(2, 17), f.keep),
                  kvc::error);
}
