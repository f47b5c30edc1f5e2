#pragma once
// kvc::compressed_layer: what a merger gives back. Per head, the kept (possibly merged)
// keys and values and their original positions, contiguous so an engine can copy them back.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvc/core/keep_set.hpp"
#include "kvc/core/view.hpp"

namespace kvc {

template <class T>
class compressed_layer {
 public:
  using element_type = T;

  compressed_layer() = default;
  compressed_layer(keep_set keep, std::size_t key_dim, std::size_t value_dim)
      : keep_(std::move(keep)),
        key_dim_(key_dim),
        value_dim_(value_dim),
        keys_(keep_.total() * key_dim),
        values_(keep_.total() * value_dim),
        positions_(keep_.total()) {}

  [[nodiscard]] const keep_set& keep() const noexcept { return keep_; }
  [[nodiscard]] std::size_t heads() const noexcept { return keep_.heads(); }
  [[nodiscard]] std::size_t kept(std::size_t h) const noexcept { return keep_.kept(h); }
  [[nodiscard]] std::size_t head_dim() const noexcept { return key_dim_; }
  [[nodiscard]] std::size_t value_dim() const noexcept { return value_dim_; }

  /// `[1, kept(h), head_dim]` views of head h's kept keys / values.
  [[nodiscard]] strided_view<T> keys(std::size_t h) noexcept { return head_view(keys_, h, key_dim_); }
  [[nodiscard]] strided_view<const T> keys(std::size_t h) const noexcept { return head_view(keys_, h, key_dim_); }
  [[nodiscard]] strided_view<T> values(std::size_t h) noexcept { return head_view(values_, h, value_dim_); }
  [[nodiscard]] strided_view<const T> values(std::size_t h) const noexcept {
    return head_view(values_, h, value_dim_);
  }
  /// Original positions of head h's kept tokens (RoPE stays right when they are reused).
  [[nodiscard]] std::span<std::int64_t> positions(std::size_t h) noexcept {
    return {positions_.data() + keep_.offsets()[h], kept(h)};
  }
  [[nodiscard]] std::span<const std::int64_t> positions(std::size_t h) const noexcept {
    return {positions_.data() + keep_.offsets()[h], kept(h)};
  }

  /// Every head's kept keys / values back to back (head h starts at keep().offsets()[h] * dim).
  [[nodiscard]] std::span<const T> all_keys() const noexcept { return keys_; }
  [[nodiscard]] std::span<const T> all_values() const noexcept { return values_; }
  [[nodiscard]] std::span<T> all_keys() noexcept { return keys_; }
  [[nodiscard]] std::span<T> all_values() noexcept { return values_; }
  [[nodiscard]] std::span<const std::int64_t> all_positions() const noexcept { return positions_; }
  [[nodiscard]] std::span<std::int64_t> all_positions() noexcept { return positions_; }
  /// Bytes held by the kept keys and values.
  [[nodiscard]] std::size_t bytes() const noexcept { return (keys_.size() + values_.size()) * sizeof(T); }

 private:
  template <class Vec>
  auto head_view(Vec& v, std::size_t h, std::size_t dim) const noexcept {
    using P = std::remove_reference_t<decltype(*v.data())>;
    return strided_view<P>::contiguous(v.data() + keep_.offsets()[h] * dim, 1, kept(h), dim);
  }
  template <class Vec>
  auto head_view(Vec& v, std::size_t h, std::size_t dim) noexcept {
    using P = std::remove_reference_t<decltype(*v.data())>;
    return strided_view<P>::contiguous(v.data() + keep_.offsets()[h] * dim, 1, kept(h), dim);
  }

  keep_set keep_;
  std::size_t key_dim_ = 0, value_dim_ = 0;
  std::vector<T> keys_, values_;
  std::vector<std::int64_t> positions_;
};

}  // namespace kvc
