#include <doctest/doctest.h>
#include <kvc/core/keep_set.hpp>

#include <string>
#include <utility>
#include <vector>

TEST_CASE("keep_set is CSR over heads with ascending indices") {
  const auto k = kvc::keep_set::from_heads(10, {{0, 3, 9}, {}, {5}});
  CHECK(k.heads() == 3);
  CHECK(k.tokens() == 10);
  CHECK(k.total() == 4);
  CHECK(k.kept(0) == 3);
  CHECK(k.kept(1) == 0);
  CHECK(k.offsets() == std::vector<std::size_t>{0, 3, 3, 4});
  CHECK(k.head(2)[0] == 5);
  CHECK(k.contains(0, 9));
  CHECK_FALSE(k.contains(0, 4));
}

TEST_CASE("keep_set rejects malformed input, naming the argument") {
  CHECK_THROWS_WITH_AS(kvc::keep_set::from_heads(10, {{3, 3}}), doctest::Contains("keep_set.indices"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::keep_set::from_heads(10, {{4, 2}}), doctest::Contains("ascending"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::keep_set::from_heads(4, {{1, 4}}), doctest::Contains("[0, 4)"), kvc::error);
  CHECK_THROWS_AS(kvc::keep_set(4, {0, 2}, {1}), kvc::error);
  CHECK_THROWS_AS(kvc::keep_set(4, {1, 1}, {1}), kvc::error);
  try {
    (void)kvc::keep_set::from_heads(4, {{-1}});
    FAIL("no throw");
  } catch (const kvc::error& e) {
    CHECK(e.argument() == "keep_set.indices");
    CHECK(std::string(e.what()).find("got -1") != std::string::npos);
  }
}

namespace {
std::string argument_of_keep_set(std::size_t tokens, std::vector<std::size_t> offsets, std::vector<kvc::index_t> indices) {
  try {
    (void)kvc::keep_set(tokens, std::move(offsets), std::move(indices));
  } catch (const kvc::error& e) {
    return e.argument();
  }
  return "no error";
}
}  // namespace

TEST_CASE("keep_set checks its offsets before it reads any index") {
  // No offsets at all: not even the leading 0 of an empty set.
  CHECK(argument_of_keep_set(4, {}, {}) == "keep_set.offsets.size()");
  CHECK(argument_of_keep_set(4, {1, 1}, {2}) == "keep_set.offsets[0]");
  // offsets[1] = 10 points far past the 2 indices; the old check read indices[0..10) first.
  CHECK(argument_of_keep_set(4, {0, 10, 2}, {1, 2}) == "keep_set.offsets[2]");
  try {
    (void)kvc::keep_set(4, {0, 10, 2}, {1, 2});
  } catch (const kvc::error& e) {
    CHECK(std::string(e.what()).find("at least offsets[1] = 10") != std::string::npos);
    CHECK(std::string(e.what()).find("got 2") != std::string::npos);
  }
  // Monotone but ending past the indices, or short of them.
  CHECK(argument_of_keep_set(4, {0, 1, 3}, {1, 2}) == "keep_set.offsets.back()");
  CHECK(argument_of_keep_set(4, {0, 1, 1}, {1, 2}) == "keep_set.offsets.back()");
  // Well-formed offsets, then the indices: range, then order within a head (not across heads).
  CHECK(argument_of_keep_set(4, {0, 2, 3}, {1, 4, 0}) == "keep_set.indices");
  CHECK(argument_of_keep_set(4, {0, 2, 3}, {3, 1, 0}) == "keep_set.indices");
  CHECK(argument_of_keep_set(4, {0, 2, 3}, {1, 3, 0}) == "no error");
  CHECK(argument_of_keep_set(4, {0}, {}) == "no error");  // no heads
}
