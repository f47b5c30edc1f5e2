#pragma once
// kvc::ems::class_assignment: EMS's zero-class assignment (Li et al. 2024, docs/ems.md).
// A keep_set (the class centers of every head) plus one class id per (kv_head, token), in one
// uniform [kv_heads, tokens] array whatever each head's budget, so that every head can be
// merged by the same scatter over (head, class id) with one shape:
//
//   id 0          the zero class: the token is evicted (its accumulator slot is discarded);
//   id c >= 1     the token belongs to the class of the head's c-th kept token, i.e. the
//                 center is head(h)[c - 1]; a kept token at rank r has id r + 1 (its own center);
//   id -1         pending: to be merged, center not chosen yet. Only the score-only selector
//                 emits it (it cannot see keys); ems::assign_centers resolves every pending id.
//
// So head h has kept(h) + 1 classes, ids in [0, kept(h)], and a device kernel can give every
// head max_classes() accumulator slots.

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/layer.hpp"

namespace kvc::ems {

using class_id = std::int32_t;

class class_assignment : public keep_set {
 public:
  static constexpr class_id zero_class = 0;  ///< evicted
  static constexpr class_id pending = -1;    ///< merge candidate whose center is not chosen yet

  class_assignment() = default;
  /// `ids` is row-major `[keep.heads(), keep.tokens()]`; checked against the convention above.
  class_assignment(keep_set keep, std::vector<class_id> ids) : keep_set(std::move(keep)), ids_(std::move(ids)) {
    check();
  }

  [[nodiscard]] class_id id(std::size_t h, std::size_t t) const noexcept { return ids_[h * tokens() + t]; }
  /// All ids, row-major `[heads, tokens]`: the uniform-shape array a device kernel consumes.
  [[nodiscard]] std::span<const class_id> ids() const noexcept { return ids_; }
  [[nodiscard]] std::span<const class_id> row(std::size_t h) const noexcept {
    return {ids_.data() + h * tokens(), tokens()};
  }
  /// Token index of t's class center; -1 for the zero class and for pending tokens.
  [[nodiscard]] index_t center(std::size_t h, std::size_t t) const noexcept {
    const class_id c = id(h, t);
    return c >= 1 ? head(h)[static_cast<std::size_t>(c - 1)] : index_t{-1};
  }
  [[nodiscard]] bool is_kept(std::size_t h, std::size_t t) const noexcept {
    return center(h, t) == static_cast<index_t>(t);
  }
  /// Classes of head h, the zero class included.
  [[nodiscard]] std::size_t classes(std::size_t h) const noexcept { return kept(h) + 1; }
  /// Accumulator slots per head that fit every head: 1 + the largest budget.
  [[nodiscard]] std::size_t max_classes() const noexcept {
    std::size_t m = 0;
    for (std::size_t h = 0; h < heads(); ++h) m = std::max(m, kept(h));
    return m + 1;
  }
  /// Tokens of head h merged into a center other than themselves.
  [[nodiscard]] std::size_t merged(std::size_t h) const noexcept {
    return count([&](std::size_t t) { return id(h, t) >= 1 && !is_kept(h, t); });
  }
  [[nodiscard]] std::size_t evicted(std::size_t h) const noexcept {
    return count([&](std::size_t t) { return id(h, t) == zero_class; });
  }
  [[nodiscard]] std::size_t pending_count(std::size_t h) const noexcept {
    return count([&](std::size_t t) { return id(h, t) == pending; });
  }
  /// True when no id is pending: every token is kept, merged into a center, or evicted.
  [[nodiscard]] bool complete() const noexcept {
    return std::find(ids_.begin(), ids_.end(), pending) == ids_.end();
  }

  friend bool operator==(const class_assignment& a, const class_assignment& b) {
    return static_cast<const keep_set&>(a) == static_cast<const keep_set&>(b) && a.ids_ == b.ids_;
  }

 private:
  template <class Pred>
  std::size_t count(Pred pred) const noexcept {
    std::size_t c = 0;
    for (std::size_t t = 0; t < tokens(); ++t) c += pred(t) ? std::size_t{1} : std::size_t{0};
    return c;
  }

  void check() const {
    using detail::require;
    const std::size_t n = tokens();
    require(ids_.size() == heads() * n, "class_assignment.ids.size()",
            "heads*tokens " + std::to_string(heads() * n), ids_.size());
    for (std::size_t h = 0; h < heads(); ++h) {
      std::vector<char> kept_here(n, 0);
      const auto idx = head(h);
      for (std::size_t r = 0; r < idx.size(); ++r) {
        const auto t = static_cast<std::size_t>(idx[r]);
        kept_here[t] = 1;
        require(id(h, t) == static_cast<class_id>(r + 1),
                "class_assignment.ids(" + std::to_string(h) + ", " + std::to_string(t) + ")",
                "its own class " + std::to_string(r + 1) + " (a kept token is its own center)", id(h, t));
      }
      for (std::size_t t = 0; t < n; ++t) {
        if (kept_here[t]) continue;
        const class_id c = id(h, t);
        require(c >= pending && c <= static_cast<class_id>(idx.size()),
                "class_assignment.ids(" + std::to_string(h) + ", " + std::to_string(t) + ")",
                "-1 (pending), 0 (evicted) or a center in [1, " + std::to_string(idx.size()) + "]", c);
      }
    }
  }

  std::vector<class_id> ids_;
};

}  // namespace kvc::ems
