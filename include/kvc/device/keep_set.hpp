#pragma once
// kvc::device::keep_set<System>: the device twin of kvc::keep_set (CSR, ragged): head h keeps
// indices[offsets[h] .. offsets[h+1]), ascending. Built by the device selectors, read by the
// device gather and compaction; to_host() gives the kvc::keep_set the host path would give.

#include "kvc/version.hpp"

#include <cstddef>
#include <string>
#include <vector>

#include <thrust/copy.h>
#include <thrust/find.h>
#include <thrust/iterator/counting_iterator.h>

#include "kvc/core/keep_set.hpp"
#include "kvc/device/vector.hpp"

namespace kvc::device {

namespace detail {
/// The head of CSR entry e: the last h with offsets[h] <= e (offsets has heads + 1 entries).
KVC_HOST_DEVICE inline std::size_t head_of_entry(const std::size_t* offsets, std::size_t heads, std::size_t e) {
  std::size_t lo = 0, hi = heads;  // offsets[lo] <= e < offsets[hi]
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (offsets[mid] <= e)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/// Is CSR entry e out of its head's order: outside [0, tokens), or not above the entry before
/// it in the same head? (Offsets already checked: non-decreasing, from 0 to the entry count.)
struct misplaced_entry {
  const std::size_t* offsets;  // [heads + 1]
  const index_t* indices;
  std::size_t heads, tokens;
  KVC_HOST_DEVICE bool operator()(std::size_t e) const {
    if (!kvc::detail::index_in_range(indices[e], tokens)) return true;
    return e > offsets[head_of_entry(offsets, heads, e)] && indices[e - 1] >= indices[e];
  }
};
}  // namespace detail

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

  /// Throws kvc::error, with the host keep_set's messages, unless the CSR is well formed:
  /// heads + 1 offsets, the first 0, non-decreasing, the last total(); then every index in
  /// [0, tokens), strictly ascending within its head. Offsets are checked (on the host, heads + 1
  /// reads) before any index is read; the indices in one read-only pass on System. Every entry
  /// point that takes a caller's device keep_set runs it (device merge, compact).
  void validate() const {
    kvc::detail::require(offsets_.size() == heads_ + 1, "keep_set.offsets.size()",
                         "heads + 1 = " + std::to_string(heads_ + 1), offsets_.size());
    std::vector<std::size_t> offsets(offsets_.size());
    thrust::copy(offsets_.begin(), offsets_.end(), offsets.begin());
    kvc::detail::require_csr_offsets(offsets, indices_.size());
    if (indices_.empty()) return;
    const auto entry = thrust::counting_iterator<std::size_t>(0);
    const auto* index = thrust::raw_pointer_cast(indices_.data());
    const auto bad = static_cast<std::size_t>(
        thrust::find_if(System{}, entry, entry + static_cast<std::ptrdiff_t>(indices_.size()),
                        detail::misplaced_entry{thrust::raw_pointer_cast(offsets_.data()), index, heads_, tokens_}) -
        entry);
    if (bad == indices_.size()) return;
    const index_t t = indices_[bad];
    if (!kvc::detail::index_in_range(t, tokens_)) kvc::detail::throw_index_out_of_range(t, tokens_);
    kvc::detail::throw_not_ascending(detail::head_of_entry(offsets.data(), heads_, bad), indices_[bad - 1], t);
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
