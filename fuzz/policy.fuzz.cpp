// fuzz_policy: every policy through the public API, the host reference against the device path
// on Thrust's OMP system, on fuzzer-chosen shapes (kv heads, tokens, head_dim, GQA group),
// budgets, parameters, layouts (contiguous, token-major, head_dim outermost, padded rows, paged
// with fuzzer-chosen block tables, valid or not) and values (small grid values with many ties,
// full-mantissa values, raw bits; NaN, infinities, huge and denormal values poked in).
//
// Every call must either throw kvc::error, with the same message on both paths, or give a
// keep set that keeps the budget, keeps the protected tokens, has sorted unique in-range indices
// per head, and is the same on both paths (a difference is accepted only where the device scores
// differ from the reference in rounding and the host selector, fed the device's scores, gives
// the device's keep set). Inputs are never written, whatever the outcome; in-place compaction
// writes only on success. Anything else aborts.
//
// Input layout: see `decode` below; every field is read with FuzzedDataProvider, so any byte
// string is an input. KVC_FUZZ_VERBOSE=1 prints what an input decodes to, and on a mismatch the
// keep sets, scores and data, to read a reproducer.
// Seeds (fuzz/corpus/policy): one input per policy and key/value layout (`snapkv-paged-1`, ...),
// LoRC, paged geometries refused when the view is built, and a merged run.

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "kvc/device/all.hpp"
#include "kvc/kvc.hpp"

namespace {

using System = thrust::omp::tag;
using device_exec = kvc::exec::device<System>;

[[noreturn]] void violated(const char* what, int line, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_policy: property violated at line %d: %s %s\n", line, what, detail.c_str());
  std::abort();
}
#define FUZZ_REQUIRE(cond) \
  do {                     \
    if (!(cond)) violated(#cond, __LINE__); \
  } while (0)
#define FUZZ_REQUIRE_MSG(cond, msg) \
  do {                              \
    if (!(cond)) violated(#cond, __LINE__, (msg)); \
  } while (0)

/// The kvc::error message of `call`, or nullopt when it succeeds. Any other exception escapes
/// (and libFuzzer reports it): kvc throws nothing else on bad input.
template <class F>
std::optional<std::string> error_of(F&& call) {
  try {
    call();
  } catch (const kvc::error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

std::uint64_t mix(std::uint64_t& state) {
  std::uint64_t x = (state += 0x9e3779b97f4a7c15ull);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

float special_value(unsigned kind) {
  switch (kind % 10) {
    case 0: return std::numeric_limits<float>::quiet_NaN();
    case 1: return std::numeric_limits<float>::infinity();
    case 2: return -std::numeric_limits<float>::infinity();
    case 3: return std::numeric_limits<float>::max();
    case 4: return -3.0e38f;
    case 5: return std::numeric_limits<float>::denorm_min();
    case 6: return 1.0e-40f;  // denormal
    case 7: return -0.0f;
    case 8: return 1.0e30f;
    default: return -std::numeric_limits<float>::quiet_NaN();
  }
}

/// A buffer filled by one of four generators, then with a few fuzzer-placed special values.
void fill(FuzzedDataProvider& in, std::vector<float>& v) {
  std::uint64_t state = in.ConsumeIntegral<std::uint64_t>();
  const unsigned mode = in.ConsumeIntegralInRange<unsigned>(0, 3);
  for (float& x : v) {
    const std::uint64_t r = mix(state);
    switch (mode) {
      case 0: x = static_cast<float>(static_cast<int>(r % 17) - 8) * 0.25f; break;  // exact sums, many ties
      case 1: x = static_cast<float>(static_cast<double>(r >> 11) * 0x1.0p-53 * 4.0 - 2.0); break;
      case 2: x = 0.5f; break;  // all equal: ties everywhere
      default: {
        const auto bits = static_cast<std::uint32_t>(r);
        std::memcpy(&x, &bits, sizeof x);  // any float, NaN and infinities included
      }
    }
  }
  const unsigned pokes = in.ConsumeIntegralInRange<unsigned>(0, 3);
  for (unsigned i = 0; i < pokes && !v.empty(); ++i) {
    const std::size_t at = in.ConsumeIntegralInRange<std::size_t>(0, v.size() - 1);
    v[at] = special_value(in.ConsumeIntegral<std::uint8_t>());
  }
}

/// Strides of a [heads, tokens, dim] view in its storage, and the storage size.
struct placement {
  std::array<std::size_t, 3> strides;
  std::size_t size;
};
placement place(unsigned layout, std::size_t heads, std::size_t tokens, std::size_t dim) {
  switch (layout) {
    case 1: return {{dim, heads * dim, 1}, heads * tokens * dim};                  // token-major
    case 2: return {{tokens, 1, heads * tokens}, heads * tokens * dim};            // head_dim outermost
    case 3: return {{tokens * (dim + 1), dim + 1, 1}, heads * tokens * (dim + 1)};  // padded rows
    default: return {{tokens * dim, dim, 1}, heads * tokens * dim};               // contiguous
  }
}

/// Everything one input describes: shapes, storage, and what each view reads.
struct inputs {
  std::size_t heads = 1, group = 1, tokens = 1, dim = 1, window = 0;
  unsigned kv_layout = 0, q_layout = 0;
  bool paged = false;
  // paged geometry (may be invalid)
  std::size_t block_size = 1, num_blocks = 1;
  std::vector<std::int32_t> table;
  bool table_aliases = false;  // two entries in use name the same block
  std::vector<float> keys, values, queries;
  std::vector<std::int64_t> positions;
  std::vector<float> attention;
  placement kv_place{}, q_place{};

  [[nodiscard]] std::size_t q_heads() const { return heads * group; }
  /// No key or query above 2^10 in magnitude: dot products of float elements in double then
  /// differ between summation orders by far less than the score tolerance. With larger values a
  /// sum can cancel catastrophically in one order and not in another (1 + 7.5e37 − 7.5e37), and
  /// the host and device scores legitimately differ.
  [[nodiscard]] bool moderate() const {
    const auto small = [](float v) { return std::fabs(v) <= 1024.0f; };
    return std::all_of(keys.begin(), keys.end(), small) && std::all_of(queries.begin(), queries.end(), small);
  }
};

void decode(FuzzedDataProvider& in, inputs& x) {
  x.heads = in.ConsumeIntegralInRange<std::size_t>(1, 4);
  x.group = in.ConsumeIntegralInRange<std::size_t>(1, 4);
  x.tokens = in.ConsumeIntegralInRange<std::size_t>(1, 40);
  x.dim = in.ConsumeIntegralInRange<std::size_t>(1, 8);
  x.window = in.ConsumeIntegralInRange<std::size_t>(0, std::min<std::size_t>(x.tokens, 9));
  x.kv_layout = in.ConsumeIntegralInRange<unsigned>(0, 4);
  x.q_layout = in.ConsumeIntegralInRange<unsigned>(0, 2);
  x.paged = x.kv_layout == 4;
  if (x.paged) {
    // Mostly a valid geometry; sometimes block_size 0 or a pool too small for the tokens.
    x.block_size = in.ConsumeIntegralInRange<std::size_t>(0, 6);
    const std::size_t needed = x.block_size == 0 ? 1 : (x.tokens + x.block_size - 1) / x.block_size;
    const int extra = in.ConsumeIntegralInRange<int>(-1, 3);
    x.num_blocks = extra < 0 ? needed - 1 : needed + static_cast<std::size_t>(extra);
    const unsigned table_kind = in.ConsumeIntegralInRange<unsigned>(0, 3);
    x.table.resize(needed);
    std::uint64_t state = in.ConsumeIntegral<std::uint64_t>();
    // 0: identity, 1: a permutation of the pool's blocks, 2: any block (may alias), 3: any int32.
    for (std::size_t i = 0; i < needed; ++i) x.table[i] = static_cast<std::int32_t>(i);
    if (table_kind == 1)
      for (std::size_t i = needed; i > 1; --i) std::swap(x.table[i - 1], x.table[mix(state) % i]);
    if (table_kind == 2 && x.num_blocks > 0)
      for (auto& b : x.table) b = static_cast<std::int32_t>(mix(state) % x.num_blocks);
    if (table_kind == 3)
      for (auto& b : x.table) b = in.ConsumeIntegral<std::int32_t>();
    if (in.ConsumeBool() && !x.table.empty())  // one entry out of range, negative or past the pool
      x.table[in.ConsumeIntegralInRange<std::size_t>(0, x.table.size() - 1)] =
          in.ConsumeBool() ? -1 : static_cast<std::int32_t>(x.num_blocks);
    std::vector<std::int32_t> used = x.table;
    std::sort(used.begin(), used.end());
    x.table_aliases = std::adjacent_find(used.begin(), used.end()) != used.end();
    x.kv_place = {{0, 0, 0}, x.num_blocks * std::max<std::size_t>(x.block_size, 1) * x.heads * x.dim};
  } else {
    x.kv_place = place(x.kv_layout, x.heads, x.tokens, x.dim);
  }
  x.q_place = place(x.q_layout, x.q_heads(), x.window, x.dim);
  x.keys.assign(x.kv_place.size, 0.0f);
  x.values.assign(x.kv_place.size, 0.0f);
  x.queries.assign(x.q_place.size, 0.0f);
  fill(in, x.keys);
  fill(in, x.values);
  fill(in, x.queries);
  switch (in.ConsumeIntegralInRange<unsigned>(0, 3)) {
    case 1: {  // ascending with gaps
      std::int64_t p = in.ConsumeIntegralInRange<std::int64_t>(-5, 100);
      for (std::size_t t = 0; t < x.tokens; ++t) x.positions.push_back(p += in.ConsumeIntegralInRange<int>(1, 3));
      break;
    }
    case 2:  // anything, repeats and descents included
      for (std::size_t t = 0; t < x.tokens; ++t) x.positions.push_back(in.ConsumeIntegralInRange<std::int64_t>(-3, 3));
      break;
    case 3:  // the wrong length
      x.positions.assign(x.tokens + 1, 0);
      break;
    default: break;  // none: 0..tokens-1
  }
  if (in.ConsumeIntegralInRange<unsigned>(0, 3) == 0) {  // engine attention weights, sometimes
    x.attention.resize(in.ConsumeBool() ? x.q_heads() * x.tokens : x.tokens);
    std::uint64_t state = in.ConsumeIntegral<std::uint64_t>();
    for (float& a : x.attention) a = static_cast<float>(mix(state) % 9) * 0.125f;
    if (in.ConsumeBool() && !x.attention.empty())
      x.attention[in.ConsumeIntegralInRange<std::size_t>(0, x.attention.size() - 1)] =
          special_value(in.ConsumeIntegral<std::uint8_t>());
  }
}

template <class T>
using strided = kvc::strided_view<T>;

/// A copy of every input buffer, to compare with after each call.
struct snapshot {
  std::vector<float> keys, values, queries, attention;
  std::vector<std::int64_t> positions;
  std::vector<std::int32_t> table;
  explicit snapshot(const inputs& x)
      : keys(x.keys), values(x.values), queries(x.queries), attention(x.attention), positions(x.positions),
        table(x.table) {}
  static bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
  void require_unchanged(const inputs& x) const {
    FUZZ_REQUIRE(same_bits(keys, x.keys));
    FUZZ_REQUIRE(same_bits(values, x.values));
    FUZZ_REQUIRE(same_bits(queries, x.queries));
    FUZZ_REQUIRE(same_bits(attention, x.attention));
    FUZZ_REQUIRE(positions == x.positions);
    FUZZ_REQUIRE(table == x.table);
  }
};

/// A keys or values view over its storage (mutable or not), as the input lays it out.
template <class T>
struct kv_views {
  static strided<T> make(const inputs& x, T* data) { return {data, {x.heads, x.tokens, x.dim}, x.kv_place.strides}; }
};

template <class T>
auto paged(const inputs& x, T* pool) {
  return kvc::make_paged_view(pool, x.table.data(), x.num_blocks, x.block_size, x.heads, x.tokens, x.dim);
}

auto query_view(const inputs& x) {
  return strided<const float>(x.queries.data(), {x.q_heads(), x.window, x.dim}, x.q_place.strides);
}

template <class K>
auto make_layer(const inputs& x, K keys, K values) {
  kvc::layer<K, K, strided<const float>> l{keys, values, query_view(x)};
  l.positions = x.positions;
  l.attention = x.attention;
  return l;
}

/// Budgets: a ratio or a token count, valid or not.
struct budget_choice {
  bool ratio = true;
  double fraction = 0.5;
  std::size_t count = 1;
};
budget_choice decode_budget(FuzzedDataProvider& in, std::size_t tokens) {
  budget_choice b;
  b.ratio = in.ConsumeBool();
  static constexpr double fractions[] = {0.25, 0.5, 0.75, 1.0, 0.1, 0.0, -0.5, 1.5, 1e-9};
  const unsigned f = in.ConsumeIntegralInRange<unsigned>(0, 9);
  b.fraction = f < 9 ? fractions[f] : in.ConsumeFloatingPointInRange<double>(0.0, 1.0);
  b.count = in.ConsumeIntegralInRange<std::size_t>(0, tokens + 1);
  return b;
}

/// Per head, the count a policy's keep set must have: exactly k, at most k, or free.
enum class per_head_count { exact, at_most, free };

struct expectation {
  per_head_count count = per_head_count::exact;
  std::size_t total = 0;                     // when nonzero: the keep set's total
  std::size_t last = 0;                      // the last `last` tokens of every head are kept
  std::size_t first = 0;                     // the first `first` tokens of every head are kept
  std::vector<kvc::select::token_span> spans{};  // per head, a span that must be kept (IntelLLM)
  std::vector<char> always{};                // per token, kept by every head (FastGen's specials)
};

void check_keep(const kvc::keep_set& keep, const inputs& x, std::size_t k, const expectation& e) {
  FUZZ_REQUIRE(keep.heads() == x.heads);
  FUZZ_REQUIRE(keep.tokens() == x.tokens);
  FUZZ_REQUIRE(keep.offsets().size() == x.heads + 1 && keep.offsets().front() == 0);
  for (std::size_t h = 0; h < keep.heads(); ++h) {
    const auto idx = keep.head(h);
    for (std::size_t i = 0; i < idx.size(); ++i) {
      FUZZ_REQUIRE(idx[i] >= 0 && static_cast<std::size_t>(idx[i]) < x.tokens);
      FUZZ_REQUIRE(i == 0 || idx[i - 1] < idx[i]);
    }
    if (e.count == per_head_count::exact) FUZZ_REQUIRE(idx.size() == k);
    if (e.count == per_head_count::at_most) FUZZ_REQUIRE(idx.size() <= k);
    for (std::size_t t = x.tokens - std::min(e.last, x.tokens); t < x.tokens; ++t)
      FUZZ_REQUIRE(keep.contains(h, static_cast<kvc::index_t>(t)));
    for (std::size_t t = 0; t < std::min(e.first, x.tokens); ++t)
      FUZZ_REQUIRE(keep.contains(h, static_cast<kvc::index_t>(t)));
    if (h < e.spans.size())
      for (std::size_t t = e.spans[h].first; t < e.spans[h].last; ++t)
        FUZZ_REQUIRE(keep.contains(h, static_cast<kvc::index_t>(t)));
    for (std::size_t t = 0; t < e.always.size(); ++t)
      if (e.always[t]) FUZZ_REQUIRE(keep.contains(h, static_cast<kvc::index_t>(t)));
  }
  if (e.total != 0) FUZZ_REQUIRE(keep.total() == e.total);
}

bool same_values(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i])) && std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
  return true;
}
bool same_layer(const kvc::compressed_layer<float>& a, const kvc::compressed_layer<float>& b) {
  const auto pa = a.all_positions(), pb = b.all_positions();
  if (std::getenv("KVC_FUZZ_VERBOSE") != nullptr && a.all_values().size() == b.all_values().size())
    for (std::size_t i = 0; i < a.all_values().size(); ++i)
      if (std::memcmp(&a.all_values()[i], &b.all_values()[i], sizeof(float)) != 0)
        std::fprintf(stderr, "values differ at %zu: %.9g vs %.9g\n", i, static_cast<double>(a.all_values()[i]),
                     static_cast<double>(b.all_values()[i]));
  // Bit for bit except a NaN's sign and payload: merged values (EMS) average whatever the engine
  // stored, NaN and infinities included, and kvc does not inspect values.
  return a.keep() == b.keep() && same_values(a.all_keys(), b.all_keys()) && same_values(a.all_values(), b.all_values()) &&
         std::equal(pa.begin(), pa.end(), pb.begin(), pb.end());
}

/// For reading a reproducer (KVC_FUZZ_VERBOSE): a keep set and a score matrix.
void print(const char* what, const kvc::keep_set& k) {
  if (std::getenv("KVC_FUZZ_VERBOSE") == nullptr) return;
  std::fprintf(stderr, "%s:", what);
  for (std::size_t h = 0; h < k.heads(); ++h) {
    std::fprintf(stderr, " [");
    for (const auto t : k.head(h)) std::fprintf(stderr, " %d", t);
    std::fprintf(stderr, " ]");
  }
  std::fprintf(stderr, "\n");
}
void print(const char* what, const kvc::score_matrix& s) {
  if (std::getenv("KVC_FUZZ_VERBOSE") == nullptr) return;
  std::fprintf(stderr, "%s:", what);
  for (std::size_t h = 0; h < s.heads(); ++h) {
    std::fprintf(stderr, " [");
    for (const float v : s.row(h)) std::fprintf(stderr, " %.9g", static_cast<double>(v));
    std::fprintf(stderr, " ]");
  }
  std::fprintf(stderr, "\n");
}

/// Scores agree to the device path's documented tolerance (docs/device.md#tolerance).
bool close_scores(const kvc::score_matrix& a, const kvc::score_matrix& b) {
  if (a.heads() != b.heads() || a.tokens() != b.tokens()) return false;
  for (std::size_t i = 0; i < a.flat().size(); ++i) {
    const float x = a.flat()[i], y = b.flat()[i];
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y)) return false;
      continue;
    }
    if (x != y && !(std::fabs(x - y) <= 1e-6f * std::max(std::fabs(x), std::fabs(y)))) {
      std::fprintf(stderr, "scores differ at %zu of [%zu, %zu]: %.9g (host) vs %.9g (device)\n", i, a.heads(),
                   a.tokens(), static_cast<double>(x), static_cast<double>(y));
      return false;
    }
  }
  return true;
}

/// With a drop merger, every kept row is the view's row as stored, and its position.
template <class L>
void check_dropped_rows(const kvc::compressed_layer<float>& out, const L& l) {
  for (std::size_t h = 0; h < out.heads(); ++h) {
    const auto idx = out.keep().head(h);
    const auto k = out.keys(h);
    const auto v = out.values(h);
    for (std::size_t i = 0; i < idx.size(); ++i) {
      const auto t = static_cast<std::size_t>(idx[i]);
      for (std::size_t c = 0; c < out.head_dim(); ++c) {
        const float a = k(0, i, c), b = l.keys(h, t, c);
        FUZZ_REQUIRE(std::memcmp(&a, &b, sizeof a) == 0);
        const float va = v(0, i, c), vb = l.values(h, t, c);
        FUZZ_REQUIRE(std::memcmp(&va, &vb, sizeof va) == 0);
      }
      FUZZ_REQUIRE(out.positions(h)[i] == l.position(t));
    }
  }
}

/// Host and device in-place compaction with `keep` on copies of the inputs: same outcome, same
/// bytes; on success the compacted front rows are the gathered ones (when no two table entries
/// in use share a block), on failure nothing written.
void check_compact(const inputs& x, const kvc::keep_set& keep, const kvc::compressed_layer<float>* gathered) {
  std::vector<float> hk = x.keys, hv = x.values, dk = x.keys, dv = x.values;
  std::vector<std::int64_t> hp(x.heads * x.tokens), dp;
  for (std::size_t i = 0; i < hp.size(); ++i) hp[i] = static_cast<std::int64_t>(i % x.tokens) * 3 - 1;
  dp = hp;
  const auto hp0 = hp;
  std::optional<std::string> host_error, device_error;
  if (x.paged) {
    host_error = error_of([&] { kvc::compact(paged(x, hk.data()), paged(x, hv.data()), keep, hp); });
    device_error = error_of([&] { kvc::compact(device_exec{}, paged(x, dk.data()), paged(x, dv.data()), keep, dp); });
  } else {
    host_error = error_of([&] { kvc::compact(kv_views<float>::make(x, hk.data()), kv_views<float>::make(x, hv.data()), keep, hp); });
    device_error = error_of([&] {
      kvc::compact(device_exec{}, kv_views<float>::make(x, dk.data()), kv_views<float>::make(x, dv.data()), keep, dp);
    });
  }
  FUZZ_REQUIRE_MSG(host_error == device_error, host_error.value_or("ok") + " | " + device_error.value_or("ok"));
  FUZZ_REQUIRE(snapshot::same_bits(hk, dk) && snapshot::same_bits(hv, dv) && hp == dp);
  if (host_error) {
    FUZZ_REQUIRE(snapshot::same_bits(hk, x.keys) && snapshot::same_bits(hv, x.values) && hp == hp0);
    return;
  }
  if (gathered == nullptr || x.table_aliases) return;
  // The front of each head is what the merger gathered.
  auto check = [&](const auto& keys, const auto& values) {
    for (std::size_t h = 0; h < x.heads; ++h)
      for (std::size_t i = 0; i < keep.kept(h); ++i) {
        for (std::size_t c = 0; c < x.dim; ++c) {
          const float a = keys(h, i, c), b = gathered->keys(h)(0, i, c);
          const float va = values(h, i, c), vb = gathered->values(h)(0, i, c);
          FUZZ_REQUIRE(std::memcmp(&a, &b, sizeof a) == 0 && std::memcmp(&va, &vb, sizeof va) == 0);
        }
        FUZZ_REQUIRE(hp[h * x.tokens + i] == hp0[h * x.tokens + static_cast<std::size_t>(keep.head(h)[i])]);
      }
  };
  if (x.paged)
    check(paged(x, static_cast<const float*>(hk.data())), paged(x, static_cast<const float*>(hv.data())));
  else
    check(kv_views<const float>::make(x, hk.data()), kv_views<const float>::make(x, hv.data()));
}

/// A caller-built keep set with fuzzer-chosen offsets and indices: the host keep_set refuses it
/// (naming the offset or index) or accepts it; the device keep_set, filled with the same arrays,
/// gives the same verdict in device compaction.
void check_caller_keep_set(FuzzedDataProvider& in, const inputs& x) {
  if (x.paged) return;  // the layout does not matter here
  const std::size_t total = in.ConsumeIntegralInRange<std::size_t>(0, 2 * x.tokens);
  std::vector<std::size_t> offsets(x.heads + 1);
  for (auto& o : offsets) o = in.ConsumeIntegralInRange<std::size_t>(0, total + 2);
  if (in.ConsumeBool()) {  // mostly well-formed offsets
    std::sort(offsets.begin(), offsets.end());
    offsets.front() = 0;
    offsets.back() = total;
  }
  std::vector<kvc::index_t> indices(total);
  for (auto& i : indices) i = in.ConsumeIntegralInRange<kvc::index_t>(-2, static_cast<kvc::index_t>(x.tokens) + 1);
  if (in.ConsumeBool())
    for (std::size_t h = 0; h + 1 < offsets.size(); ++h)
      if (offsets[h] <= offsets[h + 1] && offsets[h + 1] <= total)
        std::sort(indices.begin() + static_cast<std::ptrdiff_t>(offsets[h]),
                  indices.begin() + static_cast<std::ptrdiff_t>(offsets[h + 1]));

  std::optional<kvc::keep_set> host;
  const auto host_error = error_of([&] { host.emplace(x.tokens, offsets, indices); });
  kvc::device::keep_set<System> device(x.heads, x.tokens, total);
  thrust::copy(offsets.begin(), offsets.end(), device.offsets().begin());
  thrust::copy(indices.begin(), indices.end(), device.indices().begin());
  std::vector<float> dk = x.keys, dv = x.values;
  const auto device_error = error_of([&] {
    kvc::compact(device_exec{}, kv_views<float>::make(x, dk.data()), kv_views<float>::make(x, dv.data()), device);
  });
  if (host_error) {
    FUZZ_REQUIRE_MSG(device_error == host_error, *host_error + " | " + device_error.value_or("ok"));
    FUZZ_REQUIRE(snapshot::same_bits(dk, x.keys) && snapshot::same_bits(dv, x.values));
    return;
  }
  FUZZ_REQUIRE(!device_error);
  check_compact(x, *host, nullptr);
}

template <class Policy>
inline constexpr bool drops_v = std::is_same_v<typename Policy::merger_type, kvc::merge::drop>;

/// One pipeline policy on one layer: host and device, then the properties.
template <class Policy, class L, class B>
void run_policy(const Policy& p, const inputs& x, const L& l, const B& b, const expectation& e) {
  const snapshot before(x);
  std::optional<kvc::compressed_layer<float>> host, device;
  const auto host_error = error_of([&] { host = kvc::compress(kvc::exec::host, p, l, b); });
  before.require_unchanged(x);
  const auto device_error = error_of([&] { device = kvc::compress(device_exec{}, p, l, b).to_host(); });
  before.require_unchanged(x);
  FUZZ_REQUIRE_MSG(host_error == device_error, host_error.value_or("ok") + " | " + device_error.value_or("ok"));
  if (host_error) return;

  const std::size_t k = b.count(x.tokens);
  check_keep(host->keep(), x, k, e);
  if constexpr (drops_v<Policy>) check_dropped_rows(*host, l);
  if (!same_layer(*host, *device)) {
    // Accepted only as a rounding difference of the scores: the host selector and merger fed
    // the device's scores must give the device's result.
    const kvc::score_matrix hs = p.scores(l);
    const kvc::score_matrix ds = kvc::device::scores(device_exec{}, p, l).to_host();
    const auto sel = kvc::run_selector(p.select, l, ds, k);
    print("host keep", host->keep());
    print("device keep", device->keep());
    print("host selector on device scores", sel);
    if (std::getenv("KVC_FUZZ_VERBOSE") != nullptr) {
      for (const float v : x.keys) std::fprintf(stderr, "%g ", static_cast<double>(v));
      std::fprintf(stderr, "<- keys\n");
      for (const float v : x.queries) std::fprintf(stderr, "%g ", static_cast<double>(v));
      std::fprintf(stderr, "<- queries\n");
    }
    print("host scores", hs);
    print("device scores", ds);
    FUZZ_REQUIRE(!x.moderate() || close_scores(hs, ds));
    FUZZ_REQUIRE(same_layer(p.merge(l, ds, sel), *device));
    // The centroid shield (IntelLLM) was taken from the reference's scores; the device keep set
    // shields the centroid of its own, which the selector check above has covered.
    expectation same_but_shield = e;
    same_but_shield.spans.clear();
    check_keep(device->keep(), x, k, same_but_shield);
  }
  before.require_unchanged(x);
  if constexpr (drops_v<Policy>) check_compact(x, host->keep(), &*host);
}

template <class F>
void with_budget(const budget_choice& b, F&& f) {
  if (b.ratio)
    f(kvc::budget::ratio{b.fraction});
  else
    f(kvc::budget::tokens{b.count});
}

/// The count a budget gives, or nullopt when it is refused.
template <class B>
std::optional<std::size_t> count_of(const B& b, std::size_t n) {
  std::optional<std::size_t> k;
  (void)error_of([&] { k = b.count(n); });
  return k;
}

kvc::group_reduce decode_group(FuzzedDataProvider& in) {
  return in.ConsumeBool() ? kvc::group_reduce::mean : kvc::group_reduce::max;
}

template <class L>
void run_layer_policies(FuzzedDataProvider& in, const inputs& x, const L& l) {
  const budget_choice bc = decode_budget(in, x.tokens);
  const std::size_t n = x.tokens;
  const unsigned which = in.ConsumeIntegralInRange<unsigned>(0, 10);
  if (std::getenv("KVC_FUZZ_VERBOSE") != nullptr)  // to read a reproducer
    std::fprintf(stderr,
                 "policy %u: kv_heads %zu group %zu tokens %zu head_dim %zu window %zu layout %u/%u paged %d "
                 "(block %zu, %zu blocks) positions %zu attention %zu budget %s %g / %zu\n",
                 which, x.heads, x.group, x.tokens, x.dim, x.window, x.kv_layout, x.q_layout, x.paged ? 1 : 0,
                 x.block_size, x.num_blocks, x.positions.size(), x.attention.size(), bc.ratio ? "ratio" : "tokens",
                 bc.fraction, bc.count);
  with_budget(bc, [&](const auto& b) {
    const std::size_t k = count_of(b, n).value_or(0);
    switch (which) {
      case 0: {
        kvc::policy::streaming_llm p{};
        p.select.sinks = in.ConsumeIntegralInRange<std::size_t>(0, 6);
        run_policy(p, x, l, b, {.last = k - std::min({p.select.sinks, n, k}), .first = std::min(p.select.sinks, k)});
        break;
      }
      case 1: {
        kvc::policy::h2o p{};
        p.score.group = decode_group(in);
        static constexpr double fractions[] = {0.0, 0.5, 1.0, 0.3, -0.1, 1.1};
        p.select.recent_fraction = fractions[in.ConsumeIntegralInRange<unsigned>(0, 5)];
        const auto recent = static_cast<std::size_t>(std::clamp(p.select.recent_fraction, 0.0, 1.0) * static_cast<double>(k));
        run_policy(p, x, l, b, {.last = recent});
        break;
      }
      case 2: {
        kvc::policy::snapkv p{};
        p.score.window = in.ConsumeIntegralInRange<std::size_t>(0, 9);
        p.score.pool = in.ConsumeIntegralInRange<std::size_t>(0, 7);
        p.score.kind = in.ConsumeBool() ? kvc::score::pooling::max : kvc::score::pooling::average;
        p.score.group = decode_group(in);
        p.select.window = in.ConsumeBool() ? p.score.window : in.ConsumeIntegralInRange<std::size_t>(0, 9);
        run_policy(p, x, l, b, {.last = std::min(p.select.window, n)});
        break;
      }
      case 3: {
        kvc::policy::tova p{};
        p.score.group = decode_group(in);
        p.score.share_across_heads = in.ConsumeBool();
        run_policy(p, x, l, b, {});
        break;
      }
      case 4: run_policy(kvc::policy::key_norm{}, x, l, b, {}); break;
      case 5: {
        kvc::policy::random p{};
        p.score.seed = in.ConsumeIntegral<std::uint64_t>();
        run_policy(p, x, l, b, {});
        break;
      }
      case 6: {
        kvc::policy::adakv p{};
        p.score.window = in.ConsumeIntegralInRange<std::size_t>(1, 9);
        p.score.pool = in.ConsumeBool() ? 1 : 3;
        p.score.group = decode_group(in);
        static constexpr double fractions[] = {0.2, 0.0, 1.0, 0.5, -0.1};
        p.select.floor_fraction = fractions[in.ConsumeIntegralInRange<unsigned>(0, 4)];
        p.select.recent = in.ConsumeIntegralInRange<std::size_t>(0, 9);
        run_policy(p, x, l, b, {.count = per_head_count::free, .total = x.heads * k, .last = std::min(p.select.recent, n)});
        break;
      }
      case 7: {
        kvc::policy::fastgen p{};
        std::vector<kvc::fastgen::token_class> classes;
        const unsigned kind = in.ConsumeIntegralInRange<unsigned>(0, 3);
        if (kind >= 1) {
          classes.resize(kind == 3 ? n + 1 : n);  // 3: the wrong length
          for (auto& c : classes) {
            const unsigned v = in.ConsumeIntegralInRange<unsigned>(0, 7);
            c = v < 5 ? kvc::fastgen::token_class::plain
                      : static_cast<kvc::fastgen::token_class>(v == 7 && kind == 2 ? 9 : v - 4);
          }
        }
        p.select.classes = classes;
        static constexpr double thresholds[] = {0.95, 0.5, 1.0, 0.0, 1.5};
        p.select.recovery_threshold = thresholds[in.ConsumeIntegralInRange<unsigned>(0, 4)];
        p.select.local_ratio = in.ConsumeBool() ? 0.3 : 0.0;
        p.select.frequent_ratio = in.ConsumeBool() ? 0.3 : 1.0;
        constexpr kvc::fastgen::budget_use uses[] = {kvc::fastgen::budget_use::ignore, kvc::fastgen::budget_use::cap,
                                                     kvc::fastgen::budget_use::trim};
        p.select.budget = uses[in.ConsumeIntegralInRange<std::size_t>(0, 2)];
        expectation e{.count = p.select.budget != kvc::fastgen::budget_use::ignore ? per_head_count::at_most
                                                                                : per_head_count::free};
        if (p.select.budget == kvc::fastgen::budget_use::ignore && classes.size() == n)
          for (const auto c : classes) e.always.push_back(c == kvc::fastgen::token_class::special ? 1 : 0);
        run_policy(p, x, l, b, e);
        break;
      }
      case 8: {
        kvc::policy::ems p{};
        p.score.window = in.ConsumeIntegralInRange<std::size_t>(0, 9);
        p.score.global_weight = in.ConsumeBool() ? 0.5 : (in.ConsumeBool() ? 0.0 : 1.0);
        p.score.group = decode_group(in);
        p.select.recent = in.ConsumeIntegralInRange<std::size_t>(0, 9);
        p.select.merge_mass = in.ConsumeBool() ? 0.9 : (in.ConsumeBool() ? 0.0 : 1.0);
        p.select.min_similarity = in.ConsumeBool() ? 0.0 : (in.ConsumeBool() ? -1.0 : 0.9);
        p.select.similarity = in.ConsumeBool() ? kvc::ems::similarity_measure::key_value : kvc::ems::similarity_measure::key;
        p.merge.merge_keys = in.ConsumeBool();
        p.merge.merge_values = in.ConsumeBool();
        if (std::getenv("KVC_FUZZ_VERBOSE") != nullptr)
          std::fprintf(stderr, "ems: window %zu global_weight %g group %d recent %zu\n", p.score.window,
                       p.score.global_weight, static_cast<int>(p.score.group), p.select.recent);
        run_policy(p, x, l, b, {.last = std::min(p.select.recent, n)});
        break;
      }
      case 9: {
        kvc::policy::intelllm p{};
        p.score.window = in.ConsumeIntegralInRange<std::size_t>(0, 9);
        p.score.group = decode_group(in);
        p.select.radius = in.ConsumeIntegralInRange<std::size_t>(0, 5);
        p.select.inner.window = in.ConsumeIntegralInRange<std::size_t>(0, 9);
        p.select.exclude_last = p.select.inner.window;
        p.merge.mode = static_cast<kvc::merge::position_mode>(in.ConsumeIntegralInRange<int>(0, 3));
        p.merge.local = in.ConsumeIntegralInRange<std::size_t>(0, 8);
        expectation e{.last = std::min(p.select.inner.window, n)};
        // The shield around the centroid, from the reference's own scores.
        (void)error_of([&] { e.spans = p.select.regions(p.scores(l)); });
        run_policy(p, x, l, b, e);
        break;
      }
      default: {
        // PyramidKV over up to three layers (copies of this one): per-layer budgets.
        kvc::policy::pyramidkv p{};
        p.per_layer.score.window = in.ConsumeIntegralInRange<std::size_t>(1, 9);
        p.per_layer.select.window = p.per_layer.score.window;
        p.per_layer.score.pool = in.ConsumeBool() ? 1 : 3;
        p.split.beta = in.ConsumeBool() ? 20.0 : (in.ConsumeBool() ? 1.0 : 0.5);
        const std::vector<L> layers(in.ConsumeIntegralInRange<std::size_t>(1, 3), l);
        const std::size_t average = in.ConsumeIntegralInRange<std::size_t>(0, n + 2);
        const snapshot before(x);
        std::optional<std::vector<kvc::compressed_layer<float>>> host;
        std::vector<kvc::compressed_layer<float>> device;
        const auto host_error =
            error_of([&] { host = p(std::span<const L>(layers), kvc::budget::tokens{average}); });
        const auto device_error = error_of([&] {
          for (const auto& d : kvc::compress(device_exec{}, p, std::span<const L>(layers), kvc::budget::tokens{average}))
            device.push_back(d.to_host());
        });
        before.require_unchanged(x);
        FUZZ_REQUIRE_MSG(host_error == device_error, host_error.value_or("ok") + " | " + device_error.value_or("ok"));
        if (host_error) break;
        const std::vector<std::size_t> budgets = p.budgets(average, layers.size());
        FUZZ_REQUIRE(host->size() == layers.size() && device.size() == layers.size());
        for (std::size_t i = 0; i < layers.size(); ++i) {
          check_keep((*host)[i].keep(), x, budgets[i], {.last = std::min(p.per_layer.select.window, n)});
          check_dropped_rows((*host)[i], l);
          if (!same_layer((*host)[i], device[i])) {
            const kvc::score_matrix ds = kvc::device::scores(device_exec{}, p.per_layer, l).to_host();
            FUZZ_REQUIRE(!x.moderate() || close_scores(p.per_layer.scores(l), ds));
            FUZZ_REQUIRE(same_layer(p.per_layer.merge(l, ds, p.per_layer.select(ds, budgets[i])), device[i]));
          }
        }
      }
    }
  });
}

/// LoRC: the offline projection of fuzzer-chosen weights, then the device projector against the
/// host one on one batch of rows.
void run_lorc(FuzzedDataProvider& in) {
  const kvc::project::weight_shape shape{in.ConsumeIntegralInRange<std::size_t>(0, 5),
                                         in.ConsumeIntegralInRange<std::size_t>(1, 2),
                                         in.ConsumeIntegralInRange<std::size_t>(1, 3)};
  const std::size_t layers = in.ConsumeIntegralInRange<std::size_t>(0, 3);
  if (std::getenv("KVC_FUZZ_VERBOSE") != nullptr)
    std::fprintf(stderr, "lorc: d_model %zu kv_heads %zu head_dim %zu layers %zu\n", shape.d_model, shape.kv_heads,
                 shape.head_dim, layers);
  std::vector<std::vector<float>> storage(layers * 2, std::vector<float>(shape.d_model * shape.columns()));
  for (auto& w : storage) fill(in, w);
  if (in.ConsumeBool() && !storage.empty()) storage.back().push_back(1.0f);  // a weight of the wrong size
  std::vector<kvc::policy::lorc::layer_weights<float>> weights;
  for (std::size_t i = 0; i < layers; ++i) weights.push_back({storage[2 * i], storage[2 * i + 1]});
  const double kept = in.ConsumeBool() ? 0.5 : in.ConsumeFloatingPointInRange<double>(-0.5, 1.5);
  const std::vector<std::vector<float>> copy = storage;
  std::optional<kvc::policy::lorc::compressed_model> model;
  (void)error_of([&] { model = kvc::policy::lorc{}(weights, shape, kvc::budget::ratio{kept}); });
  for (std::size_t i = 0; i < storage.size(); ++i) FUZZ_REQUIRE(snapshot::same_bits(storage[i], copy[i]));
  if (!model) return;
  const std::size_t full = std::min(shape.d_model, shape.columns());
  FUZZ_REQUIRE(model->keys.size() == layers && model->values.size() == layers);
  for (const auto* side : {&model->keys, &model->values})
    for (const auto& projector : *side) {
      FUZZ_REQUIRE(projector.rank() >= 1 && projector.rank() <= full);
      const std::size_t rows = 3;
      std::vector<float> x(rows * projector.input_dim());
      fill(in, x);
      std::vector<float> hc(rows * projector.rank()), dc(hc.size()), hy(rows * projector.output_dim()), dy(hy.size());
      projector.compress(x, rows, hc);
      projector.reconstruct(hc, rows, hy);
      const kvc::device::low_rank_projector<System> device(projector);
      device.compress(device_exec{}, std::span<const float>(x), rows, std::span<float>(dc));
      device.reconstruct(device_exec{}, std::span<const float>(dc), rows, std::span<float>(dy));
      // Bit for bit, but any NaN equals any NaN: a NaN's payload depends on which NaN operand
      // an addition met first, and the projector does not refuse non-finite rows.
      FUZZ_REQUIRE(same_values(hc, dc) && same_values(hy, dy));
    }
}

void run(FuzzedDataProvider& in) {
  if (in.ConsumeIntegralInRange<unsigned>(0, 15) == 0) {
    run_lorc(in);
    return;
  }
  inputs x;
  decode(in, x);
  if (!x.paged) {
    run_layer_policies(in, x, make_layer(x, kv_views<const float>::make(x, x.keys.data()),
                                         kv_views<const float>::make(x, x.values.data())));
    check_caller_keep_set(in, x);
    return;
  }
  // A geometry the mapping refuses is refused when the view is built, before any call.
  using view = kvc::paged_view<const float>;
  std::optional<view> keys, values;
  const auto geometry_error = error_of([&] {
    keys = paged(x, static_cast<const float*>(x.keys.data()));
    values = paged(x, static_cast<const float*>(x.values.data()));
  });
  const bool addressable = x.block_size >= 1 && x.num_blocks * x.block_size >= x.tokens;
  FUZZ_REQUIRE(geometry_error.has_value() == !addressable);
  if (geometry_error) return;
  run_layer_policies(in, x, make_layer(x, *keys, *values));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  run(in);
  return 0;
}
