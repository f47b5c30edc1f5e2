#pragma once
// FastGen's token generation (Ge et al. 2024, Algorithm 2): after profiling, every head manages
// its cache by its own policy as tokens are appended. At length L (the new token included), a
// head whose policy contains
//   special / punct   keeps every cached token of that class (a new one is kept only if its class is in the policy)
//   local             keeps the last share(r_l, L) tokens: the window slides
//   frequent          adds the new query's attention to each cached token's accumulated attention
//                     and keeps the share(r_f, L) highest (ties: lower index); the rest are evicted
//   full              keeps everything
// and keeps the union; a token once evicted is gone. share() is fastgen/kept_tokens.hpp's rounding.
// docs/fastgen.md#generation
//
//   auto sel = kvc::policy::fastgen{.select = {.classes = classes}}.keep(layer, kvc::budget::ratio{1.0});
//   kvc::fastgen::decode_cache cache(sel, scores, classes);
//   cache.append(token_class::plain, [&](std::size_t h) { return weights_of_head(h); });

#include "kvc/version.hpp"

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/scores.hpp"
#include "kvc/fastgen/cache_policy.hpp"
#include "kvc/fastgen/kept_tokens.hpp"
#include "kvc/fastgen/policy_table.hpp"
#include "kvc/fastgen/selector.hpp"
#include "kvc/fastgen/token_class.hpp"

namespace kvc::fastgen {

class decode_cache {
 public:
  /// Start from the prompt: what `prompt` keeps per head and its policy table, the accumulated
  /// attention `scores` `[kv_heads, tokens]` it was selected from, and the prompt's token classes.
  decode_cache(const selection& prompt, const score_matrix& scores, std::span<const token_class> classes)
      : table_(prompt.table), length_(prompt.tokens()) {
    using kvc::detail::require;
    require(prompt.heads() == prompt.table.size(), "prompt.table.size()",
            "one policy per head (" + std::to_string(prompt.heads()) + ")", prompt.table.size());
    require(scores.heads() == prompt.heads(), "scores.heads()",
            "the selection's heads (" + std::to_string(prompt.heads()) + ")", scores.heads());
    require(scores.tokens() == prompt.tokens(), "scores.tokens()",
            "the selection's tokens (" + std::to_string(prompt.tokens()) + ")", scores.tokens());
    detail::require_classes(classes, prompt.tokens());
    detail::require_ratio(table_.local_ratio, "table.local_ratio");
    detail::require_ratio(table_.frequent_ratio, "table.frequent_ratio");
    for (float a : scores.flat())
      require(std::isfinite(a) && a >= 0.0f, "scores", "finite, non-negative accumulated attention", a);

    classes_.resize(length_, token_class::plain);
    std::copy(classes.begin(), classes.end(), classes_.begin());
    for (auto c : classes_) count(c, +1);
    tokens_.resize(prompt.heads());
    accumulated_.resize(prompt.heads());
    for (std::size_t h = 0; h < prompt.heads(); ++h)
      for (index_t t : prompt.head(h)) {
        tokens_[h].push_back(t);
        accumulated_[h].push_back(scores(h, static_cast<std::size_t>(t)));
      }
  }

  [[nodiscard]] std::size_t heads() const noexcept { return tokens_.size(); }
  /// Tokens seen so far, prompt included (L).
  [[nodiscard]] std::size_t length() const noexcept { return length_; }
  [[nodiscard]] std::size_t kept(std::size_t h) const { return tokens_[h].size(); }
  /// Head h's cached token indices (positions in the whole sequence), ascending.
  [[nodiscard]] std::span<const index_t> head(std::size_t h) const { return tokens_[h]; }
  /// Accumulated attention of head h's cached tokens, in the order of head(h).
  [[nodiscard]] std::span<const double> accumulated(std::size_t h) const { return accumulated_[h]; }
  [[nodiscard]] const cache_policy& policy(std::size_t h) const { return table_.heads[h].policy; }
  [[nodiscard]] const policy_table& table() const noexcept { return table_; }
  [[nodiscard]] token_class class_of(std::size_t t) const { return classes_[t]; }

  /// The most head h's policy may keep at the current length: L for full, else the sum over its
  /// components of |special seen|, |punctuation seen|, share(r_f, L), share(r_l, L), at most L.
  [[nodiscard]] std::size_t budget(std::size_t h) const {
    const cache_policy& c = policy(h);
    if (c.full) return length_;
    std::size_t b = 0;
    if (c.special) b += special_seen_;
    if (c.punctuation) b += punctuation_seen_;
    if (c.frequent) b += share(table_.frequent_ratio, length_);
    if (c.local) b += share(table_.local_ratio, length_);
    return std::min(b, length_);
  }

  /// Appends one generated token of class `cls`. `weights(h)` gives the new token's attention
  /// (folded over head h's query group, as in profiling) over head h's cache in the order of
  /// head(h), then over the new token itself: kept(h) + 1 finite, non-negative values.
  /// Everything is checked before any head changes.
  template <class Weights>
    requires std::invocable<const Weights&, std::size_t> &&
             std::convertible_to<std::invoke_result_t<const Weights&, std::size_t>, std::span<const float>>
  void append(token_class cls, const Weights& weights) {
    using kvc::detail::require;
    require(cls == token_class::plain || cls == token_class::special || cls == token_class::punctuation, "cls",
            "plain, special or punctuation", static_cast<int>(cls));
    std::vector<std::span<const float>> w(heads());
    for (std::size_t h = 0; h < heads(); ++h) {
      w[h] = weights(h);
      require(w[h].size() == kept(h) + 1, "weights(" + std::to_string(h) + ").size()",
              "kept(h) + 1 = " + std::to_string(kept(h) + 1), w[h].size());
      for (float x : w[h])
        require(std::isfinite(x) && x >= 0.0f, "weights(" + std::to_string(h) + ")",
                "finite, non-negative attention", x);
    }
    const auto t_new = static_cast<index_t>(length_);
    ++length_;
    classes_.push_back(cls);
    count(cls, +1);
    for (std::size_t h = 0; h < heads(); ++h) {
      tokens_[h].push_back(t_new);
      accumulated_[h].push_back(0.0);
      for (std::size_t i = 0; i < w[h].size(); ++i) accumulated_[h][i] += w[h][i];
      evict(h);
    }
  }

 private:
  void count(token_class c, int step) {
    if (c == token_class::special) special_seen_ += static_cast<std::size_t>(step);
    if (c == token_class::punctuation) punctuation_seen_ += static_cast<std::size_t>(step);
  }

  // Keep the union of the policy's components over head h's candidates (its cache + the new token).
  void evict(std::size_t h) {
    const cache_policy& c = policy(h);
    if (c.full) return;
    auto& toks = tokens_[h];
    auto& acc = accumulated_[h];
    const std::size_t m = toks.size();
    std::vector<char> keep(m, 0);
    const std::size_t window_start = length_ - share(table_.local_ratio, length_);
    for (std::size_t i = 0; i < m; ++i) {
      const token_class k = classes_[static_cast<std::size_t>(toks[i])];
      if ((c.special && k == token_class::special) || (c.punctuation && k == token_class::punctuation) ||
          (c.local && static_cast<std::size_t>(toks[i]) >= window_start))
        keep[i] = 1;
    }
    if (c.frequent) {
      // Top share(r_f, L) by accumulated attention; ties to the lower (earlier) token, like select::topk.
      std::vector<std::size_t> order(m);
      for (std::size_t i = 0; i < m; ++i) order[i] = i;
      const std::size_t k = std::min(share(table_.frequent_ratio, length_), m);
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                        [&](std::size_t a, std::size_t b) { return acc[a] > acc[b] || (acc[a] == acc[b] && a < b); });
      for (std::size_t i = 0; i < k; ++i) keep[order[i]] = 1;
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < m; ++i)
      if (keep[i]) {
        toks[out] = toks[i];
        acc[out] = acc[i];
        ++out;
      }
    toks.resize(out);
    acc.resize(out);
  }

  policy_table table_;
  std::size_t length_ = 0;
  std::vector<token_class> classes_;
  std::size_t special_seen_ = 0, punctuation_seen_ = 0;
  std::vector<std::vector<index_t>> tokens_;
  std::vector<std::vector<double>> accumulated_;
};

}  // namespace kvc::fastgen
