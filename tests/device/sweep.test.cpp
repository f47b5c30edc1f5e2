// Parity that cannot miss a parameter: every method of the registry (kvc/methods.hpp), at its
// starting value and at every sweep value of every parameter, host reference against the device
// path on Thrust's OMP system, on awkward sizes (7, 33 and 300 tokens; GQA groups 1 and 4; with
// and without engine attention; full, window-sized and odd budgets). Scores agree to a relative
// 1e-6, keep sets, positions and merged keys and values exactly, and a call the host refuses is
// refused by the device with the same message. Each sweep value must also change the host's
// result somewhere, so a parameter the device ignored could not pass unnoticed.
//
// LoRC (level::weights) builds projectors on the host only; the device applies them
// (device/lorc.test.cpp). Here its parameters are checked to change the projectors.

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "device/support.hpp"
#include "kvc/device/all.hpp"
#include "kvc/kvc.hpp"
#include "kvc/methods.hpp"

namespace {

using namespace kvc_device_test;

/// What the host reference made of one input: enough to tell two parameter values apart.
struct outcome {
  std::string error;
  std::vector<float> scores;
  std::vector<kvc::keep_set> keep;
  std::vector<float> keys, values;
  std::vector<std::int64_t> positions;
  friend bool operator==(const outcome&, const outcome&) = default;

  void add(const kvc::compressed_layer<float>& c) {
    keep.push_back(c.keep());
    keys.insert(keys.end(), c.all_keys().begin(), c.all_keys().end());
    values.insert(values.end(), c.all_values().begin(), c.all_values().end());
    positions.insert(positions.end(), c.all_positions().begin(), c.all_positions().end());
  }
};

/// One per-layer policy on one layer and budget: the device path against the host reference.
template <class Policy>
outcome check_layer(const Policy& p, const test_layer<float>& data, std::size_t budget, bool with_attention) {
  const device_exec e{};
  const auto host = data.host(with_attention);
  const auto device = data.device(with_attention);
  outcome out;
  kvc::compressed_layer<float> host_out, device_out;
  out.error = error_of([&] { host_out = kvc::compress(kvc::exec::host, p, host, kvc::budget::tokens{budget}); });
  const std::string device_error =
      error_of([&] { device_out = kvc::compress(e, p, device, kvc::budget::tokens{budget}); });
  REQUIRE(device_error == out.error);
  if (out.error != "no error") return out;
  out.add(host_out);
  const kvc::score_matrix host_scores = p.scores(host);
  check_scores(kvc::device::scores(e, p, device).to_host(), host_scores);
  out.scores.assign(host_scores.flat().begin(), host_scores.flat().end());
  check_compressed(device_out, host_out);
  return out;
}

/// A model-level policy (PyramidKV) on `layers` layers at an average budget.
template <class Policy>
outcome check_model(const Policy& p, const std::vector<test_layer<float>>& data, std::size_t average) {
  std::vector<layer_t<float>> host, device;
  for (const auto& d : data) {
    host.push_back(d.host());
    device.push_back(d.device());
  }
  outcome out;
  std::vector<kvc::compressed_layer<float>> h, d;
  out.error = error_of([&] { h = p(std::span<const layer_t<float>>(host), kvc::budget::tokens{average}); });
  const std::string device_error = error_of([&] {
    for (const auto& c :
         kvc::compress(device_exec{}, p, std::span<const layer_t<float>>(device), kvc::budget::tokens{average}))
      d.push_back(c.to_host());
  });
  REQUIRE(device_error == out.error);
  if (out.error != "no error") return out;
  REQUIRE(d.size() == h.size());
  for (std::size_t i = 0; i < h.size(); ++i) {
    out.add(h[i]);
    check_compressed(d[i], h[i]);
  }
  return out;
}

/// The inputs a method is swept over; `run(policy)` returns the host outcomes of all of them.
struct shape {
  std::size_t heads, group, tokens;
};
constexpr shape shapes[] = {{3, 1, 7}, {3, 1, 33}, {2, 4, 33}, {3, 1, 300}, {2, 4, 300}};

template <class Method>
void sweep(const Method& m) {
  using Policy = typename Method::policy_type;
  std::vector<test_layer<float>> layers;
  for (const auto& s : shapes) layers.emplace_back(s.heads, s.group, s.tokens, 19, 100 + s.tokens + s.group);
  std::vector<std::vector<test_layer<float>>> models;
  for (std::size_t n : {33u, 300u}) {
    models.emplace_back();
    for (std::uint64_t i = 0; i < 3; ++i) models.back().emplace_back(2, 2, n, 16, 70 + n + i);
  }

  // Every observation window at what the inputs hold (the same for every shape: min(8, tokens)),
  // unless the parameter under test sets it.
  const auto fit_windows = [&](Policy p, std::size_t w) {
    kvc::methods::for_each_parameter(m, [&](const auto& q) {
      if constexpr (std::is_same_v<typename std::remove_cvref_t<decltype(q)>::value_type, std::size_t>)
        if (q.observation_window) q.set(p, w);
    });
    return p;
  };
  const auto run = [&](const auto& set) {
    std::vector<outcome> all;
    if constexpr (Method::scope == kvc::methods::level::model) {
      for (const auto& model : models) {
        Policy p = fit_windows(m.start, model[0].window);
        set(p);
        for (std::size_t average : {model[0].window + 1, model[0].tokens / 3, model[0].tokens})
          all.push_back(check_model(p, model, average));
      }
    } else {
      for (const auto& data : layers) {
        CAPTURE(data.tokens);
        CAPTURE(data.q_heads);
        Policy p = fit_windows(m.start, data.window);
        set(p);
        const std::size_t n = data.tokens;
        // What an engine binds per prompt (FastGen's token classes): none, and a BOS with
        // punctuation every sixth token.
        std::vector<kvc::fastgen::token_class> classes(n, kvc::fastgen::token_class::plain);
        for (std::size_t t = 5; t < n; t += 6) classes[t] = kvc::fastgen::token_class::punctuation;
        classes[0] = kvc::fastgen::token_class::special;
        std::vector<Policy> bound{p};
        if constexpr (requires { p.select.classes; }) {
          bound.push_back(p);
          bound.back().select.classes = classes;
        }
        for (const Policy& q : bound)
          for (std::size_t b : {n, data.window, n / 2 + 1, n / 5 + 1})
            for (bool attention : {false, true}) all.push_back(check_layer(q, data, b, attention));
      }
    }
    return all;
  };

  CAPTURE(m.name);
  const std::vector<outcome> start = run([](Policy&) {});
  std::size_t accepted = 0;
  for (const auto& o : start) accepted += o.error == "no error" ? 1 : 0;
  CHECK(accepted > 0);
  kvc::methods::for_each_parameter(m, [&](const auto& q) {
    for (std::size_t i = 0; i < q.sweep.size(); ++i) {
      const auto v = q.sweep[i];
      const std::string what = std::string(m.name) + "." + std::string(q.name) + " value #" + std::to_string(i);
      CAPTURE(what);
      const std::vector<outcome> swept = run([&](Policy& p) { q.set(p, v); });
      CHECK_MESSAGE(swept != start, what << " changes nothing the sweep can see: give it a value that does");
    }
  });
}

/// LoRC: each sweep value must change the projectors built from random weights.
template <class Method>
void sweep_weights(const Method& m) {
  const kvc::project::weight_shape shape{12, 2, 6};
  std::mt19937_64 rng(5);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<std::vector<float>> w(12, std::vector<float>(shape.d_model * shape.columns()));
  for (std::size_t l = 0; l < w.size(); ++l)
    for (std::size_t i = 0; i < w[l].size(); ++i)
      w[l][i] = g(rng) * (1.0f + static_cast<float>((i % shape.columns()) * l * l) * 0.05f);  // condition numbers 43 to 370
  std::vector<float> rms(shape.d_model);
  for (std::size_t i = 0; i < rms.size(); ++i) rms[i] = 0.25f + static_cast<float>(i % 5);
  std::vector<kvc::policy::lorc::layer_weights<float>> layers;
  for (std::size_t l = 0; l < w.size(); l += 2) layers.push_back({w[l], w[l + 1], rms});
  std::vector<float> x(4 * shape.d_model);
  for (auto& v : x) v = g(rng);
  const auto run = [&](const kvc::policy::lorc& p) {
    std::vector<float> out;
    const auto model = p(std::span<const kvc::policy::lorc::layer_weights<float>>(layers), shape, {0.5});
    for (const auto* side : {&model.keys, &model.values})
      for (const auto& proj : *side) {
        std::vector<float> c(4 * proj.rank()), y(4 * proj.output_dim());
        proj.compress(x, 4, c);
        proj.reconstruct(c, 4, y);
        out.push_back(static_cast<float>(proj.rank()));
        out.insert(out.end(), y.begin(), y.end());
      }
    return out;
  };
  const auto start = run(m.start);
  kvc::methods::for_each_parameter(m, [&](const auto& q) {
    for (const auto& v : q.sweep) {
      auto p = m.start;
      q.set(p, v);
      CAPTURE(q.name);
      CHECK(run(p) != start);
    }
  });
}

}  // namespace

TEST_CASE("device sweep: every method, every parameter, every sweep value matches the host reference") {
  std::map<std::string, int> seen;
  kvc::methods::for_each([&](const auto& m) {
    ++seen[std::string(m.name)];
    if constexpr (std::remove_cvref_t<decltype(m)>::scope == kvc::methods::level::weights)
      sweep_weights(m);
    else
      sweep(m);
  });
  CHECK(seen.size() == 12);
}
