#pragma once
// Device version of kvc::fastgen::selector (FastGen's profiled per-head policy, Ge et al. 2024,
// Eq. 1), ragged budgets and the optional budget cap included:
//   1. find_if + reduce_by_key   scores finite, non-negative, each row with a positive sum (the
//                                host's checks, in the host's order, with its messages)
//   2. stable_sort_by_key        C_frequent of every head: its share(r_f, n) best tokens
//                                (detail::keep_top_per_head, ties to the lower index)
//   3. for_each, one thread per head: R(C) of the five candidates of Eq. 2 in one pass in token
//                                order (as fastgen::recovery sums), C* = the first reaching T
//   4. transform (+ one more stable_sort_by_key when a head exceeds the cap): the marks of the
//                                kept tokens, compacted into the CSR keep_set
//   5. for_each per head: R and the cost of what is kept; read back into the policy table.
// The per-head sums run in the reference's order, so the recoveries, and the table, are the
// host's bit for bit. The token classes are copied to System memory per call. The decode-time
// cache (fastgen::decode_cache) stays on the host. docs/device.md#fastgen

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <cuda/std/cmath>
#include <thrust/copy.h>
#include <thrust/find.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/discard_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/reduce.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include "kvc/core/error.hpp"
#include "kvc/device/detail/attention.hpp"
#include "kvc/device/detail/rank.hpp"
#include "kvc/device/algorithm.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/score_matrix.hpp"
#include "kvc/device/validate.hpp"
#include "kvc/fastgen/cache_policy.hpp"
#include "kvc/fastgen/kept_tokens.hpp"
#include "kvc/fastgen/policy_table.hpp"
#include "kvc/fastgen/profile.hpp"
#include "kvc/fastgen/selector.hpp"
#include "kvc/fastgen/token_class.hpp"
#include "kvc/select/detail/rank.hpp"

namespace kvc::device {

/// What the device FastGen selector keeps (in System memory) and why: the profiled policy of
/// every head, computed on the device and read back (equal to fastgen::selection::table).
template <class System>
struct fastgen_selection : keep_set<System> {
  kvc::fastgen::policy_table table;
};

namespace detail::fastgen {

inline constexpr std::size_t candidate_count = kvc::fastgen::hybrid_candidates.size();

struct not_accumulated_attention {
  KVC_HOST_DEVICE bool operator()(float x) const { return !(::cuda::std::isfinite(x) && x >= 0.0f); }
};

struct widen_to_double {
  KVC_HOST_DEVICE double operator()(float x) const { return x; }
};

/// What one head's cache keeps of token t under policy c (fastgen::kept_tokens, per token).
struct membership {
  const kvc::fastgen::token_class* classes;  // null: every token plain
  const std::uint8_t* heavy;                 // [heads, tokens], C_frequent's marks
  std::size_t tokens, local_begin;           // C_local keeps t >= local_begin
  KVC_HOST_DEVICE bool kept(const kvc::fastgen::cache_policy& c, std::size_t h, std::size_t t) const {
    const auto k = classes != nullptr ? classes[t] : kvc::fastgen::token_class::plain;
    return c.keeps(k, heavy[h * tokens + t] != 0, t >= local_begin);
  }
};

/// Eq. 1 for one head, and what the budget cap makes of it (fastgen::selector::capped_choice).
struct choice {
  int chosen = 0;         ///< C*: index into fastgen::hybrid_candidates
  int fits = -1;          ///< capped heads (budget_use::cap): the last candidate within the cap, -1 if none
  std::size_t fit_cost = 0;
  bool capped = false;
};

/// One thread per head: R(C) of every candidate in one pass in token order (fastgen::recovery's
/// order, so each R is the host's bit for bit), then the cheapest reaching T, then the cap.
struct profile_head {
  const float* scores;
  membership member;
  kvc::fastgen::cache_policy candidates[candidate_count];
  double threshold;
  std::size_t cap;  // 0: no cap
  bool trim;        // budget_use::trim: C* is kept, cut to the cap
  choice* out;
  KVC_HOST_DEVICE void operator()(std::size_t h) const {
    double kept[candidate_count] = {}, total = 0.0;
    std::size_t cost[candidate_count] = {};
    for (std::size_t t = 0; t < member.tokens; ++t) {
      const double a = scores[h * member.tokens + t];
      total += a;
      for (std::size_t c = 0; c < candidate_count; ++c)
        if (member.kept(candidates[c], h, t)) {
          kept[c] += a;
          ++cost[c];
        }
    }
    choice d{};
    for (std::size_t c = 0; c < candidate_count; ++c)  // nested candidates: the first reaching T is cheapest
      if (kept[c] / total >= threshold || candidates[c].full) {
        d.chosen = static_cast<int>(c);
        break;
      }
    if (cap > 0 && cost[d.chosen] > cap) {
      d.capped = true;
      for (std::size_t c = 0; !trim && c < candidate_count && cost[c] <= cap; ++c) {
        d.fits = static_cast<int>(c);
        d.fit_cost = cost[c];
      }
    }
    out[h] = d;
  }
};

/// Marks of uncapped heads: their C*. Capped heads are marked after ranking (below).
struct chosen_marks {
  membership member;
  kvc::fastgen::cache_policy candidates[candidate_count];
  const choice* decision;
  KVC_HOST_DEVICE std::uint8_t operator()(std::size_t i) const {
    const std::size_t h = i / member.tokens, t = i % member.tokens;
    const choice d = decision[h];
    return !d.capped && member.kept(candidates[d.chosen], h, t) ? 1 : 0;
  }
};

/// Sort key of a capped head's tokens. budget_use::cap: the fitting candidate's cache first, then
/// the rest by score (fill_by_score); with no fitting candidate, the special tokens by score,
/// others last. budget_use::trim: C*'s special tokens first, then the rest of C* by score, the
/// tokens outside C* last.
struct cap_key {
  const float* scores;
  membership member;
  kvc::fastgen::cache_policy candidates[candidate_count];
  const choice* decision;
  bool trim;
  KVC_HOST_DEVICE std::uint64_t operator()(std::size_t i) const {
    const std::size_t h = i / member.tokens, t = i % member.tokens;
    const choice d = decision[h];
    std::uint32_t rank = 0xffffffffu;
    if (trim) {
      if (member.kept(candidates[d.chosen], h, t))
        rank = member.classes != nullptr && member.classes[t] == kvc::fastgen::token_class::special
                   ? protected_key
                   : descending_key(scores[i]);
    } else if (d.fits >= 0)
      rank = member.kept(candidates[d.fits], h, t) ? protected_key : descending_key(scores[i]);
    else if (member.kept(candidates[0], h, t))  // candidates[0] is C_special
      rank = descending_key(scores[i]);
    return (static_cast<std::uint64_t>(h) << 32) | rank;
  }
};

/// Marks the first `cap` ranked tokens of every capped head.
struct mark_capped {
  const index_t* ranked;
  const choice* decision;
  std::uint8_t* keep;
  std::size_t tokens, cap;
  KVC_HOST_DEVICE void operator()(std::size_t j) const {
    const std::size_t h = j / cap;
    if (decision[h].capped) keep[h * tokens + static_cast<std::size_t>(ranked[h * tokens + j % cap])] = 1;
  }
};

struct result {
  double recovery = 0.0;
  std::size_t kept = 0;
};

/// One thread per head: R and the cost of the final marks, in token order (fastgen::recovery).
struct recovery {
  const float* scores;
  const std::uint8_t* keep;
  std::size_t tokens;
  result* out;
  KVC_HOST_DEVICE void operator()(std::size_t h) const {
    double kept = 0.0, total = 0.0;
    std::size_t count = 0;
    for (std::size_t t = 0; t < tokens; ++t) {
      const double a = scores[h * tokens + t];
      total += a;
      if (keep[h * tokens + t] != 0) {
        kept += a;
        ++count;
      }
    }
    out[h] = {kept / total, count};
  }
};

/// fastgen::detail::require_accumulated for device scores: the host's first error, with its message.
template <class System>
void require_accumulated(const score_matrix<System>& s) {
  const std::size_t heads = s.heads(), n = s.tokens(), cells = heads * n;
  kvc::detail::require(heads > 0 && n > 0, "scores", "at least 1 head and 1 token",
                       std::to_string(heads) + " x " + std::to_string(n));
  const std::size_t bad =
      static_cast<std::size_t>(thrust::find_if(System{}, s.data(), s.data() + cells, not_accumulated_attention{}) -
                               s.data());
  // A sum of finite non-negative values is positive whatever the order, so the check need not
  // sum in the host's order; an empty row sums to exactly 0 either way.
  vector<double, System> totals(heads);
  const auto index = thrust::counting_iterator<std::size_t>(0);
  const auto row_of = thrust::make_transform_iterator(index, divide_by{n});
  thrust::reduce_by_key(System{}, row_of, row_of + kvc::device::detail::steps(cells), thrust::make_transform_iterator(s.data(), widen_to_double{}),
                        thrust::make_discard_iterator(), totals.begin());
  std::vector<double> host(heads);
  thrust::copy(totals.begin(), totals.end(), host.begin());
  // The host checks head by head: a row's values, then its sum.
  const std::size_t bad_head = bad < cells ? bad / n : heads;
  for (std::size_t h = 0; h < bad_head; ++h)
    kvc::detail::require(host[h] > 0.0, "scores.row(" + std::to_string(h) + ")",
                         "some attention to recover (a positive sum)", host[h]);
  if (bad < cells)
    kvc::detail::require(false, "scores(" + std::to_string(bad / n) + ", " + std::to_string(bad % n) + ")",
                         "a finite, non-negative accumulated attention", read_back<System>(s.data() + bad));
}

}  // namespace detail::fastgen

template <>
struct algorithm<kvc::fastgen::selector> {
  static constexpr bool available = true;

  template <class System>
  static fastgen_selection<System> select(exec::device<System>, const kvc::fastgen::selector& p,
                                          const score_matrix<System>& s, std::size_t per_head_budget) {
    namespace fg = kvc::fastgen;
    const fg::profile_parameters params{p.recovery_threshold, p.local_ratio, p.frequent_ratio};
    fg::detail::require_parameters(params);
    detail::fastgen::require_accumulated(s);
    fg::detail::require_classes(p.classes, s.tokens());
    const bool capped = p.budget != fg::budget_use::ignore, trim = p.budget == fg::budget_use::trim;
    if (capped) select::detail::require_budget(per_head_budget, 1, s.tokens());

    const std::size_t heads = s.heads(), n = s.tokens(), cells = heads * n;
    const auto index = thrust::counting_iterator<std::size_t>(0);
    vector<fg::token_class, System> classes(p.classes.size());
    thrust::copy(p.classes.begin(), p.classes.end(), classes.begin());
    vector<std::uint8_t, System> heavy(cells);  // C_frequent, chosen among all tokens of the head
    detail::keep_top_per_head(s, 0, 0, fg::share(p.frequent_ratio, n), raw(heavy));
    const detail::fastgen::membership member{p.classes.empty() ? nullptr : raw(classes), raw(heavy), n,
                                            n - fg::share(p.local_ratio, n)};
    const auto& c = fg::hybrid_candidates;

    vector<detail::fastgen::choice, System> decision(heads);
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(heads),
                     detail::fastgen::profile_head{s.data(), member, {c[0], c[1], c[2], c[3], c[4]},
                                                  p.recovery_threshold, capped ? per_head_budget : 0, trim, raw(decision)});
    std::vector<detail::fastgen::choice> host_decision(heads);
    thrust::copy(decision.begin(), decision.end(), host_decision.begin());

    vector<std::uint8_t, System> keep(cells);
    thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), keep.begin(),
                      detail::fastgen::chosen_marks{member, {c[0], c[1], c[2], c[3], c[4]}, raw(decision)});
    bool any_capped = false;
    for (const auto& d : host_decision) any_capped = any_capped || d.capped;
    if (any_capped) {
      vector<std::uint64_t, System> keys(cells);
      vector<index_t, System> ranked(cells);
      thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), keys.begin(),
                        detail::fastgen::cap_key{s.data(), member, {c[0], c[1], c[2], c[3], c[4]}, raw(decision), trim});
      thrust::transform(System{}, index, index + kvc::device::detail::steps(cells), ranked.begin(), detail::token_of{n});
      thrust::stable_sort_by_key(System{}, keys.begin(), keys.end(), ranked.begin());  // ties: lower index
      thrust::for_each(System{}, index, index + kvc::device::detail::steps(heads * per_head_budget),
                       detail::fastgen::mark_capped{raw(ranked), raw(decision), raw(keep), n, per_head_budget});
    }

    vector<detail::fastgen::result, System> outcome(heads);
    thrust::for_each(System{}, index, index + kvc::device::detail::steps(heads), detail::fastgen::recovery{s.data(), raw(keep), n, raw(outcome)});
    std::vector<detail::fastgen::result> host_outcome(heads);
    thrust::copy(outcome.begin(), outcome.end(), host_outcome.begin());

    fastgen_selection<System> out;
    static_cast<keep_set<System>&>(out) = detail::keep_set_from_marks<System>(heads, n, raw(keep));
    out.table = {{}, n, p.recovery_threshold, p.local_ratio, p.frequent_ratio};
    for (std::size_t h = 0; h < heads; ++h) {
      const auto& d = host_decision[h];
      fg::cache_policy policy = c[static_cast<std::size_t>(d.chosen)];
      if (d.capped && !trim)  // fastgen::selector::capped_choice's three outcomes
        policy = d.fits < 0                                ? fg::special
                 : d.fit_cost < per_head_budget            ? c[static_cast<std::size_t>(d.fits)] + fg::frequent
                                                           : c[static_cast<std::size_t>(d.fits)];
      out.table.heads.push_back({policy, host_outcome[h].recovery, host_outcome[h].kept, d.capped});
    }
    return out;
  }
};

}  // namespace kvc::device
