#include <doctest/doctest.h>
#include <kvc/kvc.hpp>

#include <cmath>
#include <vector>

// One head, head_dim 1, three tokens with keys 0, 1, 2; one window query q = 2 at the last
// token. Logits q k / sqrt(1) = 0, 2, 4; softmax = (1, e^2, e^4) / (1 + e^2 + e^4).
TEST_CASE("attention_row is the causal softmax of q K^T / sqrt(d), computed by hand") {
  std::vector<float> keys{0.0f, 1.0f, 2.0f}, q{2.0f};
  auto k = kvc::strided_view<const float>::contiguous(keys.data(), 1, 3, 1);
  auto l = kvc::make_layer(k, k, kvc::strided_view<const float>::contiguous(q.data(), 1, 1, 1));
  std::vector<double> row(3);
  kvc::attention_row(l, 0, 0, row);
  const double z = 1.0 + std::exp(2.0) + std::exp(4.0);
  CHECK(row[0] == doctest::Approx(1.0 / z));
  CHECK(row[1] == doctest::Approx(std::exp(2.0) / z));
  CHECK(row[2] == doctest::Approx(std::exp(4.0) / z));
}

// Two window queries over three tokens: query 0 sits at token 1 and must not see token 2.
TEST_CASE("window queries are causally masked at their own position") {
  std::vector<float> keys{0.0f, 0.0f, 5.0f}, q{1.0f, 1.0f};
  auto k = kvc::strided_view<const float>::contiguous(keys.data(), 1, 3, 1);
  auto l = kvc::make_layer(k, k, kvc::strided_view<const float>::contiguous(q.data(), 1, 2, 1));
  std::vector<double> row(3);
  kvc::attention_row(l, 0, 0, row);
  CHECK(row[0] == doctest::Approx(0.5));
  CHECK(row[1] == doctest::Approx(0.5));
  CHECK(row[2] == 0.0);
  const auto sum = kvc::window_attention_sum(l, 2);
  const double z = 2.0 + std::exp(5.0);
  CHECK(sum[0] == doctest::Approx(0.5 + 1.0 / z));
  CHECK(sum[2] == doctest::Approx(std::exp(5.0) / z));
}

// GQA: kv head 0 serves q heads 0 and 1 (group 2). Values per q head: (1, 3) and (5, 1).
TEST_CASE("fold_groups averages or takes the max over a GQA group") {
  const std::vector<double> per_q{1.0, 3.0, 5.0, 1.0};
  kvc::score_matrix mean(1, 2), max(1, 2);
  kvc::fold_groups(per_q, 2, kvc::group_reduce::mean, mean);
  kvc::fold_groups(per_q, 2, kvc::group_reduce::max, max);
  CHECK(mean(0, 0) == 3.0f);
  CHECK(mean(0, 1) == 2.0f);
  CHECK(max(0, 0) == 5.0f);
  CHECK(max(0, 1) == 3.0f);
}
