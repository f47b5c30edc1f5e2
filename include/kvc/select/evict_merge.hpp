#pragma once
// EMS's head-wise evict-then-merge split (Li et al. 2024; docs/ems.md), from scores and, for
// the merge, the keys and values. Per kv head, with budget B, three bands:
//   1. important: the last `recent` tokens plus the top-(B − recent) of the rest by score (ties
//      to the lower index), exactly B tokens: they are kept, and are the class centers;
//   2. middle: the other tokens among the head's most important ones, the fewest that, taken by
//      score from the top (ties to the lower index), hold `merge_mass` of the head's positive
//      score mass (ems::relevant_count). They are merge candidates: with the layer at hand (the
//      form the pipeline calls) ems::assign_centers joins each to its most similar center, or
//      evicts it when no center reaches `min_similarity`;
//   3. irrelevant: every other token goes to the zero class (evicted).
// A head whose centers already hold merge_mass of its mass (a sparse head) merges nothing; a
// flat head merges many tokens, so the band sizes differ per head. The result is a
// kvc::ems::class_assignment: one class id per (kv_head, token). The scores-only form stops
// before the similarity and marks candidates `pending`.

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

namespace kvc::ems {

/// The size of a head's relevant set, for every path: the fewest leading entries of the head's
/// scores in rank order (`score_at(r)`: the score of rank r, best first) whose positive parts
/// sum, in rank order, to at least `mass` of the sum of all of them; 0 when the head has no
/// positive score.
template <class ScoreAt>
KVC_HOST_DEVICE std::size_t relevant_count(const ScoreAt& score_at, std::size_t n, double mass) {
  double total = 0.0;
  for (std::size_t r = 0; r < n; ++r) {
    const auto x = static_cast<double>(score_at(r));
    total += x > 0.0 ? x : 0.0;
  }
  if (total <= 0.0) return 0;
  const double target = mass * total;
  double held = 0.0;
  for (std::size_t r = 0; r < n; ++r) {
    const auto x = static_cast<double>(score_at(r));
    held += x > 0.0 ? x : 0.0;
    if (held >= target) return r + 1;
  }
  return n;
}

}  // namespace kvc::ems

namespace kvc::select {

struct evict_merge {
  std::size_t recent = 32;   ///< last tokens always kept as centers (the observation window)
  double merge_mass = 0.9;   ///< share of a head's score mass its important and middle bands hold
  double min_similarity = 0.0;  ///< similarity a candidate needs to join a center (else evicted)
  ems::similarity_measure similarity = ems::similarity_measure::key_value;  ///< how it is compared

  /// The checks of the split; gives the protected window min(recent, n).
  [[nodiscard]] std::size_t check(std::size_t n, std::size_t budget) const {
    kvc::detail::require(merge_mass >= 0.0 && merge_mass <= 1.0, "evict_merge.merge_mass", "a fraction in [0, 1]",
                         merge_mass);
    detail::require_budget(budget, std::min(recent, n), n);
    return std::min(recent, n);
  }

  /// The complete assignment: every token kept, merged into a center, or evicted (class 0).
  template <layer_type L>
  ems::class_assignment operator()(const L& l, const score_matrix& s, std::size_t budget) const {
    ems::require_similarity(min_similarity, "evict_merge.min_similarity");
    return ems::assign_centers(l, (*this)(s, budget), min_similarity, similarity);
  }

  /// The bands only: merge candidates are left `pending`.
  ems::class_assignment operator()(const score_matrix& s, std::size_t budget) const {
    const std::size_t n = s.tokens(), heads = s.heads();
    const std::vector<char> guard = detail::protect(n, 0, check(n, budget));
    detail::require_finite(s);

    std::vector<std::vector<index_t>> centers(heads);
    std::vector<ems::class_id> ids(heads * n, ems::class_assignment::zero_class);
    std::vector<std::size_t> ranked(n);
    for (std::size_t h = 0; h < heads; ++h) {
      const auto row = s.row(h);
      std::vector<char> keep = guard;
      detail::fill_by_score(row, keep, budget);
      centers[h] = detail::marked_indices(keep);

      // The middle band: the relevant tokens (by score rank, ties to the lower index) not kept.
      for (std::size_t t = 0; t < n; ++t) ranked[t] = t;
      std::stable_sort(ranked.begin(), ranked.end(), [&](std::size_t x, std::size_t y) { return row[x] > row[y]; });
      const std::size_t relevant = ems::relevant_count([&](std::size_t r) { return row[ranked[r]]; }, n, merge_mass);
      for (std::size_t r = 0; r < relevant; ++r)
        if (!keep[ranked[r]]) ids[h * n + ranked[r]] = ems::class_assignment::pending;

      ems::class_id rank = 0;
      for (std::size_t t = 0; t < n; ++t)
        if (keep[t]) ids[h * n + t] = ++rank;  // its own center
    }
    return {keep_set::from_heads(n, centers), std::move(ids)};
  }
};

}  // namespace kvc::select
