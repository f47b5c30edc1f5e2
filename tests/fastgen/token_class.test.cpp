#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kvc/fastgen/punctuation.hpp"
#include "kvc/fastgen/token_class.hpp"

using kvc::fastgen::token_class;

TEST_CASE("fastgen::classify marks special and punctuation tokens; special wins over punctuation") {
  const std::vector<std::int32_t> ids{1, 7, 13, 7, 42, 2, 9};
  const std::vector<std::int32_t> special{2, 1};    // unsorted on purpose
  const std::vector<std::int32_t> punct{13, 9, 2};  // 2 is also special
  const auto c = kvc::fastgen::classify(ids, special, punct);
  const std::vector<token_class> expected{token_class::special, token_class::plain,   token_class::punctuation,
                                          token_class::plain,   token_class::plain,   token_class::special,
                                          token_class::punctuation};
  CHECK(c == expected);
  CHECK(kvc::fastgen::classify({}, special, punct).empty());
}

TEST_CASE("fastgen::punctuation_ids keeps ASCII punctuation, with or without whitespace markers") {
  const std::vector<std::string> vocab{
      "<s>",                // 0 special-looking, letters inside
      ".",                  // 1
      "\xE2\x96\x81,",      // 2 "▁," SentencePiece
      "\xC4\xA0?",          // 3 "Ġ?" byte-level BPE
      ".\xC4\x8A",          // 4 ".Ċ" period + newline
      "?!",                 // 5
      "\xE2\x96\x81",       // 6 "▁" alone: whitespace only
      "the",                // 7
      "<0x2E>",             // 8 byte fallback: not recognised
      "\xE3\x80\x82",       // 9 "。" non-ASCII
      "",                   // 10 empty
      " \n",                // 11 whitespace only
      "a.",                 // 12 mixed
      "...",                // 13
  };
  const std::vector<std::int32_t> expected{1, 2, 3, 4, 5, 13};
  CHECK(kvc::fastgen::punctuation_ids(vocab) == expected);
}
