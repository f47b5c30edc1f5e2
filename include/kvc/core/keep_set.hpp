#pragma once
// kvc::keep_set: per kv_head, the ascending token indices a selector keeps (CSR, ragged).

#include "kvc/version.hpp"

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"

namespace kvc {

namespace detail {
/// The CSR offsets of a keep_set over `total` indices: at least one entry (heads + 1), the first
/// 0, non-decreasing, the last `total`. Checked before any index is read.
inline void require_csr_offsets(std::span<const std::size_t> offsets, std::size_t total) {
  require(!offsets.empty(), "keep_set.offsets.size()", "heads + 1 entries (at least 1)", 0);
  require(offsets[0] == 0, "keep_set.offsets[0]", "0", offsets[0]);
  for (std::size_t h = 1; h < offsets.size(); ++h)
    require(offsets[h - 1] <= offsets[h], "keep_set.offsets[" + std::to_string(h) + "]",
            "non-decreasing offsets (at least offsets[" + std::to_string(h - 1) + "] = " +
                std::to_string(offsets[h - 1]) + ")",
            offsets[h]);
  require(offsets.back() == total, "keep_set.offsets.back()", "indices.size() " + std::to_string(total),
          offsets.back());
}
KVC_HOST_DEVICE constexpr bool index_in_range(index_t t, std::size_t tokens) noexcept {
  return t >= 0 && static_cast<std::size_t>(t) < tokens;
}
[[noreturn]] inline void throw_index_out_of_range(index_t t, std::size_t tokens) {
  throw error("keep_set.indices", "an index in [0, " + std::to_string(tokens) + ")", std::to_string(t));
}
[[noreturn]] inline void throw_not_ascending(std::size_t head, index_t before, index_t after) {
  throw error("keep_set.indices", "strictly ascending indices in head " + std::to_string(head),
              std::to_string(before) + " then " + std::to_string(after));
}
}  // namespace detail

class keep_set {
 public:
  keep_set() = default;
  /// `offsets` has heads+1 entries; head h keeps indices[offsets[h] .. offsets[h+1]), ascending, < tokens.
  keep_set(std::size_t tokens, std::vector<std::size_t> offsets, std::vector<index_t> indices)
      : tokens_(tokens), offsets_(std::move(offsets)), indices_(std::move(indices)) {
    check();
  }

  /// From one ascending index list per head.
  static keep_set from_heads(std::size_t tokens, const std::vector<std::vector<index_t>>& heads) {
    std::vector<std::size_t> offsets{0};
    std::vector<index_t> indices;
    for (const auto& h : heads) {
      indices.insert(indices.end(), h.begin(), h.end());
      offsets.push_back(indices.size());
    }
    return {tokens, std::move(offsets), std::move(indices)};
  }

  [[nodiscard]] std::size_t heads() const noexcept { return offsets_.empty() ? 0 : offsets_.size() - 1; }
  [[nodiscard]] std::size_t tokens() const noexcept { return tokens_; }  ///< tokens before compression
  [[nodiscard]] std::size_t kept(std::size_t h) const noexcept { return offsets_[h + 1] - offsets_[h]; }
  [[nodiscard]] std::size_t total() const noexcept { return indices_.size(); }
  [[nodiscard]] std::span<const index_t> head(std::size_t h) const noexcept {
    return {indices_.data() + offsets_[h], kept(h)};
  }
  [[nodiscard]] bool contains(std::size_t h, index_t t) const {
    auto r = head(h);
    return std::binary_search(r.begin(), r.end(), t);
  }
  [[nodiscard]] const std::vector<std::size_t>& offsets() const noexcept { return offsets_; }
  [[nodiscard]] const std::vector<index_t>& indices() const noexcept { return indices_; }

  friend bool operator==(const keep_set&, const keep_set&) = default;

 private:
  void check() const {
    detail::require_csr_offsets(offsets_, indices_.size());
    for (std::size_t h = 0; h + 1 < offsets_.size(); ++h)
      for (std::size_t i = offsets_[h]; i < offsets_[h + 1]; ++i) {
        if (!detail::index_in_range(indices_[i], tokens_)) detail::throw_index_out_of_range(indices_[i], tokens_);
        if (i > offsets_[h] && indices_[i - 1] >= indices_[i]) detail::throw_not_ascending(h, indices_[i - 1], indices_[i]);
      }
  }

  std::size_t tokens_ = 0;
  std::vector<std::size_t> offsets_{0};
  std::vector<index_t> indices_;
};

}  // namespace kvc
