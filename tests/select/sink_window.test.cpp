// StreamingLLM's selection: attention sinks plus the most recent tokens.
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/select/sink_window.hpp"
#include "policy/random_layer.hpp"

using V = std::vector<kvc::index_t>;

TEST_CASE("sink_window: 4 sinks and budget 6 on 10 tokens keeps {0,1,2,3,8,9}") {
  const kvc::score_matrix s(2, 10);
  const auto k = kvc::select::sink_window{}(s, 6);
  CHECK(kvc::select::sink_window{}.sinks == 4);
  CHECK(kvc::test::kept(k, 0) == V{0, 1, 2, 3, 8, 9});
  CHECK(kvc::test::kept(k, 1) == V{0, 1, 2, 3, 8, 9});
}

TEST_CASE("sink_window: scores are ignored, edge budgets") {
  kvc::score_matrix s(1, 10);
  for (std::size_t t = 0; t < 10; ++t) s(0, t) = static_cast<float>(10 - t);  // favours early tokens
  CHECK(kvc::test::kept(kvc::select::sink_window{}(s, 4), 0) == V{0, 1, 2, 3});        // sinks only
  CHECK(kvc::test::kept(kvc::select::sink_window{}(s, 10), 0) == V{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(kvc::test::kept(kvc::select::sink_window{.sinks = 0}(s, 3), 0) == V{7, 8, 9});  // pure window
  s(0, 5) = std::numeric_limits<float>::quiet_NaN();  // never read
  CHECK(kvc::test::kept(kvc::select::sink_window{.sinks = 1}(s, 3), 0) == V{0, 8, 9});
  // A cache shorter than the sink count: every token is a sink.
  const kvc::score_matrix tiny(1, 3);
  CHECK(kvc::test::kept(kvc::select::sink_window{}(tiny, 3), 0) == V{0, 1, 2});
}

TEST_CASE("sink_window: bad budgets name the budget") {
  const kvc::score_matrix s(1, 10);
  auto argument_of = [&](std::size_t budget) {
    try {
      (void)kvc::select::sink_window{}(s, budget);
    } catch (const kvc::error& e) {
      return e.argument();
    }
    return std::string("no error");
  };
  CHECK(argument_of(3) == "budget");   // below the 4 sinks
  CHECK(argument_of(11) == "budget");  // above the cache
  CHECK(argument_of(0) == "budget");
}
