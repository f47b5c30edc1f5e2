#include <doctest/doctest.h>

#include <sstream>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/fastgen/cache_policy.hpp"
#include "kvc/fastgen/kept_tokens.hpp"
#include "kvc/fastgen/recovery.hpp"

namespace fg = kvc::fastgen;
using fg::token_class;

TEST_CASE("fastgen policies compose by union and print the paper's names") {
  CHECK((fg::special + fg::punctuation).special);
  CHECK((fg::special + fg::punctuation).punctuation);
  CHECK_FALSE((fg::special + fg::punctuation).frequent);
  CHECK(fg::special + fg::special == fg::special);
  CHECK(fg::local + fg::frequent == fg::frequent + fg::local);
  CHECK(fg::cache_policy{}.to_string() == "none");
  CHECK((fg::local + fg::special + fg::frequent + fg::punctuation).to_string() == "special+punct+frequent+local");
  CHECK((fg::full + fg::special).to_string() == "full");
  std::ostringstream s;
  s << fg::frequent + fg::local;
  CHECK(s.str() == "frequent+local");
}

TEST_CASE("fastgen::hybrid_candidates is Eq. 2 in the paper's order") {
  REQUIRE(fg::hybrid_candidates.size() == 5);
  CHECK(fg::hybrid_candidates[0].to_string() == "special");
  CHECK(fg::hybrid_candidates[1].to_string() == "special+punct");
  CHECK(fg::hybrid_candidates[2].to_string() == "special+punct+frequent");
  CHECK(fg::hybrid_candidates[3].to_string() == "special+punct+frequent+local");
  CHECK(fg::hybrid_candidates[4].to_string() == "full");
}

TEST_CASE("fastgen::share rounds like budget::ratio and stays in [1, n]") {
  CHECK(fg::share(0.3, 6) == 2);    // 1.8
  CHECK(fg::share(0.3, 7) == 2);    // 2.1
  CHECK(fg::share(0.3, 20) == 6);
  CHECK(fg::share(0.3, 1) == 1);    // 0.3 rounds to 0, at least 1
  CHECK(fg::share(1.0, 9) == 9);
  CHECK(fg::share(0.3, 0) == 0);
}

// Six tokens; token 0 special (BOS), token 3 punctuation. Accumulated attention of six uniform
// causal rows (row j spreads 1 over tokens 0..j): a_t = sum_{j >= t} 1/(j+1).
//   a = 2.45, 1.45, 0.95, 0.616667, 0.366667, 0.166667  (sum 6)
// share(0.3, 6) = 2: local keeps {4, 5}, frequent keeps the top two {0, 1}.
TEST_CASE("fastgen::kept_tokens: each policy's tokens on a 6-token example") {
  const std::vector<float> a{2.45f, 1.45f, 0.95f, 0.6166667f, 0.3666667f, 0.1666667f};
  const std::vector<token_class> cls{token_class::special, token_class::plain, token_class::plain,
                                     token_class::punctuation, token_class::plain, token_class::plain};
  auto kept = [&](fg::cache_policy c) { return fg::kept_tokens(c, cls, a, 0.3, 0.3); };
  CHECK(kept(fg::special) == std::vector<char>{1, 0, 0, 0, 0, 0});
  CHECK(kept(fg::punctuation) == std::vector<char>{0, 0, 0, 1, 0, 0});
  CHECK(kept(fg::local) == std::vector<char>{0, 0, 0, 0, 1, 1});
  CHECK(kept(fg::frequent) == std::vector<char>{1, 1, 0, 0, 0, 0});
  CHECK(kept(fg::full) == std::vector<char>{1, 1, 1, 1, 1, 1});
  CHECK(kept(fg::special + fg::punctuation + fg::frequent + fg::local) == std::vector<char>{1, 1, 0, 1, 1, 1});
  // No class information: special and punct keep nothing.
  CHECK(fg::kept_tokens(fg::special + fg::punctuation, {}, a, 0.3, 0.3) == std::vector<char>(6, 0));
  // Frequent ties go to the lower index.
  const std::vector<float> flat(5, 1.0f);
  CHECK(fg::kept_tokens(fg::frequent, {}, flat, 0.3, 0.4) == std::vector<char>{1, 1, 0, 0, 0});

  // Recovery, by hand: special 2.45/6, +punct 3.066667/6, +frequent 4.516667/6, +local 5.05/6.
  CHECK(fg::recovery(a, kept(fg::special)) == doctest::Approx(0.408333).epsilon(1e-5));
  CHECK(fg::recovery(a, kept(fg::special + fg::punctuation)) == doctest::Approx(0.511111).epsilon(1e-5));
  CHECK(fg::recovery(a, kept(fg::special + fg::punctuation + fg::frequent)) ==
        doctest::Approx(0.752778).epsilon(1e-5));
  CHECK(fg::recovery(a, kept(fg::special + fg::punctuation + fg::frequent + fg::local)) ==
        doctest::Approx(0.841667).epsilon(1e-5));
  CHECK(fg::recovery(a, kept(fg::full)) == 1.0);
}

TEST_CASE("fastgen::kept_tokens and recovery reject bad input") {
  const std::vector<float> a{1.0f, 2.0f, 3.0f};
  const std::vector<token_class> two(2, token_class::plain);
  CHECK_THROWS_AS(fg::kept_tokens(fg::special, two, a, 0.3, 0.3), kvc::error);
  CHECK_THROWS_AS(fg::kept_tokens(fg::local, {}, a, 0.0, 0.3), kvc::error);
  CHECK_THROWS_AS(fg::kept_tokens(fg::frequent, {}, a, 0.3, 1.5), kvc::error);
  const std::vector<token_class> bad{token_class::plain, static_cast<token_class>(7), token_class::plain};
  CHECK_THROWS_AS(fg::kept_tokens(fg::special, bad, a, 0.3, 0.3), kvc::error);
  CHECK_THROWS_AS(fg::recovery(a, std::vector<char>{1, 0}), kvc::error);
  CHECK_THROWS_AS(fg::recovery(std::vector<float>{0.0f, 0.0f}, std::vector<char>{1, 0}), kvc::error);
  CHECK_THROWS_AS(fg::recovery(std::vector<float>{1.0f, -0.5f}, std::vector<char>{1, 0}), kvc::error);
}
