#pragma once
// A paged KV cache as an mdspan layout: the algorithms see `[heads, tokens, head_dim]`,
// the memory is a pool of fixed-size token blocks `[num_blocks, block_size, heads, head_dim]`
// reached through a block table, as engines with paged attention keep it.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <cuda/std/mdspan>

namespace kvc {

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
    constexpr mapping(const Extents& e, const std::int32_t* block_table, index_type block_size,
                      index_type num_blocks) noexcept
        : extents_(e), block_table_(block_table), block_size_(block_size), num_blocks_(num_blocks) {}

    constexpr const extents_type& extents() const noexcept { return extents_; }
    constexpr index_type block_size() const noexcept { return block_size_; }
    constexpr const std::int32_t* block_table() const noexcept { return block_table_; }

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

    static constexpr bool is_always_unique() noexcept { return false; }  // a table may alias blocks
    static constexpr bool is_always_exhaustive() noexcept { return false; }
    static constexpr bool is_always_strided() noexcept { return false; }
    static constexpr bool is_unique() noexcept { return false; }
    static constexpr bool is_exhaustive() noexcept { return false; }
    static constexpr bool is_strided() noexcept { return false; }

    friend constexpr bool operator==(const mapping& a, const mapping& b) noexcept {
      return a.extents_ == b.extents_ && a.block_table_ == b.block_table_ && a.block_size_ == b.block_size_;
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

template <class T>
paged_view<T> make_paged_view(T* pool, const std::int32_t* block_table, std::size_t num_blocks,
                              std::size_t block_size, std::size_t heads, std::size_t tokens,
                              std::size_t head_dim) {
  using ext = ::cuda::std::dextents<std::size_t, 3>;
  return paged_view<T>(pool, layout_paged::mapping<ext>(ext(heads, tokens, head_dim), block_table, block_size, num_blocks));
}

}  // namespace kvc
