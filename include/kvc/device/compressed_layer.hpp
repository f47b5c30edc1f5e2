#pragma once
// kvc::device::compressed_layer<T, System>: what the device gather gives back, laid out as
// kvc::compressed_layer<T> is (kept rows of all heads back to back, head-major), in memory
// `System` can read. Converts to the host kvc::compressed_layer<T>.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

#include <thrust/copy.h>

#include "kvc/core/compressed_layer.hpp"
#include "kvc/core/error.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/vector.hpp"

namespace kvc::device {

template <class T, class System>
class compressed_layer {
 public:
  using element_type = T;
  using system = System;

  compressed_layer() = default;
  compressed_layer(device::keep_set<System> keep, std::size_t key_dim, std::size_t value_dim)
      : keep_(std::move(keep)),
        key_dim_(key_dim),
        value_dim_(value_dim),
        keys_(keep_.total() * key_dim),
        values_(keep_.total() * value_dim),
        positions_(keep_.total()) {}

  /// Re-shapes this layer for `keep`, reusing its memory: the vectors keep their capacity, so a
  /// layer compressed into the same object again and again allocates (and has the operating
  /// system supply fresh pages) only when it grows. The contents are then overwritten by a merger.
  void assign(const device::keep_set<System>& keep, std::size_t key_dim, std::size_t value_dim) {
    keep_ = keep;
    key_dim_ = key_dim;
    value_dim_ = value_dim;
    keys_.resize(keep_.total() * key_dim);
    values_.resize(keep_.total() * value_dim);
    positions_.resize(keep_.total());
  }

  [[nodiscard]] const device::keep_set<System>& keep() const noexcept { return keep_; }
  [[nodiscard]] std::size_t heads() const noexcept { return keep_.heads(); }
  [[nodiscard]] std::size_t head_dim() const noexcept { return key_dim_; }
  [[nodiscard]] std::size_t value_dim() const noexcept { return value_dim_; }
  /// `[total kept, head_dim]` keys, `[total kept, value_dim]` values, `[total kept]` positions.
  [[nodiscard]] vector<T, System>& keys() noexcept { return keys_; }
  [[nodiscard]] const vector<T, System>& keys() const noexcept { return keys_; }
  [[nodiscard]] vector<T, System>& values() noexcept { return values_; }
  [[nodiscard]] const vector<T, System>& values() const noexcept { return values_; }
  [[nodiscard]] vector<std::int64_t, System>& positions() noexcept { return positions_; }
  [[nodiscard]] const vector<std::int64_t, System>& positions() const noexcept { return positions_; }
  [[nodiscard]] std::size_t bytes() const noexcept { return (keys_.size() + values_.size()) * sizeof(T); }

  /// The host layer. Throws kvc::error if the buffers no longer match keep() (a caller resized one).
  [[nodiscard]] kvc::compressed_layer<T> to_host() const {
    kvc::compressed_layer<T> out(keep_.to_host(), key_dim_, value_dim_);
    kvc::detail::require(keys_.size() == out.all_keys().size(), "keys().size()",
                         "keep().total() * head_dim() = " + std::to_string(out.all_keys().size()), keys_.size());
    kvc::detail::require(values_.size() == out.all_values().size(), "values().size()",
                         "keep().total() * value_dim() = " + std::to_string(out.all_values().size()), values_.size());
    kvc::detail::require(positions_.size() == out.all_positions().size(), "positions().size()",
                         "keep().total() = " + std::to_string(out.all_positions().size()), positions_.size());
    if (keep_.total() == 0) return out;
    thrust::copy(keys_.begin(), keys_.end(), out.all_keys().data());
    thrust::copy(values_.begin(), values_.end(), out.all_values().data());
    thrust::copy(positions_.begin(), positions_.end(), out.all_positions().data());
    return out;
  }
  operator kvc::compressed_layer<T>() const { return to_host(); }  // implicit on purpose: it is the host result

 private:
  device::keep_set<System> keep_;
  std::size_t key_dim_ = 0, value_dim_ = 0;
  vector<T, System> keys_, values_;
  vector<std::int64_t, System> positions_;
};

}  // namespace kvc::device
