#pragma once
// kvc::merge::drop: the evicted tokens are simply gone; kept keys/values are gathered as stored.

#include "kvc/version.hpp"

#include <cstddef>
#include <string>

#include "kvc/core/compressed_layer.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/core/scores.hpp"

namespace kvc::merge {

struct drop {
  template <layer_type L>
  compressed_layer<element_of<typename L::key_type>> operator()(const L& l, const score_matrix&,
                                                                 const keep_set& keep) const {
    using T = element_of<typename L::key_type>;
    kvc::detail::validate_views(l);
    kvc::detail::require(keep.heads() == l.kv_heads(), "keep.heads()", "kv_heads " + std::to_string(l.kv_heads()),
                         keep.heads());
    kvc::detail::require(keep.tokens() == l.tokens(), "keep.tokens()", "tokens " + std::to_string(l.tokens()),
                         keep.tokens());
    compressed_layer<T> out(keep, l.head_dim(), l.values.extent(2));
    for (std::size_t h = 0; h < keep.heads(); ++h) {
      auto k = out.keys(h);
      auto v = out.values(h);
      auto pos = out.positions(h);
      const auto idx = keep.head(h);
      for (std::size_t i = 0; i < idx.size(); ++i) {
        const auto t = static_cast<std::size_t>(idx[i]);
        for (std::size_t c = 0; c < out.head_dim(); ++c) k(0, i, c) = kvc::detail::stored_as<T>(l.keys(h, t, c));
        for (std::size_t c = 0; c < out.value_dim(); ++c) v(0, i, c) = kvc::detail::stored_as<T>(l.values(h, t, c));
        pos[i] = l.position(t);
      }
    }
    return out;
  }
};

}  // namespace kvc::merge
