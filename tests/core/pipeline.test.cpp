#include <doctest/doctest.h>
#include <kvc/kvc.hpp>

#include <vector>

#include "support/random_layer.hpp"

namespace {
struct takes_nothing {
  void operator()() const {}
};
struct wrong_return_scorer {
  template <class L>
  int operator()(const L&, kvc::score_matrix&) const { return 0; }
};
struct needs_argument {
  explicit needs_argument(int) {}
  template <class L>
  void operator()(const L&, kvc::score_matrix&) const {}
};
struct returns_indices {
  std::vector<int> operator()(const kvc::score_matrix&, std::size_t) const { return {}; }
};
// Scores token t of head h as h*100 + t, so the top tokens are the last ones.
struct position_scorer {
  template <kvc::layer_type L>
  void operator()(const L& l, kvc::score_matrix& out) const {
    for (std::size_t h = 0; h < l.kv_heads(); ++h)
      for (std::size_t t = 0; t < l.tokens(); ++t) out(h, t) = static_cast<float>(h * 100 + t);
  }
};
}  // namespace

// The roles are concepts a user can check directly.
static_assert(kvc::scorer<kvc::score::window_attention>);
static_assert(kvc::scorer<kvc::score::key_norm>);
static_assert(kvc::scorer<position_scorer>);
static_assert(!kvc::scorer<takes_nothing>);
static_assert(!kvc::scorer<wrong_return_scorer>);
static_assert(!kvc::scorer<needs_argument>);
static_assert(!kvc::scorer<kvc::select::topk>);
static_assert(kvc::selector<kvc::select::topk>);
static_assert(kvc::selector<kvc::select::sink_window>);
static_assert(!kvc::selector<returns_indices>);
static_assert(kvc::layer_aware_selector<kvc::select::evict_merge>);  // EMS needs the keys
static_assert(kvc::selector<kvc::select::evict_merge>);
static_assert(!kvc::selector<kvc::score::key_norm>);
static_assert(kvc::merger<kvc::merge::drop>);
static_assert(!kvc::merger<kvc::select::topk>);

TEST_CASE("a user scorer composes with a built-in selector and merger") {
  using policy = kvc::pipeline<position_scorer, kvc::select::topk>;
  kvc_test::random_layer<float> r(2, 8, 4, 1, 2, 3);
  const auto out = policy{}(r.layer(), kvc::budget::tokens{3});
  for (std::size_t h = 0; h < 2; ++h) {
    REQUIRE(out.kept(h) == 3);
    CHECK(out.keep().head(h)[0] == 5);
    CHECK(out.keep().head(h)[2] == 7);
    // The merger copied the kept rows and their positions.
    for (std::size_t i = 0; i < 3; ++i) {
      const auto t = static_cast<std::size_t>(out.keep().head(h)[i]);
      CHECK(out.positions(h)[i] == static_cast<std::int64_t>(t));
      for (std::size_t c = 0; c < 4; ++c) {
        CHECK(out.keys(h)(0, i, c) == r.key_view()(h, t, c));
        CHECK(out.values(h)(0, i, c) == r.value_view()(h, t, c));
      }
    }
  }
  CHECK(out.bytes() == 2 * 3 * 4 * 2 * sizeof(float));
  // The same through the free function and the host tag.
  CHECK(kvc::compress(kvc::exec::host, policy{}, r.layer(), kvc::budget::tokens{3}).keep() == out.keep());
  CHECK(policy{}.keep(r.layer(), kvc::budget::tokens{3}) == out.keep());
}

TEST_CASE("engine positions travel with the kept tokens") {
  kvc_test::random_layer<float> r(1, 6, 2, 1, 1, 4);
  auto l = r.layer();
  const std::vector<std::int64_t> pos{100, 101, 102, 103, 104, 105};
  l.positions = pos;
  const auto out = kvc::policy::streaming_llm{.select = {.sinks = 1}}(l, kvc::budget::tokens{3});
  CHECK(std::vector<std::int64_t>(out.positions(0).begin(), out.positions(0).end()) ==
        std::vector<std::int64_t>{100, 104, 105});
}

TEST_CASE("bf16 and fp16 layers compress to the same keep set as their fp32 copy") {
  kvc_test::random_layer<kvc::bf16> r(2, 33, 8, 4, 4, 5);
  std::vector<float> k(r.keys.size()), v(r.values.size()), q(r.queries.size());
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = kvc::to_float(r.keys[i]);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = kvc::to_float(r.values[i]);
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = kvc::to_float(r.queries[i]);
  auto lf = kvc::make_layer(kvc::strided_view<const float>::contiguous(k.data(), 2, 33, 8),
                            kvc::strided_view<const float>::contiguous(v.data(), 2, 33, 8),
                            kvc::strided_view<const float>::contiguous(q.data(), 8, 4, 8));
  const auto a = kvc::policy::snapkv{.score = {.window = 4}, .select = {.window = 4}}(r.layer(), kvc::budget::tokens{10});
  const auto b = kvc::policy::snapkv{.score = {.window = 4}, .select = {.window = 4}}(lf, kvc::budget::tokens{10});
  static_assert(std::is_same_v<decltype(a), const kvc::compressed_layer<kvc::bf16>>);
  CHECK(a.keep() == b.keep());
  CHECK(kvc::to_float(a.keys(1)(0, 3, 5)) == b.keys(1)(0, 3, 5));
}
