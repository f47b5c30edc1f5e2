#pragma once
// FastGen's token classes (Ge et al. 2024, §3.4): the C_special and C_punct policies keep a token
// by what it is, not by its attention. The caller knows its tokenizer, so it supplies one class per
// cached token; classify() builds that mask from token ids and the two id sets.

#include "kvc/version.hpp"

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvc/core/error.hpp"

namespace kvc::fastgen {

// g++'s -Wshadow reports these scoped enumerators as shadowing the policies fastgen::special and
// fastgen::punctuation (cache_policy.hpp), although token_class::special can never be named bare.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
enum class token_class : std::uint8_t {
  plain,        ///< kept only by attention (frequent), position (local) or full
  special,      ///< BOS, chat-template control tokens ([INST], <|im_start|> ...)
  punctuation,  ///< ".", ":", "?" ... (see fastgen::punctuation_ids)
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

inline std::string_view to_string(token_class c) {
  switch (c) {
    case token_class::special: return "special";
    case token_class::punctuation: return "punctuation";
    default: return "plain";
  }
}
inline std::ostream& operator<<(std::ostream& os, token_class c) { return os << to_string(c); }

/// One class per token of `token_ids`. An id in both sets is special (special wins).
inline std::vector<token_class> classify(std::span<const std::int32_t> token_ids,
                                         std::span<const std::int32_t> special_ids,
                                         std::span<const std::int32_t> punctuation_ids) {
  std::vector<std::int32_t> specials(special_ids.begin(), special_ids.end());
  std::vector<std::int32_t> punct(punctuation_ids.begin(), punctuation_ids.end());
  std::sort(specials.begin(), specials.end());
  std::sort(punct.begin(), punct.end());
  std::vector<token_class> out(token_ids.size(), token_class::plain);
  for (std::size_t t = 0; t < token_ids.size(); ++t) {
    if (std::binary_search(specials.begin(), specials.end(), token_ids[t]))
      out[t] = token_class::special;
    else if (std::binary_search(punct.begin(), punct.end(), token_ids[t]))
      out[t] = token_class::punctuation;
  }
  return out;
}

namespace detail {
/// A class mask is either empty (no class information: every token plain) or one class per token.
inline void require_classes(std::span<const token_class> classes, std::size_t tokens) {
  kvc::detail::require(classes.empty() || classes.size() == tokens, "classes.size()",
                       "0 or one class per token (" + std::to_string(tokens) + ")", classes.size());
  for (std::size_t t = 0; t < classes.size(); ++t)
    kvc::detail::require(classes[t] == token_class::plain || classes[t] == token_class::special ||
                             classes[t] == token_class::punctuation,
                         "classes[" + std::to_string(t) + "]", "plain, special or punctuation",
                         static_cast<int>(classes[t]));
}
inline token_class class_of(std::span<const token_class> classes, std::size_t t) {
  return classes.empty() ? token_class::plain : classes[t];
}
}  // namespace detail

}  // namespace kvc::fastgen
