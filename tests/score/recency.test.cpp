// The recency scorer: later tokens score higher.
#include <doctest/doctest.h>

#include <vector>

#include "kvc/core/layer.hpp"
#include "kvc/score/recency.hpp"

TEST_CASE("recency: s[h, t] = t for every head, whatever the keys") {
  const std::vector<float> keys{9, -9, 3, 1, 0, 2, 7, 7, 7, 5, 5, 5};
  const auto k = kvc::strided_view<const float>::contiguous(keys.data(), 2, 3, 2);
  kvc::score_matrix s(2, 3, -1.0f);
  kvc::score::recency{}(kvc::make_layer(k, k), s);
  for (std::size_t h = 0; h < 2; ++h)
    for (std::size_t t = 0; t < 3; ++t) CHECK(s(h, t) == static_cast<float>(t));
}
