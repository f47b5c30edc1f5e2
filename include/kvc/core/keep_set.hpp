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
    using detail::require;
    require(!offsets_.empty() && offsets_.front() == 0, "keep_set.offsets", "a leading 0",
            offsets_.empty() ? std::string("empty") : std::to_string(offsets_.front()));
    require(offsets_.back() == indices_.size(), "keep_set.offsets.back()",
            "indices.size() " + std::to_string(indices_.size()), offsets_.back());
    for (std::size_t h = 0; h + 1 < offsets_.size(); ++h) {
      require(offsets_[h] <= offsets_[h + 1], "keep_set.offsets", "non-decreasing offsets",
              "offsets[" + std::to_string(h + 1) + "] = " + std::to_string(offsets_[h + 1]));
      for (std::size_t i = offsets_[h]; i < offsets_[h + 1]; ++i) {
        require(indices_[i] >= 0 && static_cast<std::size_t>(indices_[i]) < tokens_, "keep_set.indices",
                "an index in [0, " + std::to_string(tokens_) + ")", indices_[i]);
        if (i > offsets_[h] && indices_[i - 1] >= indices_[i])
          throw error("keep_set.indices", "strictly ascending indices in head " + std::to_string(h),
                      std::to_string(indices_[i - 1]) + " then " + std::to_string(indices_[i]));
      }
    }
  }

  std::size_t tokens_ = 0;
  std::vector<std::size_t> offsets_{0};
  std::vector<index_t> indices_;
};

}  // namespace kvc
