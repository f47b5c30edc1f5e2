#pragma once
// kvc::device::keep_set<System>: the device twin of kvc::keep_set (CSR, ragged): head h keeps
// indices[offsets[h] .. offsets[h+1]), ascending. Built by the device selectors, read by the
// device gather and compaction; to_host() gives the kvc::keep_set the host path would give.

#include "kvc/version.hpp"

#include <cstddef>
#include <vector>

#include <thrust/copy.h>

#include "kvc/core/keep_set.hpp"
#include "kvc/device/vector.hpp"

namespace kvc::device {

template <class System>
class keep_set {
 public:
  using system = System;

  keep_set() = default;
  keep_set(std::size_t heads, std::size_t tokens, std::size_t total)
      : heads_(heads), tokens_(tokens), offsets_(heads + 1), indices_(total) {}

  /// Uploads a host keep_set (already checked by its constructor).
  static keep_set from_host(const kvc::keep_set& k) {
    keep_set out(k.heads(), k.tokens(), k.total());
    thrust::copy(k.offsets().begin(), k.offsets().end(), out.offsets_.begin());
    thrust::copy(k.indices().begin(), k.indices().end(), out.indices_.begin());
    return out;
  }

  [[nodiscard]] std::size_t heads() const noexcept { return heads_; }
  [[nodiscard]] std::size_t tokens() const noexcept { return tokens_; }  ///< tokens before compression
  [[nodiscard]] std::size_t total() const noexcept { return indices_.size(); }
  [[nodiscard]] vector<std::size_t, System>& offsets() noexcept { return offsets_; }
  [[nodiscard]] const vector<std::size_t, System>& offsets() const noexcept { return offsets_; }
  [[nodiscard]] vector<index_t, System>& indices() noexcept { return indices_; }
  [[nodiscard]] const vector<index_t, System>& indices() const noexcept { return indices_; }

  /// The host keep_set; its constructor re-checks the CSR invariants.
  [[nodiscard]] kvc::keep_set to_host() const {
    std::vector<std::size_t> offsets(offsets_.size());
    std::vector<index_t> indices(indices_.size());
    thrust::copy(offsets_.begin(), offsets_.end(), offsets.begin());
    thrust::copy(indices_.begin(), indices_.end(), indices.begin());
    return {tokens_, std::move(offsets), std::move(indices)};
  }

 private:
  std::size_t heads_ = 0, tokens_ = 0;
  vector<std::size_t, System> offsets_;
  vector<index_t, System> indices_;
};

}  // namespace kvc::device
