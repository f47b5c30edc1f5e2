#pragma once
// kvc::score_matrix: one float importance per (kv_head, token); larger means "keep".

#include "kvc/version.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"

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

namespace detail {
/// What a scorer called on its own checks before it reads `l` or writes `out`: the layer's
/// extents and views' maps (kvc::detail::validate_views), and `out` of shape [kv_heads, tokens].
template <layer_type L>
void require_scorable(const L& l, const score_matrix& out) {
  validate_views(l);
  if (out.heads() == l.kv_heads() && out.tokens() == l.tokens()) return;
  // Built by append: g++ 12's -Wrestrict misfires on `"[" + std::to_string(...)` (GCC bug 105651).
  const auto shape = [](std::size_t a, std::size_t b) {
    std::string text("[");
    text.append(std::to_string(a)).append(", ").append(std::to_string(b)).append("]");
    return text;
  };
  throw error("out", std::string("a score_matrix of ").append(shape(l.kv_heads(), l.tokens())),
              shape(out.heads(), out.tokens()));
}
}  // namespace detail

/// The reference loop of an element-wise scorer (kvc::element_wise_scorer): checks the layer
/// and `out`, calls `scorer.check(l)` where it has one, then out[h, t] = scorer.element(l, h, t)
/// over every (kv_head, token) in order. The device path maps the same element() (kvc/device/
/// algorithm.hpp), so a scorer written this way states its math once.
template <class Scorer, layer_type L>
void score_elements(const Scorer& scorer, const L& l, score_matrix& out) {
  detail::require_scorable(l, out);
  if constexpr (requires { scorer.check(l); }) scorer.check(l);
  for (std::size_t h = 0; h < l.kv_heads(); ++h)
    for (std::size_t t = 0; t < l.tokens(); ++t) out(h, t) = static_cast<float>(scorer.element(l, h, t));
}

}  // namespace kvc
