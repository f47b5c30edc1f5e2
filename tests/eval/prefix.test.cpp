#include <doctest/doctest.h>
#include <kvc/eval/methods.hpp>
#include <kvc/eval/prefix.hpp>

#include <cmath>
#include <set>
#include <string>
#include <vector>

TEST_CASE("accumulated causal attention sums every query's softmax row, by hand") {
  // d = 1, scale 1: k = (0, 1); query 0 sees token 0 only (weight 1); query 1 = ln 3 gives logits
  // (0, ln 3) -> weights (1/4, 3/4). Per token: 1 + 1/4 and 3/4.
  const std::vector<float> q{5.0f, std::log(3.0f)}, k{0.0f, 1.0f};
  const auto acc = kvc::eval::accumulated_causal_attention(kvc::strided_view<const float>::contiguous(q.data(), 1, 2, 1),
                                                           kvc::strided_view<const float>::contiguous(k.data(), 1, 2, 1));
  REQUIRE(acc.size() == 2);
  CHECK(acc[0] == doctest::Approx(1.25));
  CHECK(acc[1] == doctest::Approx(0.75));
}

TEST_CASE("a prefix layer shows policies only the prefix; the future queries follow it") {
  // 1 kv head, 2 q heads, 10 tokens, head_dim 2; entry (h, t, j) = 100 h + t.
  kvc::io::trace_layer t;
  t.index = 4;
  auto fill = [](kvc::io::npy_array& a, std::size_t heads) {
    a.shape = {heads, 10, 2};
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t i = 0; i < 10; ++i)
        for (std::size_t j = 0; j < 2; ++j) a.data.push_back(static_cast<float>(100 * h + i));
  };
  fill(t.q, 2);
  fill(t.k, 1);
  fill(t.v, 1);
  const kvc::eval::prefix_layer p(t, {.prefix = 6, .window = 2, .future = 3});
  const auto l = p.layer();
  CHECK(p.index() == 4);
  CHECK(l.tokens() == 6);
  CHECK(l.window() == 2);
  CHECK(l.group() == 2);
  CHECK(l.queries(1, 0, 0) == 104.0f);  // window query 0 is prefix token 4
  CHECK(l.keys(0, 5, 1) == 5.0f);
  CHECK(p.future().extent(1) == 3);
  CHECK(p.future()(1, 0, 0) == 106.0f);  // the first held-out query is token 6
  REQUIRE(l.attention.size() == 2 * 6);
  double total = 0.0;  // each of the 6 prefix queries' rows sums to one
  for (std::size_t i = 0; i < 6; ++i) total += l.attention[i];
  CHECK(total == doctest::Approx(6.0));

  CHECK_THROWS_WITH_AS(kvc::eval::prefix_layer(t, {.prefix = 11, .window = 2, .future = 0}),
                       doctest::Contains("prefix"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::eval::prefix_layer(t, {.prefix = 8, .window = 2, .future = 3}),
                       doctest::Contains("future"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::eval::prefix_layer(t, {.prefix = 3, .window = 4, .future = 1}),
                       doctest::Contains("window"), kvc::error);
}

TEST_CASE("the method registry: unique names, every baseline and method present, clear errors") {
  std::set<std::string> names;
  for (const auto& m : kvc::eval::methods()) CHECK(names.insert(m.name).second);
  for (const char* n : {"streaming_llm", "h2o", "snapkv", "tova", "key_norm", "random", "adakv", "pyramidkv",
                        "fastgen", "ems", "intelllm", "lorc"})
    CHECK(names.count(n) == 1);
  CHECK(kvc::eval::find_method("snapkv").name == "snapkv");
  CHECK_THROWS_WITH_AS(kvc::eval::find_method("nosuch"), doctest::Contains("one of streaming_llm, h2o"), kvc::error);
}

TEST_CASE("FastGen's classes of a sequence: the BOS is special, punctuation strings are punctuation") {
  const std::vector<std::int32_t> ids{0, 5, 7, 0, 9};
  const std::vector<std::string> strings{"<|endoftext|>", "Ġthe", ".", "<|endoftext|>", "Ġ,"};
  using kvc::fastgen::token_class;
  CHECK(kvc::eval::token_classes(ids, strings, 0) ==
        std::vector<token_class>{token_class::special, token_class::plain, token_class::punctuation,
                                 token_class::special, token_class::punctuation});
  CHECK_THROWS_WITH_AS(kvc::eval::token_classes(ids, std::span(strings).first(2), 0),
                       doctest::Contains("strings.size()"), kvc::error);
}
