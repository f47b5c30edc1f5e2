#include <doctest/doctest.h>
#include <kvc/eval/metrics.hpp>
#include <kvc/eval/synthetic.hpp>
#include <kvc/kvc.hpp>

#include <cmath>
#include <vector>

TEST_CASE("keeping everything gives zero error and full recovery") {
  const auto s = kvc::eval::make_synthetic_layer({.kv_heads = 2, .group = 2, .tokens = 64, .head_dim = 8,
                                                  .window = 4, .held_out = 3, .seed = 3});
  const auto full = kvc::policy::key_norm{}(s.layer(), kvc::budget::ratio{1.0});
  const auto q = kvc::eval::evaluate(s.layer(), s.future_view(), full);
  CHECK(q.output_error == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(q.recovery == doctest::Approx(1.0));
}

// One head, head_dim 1, keys (0, 0), values (1, 3), future query 1: weights 1/2 each, o = 2.
// Keeping token 1 only: o_hat = 3, error |2 - 3| / 2 = 0.5, recovery 0.5.
TEST_CASE("evaluate on a hand-computed two-token case") {
  std::vector<float> k{0.0f, 0.0f}, v{1.0f, 3.0f}, f{1.0f};
  auto kv = kvc::strided_view<const float>::contiguous(k.data(), 1, 2, 1);
  auto vv = kvc::strided_view<const float>::contiguous(v.data(), 1, 2, 1);
  const auto l = kvc::make_layer(kv, vv);
  const auto out = kvc::merge::drop{}(l, kvc::score_matrix(1, 2), kvc::keep_set::from_heads(2, {{1}}));
  const auto q = kvc::eval::evaluate(l, kvc::strided_view<const float>::contiguous(f.data(), 1, 1, 1), out);
  CHECK(q.output_error == doctest::Approx(0.5));
  CHECK(q.recovery == doctest::Approx(0.5));
}

TEST_CASE("the synthetic layer has the structures it promises") {
  const auto s = kvc::eval::make_synthetic_layer({.kv_heads = 4, .group = 2, .tokens = 512, .head_dim = 32,
                                                  .window = 16, .held_out = 4, .seed = 11});
  const auto l = s.layer();
  CHECK(s.kinds[0] == kvc::eval::head_kind::sink);
  CHECK(s.kinds[1] == kvc::eval::head_kind::local);
  // Oracle checks on the prompt's window attention: the sink head puts most mass on token 0,
  // the local head most mass on the last 64 tokens, the diffuse head spreads it.
  const auto acc = kvc::window_attention_sum(l, 16);
  auto mass = [&](std::size_t qh, std::size_t from, std::size_t to) {
    double m = 0.0;
    for (std::size_t t = from; t < to; ++t) m += acc[qh * 512 + t];
    return m / 16.0;
  };
  CHECK(mass(0, 0, 1) > 0.5);
  CHECK(mass(2, 512 - 64, 512) > 0.5);
  CHECK(mass(6, 0, 1) < 0.05);
  CHECK(mass(6, 512 - 64, 512) < 0.3);
}
