#pragma once
// The punctuation set for FastGen's C_punct (Ge et al. 2024, §3.4: "punctuation tokens like
// '.', ':', '?'"), derived from a vocabulary's token strings. docs/fastgen.md#token-classes
//
// A token is punctuation when, after removing whitespace and the tokenizers' whitespace markers
// (SentencePiece "▁", byte-level BPE "Ġ" space, "Ċ" newline, "ĉ" tab), at least one character is
// left and every one is ASCII punctuation. "." , "▁," , "Ġ?" , ".Ċ" , "?!" qualify; "▁", "<s>",
// "<0x2E>" (byte fallback) and non-ASCII marks such as "。" do not.

#include "kvc/version.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvc::fastgen {

namespace detail {
inline bool is_punctuation_token(std::string_view s) {
  // Whitespace markers, as UTF-8: ▁ U+2581, Ġ U+0120, Ċ U+010A, ĉ U+0109.
  static constexpr std::string_view markers[] = {"\xE2\x96\x81", "\xC4\xA0", "\xC4\x8A", "\xC4\x89"};
  std::size_t punct = 0;
  for (std::size_t i = 0; i < s.size();) {
    bool marker = false;
    for (auto m : markers)
      if (s.substr(i, m.size()) == m) {
        i += m.size();
        marker = true;
        break;
      }
    if (marker) continue;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      ++i;
      continue;
    }
    // ASCII punctuation: ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~
    const bool ascii_punct = (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                             (c >= 0x7B && c <= 0x7E);
    if (!ascii_punct) return false;
    ++punct;
    ++i;
  }
  return punct > 0;
}
}  // namespace detail

/// Ids (indices into `vocab`, ascending) of the tokens whose string is punctuation.
inline std::vector<std::int32_t> punctuation_ids(std::span<const std::string> vocab) {
  std::vector<std::int32_t> out;
  for (std::size_t id = 0; id < vocab.size(); ++id)
    if (detail::is_punctuation_token(vocab[id])) out.push_back(static_cast<std::int32_t>(id));
  return out;
}

}  // namespace kvc::fastgen
