// EMS on the device (docs/ems.md#device-version) against the host reference: Global-Local scores,
// the evict_merge class assignment (zero class), the center merge, and kvc::compress with
// kvc::policy::ems. Compiled by g++ for Thrust's OMP system and, through ems.test.cu, by nvcc.
// Scores agree to a relative 1e-6; class ids and keep_sets exactly (the selector fed the same
// scores); merged rows bit for bit on CPP/OMP (the device sums each class in the reference's
// order) and, on CUDA, where fused multiply-adds may move a double by an ulp, to one ulp of T.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <thrust/copy.h>

#include "kvc/device/all.hpp"
#include "kvc/device/center_merge.hpp"
#include "kvc/device/class_assignment.hpp"
#include "kvc/device/evict_merge.hpp"
#include "kvc/device/global_local.hpp"
#include "kvc/eval/synthetic.hpp"
#include "kvc/kvc.hpp"

namespace {

#if defined(__CUDACC__)
inline constexpr bool exact_arithmetic = false;  // nvcc fuses multiply-adds and has its own exp
#else
inline constexpr bool exact_arithmetic = true;
#endif

using device_system = thrust::device_system_tag;
using device_exec = kvc::exec::device<device_system>;

static_assert(kvc::device::runs_on_device<kvc::score::global_local>);
static_assert(kvc::device::runs_on_device<kvc::select::evict_merge>);
static_assert(kvc::device::runs_on_device<kvc::merge::center_merge>);

template <class T>
using view = kvc::strided_view<const T>;
template <class T>
using layer_t = kvc::layer<view<T>, view<T>, view<T>>;

/// A synthetic layer stored as T on the host, with a copy in System memory.
template <class T, class System = device_system>
struct ems_layer {
  std::size_t heads, tokens, dim, q_heads, window;
  std::vector<T> keys, values, queries;
  std::vector<std::int64_t> positions;
  kvc::device::vector<T, System> d_keys, d_values, d_queries;
  kvc::device::vector<std::int64_t, System> d_positions;

  ems_layer(std::size_t h, std::size_t group, std::size_t n, std::size_t d, std::uint64_t seed)
      : heads(h), tokens(n), dim(d), q_heads(h * group), window(n < 8 ? n : 8) {
    const auto s = kvc::eval::make_synthetic_layer(
        {.kv_heads = h, .group = group, .tokens = n, .head_dim = d, .window = window, .held_out = 1, .seed = seed});
    for (float x : s.keys) keys.push_back(kvc::from_float<T>(x));
    for (float x : s.values) values.push_back(kvc::from_float<T>(x));
    for (float x : s.queries) queries.push_back(kvc::from_float<T>(x));
    std::mt19937_64 rng(seed);
    std::int64_t p = 50;
    for (std::size_t t = 0; t < n; ++t) positions.push_back(p += 1 + static_cast<std::int64_t>(rng() % 4));
    upload();
  }
  void upload() {
    d_keys.assign(keys.begin(), keys.end());
    d_values.assign(values.begin(), values.end());
    d_queries.assign(queries.begin(), queries.end());
    d_positions.assign(positions.begin(), positions.end());
  }

  [[nodiscard]] layer_t<T> host() const {
    layer_t<T> l{view<T>::contiguous(keys.data(), heads, tokens, dim),
                 view<T>::contiguous(values.data(), heads, tokens, dim),
                 view<T>::contiguous(queries.data(), q_heads, window, dim)};
    l.positions = positions;
    return l;
  }
  [[nodiscard]] layer_t<T> device() const {
    layer_t<T> l{view<T>::contiguous(thrust::raw_pointer_cast(d_keys.data()), heads, tokens, dim),
                 view<T>::contiguous(thrust::raw_pointer_cast(d_values.data()), heads, tokens, dim),
                 view<T>::contiguous(thrust::raw_pointer_cast(d_queries.data()), q_heads, window, dim)};
    l.positions = {thrust::raw_pointer_cast(d_positions.data()), tokens};
    return l;
  }
};

/// Relative 1e-6 (docs/device.md#tolerance).
void check_scores(const kvc::score_matrix& device, const kvc::score_matrix& host) {
  REQUIRE(device.heads() == host.heads());
  REQUIRE(device.tokens() == host.tokens());
  std::size_t off = 0;
  for (std::size_t i = 0; i < host.flat().size(); ++i)
    if (std::fabs(device.flat()[i] - host.flat()[i]) > 1e-6f * std::fabs(host.flat()[i])) ++off;
  CHECK(off == 0);
}

/// One ulp of T at 1 (float, _Float16, bf16).
template <class T>
constexpr float unit_ulp() {
  if constexpr (sizeof(T) == 4)
    return 1.2e-7f;
  else if constexpr (std::is_same_v<T, kvc::bf16>)
    return 7.9e-3f;
  else
    return 9.8e-4f;
}

template <class T>
void check_rows(std::span<const T> device, std::span<const T> host) {
  REQUIRE(device.size() == host.size());
  if constexpr (exact_arithmetic) {
    CHECK(std::memcmp(device.data(), host.data(), host.size_bytes()) == 0);
  } else {
    std::size_t off = 0;
    for (std::size_t i = 0; i < host.size(); ++i) {
      const float d = kvc::to_float(device[i]), h = kvc::to_float(host[i]);
      if (std::fabs(d - h) > unit_ulp<T>() * (std::fabs(h) + 1e-3f)) ++off;
    }
    CHECK(off == 0);
  }
}

template <class T>
void check_compressed(const kvc::compressed_layer<T>& d, const kvc::compressed_layer<T>& h) {
  REQUIRE(d.keep() == h.keep());
  check_rows<T>(d.all_keys(), h.all_keys());
  check_rows<T>(d.all_values(), h.all_values());
  CHECK(std::equal(d.all_positions().begin(), d.all_positions().end(), h.all_positions().begin(),
                   h.all_positions().end()));
}

struct coverage {
  std::size_t merged = 0, evicted = 0, pending = 0;
  void add(const kvc::ems::class_assignment& a) {
    for (std::size_t h = 0; h < a.heads(); ++h) {
      merged += a.merged(h);
      evicted += a.evicted(h);
      pending += a.pending_count(h);
    }
  }
};

/// Every stage of `p` on one layer, device against host.
template <class System, class T>
void check_ems(const kvc::policy::ems& p, const ems_layer<T, System>& data, std::size_t budget, coverage& seen) {
  const kvc::exec::device<System> e{};
  const auto host_layer = data.host();
  const auto device_layer = data.device();

  const kvc::score_matrix host_scores = p.scores(host_layer);
  const kvc::score_matrix device_scores = kvc::device::scores(e, p, device_layer).to_host();
  check_scores(device_scores, host_scores);

  // Selector and merger fed the same scores: ids, keep_sets and rows agree on every backend.
  const auto scores = kvc::device::score_matrix<System>::from_host(device_scores);
  const kvc::ems::class_assignment pending = p.select(device_scores, budget);
  CHECK(kvc::device::select(e, p.select, scores, budget).to_host() == pending);
  const kvc::ems::class_assignment host_classes = p.select(host_layer, device_scores, budget);
  const auto classes = kvc::device::select(e, p.select, device_layer, scores, budget);
  CHECK(classes.to_host() == host_classes);
  CHECK(classes.max_classes() == host_classes.max_classes());
  seen.add(pending);
  seen.add(host_classes);
  const kvc::compressed_layer<T> merged = kvc::device::merge(e, p.merge, device_layer, scores, classes);
  check_compressed(merged, p.merge(host_layer, device_scores, host_classes));

  const kvc::compressed_layer<T> device_out = kvc::compress(e, p, device_layer, kvc::budget::tokens{budget});
  if constexpr (exact_arithmetic)
    check_compressed(device_out, kvc::compress(kvc::exec::host, p, host_layer, kvc::budget::tokens{budget}));
  else
    check_compressed(device_out, p.merge(host_layer, device_scores, host_classes));
  if (data.tokens < 1000)
    CHECK(kvc::device::keep(e, p, device_layer, kvc::budget::tokens{budget}).to_host() ==
          (exact_arithmetic ? p.keep(host_layer, kvc::budget::tokens{budget}) : host_classes));
}

constexpr std::size_t sizes[] = {1, 7, 33, 4097};

/// Budgets every variant below accepts (recent = window = min(8, n)); the long cache skips the
/// trivial "keep everything" and a large budget (the host's center assignment is quadratic).
std::vector<std::size_t> budgets_for(std::size_t n) {
  if (n > 1000) return {8, 65};
  std::vector<std::size_t> b{n, n < 8 ? n : 8};
  if (n > 9) b.push_back(n / 2 + 1);
  return b;
}

/// The paper-default policy with the test layer's window, and variants that exercise every
/// branch: every positive token relevant, a small relevant band (zero class by mass), a
/// similarity threshold (zero class by similarity) with the centers' own keys, the key cosine
/// alone with the max group fold and the local view alone, the global view alone without merged
/// values, no middle band at all.
std::vector<kvc::policy::ems> variants(std::size_t w) {
  using kvc::group_reduce;
  const kvc::policy::ems base{.score = {.window = w}, .select = {.recent = w}};
  std::vector<kvc::policy::ems> v(7, base);
  v[1].select.merge_mass = 1.0;
  v[2].select.merge_mass = 0.3;
  v[3].select.min_similarity = 0.15;
  v[3].merge.merge_keys = false;
  v[4].score.group = group_reduce::max;
  v[4].score.global_weight = 0.0;
  v[4].select.similarity = kvc::ems::similarity_measure::key;
  v[5].score.global_weight = 1.0;
  v[5].merge.merge_values = false;
  v[6].select.merge_mass = 0.0;  // no middle band: everything not kept is evicted
  return v;
}

template <class T>
void check_all(std::size_t heads, std::size_t group) {
  coverage seen;
  for (std::size_t n : sizes) {
    CAPTURE(n);
    const ems_layer<T> data(heads, group, n, n > 1000 ? 20 : 19, 31 + n + group);
    for (std::size_t b : budgets_for(n)) {
      CAPTURE(b);
      const auto all = variants(data.window);
      // The long cache runs the defaults, sparse heads and the similarity threshold.
      for (std::size_t i = 0; i < (n > 1000 ? 4 : all.size()); ++i) {
        if (n > 1000 && i == 1) continue;
        CAPTURE(i);
        check_ems<device_system>(all[i], data, b, seen);
      }
    }
  }
  // The comparisons above covered merged, evicted and pending tokens.
  CHECK(seen.merged > 0);
  CHECK(seen.evicted > 0);
  CHECK(seen.pending > 0);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const kvc::error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

#if defined(KVC_HAS_FLOAT16)
#define KVC_TEST_ELEMENTS float, _Float16, kvc::bf16
#else
#define KVC_TEST_ELEMENTS float, kvc::bf16
#endif

TEST_CASE_TEMPLATE("device ems: every stage matches the host reference, group 1", T, KVC_TEST_ELEMENTS) {
  check_all<T>(3, 1);
}

TEST_CASE_TEMPLATE("device ems: every stage matches the host reference, group 4", T, KVC_TEST_ELEMENTS) {
  check_all<T>(3, 4);
}

TEST_CASE("device ems: the worked example of docs/ems.md") {
  // One head, d = 2, budget 2, recent 0, scores (0.4, 0.1, 0.3, 0.2, 0.05). Centers 0 and 2;
  // by rank the mass reaches 0.9 of 1.05 with token 1, so 1 and 3 are candidates and 4 is
  // evicted. Key cosine · value cosine sends 1 to center 0 (0.828) and 3 to center 2 (0.315):
  // ids (1, 1, 2, 2, 0). v̂_0 = (0.4·(2,0) + 0.1·(6,4)) / 0.5 = (2.8, 0.8);
  // v̂_2 = (0.3·(0,3) + 0.2·(9,3)) / 0.5 = (3.6, 3.0); keys: the weighted mean direction at the
  // weighted mean norm, k̂_0 = (1.000797, 0.020016), k̂_2 = (0.040048, 1.001194).
  const std::vector<float> keys{1, 0, 1, 0.1f, 0, 1, 0.1f, 1, -1, -1}, values{2, 0, 6, 4, 0, 3, 9, 3, 100, 100};
  const kvc::device::vector<float, device_system> d_keys(keys.begin(), keys.end()),
      d_values(values.begin(), values.end());
  const auto l = kvc::make_layer(view<float>::contiguous(thrust::raw_pointer_cast(d_keys.data()), 1, 5, 2),
                                 view<float>::contiguous(thrust::raw_pointer_cast(d_values.data()), 1, 5, 2));
  kvc::score_matrix m(1, 5);
  const float s[] = {0.4f, 0.1f, 0.3f, 0.2f, 0.05f};
  std::copy(std::begin(s), std::end(s), m.flat().begin());
  const auto scores = kvc::device::score_matrix<device_system>::from_host(m);
  const device_exec e{};
  const auto classes = kvc::device::select(e, kvc::select::evict_merge{.recent = 0}, l, scores, 2);
  const auto ids = classes.to_host();
  CHECK(std::vector<kvc::ems::class_id>(ids.row(0).begin(), ids.row(0).end()) ==
        std::vector<kvc::ems::class_id>{1, 1, 2, 2, 0});
  const kvc::compressed_layer<float> out = kvc::device::merge(e, kvc::merge::center_merge{}, l, scores, classes);
  const auto v = out.all_values();
  REQUIRE(v.size() == 4);
  CHECK(v[0] == doctest::Approx(2.8));
  CHECK(v[1] == doctest::Approx(0.8));
  CHECK(v[2] == doctest::Approx(3.6));
  CHECK(v[3] == doctest::Approx(3.0));
  const auto k = out.all_keys();
  REQUIRE(k.size() == 4);
  CHECK(k[0] == doctest::Approx(1.0007974));
  CHECK(k[1] == doctest::Approx(0.0200159));
  CHECK(k[2] == doctest::Approx(0.0400478));
  CHECK(k[3] == doctest::Approx(1.0011944));
  // The pending form stops before the similarity: 1 and 3 wait for a center.
  const auto pending = kvc::device::select(e, kvc::select::evict_merge{.recent = 0}, scores, 2).to_host();
  CHECK(std::vector<kvc::ems::class_id>(pending.row(0).begin(), pending.row(0).end()) ==
        std::vector<kvc::ems::class_id>{1, -1, 2, -1, 0});
}

TEST_CASE("device ems: ragged budgets share one slot shape per head") {
  // Centers from Ada-KV (a different count per head): the zero-class slots still line up.
  for (std::size_t n : {7u, 33u, 4097u}) {
    CAPTURE(n);
    const ems_layer<float> data(8, 4, n, 16, 60 + n);
    const auto host_scores = kvc::policy::key_norm{}.scores(data.host());
    // At 4097 tokens a modest budget: the center search is O(kept · tokens · head_dim) per head.
    const auto keep = kvc::select::head_adaptive{.floor_fraction = 0.1, .recent = 1}(host_scores, n > 1000 ? 65 : n / 3 + 1);
    std::vector<kvc::ems::class_id> ids(8 * n, kvc::ems::class_assignment::pending);
    for (std::size_t h = 0; h < 8; ++h)
      for (std::size_t r = 0; r < keep.kept(h); ++r)
        ids[h * n + static_cast<std::size_t>(keep.head(h)[r])] = static_cast<kvc::ems::class_id>(r + 1);
    for (std::size_t i = 0; i < ids.size(); i += 5)
      if (ids[i] == kvc::ems::class_assignment::pending) ids[i] = kvc::ems::class_assignment::zero_class;
    const kvc::ems::class_assignment host_pending(keep, ids);
    const auto host_classes = kvc::ems::assign_centers(data.host(), host_pending, 0.05);

    const device_exec e{};
    const auto pending = kvc::device::class_assignment<device_system>::from_host(host_pending);
    CHECK(!pending.complete());
    const auto classes = kvc::device::assign_centers(e, data.device(), pending, 0.05);
    REQUIRE(classes.to_host() == host_classes);
    bool ragged = false;
    for (std::size_t h = 1; h < 8; ++h) ragged = ragged || keep.kept(h) != keep.kept(0);
    CHECK(ragged);

    const auto scores = kvc::device::score_matrix<device_system>::from_host(host_scores);
    for (const kvc::merge::center_merge m : {kvc::merge::center_merge{}, kvc::merge::center_merge{.merge_keys = false}}) {
      const kvc::compressed_layer<float> out = kvc::device::merge(e, m, data.device(), scores, classes);
      check_compressed(out, m(data.host(), host_scores, host_classes));
    }
    // merge::drop takes an assignment as the keep_set of its centers, on both paths.
    const kvc::compressed_layer<float> dropped = kvc::device::merge(e, kvc::merge::drop{}, data.device(), scores, classes);
    check_compressed(dropped, kvc::merge::drop{}(data.host(), host_scores, host_classes));
  }
}

TEST_CASE("device ems: the same inputs give the same result twice") {
  const ems_layer<kvc::bf16> data(4, 4, 4097, 16, 5);
  const kvc::policy::ems p{.score = {.window = 8}, .select = {.recent = 8}};
  const kvc::compressed_layer<kvc::bf16> a = kvc::compress(device_exec{}, p, data.device(), kvc::budget::ratio{0.02});
  const kvc::compressed_layer<kvc::bf16> b = kvc::compress(device_exec{}, p, data.device(), kvc::budget::ratio{0.02});
  REQUIRE(a.keep() == b.keep());
  CHECK(std::memcmp(a.all_values().data(), b.all_values().data(), a.all_values().size_bytes()) == 0);
  CHECK(std::memcmp(a.all_keys().data(), b.all_keys().data(), a.all_keys().size_bytes()) == 0);
  CHECK(kvc::device::keep(device_exec{}, p, data.device(), kvc::budget::ratio{0.1}).to_host() ==
        kvc::device::keep(device_exec{}, p, data.device(), kvc::budget::ratio{0.1}).to_host());
}

TEST_CASE("device ems: bad input throws the host path's kvc::error and writes nothing") {
  ems_layer<float> data(2, 2, 12, 4, 8);
  const device_exec e{};
  const auto host_error = [&](const kvc::policy::ems& p, std::size_t budget) {
    return error_of([&] { (void)kvc::compress(kvc::exec::host, p, data.host(), kvc::budget::tokens{budget}); });
  };
  const auto device_error = [&](const kvc::policy::ems& p, std::size_t budget) {
    return error_of([&] { (void)kvc::compress(e, p, data.device(), kvc::budget::tokens{budget}); });
  };
  const kvc::policy::ems ok{.score = {.window = 4}, .select = {.recent = 4}};
  std::vector<std::pair<kvc::policy::ems, std::size_t>> cases;
  for (std::size_t b : {0u, 3u, 13u}) cases.emplace_back(ok, b);  // below 1, below recent, above the cache
  auto bad = ok;
  bad.score.window = 0;
  cases.emplace_back(bad, 6);
  bad = ok;
  bad.score.global_weight = 1.5;
  cases.emplace_back(bad, 6);
  bad = ok;
  bad.select.merge_mass = -0.1;
  cases.emplace_back(bad, 6);
  bad = ok;
  bad.select.min_similarity = 1.5;
  cases.emplace_back(bad, 6);
  for (const auto& c : cases) {
    CAPTURE(c.second);
    const std::string h = host_error(c.first, c.second);
    CHECK(!h.empty());
    CHECK(device_error(c.first, c.second) == h);
  }

  // A layer without queries cannot be scored.
  const auto no_queries = kvc::make_layer(data.device().keys, data.device().values);
  const auto no_queries_host = kvc::make_layer(data.host().keys, data.host().values);
  const std::string nq = error_of([&] { (void)kvc::compress(kvc::exec::host, ok, no_queries_host, kvc::budget::tokens{6}); });
  CHECK(nq.find("queries") != std::string::npos);
  CHECK(error_of([&] { (void)kvc::compress(e, ok, no_queries, kvc::budget::tokens{6}); }) == nq);

  // A failed scorer leaves the caller's score buffer as it was.
  kvc::score_matrix three(1, 3);
  three(0, 0) = 1;
  three(0, 1) = 2;
  three(0, 2) = 3;
  auto out = kvc::device::score_matrix<device_system>::from_host(three);
  CHECK(!error_of([&] { kvc::device::score(e, kvc::score::global_local{.window = 0}, data.device(), out); }).empty());
  const auto unchanged = out.to_host();
  CHECK(unchanged.heads() == 1);
  CHECK(std::vector<float>(unchanged.flat().begin(), unchanged.flat().end()) == std::vector<float>{1, 2, 3});

  // Non-finite scores: named by head and token, as on the host.
  kvc::score_matrix s = ok.scores(data.host());
  s(1, 7) = std::numeric_limits<float>::quiet_NaN();
  const auto d_s = kvc::device::score_matrix<device_system>::from_host(s);
  const std::string hs = error_of([&] { (void)ok.select(data.host(), s, 6); });
  CHECK(hs.find("scores(1, 7)") != std::string::npos);
  CHECK(error_of([&] { (void)kvc::device::select(e, ok.select, data.device(), d_s, 6); }) == hs);
  s(1, 7) = 0.5f;
  const auto good = kvc::device::score_matrix<device_system>::from_host(s);

  // The merger wants a complete assignment of the layer's shape.
  const auto pending = kvc::device::select(e, kvc::select::evict_merge{.recent = 4}, good, 6);
  REQUIRE(!pending.complete());
  const std::string hp = error_of([&] { (void)ok.merge(data.host(), s, ok.select(s, 6)); });
  CHECK(hp.find("complete") != std::string::npos);
  CHECK(error_of([&] { (void)kvc::device::merge(e, ok.merge, data.device(), good, pending); }) == hp);
  const ems_layer<float> other(3, 2, 12, 4, 9);
  const auto other_scores = ok.scores(other.host());
  const auto wrong = kvc::device::select(e, ok.select, other.device(),
                                         kvc::device::score_matrix<device_system>::from_host(other_scores), 6);
  const std::string hw =
      error_of([&] { (void)ok.merge(data.host(), s, ok.select(other.host(), other_scores, 6)); });
  CHECK(hw.find("class_assignment.heads()") != std::string::npos);
  CHECK(error_of([&] { (void)kvc::device::merge(e, ok.merge, data.device(), good, wrong); }) == hw);
  const std::string hm = error_of([&] { (void)kvc::ems::assign_centers(data.host(), ok.select(other_scores, 6), 0.0); });
  CHECK(!hm.empty());
  CHECK(error_of([&] {
          (void)kvc::device::assign_centers(
              e, data.device(),
              kvc::device::select(e, ok.select, kvc::device::score_matrix<device_system>::from_host(other_scores), 6), 0.0);
        }) == hm);

  // A non-finite key: the scorer names it by element.
  data.keys[(1 * data.tokens + 5) * data.dim] = std::numeric_limits<float>::infinity();
  data.upload();
  const std::string hk = host_error(ok, 6);
  CHECK(hk.find("keys(1, 5, 0)") != std::string::npos);
  CHECK(device_error(ok, 6) == hk);

  // None of the failed calls wrote to the layer.
  std::vector<float> back(data.values.size());
  thrust::copy(data.d_values.begin(), data.d_values.end(), back.begin());
  CHECK(back == data.values);
  thrust::copy(data.d_keys.begin(), data.d_keys.end(), back.begin());
  CHECK(std::memcmp(back.data(), data.keys.data(), back.size() * sizeof(float)) == 0);
}

#if !defined(__CUDACC__)
TEST_CASE("device ems: thrust::cpp::tag runs the same source and matches the host") {
  const ems_layer<float, thrust::cpp::tag> data(3, 4, 4097, 16, 23);
  coverage seen;
  const auto all = variants(8);
  for (const std::size_t i : {0u, 3u, 5u}) check_ems<thrust::cpp::tag>(all[i], data, 64, seen);
  CHECK(seen.merged > 0);
}
#endif

TEST_CASE("device ems: the global view from the engine's accumulated weights matches the host") {
  // layer.attention replaces the queries in the global view (each token over its n − t
  // observers); the local view still reads the window's queries.
  for (std::size_t group : {1u, 4u}) {
    const ems_layer<float> data(2, group, 41, 8, 77 + group);
    std::vector<float> accumulated(data.q_heads * data.tokens);
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<float> uniform(0.0f, 3.0f);
    for (auto& x : accumulated) x = uniform(rng);
    const kvc::device::vector<float, device_system> d_accumulated(accumulated.begin(), accumulated.end());
    auto host = data.host();
    host.attention = accumulated;
    auto device = data.device();
    device.attention = {thrust::raw_pointer_cast(d_accumulated.data()), accumulated.size()};
    for (const double lambda : {0.0, 0.5, 1.0}) {
      const kvc::score::global_local p{.window = 3, .global_weight = lambda};
      kvc::score_matrix want(data.heads, data.tokens);
      p(host, want);
      kvc::device::score_matrix<device_system> got;
      kvc::device::score(device_exec{}, p, device, got);
      check_scores(got.to_host(), want);
      // With λ = 1 only the engine's weights count: s = mean over the group of G / mean(G),
      // G(t) = attention(g, t) / (n − t).
      if (lambda == 1.0)
        for (std::size_t h = 0; h < data.heads; ++h)
          for (std::size_t t = 0; t < data.tokens; ++t) {
            double s = 0.0;
            for (std::size_t g = 0; g < group; ++g) {
              const float* row = accumulated.data() + (h * group + g) * data.tokens;
              double mean = 0.0;
              for (std::size_t u = 0; u < data.tokens; ++u) mean += row[u] / static_cast<double>(data.tokens - u);
              mean /= static_cast<double>(data.tokens);
              s += row[t] / static_cast<double>(data.tokens - t) / mean / static_cast<double>(group);
            }
            CHECK(want(h, t) == doctest::Approx(s).epsilon(1e-5));
          }
    }
  }
}
