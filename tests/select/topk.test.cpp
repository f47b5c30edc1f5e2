// Top-k selection and its SnapKV / H2O variants.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/select/topk.hpp"
#include "policy/random_layer.hpp"

namespace {
kvc::score_matrix matrix(std::size_t heads, std::size_t tokens, const std::vector<float>& v) {
  kvc::score_matrix s(heads, tokens);
  std::copy(v.begin(), v.end(), s.flat().begin());
  return s;
}
template <class F>
std::string argument_of(F&& f) {
  try {
    f();
  } catch (const kvc::error& e) {
    return e.argument();
  }
  return "no error";
}
using V = std::vector<kvc::index_t>;
}  // namespace

TEST_CASE("topk: keeps the highest scores, ascending, per head") {
  const auto s = matrix(2, 6, {0.1f, 0.9f, 0.3f, 0.8f, 0.2f, 0.7f,  //
                               5.0f, 1.0f, 4.0f, 2.0f, 3.0f, 0.0f});
  const auto k = kvc::select::topk{}(s, 3);
  CHECK(kvc::test::kept(k, 0) == V{1, 3, 5});
  CHECK(kvc::test::kept(k, 1) == V{0, 2, 4});
  CHECK(k.tokens() == 6);
}

TEST_CASE("topk: ties keep the lower index") {
  // Scores 1, 2, 2, 2, 1: budget 2 keeps tokens 1 and 2 (3 loses the tie); budget 4 keeps 0 over 4.
  const auto s = matrix(1, 5, {1, 2, 2, 2, 1});
  CHECK(kvc::test::kept(kvc::select::topk{}(s, 2), 0) == V{1, 2});
  CHECK(kvc::test::kept(kvc::select::topk{}(s, 4), 0) == V{0, 1, 2, 3});
  const auto flat = matrix(1, 6, {0, 0, 0, 0, 0, 0});
  CHECK(kvc::test::kept(kvc::select::topk{}(flat, 3), 0) == V{0, 1, 2});
}

TEST_CASE("topk: protected sinks and recent tokens are kept whatever their scores") {
  const auto s = matrix(1, 8, {-9, 5, 6, 7, 8, 1, 2, -9});
  // sinks 1 (token 0), recent 1 (token 7), then the 2 best of the rest: 4 (8) and 3 (7).
  CHECK(kvc::test::kept(kvc::select::topk{.sinks = 1, .recent = 1}(s, 4), 0) == V{0, 3, 4, 7});
  // budget == protected: only the protected tokens.
  CHECK(kvc::test::kept(kvc::select::topk{.sinks = 1, .recent = 1}(s, 2), 0) == V{0, 7});
}

TEST_CASE("window_topk: SnapKV keeps the observation window and the best of the prefix") {
  const auto s = matrix(1, 8, {0.5f, 0.1f, 0.9f, 0.2f, 0.3f, 0.0f, 0.0f, 0.0f});
  // window 3 = tokens 5, 6, 7; budget 5 leaves 2 for the prefix: tokens 2 (.9) and 0 (.5).
  CHECK(kvc::test::kept(kvc::select::window_topk{.window = 3}(s, 5), 0) == V{0, 2, 5, 6, 7});
  CHECK(kvc::select::window_topk{}.window == 32);
}

TEST_CASE("heavy_recent: H2O splits the budget half recent, half heavy hitters") {
  // 10 tokens, budget 6: recent = floor(0.5 * 6) = 3 (tokens 7, 8, 9), heavy = the 3 best of 0..6.
  const auto s = matrix(1, 10, {0.9f, 0.1f, 0.8f, 0.2f, 0.7f, 0.3f, 0.1f, 0.0f, 0.0f, 0.0f});
  CHECK(kvc::test::kept(kvc::select::heavy_recent{}(s, 6), 0) == V{0, 2, 4, 7, 8, 9});
  // budget 5: recent = floor(2.5) = 2 (tokens 8, 9), heavy = 3.
  CHECK(kvc::test::kept(kvc::select::heavy_recent{}(s, 5), 0) == V{0, 2, 4, 8, 9});
  // recent_fraction 0: pure heavy hitters.
  CHECK(kvc::test::kept(kvc::select::heavy_recent{.recent_fraction = 0.0}(s, 3), 0) == V{0, 2, 4});
  CHECK(kvc::select::heavy_recent{}.recent_fraction == 0.5);
}

TEST_CASE("topk family: properties on random scores") {
  std::mt19937 rng(2024);
  std::normal_distribution<float> normal;
  for (std::size_t n : {1u, 7u, 33u, 200u}) {
    kvc::score_matrix s(3, n);
    for (auto& v : s.flat()) v = std::round(normal(rng) * 4.0f) / 4.0f;  // coarse values: many ties
    for (std::size_t budget : {std::size_t{1}, (n + 1) / 2, n}) {
      const kvc::select::topk sel{.sinks = n > 4 ? 2u : 0u, .recent = n > 4 ? 2u : 0u};
      if (budget < sel.sinks + sel.recent) continue;
      const auto k = sel(s, budget);
      CHECK(k == sel(s, budget));  // same result twice
      CHECK(kvc::test::sorted_unique(k));
      for (std::size_t h = 0; h < 3; ++h) {
        CHECK(k.kept(h) == budget);
        for (std::size_t t = 0; t < sel.sinks; ++t) CHECK(k.contains(h, static_cast<kvc::index_t>(t)));
        for (std::size_t t = n - sel.recent; t < n; ++t) CHECK(k.contains(h, static_cast<kvc::index_t>(t)));
        // Every kept unprotected token outranks every dropped one (ties: lower index wins).
        const auto row = s.row(h);
        for (std::size_t a = sel.sinks; a + sel.recent < n; ++a)
          for (std::size_t b = sel.sinks; b + sel.recent < n; ++b) {
            const bool ka = k.contains(h, static_cast<kvc::index_t>(a)), kb = k.contains(h, static_cast<kvc::index_t>(b));
            if (ka && !kb) CHECK((row[a] > row[b] || (row[a] == row[b] && a < b)));
          }
      }
    }
  }
}

TEST_CASE("topk: bad input names the argument") {
  auto s = matrix(1, 4, {1, 2, 3, 4});
  CHECK(argument_of([&] { (void)kvc::select::topk{}(s, 5); }) == "budget");   // above the cache
  CHECK(argument_of([&] { (void)kvc::select::topk{}(s, 0); }) == "budget");   // nothing kept
  CHECK(argument_of([&] { (void)kvc::select::topk{.sinks = 2, .recent = 1}(s, 2); }) == "budget");  // below protected
  CHECK(argument_of([&] { (void)kvc::select::window_topk{.window = 3}(s, 2); }) == "budget");
  CHECK(argument_of([&] { (void)kvc::select::heavy_recent{.recent_fraction = 1.5}(s, 2); }) ==
        "heavy_recent.recent_fraction");
  s(0, 2) = std::numeric_limits<float>::quiet_NaN();
  CHECK(argument_of([&] { (void)kvc::select::topk{}(s, 2); }) == "scores(0, 2)");
  s(0, 2) = std::numeric_limits<float>::infinity();
  CHECK(argument_of([&] { (void)kvc::select::topk{}(s, 2); }) == "scores(0, 2)");
}
