#pragma once
// f(K, V, C) of FastGen (Ge et al. 2024, §3.3, Algorithm 1 line 5) for one head at the end of the
// prompt: the tokens policy C keeps out of n. docs/fastgen.md#policies
//   special / punct   tokens of that class
//   local             the last share(r_l, n) tokens (relative distance to the current token below r_l · n)
//   frequent          the share(r_f, n) tokens with the highest accumulated attention; ties: lower index
//   full              all n
// share(r, n) = clamp(round(r · n), 1, n), the same rounding as kvc::budget::ratio.

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/fastgen/cache_policy.hpp"
#include "kvc/fastgen/token_class.hpp"
#include "kvc/select/detail/rank.hpp"

namespace kvc::fastgen {

/// How many of `n` tokens a ratio r_l or r_f allows: clamp(round(r · n), 1, n); 0 when n is 0.
inline std::size_t share(double ratio, std::size_t n) {
  if (n == 0) return 0;
  const auto k = static_cast<std::size_t>(std::llround(ratio * static_cast<double>(n)));
  return std::clamp<std::size_t>(k, 1, n);
}

namespace detail {
inline void require_ratio(double r, const char* name) {
  kvc::detail::require(r > 0.0 && r <= 1.0, name, "a ratio in (0, 1]", r);
}
}  // namespace detail

/// Marks (1) the tokens `policy` keeps, given the head's accumulated attention (one value per
/// token) and the token classes (empty: every token plain).
inline std::vector<char> kept_tokens(const cache_policy& policy, std::span<const token_class> classes,
                                     std::span<const float> accumulated, double local_ratio,
                                     double frequent_ratio) {
  const std::size_t n = accumulated.size();
  detail::require_classes(classes, n);
  detail::require_ratio(local_ratio, "local_ratio");
  detail::require_ratio(frequent_ratio, "frequent_ratio");
  std::vector<char> heavy(n, 0);  // C_frequent, chosen among all tokens (then united: the paper's "+")
  if (policy.frequent && !policy.full) select::detail::fill_by_score(accumulated, heavy, share(frequent_ratio, n));
  const std::size_t local_begin = n - share(local_ratio, n);
  std::vector<char> keep(n);
  for (std::size_t t = 0; t < n; ++t)
    keep[t] = policy.keeps(detail::class_of(classes, t), heavy[t] != 0, t >= local_begin) ? 1 : 0;
  return keep;
}

}  // namespace kvc::fastgen
