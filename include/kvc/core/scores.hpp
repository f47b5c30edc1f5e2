#pragma once
// kvc::score_matrix: one float importance per (kv_head, token); larger means "keep".

#include "kvc/version.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace kvc {

class score_matrix {
 public:
  score_matrix() = default;
  score_matrix(std::size_t heads, std::size_t tokens, float fill = 0.0f)
      : heads_(heads), tokens_(tokens), values_(heads * tokens, fill) {}

  [[nodiscard]] std::size_t heads() const noexcept { return heads_; }
  [[nodiscard]] std::size_t tokens() const noexcept { return tokens_; }
  float& operator()(std::size_t h, std::size_t t) noexcept { return values_[h * tokens_ + t]; }
  float operator()(std::size_t h, std::size_t t) const noexcept { return values_[h * tokens_ + t]; }
  [[nodiscard]] std::span<float> row(std::size_t h) noexcept { return {values_.data() + h * tokens_, tokens_}; }
  [[nodiscard]] std::span<const float> row(std::size_t h) const noexcept {
    return {values_.data() + h * tokens_, tokens_};
  }
  [[nodiscard]] std::span<float> flat() noexcept { return values_; }
  [[nodiscard]] std::span<const float> flat() const noexcept { return values_; }
  /// Re-shape (and zero) for a new layer; keeps capacity.
  void reset(std::size_t heads, std::size_t tokens, float fill = 0.0f) {
    heads_ = heads;
    tokens_ = tokens;
    values_.assign(heads * tokens, fill);
  }

 private:
  std::size_t heads_ = 0, tokens_ = 0;
  std::vector<float> values_;
};

}  // namespace kvc
