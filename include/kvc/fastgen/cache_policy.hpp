#pragma once
// FastGen's KV cache policies (Ge et al. 2024, §3.4) as values that compose by union:
//   C_special   special tokens only             C_punct     punctuation tokens only
//   C_local     tokens within r_l · n of the current one
//   C_frequent  the r_f · n tokens with the most accumulated attention
//   C_full      everything
// "The sum of two compression strategies is the union of their compressed KV cache", so
// `special + punctuation + frequent` is the hybrid C_special+punct.+frequent. Which tokens a policy
// keeps is fastgen::kept_tokens (prompt) and fastgen::decode_cache (generation).

#include "kvc/version.hpp"

#include <array>
#include <ostream>
#include <string>

#include "kvc/core/config.hpp"
#include "kvc/fastgen/token_class.hpp"

namespace kvc::fastgen {

struct cache_policy {
  bool special = false;
  bool punctuation = false;
  bool frequent = false;
  bool local = false;
  bool full = false;

  /// Union of the two compressed caches (the paper's "+").
  friend constexpr cache_policy operator+(const cache_policy& a, const cache_policy& b) {
    return {a.special || b.special, a.punctuation || b.punctuation, a.frequent || b.frequent, a.local || b.local,
            a.full || b.full};
  }
  friend constexpr bool operator==(const cache_policy&, const cache_policy&) = default;

  /// Does this cache keep a token of class k, that is (`heavy`) among C_frequent's and (`local`)
  /// among C_local's? The membership rule, for every path.
  [[nodiscard]] KVC_HOST_DEVICE constexpr bool keeps(token_class k, bool heavy, bool recent) const {
    return full || (special && k == token_class::special) || (punctuation && k == token_class::punctuation) ||
           (frequent && heavy) || (local && recent);
  }

  /// The paper's name without the C: "special+punct+frequent+local", "full"; "none" keeps nothing.
  [[nodiscard]] std::string to_string() const {
    if (full) return "full";
    std::string s;
    auto add = [&](bool on, const char* name) {
      if (!on) return;
      if (!s.empty()) s += '+';
      s += name;
    };
    add(special, "special");
    add(punctuation, "punct");
    add(frequent, "frequent");
    add(local, "local");
    return s.empty() ? "none" : s;
  }
  friend std::ostream& operator<<(std::ostream& os, const cache_policy& c) { return os << c.to_string(); }
};

inline constexpr cache_policy special{.special = true};
inline constexpr cache_policy punctuation{.punctuation = true};
inline constexpr cache_policy frequent{.frequent = true};
inline constexpr cache_policy local{.local = true};
inline constexpr cache_policy full{.full = true};

/// The feasible policy set of Eq. 2, in the paper's greedy order (special first, full last). Each
/// candidate's cache contains the previous one's, so cost and recovery never decrease along it.
inline constexpr std::array<cache_policy, 5> hybrid_candidates{
    special,
    special + punctuation,
    special + punctuation + frequent,
    special + punctuation + frequent + local,
    full,
};

}  // namespace kvc::fastgen
