#pragma once
// kvc::device::score_buffer<System>: the device twin of kvc::score_matrix, one float per
// (kv_head, token), row-major [heads, tokens], in memory `System` can read.

#include "kvc/version.hpp"

#include <cstddef>

#include <thrust/copy.h>

#include "kvc/core/scores.hpp"
#include "kvc/device/vector.hpp"

namespace kvc::device {

template <class System>
class score_buffer {
 public:
  using system = System;

  score_buffer() = default;
  score_buffer(std::size_t heads, std::size_t tokens) : heads_(heads), tokens_(tokens), values_(heads * tokens) {}

  /// Uploads a host score matrix (for feeding the same scores to a host and a device selector).
  static score_buffer from_host(const score_matrix& s) {
    score_buffer out(s.heads(), s.tokens());
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

  [[nodiscard]] score_matrix to_host() const {
    score_matrix out(heads_, tokens_);
    thrust::copy(values_.begin(), values_.end(), out.flat().begin());
    return out;
  }

 private:
  std::size_t heads_ = 0, tokens_ = 0;
  vector<float, System> values_;
};

}  // namespace kvc::device
