#pragma once
// The result of FastGen's profiling (Ge et al. 2024, Algorithm 1): one cache policy per kv head,
// with the recovery it reached and the tokens it keeps, and the parameters it was profiled with
// (generation reuses r_l and r_f). Printable: `std::cout << table` or `table.to_string()`.

#include "kvc/version.hpp"

#include <cstddef>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "kvc/fastgen/cache_policy.hpp"

namespace kvc::fastgen {

struct head_profile {
  cache_policy policy;   ///< C* of Eq. 1
  double recovery = 0;   ///< R(C*), the attention share its cache keeps on the profiled queries
  std::size_t kept = 0;  ///< CacheMemoryCost(C*): tokens in its cache after the prompt
  bool capped = false;   ///< the budget cap forced a cheaper policy than T asked for
  friend bool operator==(const head_profile&, const head_profile&) = default;
};

struct policy_table {
  std::vector<head_profile> heads;
  std::size_t tokens = 0;             ///< prompt tokens profiled
  double recovery_threshold = 0.95;   ///< T
  double local_ratio = 0.3;           ///< r_l
  double frequent_ratio = 0.3;        ///< r_f

  [[nodiscard]] std::size_t size() const noexcept { return heads.size(); }
  [[nodiscard]] const head_profile& operator[](std::size_t h) const { return heads[h]; }
  /// Tokens kept over all heads / (heads · tokens): 1 − the pruned ratio of the paper's Table 1.
  [[nodiscard]] double kept_fraction() const {
    if (heads.empty() || tokens == 0) return 0.0;
    double kept = 0.0;
    for (const auto& h : heads) kept += static_cast<double>(h.kept);
    return kept / (static_cast<double>(heads.size()) * static_cast<double>(tokens));
  }
  friend bool operator==(const policy_table&, const policy_table&) = default;

  friend std::ostream& operator<<(std::ostream& os, const policy_table& t) {
    std::ostringstream s;  // formatting flags stay off the caller's stream
    s << "fastgen policy table: " << t.heads.size() << " heads, " << t.tokens << " tokens, T = "
      << t.recovery_threshold << ", r_l = " << t.local_ratio << ", r_f = " << t.frequent_ratio << '\n';
    for (std::size_t h = 0; h < t.heads.size(); ++h) {
      const auto& p = t.heads[h];
      s << "  head " << h << ": " << p.policy << "  recovery " << std::fixed << std::setprecision(4) << p.recovery
        << "  kept " << p.kept << '/' << t.tokens << (p.capped ? "  (capped by budget)" : "") << '\n';
      s.unsetf(std::ios::floatfield);
      s << std::setprecision(6);
    }
    return os << s.str();
  }
  [[nodiscard]] std::string to_string() const {
    std::ostringstream s;
    s << *this;
    return s.str();
  }
};

}  // namespace kvc::fastgen
