// The ranking helpers every top-k selector shares.
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/select/detail/rank.hpp"

namespace d = kvc::select::detail;

TEST_CASE("rank: outranks orders by score, then by the lower index") {
  const std::vector<float> s{1.0f, 3.0f, 3.0f, 0.5f};
  CHECK(d::outranks(s, 1, 0));
  CHECK(!d::outranks(s, 0, 1));
  CHECK(d::outranks(s, 1, 2));  // tie: the earlier token wins
  CHECK(!d::outranks(s, 2, 1));
  CHECK(!d::outranks(s, 1, 1));  // strict
}

TEST_CASE("rank: protect marks the first sinks and the last recent tokens") {
  CHECK(d::protect(6, 2, 1) == std::vector<char>{1, 1, 0, 0, 0, 1});
  CHECK(d::protect(4, 3, 3) == std::vector<char>{1, 1, 1, 1});  // overlapping
  CHECK(d::protect(3, 5, 0) == std::vector<char>{1, 1, 1});     // more sinks than tokens
  CHECK(d::protect(3, 0, 0) == std::vector<char>{0, 0, 0});
}

TEST_CASE("rank: fill_by_score adds the best unmarked tokens up to k") {
  const std::vector<float> s{0.2f, 0.9f, 0.2f, 0.4f, 0.9f};
  std::vector<char> keep{0, 0, 0, 0, 1};  // token 4 already kept
  d::fill_by_score(s, keep, 3);
  CHECK(keep == std::vector<char>{0, 1, 0, 1, 1});
  d::fill_by_score(s, keep, 4);  // tie .2/.2: token 0
  CHECK(keep == std::vector<char>{1, 1, 0, 1, 1});
  d::fill_by_score(s, keep, 2);  // already more than k: unchanged
  CHECK(keep == std::vector<char>{1, 1, 0, 1, 1});
  CHECK(d::marked_indices(keep) == std::vector<kvc::index_t>{0, 1, 3, 4});
}

TEST_CASE("rank: require_budget and require_finite name what is wrong") {
  auto message_of = [](auto f) {
    try {
      f();
    } catch (const kvc::error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message_of([] { d::require_budget(5, 2, 10); }) == "no error");
  CHECK(message_of([] { d::require_budget(11, 2, 10); }).find("at most the 10 cached tokens") != std::string::npos);
  CHECK(message_of([] { d::require_budget(1, 2, 10); }).find("at least the 2 protected tokens") != std::string::npos);
  kvc::score_matrix m(2, 3, 0.0f);
  m(1, 2) = -std::numeric_limits<float>::infinity();
  CHECK(message_of([&] { d::require_finite(m); }).find("'scores(1, 2)'") != std::string::npos);
}
