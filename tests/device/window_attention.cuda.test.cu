// CUDA window-attention scorer vs the host reference kvc::score::window_attention: random
// layers of awkward sizes, GQA groups 1 and 4, fp32/fp16/bf16, both poolings and group folds,
// logits on CUDA cores and (fp16/bf16) on tensor cores, 16-byte and element-wise staging.
// Tolerance (docs/cuda.md#tolerances): |device - host| <= 2e-4 * |host| + 1e-6 per score.
#include "kvc/device/cuda/window_attention.cuh"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "kvc/score/window_attention.hpp"

namespace {

namespace kcuda = kvc::device::cuda;

struct shape {
  std::size_t kv_heads, group, tokens, head_dim, window;
};

// Gaussian keys/queries with a few tokens aligned to the queries, so rows have real peaks.
template <class T>
struct random_layer {
  shape s;
  std::vector<T> keys, values, queries;
  kcuda::device_buffer<T> d_keys, d_values, d_queries;

  // pad > 0 shifts the device keys by that many elements (misaligned rows: element-wise staging).
  random_layer(shape sh, unsigned seed, bool token_major = false, std::size_t key_pad = 0) : s(sh), pad(key_pad) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const std::size_t kn = s.kv_heads * s.tokens * s.head_dim, qn = s.kv_heads * s.group * s.window * s.head_dim;
    std::vector<float> k(kn), q(qn);
    for (auto& x : k) x = normal(rng);
    for (auto& x : q) x = normal(rng);
    for (std::size_t h = 0; h < s.kv_heads; ++h)
      for (std::size_t t = h; t < s.tokens; t += 11)
        for (std::size_t c = 0; c < s.head_dim; ++c)
          k[key_offset(h, t, c, token_major)] = 2.0f * q[(h * s.group * s.window) * s.head_dim + c];
    for (float x : k) keys.push_back(kvc::from_float<T>(x)), values.push_back(kvc::from_float<T>(-x));
    for (float x : q) queries.push_back(kvc::from_float<T>(x));
    this->token_major = token_major;
    std::vector<T> padded(pad, kvc::from_float<T>(0.0f));
    padded.insert(padded.end(), keys.begin(), keys.end());
    d_keys.upload(std::span<const T>(padded), nullptr);
    d_values.upload(std::span<const T>(values), nullptr);
    d_queries.upload(std::span<const T>(queries), nullptr);
  }
  std::size_t key_offset(std::size_t h, std::size_t t, std::size_t c, bool tm) const {
    return tm ? (t * s.kv_heads + h) * s.head_dim + c : (h * s.tokens + t) * s.head_dim + c;
  }
  kvc::strided_view<const T> kv_view(const T* p) const {
    return token_major ? kvc::strided_view<const T>::token_major(p, s.kv_heads, s.tokens, s.head_dim)
                       : kvc::strided_view<const T>::contiguous(p, s.kv_heads, s.tokens, s.head_dim);
  }
  auto host() const {
    return kvc::make_layer(kv_view(keys.data()), kv_view(values.data()),
                           kvc::strided_view<const T>::contiguous(queries.data(), s.kv_heads * s.group, s.window,
                                                                  s.head_dim));
  }
  kcuda::device_layer<T> device() const {
    return kvc::make_layer(kv_view(d_keys.data() + pad), kv_view(d_values.data()),
                           kvc::strided_view<const T>::contiguous(d_queries.data(), s.kv_heads * s.group, s.window,
                                                                  s.head_dim));
  }
  bool token_major = false;
  std::size_t pad = 0;
};

template <class T>
void check_scores(shape s, const kvc::score::window_attention& p, unsigned seed, bool token_major = false,
                  kcuda::score_math math = kcuda::score_math::automatic, std::size_t pad = 0) {
  const random_layer<T> layer(s, seed, token_major, pad);
  kvc::score_matrix host(s.kv_heads, s.tokens);
  p(layer.host(), host);

  kcuda::device_buffer<float> d_scores(s.kv_heads * s.tokens);
  kcuda::scratch work;
  kcuda::window_attention(p, layer.device(), d_scores.data(), work, nullptr, math);
  const std::vector<float> device = d_scores.download(nullptr);

  std::size_t bad = 0;
  for (std::size_t i = 0; i < device.size(); ++i) {
    const float want = host.flat()[i];
    if (!(std::fabs(device[i] - want) <= 2e-4f * std::fabs(want) + 1e-6f)) {
      if (bad++ < 5) {
        CAPTURE(i);
        CHECK(device[i] == doctest::Approx(want));
      }
    }
  }
  CAPTURE(s.tokens);
  CAPTURE(s.group);
  CAPTURE(static_cast<int>(math));
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE_TEMPLATE("cuda window_attention matches the host reference", T, float, __half, __nv_bfloat16) {
  // fp16/bf16: automatic is the tensor-core path; cuda_cores keeps the FMA path covered too.
  for (const auto math : {kcuda::score_math::automatic, kcuda::score_math::cuda_cores}) {
    unsigned seed = 1;
    for (std::size_t tokens : {1u, 7u, 33u, 4097u})
      for (std::size_t group : {1u, 4u}) {
        const std::size_t window = tokens < 8 ? tokens : 8;
        const shape s{.kv_heads = 2, .group = group, .tokens = tokens, .head_dim = 64, .window = window};
        check_scores<T>(s, {.window = 8, .pool = 7}, seed++, false, math);
        check_scores<T>(s, {.window = 8, .pool = 5, .kind = kvc::score::pooling::average}, seed++, false, math);
        check_scores<T>(s, {.window = 3, .pool = 7, .group = kvc::group_reduce::max}, seed++, false, math);
      }
  }
}

TEST_CASE_TEMPLATE("cuda window_attention on tensor cores: two row tiles, token-major and misaligned keys", T, __half,
                   __nv_bfloat16) {
  const auto tc = kcuda::score_math::tensor_cores;
  // group 4 x window 32 = 128 rows = two row tiles; head_dim 128 as in Llama-like layers.
  check_scores<T>({.kv_heads = 2, .group = 4, .tokens = 130, .head_dim = 128, .window = 32}, {}, 93, false, tc);
  check_scores<T>({.kv_heads = 3, .group = 4, .tokens = 200, .head_dim = 48, .window = 32}, {}, 94, true, tc);
  // Keys one element off 16-byte alignment: the K tile is staged element by element.
  check_scores<T>({.kv_heads = 2, .group = 2, .tokens = 100, .head_dim = 32, .window = 5}, {.window = 5}, 95, false, tc,
                  1);
}

TEST_CASE("cuda window_attention: tensor_cores where they do not apply throws kvc::error, output untouched") {
  const std::vector<float> sentinel(2 * 16, 42.0f);
  kcuda::device_buffer<float> d_scores;
  d_scores.upload(std::span<const float>(sentinel), nullptr);
  kcuda::scratch work;
  const auto tc = kcuda::score_math::tensor_cores;
  const random_layer<float> fp32({.kv_heads = 2, .group = 1, .tokens = 16, .head_dim = 16, .window = 4}, 6);
  CHECK_THROWS_AS(kcuda::window_attention({}, fp32.device(), d_scores.data(), work, nullptr, tc), kvc::error);
  const random_layer<__half> odd_dim({.kv_heads = 2, .group = 1, .tokens = 16, .head_dim = 40, .window = 4}, 7);
  CHECK_THROWS_AS(kcuda::window_attention({}, odd_dim.device(), d_scores.data(), work, nullptr, tc), kvc::error);
  CHECK(d_scores.download(nullptr) == sentinel);
}

TEST_CASE("cuda window_attention: odd head_dim, token-major keys, two row tiles") {
  // head_dim 40 leaves a partial depth slice; group 4 x window 32 = 128 rows = two row tiles.
  check_scores<float>({.kv_heads = 3, .group = 4, .tokens = 130, .head_dim = 40, .window = 32}, {}, 91, true);
  check_scores<__half>({.kv_heads = 1, .group = 4, .tokens = 33, .head_dim = 128, .window = 33},
                       {.window = 32, .pool = 1}, 92);
}

TEST_CASE("cuda window_attention: bad input throws kvc::error before any launch, output untouched") {
  const random_layer<float> layer({.kv_heads = 2, .group = 1, .tokens = 16, .head_dim = 8, .window = 4}, 5);
  const std::vector<float> sentinel(2 * 16, 42.0f);
  kcuda::device_buffer<float> d_scores;
  d_scores.upload(std::span<const float>(sentinel), nullptr);
  kcuda::scratch work;
  CHECK_THROWS_AS(kcuda::window_attention({.pool = 4}, layer.device(), d_scores.data(), work, nullptr), kvc::error);
  CHECK_THROWS_AS(kcuda::window_attention({.window = 0}, layer.device(), d_scores.data(), work, nullptr), kvc::error);
  auto no_queries = layer.device();
  no_queries.queries = kvc::strided_view<const float>::contiguous(layer.d_queries.data(), 2, 0, 8);
  CHECK_THROWS_AS(kcuda::window_attention({}, no_queries, d_scores.data(), work, nullptr), kvc::error);
  auto three_q_heads = layer.device();
  three_q_heads.queries = kvc::strided_view<const float>::contiguous(layer.d_queries.data(), 3, 1, 8);
  CHECK_THROWS_AS(kcuda::window_attention({}, three_q_heads, d_scores.data(), work, nullptr), kvc::error);
  CHECK(d_scores.download(nullptr) == sentinel);
}
