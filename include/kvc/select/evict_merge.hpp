#pragma once
// EMS's head-wise evict-then-merge split (Li et al. 2024; kvc's reading, docs/ems.md), from
// scores alone. Per kv head, with budget B:
//   1. class centers: the last `recent` tokens plus the top-(B − recent) of the rest by score
//      (ties to the lower index), exactly B tokens;
//   2. sparsity: m_h = sum_{kept} s⁺ / sum_{all} s⁺ (s⁺ = max(s, 0)) is the share of the
//      head's score mass the centers already hold. A sparse head (m_h >= sparse_mass) loses
//      little by dropping the rest, and merging its noise would only dilute the centers: every
//      other token goes to the zero class (evicted);
//   3. otherwise every other token is a merge candidate; with the layer at hand (the form the
//      pipeline calls) ems::assign_centers joins it to its most key-similar center, or evicts
//      it when no center reaches `min_similarity` (the head's redundancy decides).
// The result is a kvc::ems::class_assignment: one class id per (kv_head, token). The scores-only
// form stops before step 3 and marks candidates `pending`.

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/ems/assign_centers.hpp"
#include "kvc/ems/class_assignment.hpp"
#include "kvc/select/detail/rank.hpp"

namespace kvc::select {

struct evict_merge {
  std::size_t recent = 32;   ///< last tokens always kept as centers (the observation window)
  double sparse_mass = 0.9;  ///< a head whose centers hold this share of its score mass evicts the rest
  double min_similarity = 0.0;  ///< key cosine similarity a candidate needs to join a center

  // The checks and the element math, for every path.

  /// The checks of steps 1-2; gives the protected window min(recent, n).
  [[nodiscard]] std::size_t check(std::size_t n, std::size_t budget) const {
    kvc::detail::require(sparse_mass >= 0.0 && sparse_mass <= 1.0, "evict_merge.sparse_mass",
                         "a fraction in [0, 1]", sparse_mass);
    detail::require_budget(budget, std::min(recent, n), n);
    return std::min(recent, n);
  }
  /// Is the head of `n` scores `row`, keeping the tokens marked in `keep`, sparse? Its centers
  /// hold sparse_mass of its positive score mass m_h (summed in token order), or it has none.
  template <class Mark>
  [[nodiscard]] KVC_HOST_DEVICE bool sparse_head(const float* row, const Mark* keep, std::size_t n) const {
    double kept_mass = 0.0, total_mass = 0.0;
    for (std::size_t t = 0; t < n; ++t) {
      const auto x = static_cast<double>(row[t]);
      const double positive = x > 0.0 ? x : 0.0;
      total_mass += positive;
      if (keep[t] != 0) kept_mass += positive;
    }
    return total_mass <= 0.0 || kept_mass >= sparse_mass * total_mass;
  }

  /// The complete assignment: every token kept, merged into a center, or evicted (class 0).
  template <layer_type L>
  ems::class_assignment operator()(const L& l, const score_matrix& s, std::size_t budget) const {
    ems::require_similarity(min_similarity, "evict_merge.min_similarity");
    return ems::assign_centers(l, (*this)(s, budget), min_similarity);
  }

  /// Steps 1-2 only: merge candidates are left `pending`.
  ems::class_assignment operator()(const score_matrix& s, std::size_t budget) const {
    const std::size_t n = s.tokens(), heads = s.heads();
    const std::vector<char> guard = detail::protect(n, 0, check(n, budget));
    detail::require_finite(s);

    std::vector<std::vector<index_t>> centers(heads);
    std::vector<ems::class_id> ids(heads * n, ems::class_assignment::zero_class);
    for (std::size_t h = 0; h < heads; ++h) {
      const auto row = s.row(h);
      std::vector<char> keep = guard;
      detail::fill_by_score(row, keep, budget);
      centers[h] = detail::marked_indices(keep);

      const bool sparse = sparse_head(row.data(), keep.data(), n);

      ems::class_id rank = 0;
      for (std::size_t t = 0; t < n; ++t) {
        ems::class_id& id = ids[h * n + t];
        if (keep[t])
          id = ++rank;  // its own center
        else
          id = sparse ? ems::class_assignment::zero_class : ems::class_assignment::pending;
      }
    }
    return {keep_set::from_heads(n, centers), std::move(ids)};
  }
};

}  // namespace kvc::select
