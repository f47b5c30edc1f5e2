#include <doctest/doctest.h>
#include <kvc/core/keep_set.hpp>

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
