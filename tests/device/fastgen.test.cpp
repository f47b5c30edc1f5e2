// FastGen on the device (kvc::exec::device<System>) against the host reference: the profiled
// per-head selector (ragged budgets, the budget cap, token classes) and policy::fastgen end to
// end, on random layers of awkward sizes. Compiled by g++ for Thrust's OMP system and, through
// fastgen.test.cu, by nvcc. Scores agree to a relative 1e-6 (docs/device.md#tolerance); keep_sets
// and policy tables (recoveries included) exactly.

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <thrust/copy.h>

#include "device/support.hpp"
#include "kvc/device/all.hpp"
#include "kvc/device/fastgen.hpp"
#include "kvc/eval/synthetic.hpp"
#include "kvc/kvc.hpp"
#include "kvc/policy/fastgen.hpp"

namespace {

using kvc_device_test::check_compressed;
using kvc_device_test::check_scores;
using kvc_device_test::error_of;
using kvc_device_test::exact_scores;


namespace fg = kvc::fastgen;
using fg::token_class;
using device_system = thrust::device_system_tag;
using device_exec = kvc::exec::device<device_system>;
using scores_d = kvc::device::score_matrix<device_system>;

template <class T>
using view = kvc::strided_view<const T>;
template <class T>
using layer_t = kvc::layer<view<T>, view<T>, view<T>>;

/// A synthetic layer stored as T on the host, with a copy in device memory, and token classes.
template <class T>
struct test_layer {
  std::size_t heads, tokens, dim, q_heads, window;
  std::vector<T> keys, values, queries;
  std::vector<float> attention;
  std::vector<token_class> classes;
  kvc::device::vector<T, device_system> d_keys, d_values, d_queries;
  kvc::device::vector<float, device_system> d_attention;

  test_layer(std::size_t h, std::size_t group, std::size_t n, std::size_t d, std::uint64_t seed)
      : heads(h), tokens(n), dim(d), q_heads(h * group), window(n < 8 ? n : 8) {
    const auto s = kvc::eval::make_synthetic_layer(
        {.kv_heads = h, .group = group, .tokens = n, .head_dim = d, .window = window, .held_out = 1, .seed = seed});
    for (float x : s.keys) keys.push_back(kvc::from_float<T>(x));
    for (float x : s.values) values.push_back(kvc::from_float<T>(x));
    for (float x : s.queries) queries.push_back(kvc::from_float<T>(x));
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 2.0f);
    for (std::size_t i = 0; i < q_heads * n; ++i) attention.push_back(u(rng) * u(rng));
    for (std::size_t t = 0; t < n; ++t) {  // BOS special; a few more special, a fifth punctuation
      const auto r = rng() % 20;
      classes.push_back(t == 0 || r == 0 ? token_class::special : r < 5 ? token_class::punctuation : token_class::plain);
    }
    d_keys.assign(keys.begin(), keys.end());
    d_values.assign(values.begin(), values.end());
    d_queries.assign(queries.begin(), queries.end());
    d_attention.assign(attention.begin(), attention.end());
  }
  [[nodiscard]] layer_t<T> host(bool with_attention = false) const {
    layer_t<T> l{view<T>::contiguous(keys.data(), heads, tokens, dim), view<T>::contiguous(values.data(), heads, tokens, dim),
                 view<T>::contiguous(queries.data(), q_heads, window, dim)};
    if (with_attention) l.attention = attention;
    return l;
  }
  [[nodiscard]] layer_t<T> device(bool with_attention = false) const {
    layer_t<T> l{view<T>::contiguous(thrust::raw_pointer_cast(d_keys.data()), heads, tokens, dim),
                 view<T>::contiguous(thrust::raw_pointer_cast(d_values.data()), heads, tokens, dim),
                 view<T>::contiguous(thrust::raw_pointer_cast(d_queries.data()), q_heads, window, dim)};
    if (with_attention) l.attention = {thrust::raw_pointer_cast(d_attention.data()), q_heads * tokens};
    return l;
  }
};



/// Head 0's kept indices of a device selection.
template <class Selection>
std::vector<kvc::index_t> head0(const Selection& s) {
  const kvc::keep_set k = s.to_host();
  return {k.head(0).begin(), k.head(0).end()};
}


/// The device selector on the host's scores: the same keep_set and the same policy table.
void check_selector(const fg::selector& p, const kvc::score_matrix& s, std::size_t budget) {
  const auto host = p(s, budget);
  const auto device = kvc::device::select(device_exec{}, p, scores_d::from_host(s), budget);
  CHECK(device.to_host() == static_cast<const kvc::keep_set&>(host));
  CHECK(device.table == host.table);
}

/// policy::fastgen on one layer: scores, selection and compressed layer, device against host.
template <class T>
void check_policy(const kvc::policy::fastgen& p, const test_layer<T>& data, std::size_t budget,
                  bool with_attention = false) {
  const device_exec e{};
  const auto host_layer = data.host(with_attention);
  const auto device_layer = data.device(with_attention);
  const kvc::score_matrix device_scores = kvc::device::scores(e, p, device_layer).to_host();
  check_scores(device_scores, p.scores(host_layer));
  check_selector(p.select, device_scores, budget);

  const kvc::compressed_layer<T> device_out = kvc::compress(e, p, device_layer, kvc::budget::tokens{budget});
  if constexpr (exact_scores) {
    check_compressed(device_out, kvc::compress(kvc::exec::host, p, host_layer, kvc::budget::tokens{budget}));
    const auto keep = kvc::device::keep(e, p, device_layer, kvc::budget::tokens{budget});
    CHECK(keep.table == p.keep(host_layer, kvc::budget::tokens{budget}).table);
  } else {
    check_compressed(device_out, p.merge(host_layer, device_scores, p.select(device_scores, budget)));
  }
}

constexpr std::size_t sizes[] = {1, 7, 33, 4097};

template <class T>
void check_fastgen(std::size_t heads, std::size_t group) {
  for (std::size_t n : sizes) {
    CAPTURE(n);
    const test_layer<T> data(heads, group, n, n > 1000 ? 20 : 19, 50 + n + group);
    const std::span<const token_class> classes = data.classes;
    check_policy<T>({.select = {.classes = classes}}, data, n);
    check_policy<T>({.select = {.classes = classes, .recovery_threshold = 0.5, .budget = fg::budget_use::cap}}, data,
                    n / 3 + 1);
    check_policy<T>({.select = {.classes = classes, .local_ratio = 0.1, .frequent_ratio = 0.05,
                                .budget = fg::budget_use::cap}},
                    data, 1, /*with_attention=*/true);
    check_policy<T>({.select = {.classes = classes, .budget = fg::budget_use::trim}}, data, n / 4 + 1,
                    /*with_attention=*/true);
    check_policy<T>({.select = {.recovery_threshold = 0.8}}, data, n);  // no classes: every token plain
  }
}

}  // namespace

static_assert(kvc::device::runs_on_device<fg::selector>);

#if defined(KVC_HAS_FLOAT16)
#define KVC_TEST_ELEMENTS float, _Float16, kvc::bf16
#else
#define KVC_TEST_ELEMENTS float, kvc::bf16
#endif

TEST_CASE_TEMPLATE("device fastgen: policy::fastgen matches the host reference, group 1", T, KVC_TEST_ELEMENTS) {
  check_fastgen<T>(3, 1);
}

TEST_CASE_TEMPLATE("device fastgen: policy::fastgen matches the host reference, group 4", T, KVC_TEST_ELEMENTS) {
  check_fastgen<T>(3, 4);
}

TEST_CASE("device fastgen: the selector on random scores — every threshold, ratio and cap") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (std::size_t n : sizes) {
    CAPTURE(n);
    kvc::score_matrix s(6, n);
    for (auto& x : s.flat()) x = u(rng) * u(rng) * u(rng);
    for (std::size_t t = 1; t < n; t += 5) s(1, t) = 0.0f;  // zeros and ties (row sums stay positive)
    for (std::size_t t = 0; t < n; ++t) s(2, t) = 0.25f;
    std::vector<token_class> cls(n);
    for (auto& c : cls) {
      const auto r = rng() % 10;
      c = r == 0 ? token_class::special : r < 3 ? token_class::punctuation : token_class::plain;
    }
    for (double T : {0.2, 0.6, 0.95, 1.0})
      for (double ratio : {0.01, 0.3, 1.0}) {
        CAPTURE(T);
        CAPTURE(ratio);
        check_selector({.classes = cls, .recovery_threshold = T, .local_ratio = ratio, .frequent_ratio = 0.3}, s, n);
        check_selector({.recovery_threshold = T, .local_ratio = 0.3, .frequent_ratio = ratio}, s, n);
        for (std::size_t cap : {std::size_t{1}, n / 4 + 1, n / 2 + 1, n})
          for (auto use : {fg::budget_use::cap, fg::budget_use::trim})
            check_selector({.classes = cls, .recovery_threshold = T, .local_ratio = ratio, .frequent_ratio = ratio,
                            .budget = use},
                           s, cap);
      }
  }
}

// The 6-token example of tests/fastgen/selector.test.cpp: candidate costs 1, 2, 3, 5, 6.
TEST_CASE("device fastgen: capped choices by hand") {
  const std::vector<token_class> cls{token_class::special, token_class::plain, token_class::plain,
                                     token_class::punctuation, token_class::plain, token_class::plain};
  kvc::score_matrix acc(1, 6);
  const float a[] = {2.45f, 1.45f, 0.95f, 0.6166667f, 0.3666667f, 0.1666667f};
  for (std::size_t t = 0; t < 6; ++t) acc(0, t) = a[t];
  const fg::selector capped{.classes = cls, .budget = fg::budget_use::cap};
  const device_exec e{};
  // Cap 4: +frequent {0, 1, 3} fits and the fourth slot goes to token 2 (0.95), the heaviest left.
  const auto four = kvc::device::select(e, capped, scores_d::from_host(acc), 4);
  CHECK(head0(four) ==
        std::vector<kvc::index_t>{0, 1, 2, 3});
  CHECK(four.table[0].policy == fg::special + fg::punctuation + fg::frequent);
  CHECK(four.table[0].capped);
  CHECK(four.table[0].kept == 4);
  // Recovery (2.45 + 1.45 + 0.95 + 0.6166667) / 6 = 0.911111.
  CHECK(four.table[0].recovery == doctest::Approx(0.911111).epsilon(1e-5));
  // Cap 2: special+punct {0, 3} exactly, not labelled +frequent. Cap 6: T's choice, full.
  const auto two = kvc::device::select(e, capped, scores_d::from_host(acc), 2);
  CHECK(two.table[0].policy == fg::special + fg::punctuation);
  CHECK(head0(two) ==
        std::vector<kvc::index_t>{0, 3});
  CHECK_FALSE(kvc::device::select(e, capped, scores_d::from_host(acc), 6).table[0].capped);
  // Three special tokens over a cap of 2: the two best-scored of them, 0 and 1.
  std::vector<token_class> three(cls);
  three[1] = three[2] = token_class::special;
  const auto t = kvc::device::select(e, fg::selector{.classes = three, .budget = fg::budget_use::cap},
                                     scores_d::from_host(acc), 2);
  CHECK(head0(t) ==
        std::vector<kvc::index_t>{0, 1});
  CHECK(t.table[0].policy == fg::special);
  CHECK(t.table[0].kept == 2);
}

TEST_CASE("device fastgen: the same inputs give the same result twice") {
  const test_layer<float> data(4, 4, 4097, 16, 12);
  const kvc::policy::fastgen p{.select = {.classes = data.classes}};
  const auto a = kvc::device::keep(device_exec{}, p, data.device(), kvc::budget::ratio{1.0});
  const auto b = kvc::device::keep(device_exec{}, p, data.device(), kvc::budget::ratio{1.0});
  CHECK(a.to_host() == b.to_host());
  CHECK(a.table == b.table);
}

TEST_CASE("device fastgen: bad input throws the host's kvc::error") {
  const device_exec e{};
  auto same_error = [&](const fg::selector& p, const kvc::score_matrix& s, std::size_t budget) {
    const std::string host = error_of([&] { (void)p(s, budget); });
    CHECK(host != "no error");
    CHECK(error_of([&] { (void)kvc::device::select(e, p, scores_d::from_host(s), budget); }) == host);
  };
  const kvc::score_matrix ones(2, 4, 1.0f);
  same_error({.recovery_threshold = 0.0}, ones, 4);
  same_error({.local_ratio = 2.0}, ones, 4);
  same_error({.frequent_ratio = 0.0}, ones, 4);
  const std::vector<token_class> wrong(3, token_class::plain);
  same_error({.classes = wrong}, ones, 4);
  const std::vector<token_class> unknown{token_class::plain, static_cast<token_class>(9), token_class::plain,
                                         token_class::plain};
  same_error({.classes = unknown}, ones, 4);
  same_error({.budget = fg::budget_use::cap}, ones, 0);
  same_error({.budget = fg::budget_use::cap}, ones, 5);
  same_error({}, kvc::score_matrix(0, 4), 4);
  for (float bad : {-1.0f, std::numeric_limits<float>::infinity(), std::nanf("")}) {
    kvc::score_matrix s = ones;
    s(1, 2) = bad;
    same_error({}, s, 4);
  }
  // The host checks head by head, a row's values before its sum: whichever head comes first wins.
  kvc::score_matrix zero_first = ones, negative_first = ones;
  for (std::size_t t = 0; t < 4; ++t) zero_first(0, t) = 0.0f;
  zero_first(1, 1) = -1.0f;
  negative_first(0, 3) = -1.0f;
  for (std::size_t t = 0; t < 4; ++t) negative_first(1, t) = 0.0f;
  same_error({}, zero_first, 4);
  same_error({}, negative_first, 4);
  CHECK(error_of([&] { (void)fg::selector{}(zero_first, 4); }).find("scores.row(0)") != std::string::npos);
  CHECK(error_of([&] { (void)fg::selector{}(negative_first, 4); }).find("scores(0, 3)") != std::string::npos);
}
