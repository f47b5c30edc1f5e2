#pragma once
// kvc::device::score_matrix<System>: the device twin of kvc::score_matrix, one float per
// (kv_head, token), row-major [heads, tokens], in memory `System` can read.

#include "kvc/version.hpp"

#include <cstddef>

#include <thrust/copy.h>

#include "kvc/core/scores.hpp"
#include "kvc/device/vector.hpp"

namespace kvc::device {

template <class System>
class score_matrix {
 public:
  using system = System;

  score_matrix() = default;
  score_matrix(std::size_t heads, std::size_t tokens) : heads_(heads), tokens_(tokens), values_(heads * tokens) {}

  /// Uploads a host score matrix (for feeding the same scores to a host and a device selector).
  static score_matrix from_host(const kvc::score_matrix& s) {
    score_matrix out(s.heads(), s.tokens());
    thrust::copy(s.flat().begin(), s.flat().end(), out.values_.begin());
    return out;
  }

  [[nodiscard]] std::size_t heads() const noexcept { return heads_; }
  [[nodiscard]] std::size_t tokens() const noexcept { return tokens_; }
  [[nodiscard]] vector<float, System>& values() noexcept { return values_; }
  [[nodiscard]] const vector<float, System>& values() const noexcept { return values_; }
  [[nodiscard]] float* data() noexcept { return raw(values_); }
  [[nodiscard]] const float* data() const noexcept { return thrust::raw_pointer_cast(values_.data()); }

  /// Re-shape for a new layer; keeps capacity.
  void reset(std::size_t heads, std::size_t tokens) {
    heads_ = heads;
    tokens_ = tokens;
    values_.resize(heads * tokens);
  }

  [[nodiscard]] kvc::score_matrix to_host() const {
    kvc::score_matrix out(heads_, tokens_);
    thrust::copy(values_.begin(), values_.end(), out.flat().begin());
    return out;
  }

 private:
  std::size_t heads_ = 0, tokens_ = 0;
  vector<float, System> values_;
};

/// The name before 0.2.0.
template <class System>
using score_buffer [[deprecated("kvc::device::score_buffer is now kvc::device::score_matrix")]] = score_matrix<System>;

}  // namespace kvc::device
