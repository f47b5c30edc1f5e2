#pragma once
// Hand-built prompt attention for the FastGen tests: 20 tokens, the last 4 (16..19) are the
// profiled queries. Token 0 is special (BOS), tokens 5 and 10 are punctuation.
//   sink    row r: 0.96 on token 0, 0.04 on itself           -> C_special recovers 3.84 / 4 = 0.96
//   local   row r: 1/6 on each of tokens r-5 .. r            -> needs +local (23/24), see profile.test.cpp
//   diffuse row r: 1/(r+1) on each of tokens 0 .. r          -> only C_full reaches 0.95
// The rows are accumulated per token into layer.attention ([q_heads, tokens]).

#include <cstddef>
#include <vector>

#include "kvc/core/layer.hpp"
#include "kvc/core/view.hpp"
#include "kvc/fastgen/token_class.hpp"

namespace kvc::test {

enum class hand_head { sink, local, diffuse };

struct hand_layer {
  std::size_t tokens = 20, rows = 4, dim = 2;
  std::vector<hand_head> kinds;
  std::vector<float> zeros, queries, attention;
  std::vector<fastgen::token_class> classes;

  explicit hand_layer(std::vector<hand_head> k) : kinds(std::move(k)) {
    const std::size_t q = kinds.size();
    zeros.assign(q * tokens * dim, 0.0f);
    queries.assign(q * rows * dim, 0.0f);
    attention.assign(q * tokens, 0.0f);
    for (std::size_t h = 0; h < q; ++h)
      for (std::size_t r = tokens - rows; r < tokens; ++r) {
        std::vector<double> row(tokens, 0.0);
        if (kinds[h] == hand_head::sink) {
          row[0] += 0.96;
          row[r] += 0.04;
        } else if (kinds[h] == hand_head::local) {
          for (std::size_t t = r - 5; t <= r; ++t) row[t] = 1.0 / 6.0;
        } else {
          for (std::size_t t = 0; t <= r; ++t) row[t] = 1.0 / static_cast<double>(r + 1);
        }
        for (std::size_t t = 0; t < tokens; ++t) attention[h * tokens + t] += static_cast<float>(row[t]);
      }
    classes.assign(tokens, fastgen::token_class::plain);
    classes[0] = fastgen::token_class::special;
    classes[5] = classes[10] = fastgen::token_class::punctuation;
  }

  /// `kv_heads` kv heads over kinds.size() query heads (GQA when fewer).
  [[nodiscard]] auto layer(std::size_t kv_heads) const {
    auto kv = strided_view<const float>::contiguous(zeros.data(), kv_heads, tokens, dim);
    auto q = strided_view<const float>::contiguous(queries.data(), kinds.size(), rows, dim);
    auto l = make_layer(kv, kv, q);
    l.attention = attention;
    return l;
  }
};

}  // namespace kvc::test
