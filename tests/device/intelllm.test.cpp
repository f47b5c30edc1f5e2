// IntelLLM on the device (kvc::exec::device<System>) against the host reference: the CGE scorer,
// the centroid_protected<Inner> shield and the relocate<Inner> merger (RGL), on random layers of
// awkward sizes. Compiled by g++ for Thrust's OMP system and, through intelllm.test.cu, by nvcc.
// Scores agree to a relative 1e-6 (docs/device.md#tolerance); shields, keep_sets and positions
// exactly (on CUDA against the host stages run on the device's own scores).

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
#include "kvc/device/attention.hpp"
#include "kvc/device/centroid_protected.hpp"
#include "kvc/device/relocate.hpp"
#include "kvc/eval/synthetic.hpp"
#include "kvc/kvc.hpp"
#include "kvc/policy/intelllm.hpp"

namespace {

using namespace kvc_device_test;


using kvc::merge::position_mode;






/// One policy on one layer: scores, shield, keep_set and compressed layer, device against host.
template <class Policy, class T>
void check_policy(const Policy& p, const test_layer<T>& data, std::size_t budget, bool with_attention = false) {
  const device_exec e{};
  const auto host_layer = data.host(with_attention);
  const auto device_layer = data.device(with_attention);
  const kvc::score_matrix host_scores = p.scores(host_layer);
  const kvc::score_matrix device_scores = kvc::device::scores(e, p, device_layer).to_host();
  check_scores(device_scores, host_scores);

  // Fed identical scores, the device shield and selector agree with the host's exactly.
  const auto uploaded = kvc::device::score_matrix<device_system>::from_host(device_scores);
  CHECK(kvc::device::centroid_regions(e, p.select, uploaded) == p.select.regions(device_scores));
  const std::string host_error = error_of([&] { (void)p.select(device_scores, budget); });
  REQUIRE(error_of([&] { (void)kvc::device::select(e, p.select, uploaded, budget); }) == host_error);
  if (host_error != "no error") return;
  CHECK(kvc::device::select(e, p.select, uploaded, budget).to_host() == p.select(device_scores, budget));

  const kvc::compressed_layer<T> device_out = kvc::compress(e, p, device_layer, kvc::budget::tokens{budget});
  if constexpr (exact_scores) {
    check_compressed(device_out, kvc::compress(kvc::exec::host, p, host_layer, kvc::budget::tokens{budget}));
  } else {
    check_compressed(device_out, p.merge(host_layer, device_scores, p.select(device_scores, budget)));
  }
}

constexpr std::size_t sizes[] = {1, 7, 33, 4097};

template <class T>
void check_intelllm(std::size_t heads, std::size_t group) {
  for (std::size_t n : sizes) {
    CAPTURE(n);
    const test_layer<T> data(heads, group, n, n > 1000 ? 20 : 19, 31 + n + group);
    const std::size_t w = data.window;
    const position_mode modes[] = {position_mode::remote_gap, position_mode::repacked, position_mode::original};
    std::size_t round = 0;
    for (std::size_t radius : {0u, 1u, 8u}) {
      // The budget must hold the window and the shield beside it.
      const std::size_t least = w + 2 * radius + 1 < n ? w + 2 * radius + 1 : n;
      for (std::size_t b : {least, (least + n) / 2}) {
        CAPTURE(radius);
        CAPTURE(b);
        const kvc::policy::intelllm p{.score = {.window = w},
                                      .select = {.inner = {.window = w}, .radius = radius},
                                      .merge = {.mode = modes[round % 3], .local = b / 3 + 1}};
        check_policy(p, data, b, /*with_attention=*/round % 4 == 3);
        ++round;
      }
    }
  }
}

}  // namespace

static_assert(kvc::device::runs_on_device<kvc::score::center_of_gravity>);
static_assert(kvc::device::runs_on_device<kvc::select::centroid_protected<kvc::select::window_topk>>);
static_assert(kvc::device::runs_on_device<kvc::select::centroid_protected<kvc::select::head_adaptive>>);
static_assert(kvc::device::runs_on_device<kvc::merge::relocate<>>);
// No device version of the inner stage, none of the adaptor: the dispatch trait stays unspecialised.
struct host_only_selector {
  kvc::keep_set operator()(const kvc::score_matrix&, std::size_t) const;
};
static_assert(!kvc::device::runs_on_device<kvc::select::centroid_protected<host_only_selector>>);

#if defined(KVC_HAS_FLOAT16)
#define KVC_TEST_ELEMENTS float, _Float16, kvc::bf16
#else
#define KVC_TEST_ELEMENTS float, kvc::bf16
#endif

TEST_CASE_TEMPLATE("device intelllm: policy::intelllm matches the host reference, group 1", T, KVC_TEST_ELEMENTS) {
  check_intelllm<T>(3, 1);
}

TEST_CASE_TEMPLATE("device intelllm: policy::intelllm matches the host reference, group 4", T, KVC_TEST_ELEMENTS) {
  check_intelllm<T>(3, 4);
}

TEST_CASE("device intelllm: the shield over other inner selectors and scorers matches the host") {
  const test_layer<float> data(4, 4, 4097, 16, 5);
  using kvc::select::centroid_protected;
  const kvc::pipeline<kvc::score::window_attention, centroid_protected<kvc::select::window_topk>> cge_snapkv{
      .score = {.window = 8}, .select = {.inner = {.window = 8}}};
  const kvc::pipeline<kvc::score::center_of_gravity, centroid_protected<kvc::select::topk>,
                      kvc::merge::relocate<>>
      with_sinks{.score = {.window = 8}, .select = {.inner = {.sinks = 4, .recent = 8}, .radius = 3}};
  const kvc::pipeline<kvc::score::center_of_gravity, centroid_protected<kvc::select::head_adaptive>> adaptive{
      .score = {.window = 8}, .select = {.inner = {.recent = 8}, .radius = 2}};
  for (std::size_t b : {30u, 2049u}) {
    CAPTURE(b);
    check_policy(cge_snapkv, data, b);
    check_policy(with_sinks, data, b);
    check_policy(adaptive, data, b);
  }
}

TEST_CASE("device intelllm: shields by hand — rounding x.5 down, clipping, no mass, the largest float") {
  const device_exec e{};
  // Head 0: mass 1 on tokens 2 and 3: c = 2.5 -> token 2, radius 1 -> [1, 4).
  // Head 1: mass on tokens 0 and 9 only: c = (9 · 3) / 4 = 6.75 -> 7, radius 1 -> [6, 9).
  // Head 2: no mass: no shield. Head 3: all mass on token 9: c = 9 -> [8, 10), clipped.
  kvc::score_matrix s(4, 10);
  s(0, 2) = s(0, 3) = 1.0f;
  s(1, 0) = 1.0f;
  s(1, 9) = 3.0f;
  s(3, 9) = 2.0f;
  const kvc::select::centroid_protected<kvc::select::topk> p{.radius = 1};
  const auto d = kvc::device::score_matrix<device_system>::from_host(s);
  using span = kvc::select::token_span;
  CHECK(kvc::device::centroid_regions(e, p, d) == std::vector<span>{{1, 4}, {6, 9}, {0, 0}, {8, 10}});
  const auto keep = kvc::device::select(e, p, d, 3).to_host();
  CHECK(keep == p(s, 3));
  CHECK(std::vector<kvc::index_t>(keep.head(1).begin(), keep.head(1).end()) == std::vector<kvc::index_t>{6, 7, 8});

  // The best score is the largest float: the shield takes its place and the others make room.
  kvc::score_matrix big(1, 6);
  const float top = std::numeric_limits<float>::max();
  big(0, 0) = top;
  big(0, 4) = 1.0f;
  big(0, 5) = top;
  const kvc::select::centroid_protected<kvc::select::topk> shield0{.radius = 0, .exclude_first = 1, .exclude_last = 1};
  const auto db = kvc::device::score_matrix<device_system>::from_host(big);
  CHECK(kvc::device::select(e, shield0, db, 2).to_host() == shield0(big, 2));
  const auto kept = kvc::device::select(e, shield0, db, 2).to_host();
  CHECK(std::vector<kvc::index_t>(kept.head(0).begin(), kept.head(0).end()) == std::vector<kvc::index_t>{0, 4});
}

TEST_CASE("device intelllm: relocate_positions on ragged device layers equals the host's, every mode") {
  for (std::size_t n : sizes) {
    CAPTURE(n);
    const test_layer<kvc::bf16> data(5, 1, n, 9, 60 + n);
    const auto scores = kvc::policy::key_norm{}.scores(data.host());
    const auto keep = kvc::select::head_adaptive{.recent = 1}(scores, n / 2 + 1);  // ragged
    const auto d_keep = kvc::device::keep_set<device_system>::from_host(keep);
    const auto d_scores = kvc::device::score_matrix<device_system>::from_host(scores);
    for (auto mode : {position_mode::original, position_mode::repacked, position_mode::remote_gap})
      for (std::size_t local : {0u, 1u, 3u, 64u}) {
        CAPTURE(local);
        auto host = kvc::merge::drop{}(data.host(), scores, keep);
        kvc::merge::relocate_positions(host, mode, local);
        auto device = kvc::device::merge(device_exec{}, kvc::merge::drop{}, data.device(), d_scores, d_keep);
        kvc::device::relocate_positions(device_exec{}, device, mode, local);
        check_compressed(device.to_host(), host);
        check_compressed(kvc::device::merge(device_exec{}, kvc::merge::relocate<>{.mode = mode, .local = local},
                                            data.device(), d_scores, d_keep)
                             .to_host(),
                         host);
      }
  }
}

TEST_CASE("device intelllm: the same inputs give the same result twice") {
  const test_layer<float> data(4, 4, 4097, 16, 12);
  const kvc::policy::intelllm p{.score = {.window = 8}, .select = {.inner = {.window = 8}}};
  const kvc::compressed_layer<float> a = kvc::compress(device_exec{}, p, data.device(), kvc::budget::ratio{0.1});
  const kvc::compressed_layer<float> b = kvc::compress(device_exec{}, p, data.device(), kvc::budget::ratio{0.1});
  check_compressed(a, b);
}

TEST_CASE("device intelllm: bad input throws the host's kvc::error and changes nothing") {
  const device_exec e{};
  auto upload = [](std::vector<float> row) {
    kvc::score_matrix s(1, row.size());
    std::copy(row.begin(), row.end(), s.flat().begin());
    return s;
  };
  const kvc::select::centroid_protected<> shield{.radius = 1, .exclude_last = 0};
  for (const auto& row : {std::vector<float>{1, -1, 2}, std::vector<float>{1, std::nanf(""), -2},
                          std::vector<float>{0, 1, std::numeric_limits<float>::infinity()}}) {
    const auto s = upload(row);
    const auto d = kvc::device::score_matrix<device_system>::from_host(s);
    const std::string host = error_of([&] { (void)shield(s, 3); });
    CHECK(host.find("scores(0, ") != std::string::npos);
    CHECK(error_of([&] { (void)kvc::device::select(e, shield, d, 3); }) == host);
    CHECK(error_of([&] { (void)kvc::device::centroid_regions(e, shield, d); }) ==
          error_of([&] { (void)shield.regions(s); }));
  }
  // Budgets: below the shield, zero, above the cache, and no room beside the inner's window.
  const auto s = upload({4, 0, 0, 1, 1, 1, 1, 0, 0, 4});
  const auto d = kvc::device::score_matrix<device_system>::from_host(s);
  const kvc::select::centroid_protected<kvc::select::topk> crowded{.inner = {.recent = 3}, .radius = 1,
                                                                   .exclude_last = 0};
  for (std::size_t b : {0u, 2u, 4u, 11u}) {
    CAPTURE(b);
    const std::string host = error_of([&] { (void)crowded(s, b); });
    CHECK(host != "no error");
    CHECK(error_of([&] { (void)kvc::device::select(e, crowded, d, b); }) == host);
  }

  // Scorer: window 0; merger: an unknown position mode, positions that are not ascending.
  const test_layer<float> data(2, 2, 33, 8, 4);
  const kvc::policy::intelllm zero_window{.score = {.window = 0}};
  CHECK(error_of([&] { (void)kvc::compress(e, zero_window, data.device(), kvc::budget::tokens{33}); }) ==
        error_of([&] { (void)zero_window(data.host(), kvc::budget::tokens{33}); }));
  const kvc::policy::intelllm bad_mode{.score = {.window = 8}, .select = {.inner = {.window = 8}},
                                       .merge = {.mode = static_cast<position_mode>(7)}};
  CHECK(error_of([&] { (void)kvc::compress(e, bad_mode, data.device(), kvc::budget::tokens{30}); }) ==
        error_of([&] { (void)bad_mode(data.host(), kvc::budget::tokens{30}); }));
  test_layer<float> shuffled(2, 2, 33, 8, 4);
  std::swap(shuffled.positions[20], shuffled.positions[28]);
  shuffled.upload();
  const kvc::policy::intelllm p{.score = {.window = 8}, .select = {.inner = {.window = 8}}};
  const std::string host = error_of([&] { (void)p(shuffled.host(), kvc::budget::tokens{33}); });
  CHECK(host.find("positions(0)") != std::string::npos);
  CHECK(error_of([&] { (void)kvc::compress(e, p, shuffled.device(), kvc::budget::tokens{33}); }) == host);

  // A failed relocation leaves the device layer's positions as they were.
  const auto scores = kvc::policy::key_norm{}.scores(shuffled.host());
  const auto all = kvc::device::keep_set<device_system>::from_host(kvc::select::topk{}(scores, 33));
  auto out = kvc::device::merge(e, kvc::merge::drop{}, shuffled.device(),
                                kvc::device::score_matrix<device_system>::from_host(scores), all);
  const kvc::compressed_layer<float> before = out;
  CHECK(error_of([&] { kvc::device::relocate_positions(e, out, position_mode::remote_gap, 4); }) != "no error");
  check_compressed(out.to_host(), before);
}
