#pragma once
// FastGen as a kvc selector (Ge et al. 2024, Eq. 1): scores are the accumulated attention of the
// prompt's queries (score::accumulated_attention); each head keeps the cache of its profiled policy,
// so budgets are ragged across heads. docs/fastgen.md#pipeline
//
// The per-head budget the pipeline passes is ignored by default: T decides how much each head
// keeps (pass budget::ratio{1.0}). Two kvc options make it an upper bound on each head:
//   budget_use::trim  a head whose profiled policy C* keeps more than the budget keeps `budget` of
//                     C*'s tokens: its special tokens first (in token order), then the rest of C*
//                     by score (ties to the lower index). The policy stays the one T chose.
//   budget_use::cap   a head takes the cheapest candidate reaching T among those that fit; else
//                     the largest fitting candidate with the rest of the cap spent on the heaviest
//                     remaining tokens (C_frequent widened to the cap); else (not even C_special
//                     fits) its `budget` best special tokens by score. A cheaper policy replaces
//                     C*, so a head profiled as needing C_frequent can end up keeping every
//                     punctuation token instead.

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

#include "kvc/core/keep_set.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/fastgen/kept_tokens.hpp"
#include "kvc/fastgen/policy_table.hpp"
#include "kvc/fastgen/profile.hpp"
#include "kvc/fastgen/recovery.hpp"
#include "kvc/fastgen/token_class.hpp"
#include "kvc/select/detail/rank.hpp"

namespace kvc::fastgen {

/// What the selector keeps (a keep_set) and why (the profiled policy of every head).
struct selection : keep_set {
  policy_table table;
};

enum class budget_use {
  ignore,  ///< the paper: T alone sets each head's cache
  cap,     ///< no head keeps more than the budget: the largest candidate that fits, filled by score
  trim,    ///< no head keeps more than the budget: C*'s special tokens, then C*'s heaviest tokens
};

struct selector {
  std::span<const token_class> classes{};  ///< one per cached token; empty: no special/punctuation tokens
  double recovery_threshold = 0.95;        ///< T
  double local_ratio = 0.3;                ///< r_l
  double frequent_ratio = 0.3;             ///< r_f
  budget_use budget = budget_use::ignore;

  selection operator()(const score_matrix& s, std::size_t per_head_budget) const {
    const profile_parameters p{recovery_threshold, local_ratio, frequent_ratio};
    detail::require_parameters(p);
    detail::require_accumulated(s);
    detail::require_classes(classes, s.tokens());
    if (budget != budget_use::ignore) select::detail::require_budget(per_head_budget, 1, s.tokens());

    const std::size_t n = s.tokens();
    selection out;
    out.table = {{}, n, p.recovery_threshold, p.local_ratio, p.frequent_ratio};
    std::vector<std::vector<index_t>> heads(s.heads());
    for (std::size_t h = 0; h < s.heads(); ++h) {
      const auto row = s.row(h);
      head_profile chosen = profile_head(row, classes, p);
      std::vector<char> keep = kept_tokens(chosen.policy, classes, row, p.local_ratio, p.frequent_ratio);
      if (budget == budget_use::cap && chosen.kept > per_head_budget) {
        chosen = capped_choice(row, per_head_budget, keep);
      } else if (budget == budget_use::trim && chosen.kept > per_head_budget) {
        chosen = trimmed(row, chosen.policy, per_head_budget, keep);
      }
      heads[h] = select::detail::marked_indices(keep);
      out.table.heads.push_back(chosen);
    }
    static_cast<keep_set&>(out) = keep_set::from_heads(n, heads);
    return out;
  }

 private:
  // C*'s tokens, its special tokens first (token order), then the others by score (ties to the
  // lower index); the first `cap` are kept.
  head_profile trimmed(std::span<const float> row, const cache_policy& policy, std::size_t cap,
                       std::vector<char>& keep) const {
    std::vector<std::size_t> order, rest;
    for (std::size_t t = 0; t < row.size(); ++t) {
      if (!keep[t]) continue;
      (detail::class_of(classes, t) == token_class::special ? order : rest).push_back(t);
    }
    std::stable_sort(rest.begin(), rest.end(), [&](std::size_t x, std::size_t y) { return row[x] > row[y]; });
    order.insert(order.end(), rest.begin(), rest.end());
    keep.assign(row.size(), 0);
    for (std::size_t r = 0; r < cap; ++r) keep[order[r]] = 1;
    return {policy, recovery(row, keep), cap, true};
  }

  // The candidates are nested, so the last one that fits recovers the most of those that fit.
  head_profile capped_choice(std::span<const float> row, std::size_t cap, std::vector<char>& keep) const {
    head_profile best{};
    bool found = false;
    for (const cache_policy& c : hybrid_candidates) {
      auto k = kept_tokens(c, classes, row, local_ratio, frequent_ratio);
      const auto cost = static_cast<std::size_t>(std::count(k.begin(), k.end(), char{1}));
      if (cost > cap) break;
      best = {c, recovery(row, k), cost, true};
      keep = std::move(k);
      found = true;
    }
    if (found && best.kept < cap) {
      // Spend the rest of the cap on the heaviest remaining tokens: C_frequent with the share
      // the cap leaves, so a capped head uses its whole budget.
      select::detail::fill_by_score(row, keep, cap);
      best = {best.policy + frequent, recovery(row, keep), cap, true};
    }
    if (!found) {  // even C_special is over the cap: its `cap` best tokens by score
      std::vector<char> specials = kept_tokens(special, classes, row, local_ratio, frequent_ratio);
      std::vector<float> masked(row.begin(), row.end());
      for (std::size_t t = 0; t < masked.size(); ++t)
        if (!specials[t]) masked[t] = -1.0f;  // accumulated attention is >= 0, so these rank last
      keep.assign(row.size(), 0);
      select::detail::fill_by_score(masked, keep, cap);
      best = {special, recovery(row, keep), cap, true};
    }
    return best;
  }
};

}  // namespace kvc::fastgen
