#pragma once
// A paged KV cache as an mdspan layout: the algorithms see `[heads, tokens, head_dim]`,
// the memory is a pool of fixed-size token blocks `[num_blocks, block_size, heads, head_dim]`
// reached through a block table, as engines with paged attention keep it.
//
// Checks (docs/architecture.md#errors): the mapping's constructor refuses a geometry that cannot
// be addressed (block_size 0, fewer than ceil(tokens / block_size) blocks, no table, a pool
// larger than index_type counts); the entries of the blocks in use are checked at every entry
// point that reads the view (kvc::validate, kvc::compact, the device path), because the table
// belongs to the engine, may live in device memory and may change after the view is built.

#include "kvc/version.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <cuda/std/mdspan>

#include "kvc/core/error.hpp"

namespace kvc {

namespace detail {
/// `view.field`, or `field` alone when the view has no name (at construction).
inline std::string qualified(std::string_view view, std::string_view field) {
  std::string out(view);
  if (!out.empty()) out += '.';
  return out.append(field);
}

/// Block-table entries that tokens [0, tokens) use: ceil(tokens / block_size) (block_size >= 1).
constexpr std::size_t blocks_in_use(std::size_t tokens, std::size_t block_size) noexcept {
  return tokens / block_size + (tokens % block_size != 0 ? 1 : 0);
}

/// Throws unless a pool of `num_blocks` blocks of `block_size` tokens, reached through `table`,
/// can hold `tokens` tokens of `heads * head_dim` elements with every offset below `max_index`.
inline void require_paged_geometry(std::string_view view, const std::int32_t* table, std::size_t num_blocks,
                                   std::size_t block_size, std::size_t heads, std::size_t tokens,
                                   std::size_t head_dim, std::size_t max_index) {
  require(block_size >= 1, qualified(view, "block_size"), "at least 1 token per block", block_size);
  const std::size_t used = blocks_in_use(tokens, block_size);
  require(num_blocks >= used, qualified(view, "num_blocks"),
          "at least ceil(tokens / block_size) = " + std::to_string(used) + " blocks for " + std::to_string(tokens) +
              " tokens",
          num_blocks);
  require(used == 0 || table != nullptr, qualified(view, "block_table"),
          "a table of at least " + std::to_string(used) + " entries", "nullptr");
  // num_blocks * block_size * heads * head_dim elements must be addressable.
  std::size_t span = num_blocks;
  bool fits = true;
  for (const std::size_t factor : {block_size, heads, head_dim}) {
    if (factor != 0 && span > max_index / factor) fits = false;
    span *= factor;
  }
  require(fits, qualified(view, "num_blocks"),
          "a pool of at most " + std::to_string(max_index) + " elements (num_blocks * block_size * heads * head_dim)",
          std::to_string(num_blocks) + " blocks of " + std::to_string(block_size) + " x " + std::to_string(heads) +
              " x " + std::to_string(head_dim));
}

/// The message for block-table entry `i` = `entry`, outside [0, num_blocks).
[[noreturn]] inline void throw_bad_block(std::string_view view, std::size_t i, std::int32_t entry,
                                         std::size_t num_blocks) {
  throw error(qualified(view, "block_table[" + std::to_string(i) + "]"),
              "a block in [0, num_blocks = " + std::to_string(num_blocks) + ")", std::to_string(entry));
}

/// Is block-table entry `entry` a block of a pool of `num_blocks`?
constexpr bool block_in_pool(std::int32_t entry, std::size_t num_blocks) noexcept {
  return entry >= 0 && static_cast<std::size_t>(entry) < num_blocks;
}
}  // namespace detail

struct layout_paged {
  template <class Extents>
  class mapping {
   public:
    using extents_type = Extents;
    using index_type = typename Extents::index_type;
    using size_type = typename Extents::size_type;
    using rank_type = typename Extents::rank_type;
    using layout_type = layout_paged;
    static_assert(Extents::rank() == 3, "kvc::layout_paged maps [heads, tokens, head_dim]");

    constexpr mapping() noexcept = default;
    /// `block_table[i]` is the pool block that holds tokens [i*block_size, (i+1)*block_size).
    /// Throws kvc::error when the geometry cannot be addressed (see the top of this file); the
    /// table's entries are read only by the entry points that use the view.
    mapping(const Extents& e, const std::int32_t* block_table, index_type block_size, index_type num_blocks)
        : extents_(e), block_table_(block_table), block_size_(block_size), num_blocks_(num_blocks) {
      require_geometry("");
    }

    constexpr const extents_type& extents() const noexcept { return extents_; }
    constexpr index_type block_size() const noexcept { return block_size_; }
    constexpr index_type num_blocks() const noexcept { return num_blocks_; }
    constexpr const std::int32_t* block_table() const noexcept { return block_table_; }
    /// Entries of the table that the view's tokens use.
    constexpr std::size_t blocks_in_use() const noexcept {
      return detail::blocks_in_use(static_cast<std::size_t>(extents_.extent(1)), static_cast<std::size_t>(block_size_));
    }

    template <class I0, class I1, class I2>
    constexpr index_type operator()(I0 h, I1 t, I2 d) const noexcept {
      const index_type heads = extents_.extent(0), dim = extents_.extent(2);
      const index_type tok = static_cast<index_type>(t);
      const index_type block = static_cast<index_type>(block_table_[tok / block_size_]);
      return ((block * block_size_ + tok % block_size_) * heads + static_cast<index_type>(h)) * dim +
             static_cast<index_type>(d);
    }
    constexpr index_type required_span_size() const noexcept {
      return num_blocks_ * block_size_ * extents_.extent(0) * extents_.extent(2);
    }

    /// Throws kvc::error naming `view.block_size`, `view.num_blocks` or `view.block_table`
    /// unless the geometry can be addressed. Reads no table entry.
    void require_geometry(std::string_view view) const {
      detail::require_paged_geometry(view, block_table_, static_cast<std::size_t>(num_blocks_),
                                     static_cast<std::size_t>(block_size_), static_cast<std::size_t>(extents_.extent(0)),
                                     static_cast<std::size_t>(extents_.extent(1)),
                                     static_cast<std::size_t>(extents_.extent(2)),
                                     static_cast<std::size_t>(std::numeric_limits<index_type>::max()));
    }
    /// The geometry, then every entry in use, read on the host: throws kvc::error naming the first
    /// bad one (`view.block_table[i]`). The device path reads the table through its System instead.
    void validate(std::string_view view) const {
      require_geometry(view);
      const std::size_t used = blocks_in_use(), pool = static_cast<std::size_t>(num_blocks_);
      for (std::size_t i = 0; i < used; ++i)
        if (!detail::block_in_pool(block_table_[i], pool)) detail::throw_bad_block(view, i, block_table_[i], pool);
    }

    static constexpr bool is_always_unique() noexcept { return false; }  // a table may alias blocks
    static constexpr bool is_always_exhaustive() noexcept { return false; }
    static constexpr bool is_always_strided() noexcept { return false; }
    static constexpr bool is_unique() noexcept { return false; }
    static constexpr bool is_exhaustive() noexcept { return false; }
    static constexpr bool is_strided() noexcept { return false; }

    friend constexpr bool operator==(const mapping& a, const mapping& b) noexcept {
      return a.extents_ == b.extents_ && a.block_table_ == b.block_table_ && a.block_size_ == b.block_size_ &&
             a.num_blocks_ == b.num_blocks_;
    }

   private:
    Extents extents_{};
    const std::int32_t* block_table_ = nullptr;
    index_type block_size_ = 1;
    index_type num_blocks_ = 0;
  };
};

/// An mdspan over a paged pool. `tokens` may end inside the last block.
template <class T>
using paged_view = ::cuda::std::mdspan<T, ::cuda::std::dextents<std::size_t, 3>, layout_paged>;

/// A paged view of `pool` ([num_blocks, block_size, heads, head_dim]); throws kvc::error when the
/// geometry cannot be addressed (block_size 0, fewer than ceil(tokens / block_size) blocks, no table).
template <class T>
paged_view<T> make_paged_view(T* pool, const std::int32_t* block_table, std::size_t num_blocks,
                              std::size_t block_size, std::size_t heads, std::size_t tokens,
                              std::size_t head_dim) {
  using ext = ::cuda::std::dextents<std::size_t, 3>;
  return paged_view<T>(pool, layout_paged::mapping<ext>(ext(heads, tokens, head_dim), block_table, block_size, num_blocks));
}

/// Is V a view over kvc::layout_paged (whatever its element type, extents and accessor)?
template <class V>
concept paged_tensor_view = std::same_as<typename V::layout_type, layout_paged>;

namespace detail {
/// The checks a view's own memory map needs before kvc reads it, read on the host: for a paged
/// view its geometry and block table (named `name.block_table[i]`, ...); nothing for other views.
template <class V>
void validate_view(const V& v, std::string_view name) {
  if constexpr (paged_tensor_view<V>) v.mapping().validate(name);
}
}  // namespace detail

}  // namespace kvc
