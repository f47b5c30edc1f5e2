#pragma once
// Tensor views: what kvc reads a layer's keys, values and queries through.
// Anything with extent(i) and element access v(h, t, d) is a view; cuda::std::mdspan of any
// layout and accessor is one as-is, so is kvc::strided_view below.

#include "kvc/version.hpp"

#include <array>
#include <concepts>
#include <cstddef>
#include <type_traits>

#include "kvc/core/element.hpp"

namespace kvc {

/// A rank-3 view `[heads, tokens, head_dim]` whose elements kvc can convert to float.
template <class V>
concept tensor_view = requires(const V& v, std::size_t i) {
  requires V::rank() == 3;
  { v.extent(0) } -> std::convertible_to<std::size_t>;
  requires element<std::remove_cvref_t<decltype(v(i, i, i))>>;
};

/// A view whose elements can also be assigned (needed by in-place compaction).
template <class V>
concept mutable_tensor_view = tensor_view<V> && requires(const V& v, std::size_t i) {
  requires std::is_lvalue_reference_v<decltype(v(i, i, i))>;
  requires !std::is_const_v<std::remove_reference_t<decltype(v(i, i, i))>>;
};

template <tensor_view V>
using element_of = std::remove_cvref_t<decltype(std::declval<const V&>()(std::size_t{}, std::size_t{}, std::size_t{}))>;

namespace detail {
/// Row (h, t) of `v` as a pointer to its head_dim elements when they lie next to each other in
/// memory, else nullptr (also for views whose elements are not lvalues). The test compares the
/// addresses of elements 0 and 1, which suffices for layouts affine along head_dim: strided
/// views, every standard mdspan layout and kvc::layout_paged. Host loops only.
template <tensor_view V>
auto contiguous_row(const V& v, std::size_t h, std::size_t t) {
  using R = decltype(v(h, t, 0));
  if constexpr (std::is_lvalue_reference_v<R>) {
    using P = std::remove_reference_t<R>*;
    const std::size_t dim = v.extent(2);
    if (dim == 0) return P{nullptr};
    P p = &v(h, t, 0);
    return dim == 1 || &v(h, t, 1) == p + 1 ? p : P{nullptr};
  } else {
    return static_cast<const element_of<V>*>(nullptr);
  }
}
}  // namespace detail

/// kvc's own view: a pointer plus three extents and three strides (in elements).
/// The layout is a value (CuTe-style): any permutation of [heads, tokens, head_dim] fits.
template <class T>
class strided_view {
 public:
  using element_type = T;

  constexpr strided_view() = default;
  constexpr strided_view(T* data, std::array<std::size_t, 3> extents, std::array<std::size_t, 3> strides)
      : data_(data), extents_(extents), strides_(strides) {}

  /// Row-major `[heads, tokens, head_dim]`.
  static constexpr strided_view contiguous(T* data, std::size_t heads, std::size_t tokens, std::size_t head_dim) {
    return {data, {heads, tokens, head_dim}, {tokens * head_dim, head_dim, 1}};
  }
  /// Token-major `[tokens, heads, head_dim]` storage, as many engines keep a layer's cache.
  static constexpr strided_view token_major(T* data, std::size_t heads, std::size_t tokens, std::size_t head_dim) {
    return {data, {heads, tokens, head_dim}, {head_dim, heads * head_dim, 1}};
  }

  static constexpr std::size_t rank() noexcept { return 3; }
  KVC_HOST_DEVICE constexpr std::size_t extent(std::size_t i) const noexcept { return extents_[i]; }
  KVC_HOST_DEVICE constexpr std::size_t stride(std::size_t i) const noexcept { return strides_[i]; }
  KVC_HOST_DEVICE constexpr T* data_handle() const noexcept { return data_; }
  KVC_HOST_DEVICE constexpr T& operator()(std::size_t h, std::size_t t, std::size_t d) const noexcept {
    return data_[h * strides_[0] + t * strides_[1] + d * strides_[2]];
  }
  /// A read-only view from a mutable one over the same memory.
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  constexpr strided_view(const strided_view<U>& other) noexcept  // NOLINT: implicit on purpose
      : data_(other.data_handle()),
        extents_{other.extent(0), other.extent(1), other.extent(2)},
        strides_{other.stride(0), other.stride(1), other.stride(2)} {}

 private:
  T* data_ = nullptr;
  std::array<std::size_t, 3> extents_{};
  std::array<std::size_t, 3> strides_{};
};

}  // namespace kvc
