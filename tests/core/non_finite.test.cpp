// Non-finite keys and queries (kvc/core/non_finite.hpp, docs/architecture.md#non-finite-values):
// refused, named by element, by the scorers that read them; copied as they are by the policies
// that do not.
#include <doctest/doctest.h>
#include <kvc/kvc.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace {
constexpr float not_a_number = std::numeric_limits<float>::quiet_NaN();
constexpr float infinity = std::numeric_limits<float>::infinity();

using view = kvc::strided_view<const float>;

template <class F>
std::string message_of(F&& call) {
  try {
    call();
  } catch (const kvc::error& e) {
    return e.what();
  }
  return "no error";
}
template <class F>
std::string argument_of(F&& call) {
  try {
    call();
  } catch (const kvc::error& e) {
    return e.argument();
  }
  return "no error";
}
}  // namespace

TEST_CASE("key norm names the non-finite key element, and leaves its output as it was") {
  // 1 head, 3 tokens, head_dim 2: token 1's first element is NaN.
  std::vector<float> keys{1, 2, not_a_number, 0, 3, 4};
  const auto k = view::contiguous(keys.data(), 1, 3, 2);
  const auto l = kvc::make_layer(k, k);
  CHECK(message_of([&] { (void)kvc::policy::key_norm{}(l, kvc::budget::tokens{1}); }) ==
        "kvc: invalid argument 'keys(0, 1, 0)': expected a finite value (the scorer reads it), got nan");
  kvc::score_matrix out(1, 3, 5.0f);
  CHECK(argument_of([&] { kvc::score::key_norm{}(l, out); }) == "keys(0, 1, 0)");
  CHECK(out(0, 0) == 5.0f);  // token 0 was scored before token 1 failed, but not written
  keys[2] = 0;
  keys[5] = -infinity;
  CHECK(argument_of([&] { kvc::score::key_norm{}(l, out); }) == "keys(0, 2, 1)");
  // Every element finite, but the norm sqrt(2) * 3e38 is above the largest float.
  keys = {3e38f, 3e38f, 1, 1, 0, 0};
  CHECK(message_of([&] { kvc::score::key_norm{}(l, out); }) ==
        "kvc: invalid argument 'keys(0, 0, :)': expected a key row whose L2 norm is at most the largest float "
        "(3.40282e+38), got a larger norm");
  // 3e38 alone fits: scores -3e38, -sqrt(2), 0; keep the lowest norm.
  keys = {3e38f, 0, 1, 1, 0, 0};
  const auto kept = kvc::policy::key_norm{}(l, kvc::budget::tokens{1});
  CHECK(kept.keep().head(0)[0] == 2);
}

TEST_CASE("attention scorers name the key or query element that made a dot product non-finite") {
  // 1 head, 3 tokens, head_dim 1, keys 0, k1, 1; window 2: query 0 at token 1, query 1 at token 2.
  std::vector<float> keys{0, -infinity, 1}, queries{1, 1};
  const auto l = kvc::make_layer(view::contiguous(keys.data(), 1, 3, 1), view::contiguous(keys.data(), 1, 3, 1),
                                 view::contiguous(queries.data(), 1, 2, 1));
  // q * -infinity = -infinity: a weight of exactly 0 that would rank the token last without a word.
  CHECK(argument_of([&] { (void)kvc::policy::tova{}(l, kvc::budget::tokens{1}); }) == "keys(0, 1, 0)");
  keys[1] = 2;
  // TOVA reads the last query only: a NaN in query 0 is not looked at.
  queries[0] = not_a_number;
  CHECK(argument_of([&] { (void)kvc::policy::tova{}(l, kvc::budget::tokens{1}); }) == "no error");
  // SnapKV with a window of 2 reads both.
  const kvc::policy::snapkv snapkv{.score = {.window = 2, .pool = 1}, .select = {.window = 2}};
  CHECK(message_of([&] { (void)snapkv(l, kvc::budget::tokens{2}); }) ==
        "kvc: invalid argument 'queries(0, 0, 0)': expected a finite value (the scorer reads it), got nan");
  queries = {1, infinity};
  CHECK(argument_of([&] { (void)kvc::policy::h2o{}(l, kvc::budget::tokens{2}); }) == "queries(0, 1, 0)");
  CHECK(argument_of([&] { (void)kvc::policy::ems{.score = {.window = 2}, .select = {.recent = 1}}(l, kvc::budget::tokens{2}); }) ==
        "queries(0, 1, 0)");
  CHECK(argument_of([&] { (void)kvc::policy::intelllm{.score = {.window = 2}}(l, kvc::budget::tokens{2}); }) ==
        "queries(0, 1, 0)");
}

TEST_CASE("a NaN query of one GQA head is refused even where a max fold would hide it") {
  // 1 kv head, group 2, 2 tokens, head_dim 1; q-head 1's only query is NaN.
  std::vector<float> keys{1, 2}, queries{1, not_a_number};
  const auto l = kvc::make_layer(view::contiguous(keys.data(), 1, 2, 1), view::contiguous(keys.data(), 1, 2, 1),
                                 view::contiguous(queries.data(), 2, 1, 1));
  const kvc::policy::h2o p{.score = {.group = kvc::group_reduce::max}};
  CHECK(argument_of([&] { (void)p(l, kvc::budget::tokens{1}); }) == "queries(1, 0, 0)");
}

TEST_CASE("the first non-finite element in the scorer's order is named") {
  // 1 kv head, group 2, 3 tokens, head_dim 1. Key 2 is NaN and q-head 1 is infinite: q-head 0's
  // row is scored first and meets the key.
  std::vector<float> keys{1, 2, not_a_number}, queries{1, infinity};
  const auto l = kvc::make_layer(view::contiguous(keys.data(), 1, 3, 1), view::contiguous(keys.data(), 1, 3, 1),
                                 view::contiguous(queries.data(), 2, 1, 1));
  CHECK(argument_of([&] { (void)kvc::policy::tova{}(l, kvc::budget::tokens{1}); }) == "keys(0, 2, 0)");
}

TEST_CASE("huge and denormal finite values are scored, not refused") {
  // Dot products of +-3e38 in double do not overflow: the softmax of (9e76, -9e76) is (1, 0).
  std::vector<float> keys{3e38f, -3e38f}, queries{3e38f};
  const auto l = kvc::make_layer(view::contiguous(keys.data(), 1, 2, 1), view::contiguous(keys.data(), 1, 2, 1),
                                 view::contiguous(queries.data(), 1, 1, 1));
  CHECK(kvc::policy::tova{}(l, kvc::budget::tokens{1}).keep().head(0)[0] == 0);
  keys = {1e-40f, -1e-40f};
  queries = {1e-40f};
  CHECK(kvc::policy::tova{}(l, kvc::budget::tokens{1}).keep().total() == 1);
}

TEST_CASE("policies that never read the keys copy them, and every policy copies values, as they are") {
  std::vector<float> keys{not_a_number, 1, -infinity, 2}, values{infinity, not_a_number, 3, 4};
  const auto k = view::contiguous(keys.data(), 1, 4, 1);
  const auto v = view::contiguous(values.data(), 1, 4, 1);
  const auto same_bits = [](float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; };
  // StreamingLLM with 1 sink and a budget of 2 keeps tokens 0 and 3.
  const auto s = kvc::policy::streaming_llm{.select = {.sinks = 1}}(kvc::make_layer(k, v), kvc::budget::tokens{2});
  CHECK(same_bits(s.keys(0)(0, 0, 0), not_a_number));
  CHECK(same_bits(s.values(0)(0, 0, 0), infinity));
  const auto r = kvc::policy::random{}(kvc::make_layer(k, v), kvc::budget::tokens{4});
  CHECK(same_bits(r.keys(0)(0, 2, 0), -infinity));
  // H2O on the engine's attention weights does not read the keys either.
  std::vector<float> queries{1};
  auto with_attention = kvc::make_layer(k, v, view::contiguous(queries.data(), 1, 1, 1));
  const std::vector<float> attention{0.1f, 0.2f, 0.3f, 0.4f};
  with_attention.attention = attention;
  const auto h = kvc::policy::h2o{}(with_attention, kvc::budget::tokens{2});
  CHECK(h.keep().head(0)[1] == 3);
  CHECK(same_bits(h.values(0)(0, 0, 0), 3));  // token 2 kept as the heavy hitter
  // Key norm reads keys, not values: finite keys, NaN values.
  keys = {1, 2, 3, 4};
  const auto n = kvc::policy::key_norm{}(kvc::make_layer(k, v), kvc::budget::tokens{2});
  CHECK(same_bits(n.values(0)(0, 1, 0), not_a_number));
  CHECK(same_bits(n.values(0)(0, 0, 0), infinity));
}
