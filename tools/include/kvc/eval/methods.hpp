#pragma once
// Every kvc method, by name, as the evaluation runs it on a real model's prefix (kvc::eval::
// prefix_layer per layer). Adding a method to the evaluation is one line in methods():
//   per_layer("name", kvc::policy::something{})            a per-layer policy at budget::ratio
//   per_layer("name", [](const model_prefix& m) { ... })   one built from what the model offers
//   {"name", function}                                     a model-level method (PyramidKV, LoRC)
// A budget b is the fraction of the prefix cache kept: tokens per head for token methods, the
// rank of the K/V projections for LoRC.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "kvc/core/budget.hpp"
#include "kvc/core/compressed_layer.hpp"
#include "kvc/core/error.hpp"
#include "kvc/eval/prefix.hpp"
#include "kvc/fastgen/punctuation.hpp"
#include "kvc/fastgen/token_class.hpp"
#include "kvc/io/trace.hpp"
#include "kvc/policy/adakv.hpp"
#include "kvc/policy/ems.hpp"
#include "kvc/policy/fastgen.hpp"
#include "kvc/policy/h2o.hpp"
#include "kvc/policy/intelllm.hpp"
#include "kvc/policy/key_norm.hpp"
#include "kvc/policy/lorc.hpp"
#include "kvc/policy/pyramidkv.hpp"
#include "kvc/policy/random.hpp"
#include "kvc/policy/snapkv.hpp"
#include "kvc/policy/streaming_llm.hpp"
#include "kvc/policy/tova.hpp"

namespace kvc::eval {

/// What a method may look at: the model's layers cut at the prefix, and the prefix's tokens.
struct model_prefix {
  std::span<const prefix_layer> layers;
  std::span<const fastgen::token_class> classes;  ///< FastGen's class of each prefix token
  double rope_theta = 10000.0;                    ///< for methods that rebuild keys (LoRC)
};

/// A compressed model: one compressed layer per input layer, and the cache memory it keeps.
struct compressed_model {
  std::vector<compressed_layer<float>> layers;
  double kept_fraction = 0.0;         ///< cached floats / the full prefix cache's
  std::vector<double> layer_fraction;  ///< the same, per layer
};

struct method {
  std::string name;
  std::function<compressed_model(const model_prefix&, double budget)> compress;
};

/// FastGen's classes of a token sequence: `special_id` (the BOS) is special, tokens whose
/// vocabulary string is punctuation (fastgen::punctuation_ids) are punctuation.
inline std::vector<fastgen::token_class> token_classes(std::span<const std::int32_t> ids,
                                                       std::span<const std::string> strings,
                                                       std::int64_t special_id) {
  kvc::detail::require(ids.size() == strings.size(), "strings.size()", "ids.size() = " + std::to_string(ids.size()),
                       strings.size());
  // punctuation_ids over the sequence's own strings gives positions; classify by position.
  std::vector<std::int32_t> positions(ids.size()), special;
  for (std::size_t t = 0; t < ids.size(); ++t) {
    positions[t] = static_cast<std::int32_t>(t);
    if (ids[t] == special_id) special.push_back(static_cast<std::int32_t>(t));
  }
  return fastgen::classify(positions, special, fastgen::punctuation_ids(strings));
}

namespace detail {
/// Fills kept_fraction and layer_fraction from the layers' keep-sets (token methods).
inline void count_kept_tokens(compressed_model& m) {
  double kept = 0.0, full = 0.0;
  m.layer_fraction.clear();
  for (const auto& c : m.layers) {
    const auto k = static_cast<double>(c.keep().total()), f = static_cast<double>(c.heads() * c.keep().tokens());
    m.layer_fraction.push_back(f > 0.0 ? k / f : 0.0);
    kept += k;
    full += f;
  }
  m.kept_fraction = full > 0.0 ? kept / full : 0.0;
}
}  // namespace detail

/// Which attention a per-layer method's scorer sees.
enum class attention_seen {
  prefix,  ///< every prefix query's, accumulated (what H2O's engine keeps during prefill); only
           ///< scorers that read layer.attention (H2O, FastGen, IntelLLM's CGE) see a difference
  window,  ///< only the window queries' (prefix_layer::window_layer)
};

/// A per-layer method: `make` is a policy called as policy(layer, budget::ratio{b}), or a
/// function of the model_prefix that returns one.
template <class Make>
method per_layer(std::string name, Make make, attention_seen seen = attention_seen::prefix) {
  return {std::move(name), [make, seen](const model_prefix& m, double b) {
            compressed_model out;
            for (const auto& p : m.layers) {
              const auto l = seen == attention_seen::prefix ? p.layer() : p.window_layer();
              if constexpr (std::is_invocable_v<const Make&, const model_prefix&>)
                out.layers.push_back(make(m)(l, budget::ratio{b}));
              else
                out.layers.push_back(make(l, budget::ratio{b}));
            }
            detail::count_kept_tokens(out);
            return out;
          }};
}

/// PyramidKV: SnapKV with per-layer budgets that shrink with depth and average b · prefix.
inline compressed_model pyramidkv(const model_prefix& m, double b) {
  using layer_t = decltype(m.layers[0].layer());
  std::vector<layer_t> layers;
  for (const auto& l : m.layers) layers.push_back(l.layer());
  const std::size_t P = m.layers.empty() ? 0 : m.layers[0].options().prefix;
  const auto average = static_cast<std::size_t>(b * static_cast<double>(P) + 0.5);
  compressed_model out;
  for (auto& c : policy::pyramidkv{}(std::span<const layer_t>(layers), budget::tokens{average}))
    out.layers.push_back(std::move(c));
  detail::count_kept_tokens(out);
  return out;
}

/// LoRC: low-rank K/V projection weights (progressive ranks, b of the total rank kept). The
/// prefix's keys and values are rebuilt from the layer inputs x: K̂ = RoPE(x Ŵ_k), V̂ = x Ŵ_v;
/// every token stays. Needs the trace's x, wk, wv for every layer.
inline compressed_model lorc(const model_prefix& m, double b) {
  kvc::detail::require(!m.layers.empty(), "layers", "at least one layer", 0);
  std::vector<policy::lorc::layer_weights<float>> weights;
  for (const auto& l : m.layers) {
    kvc::detail::require(l.trace().has_weights(), "layer " + std::to_string(l.index()),
                         "x, wk and wv in the trace (LoRC compresses weights)", "none");
    weights.push_back({l.trace().wk.data, l.trace().wv.data});
  }
  const auto& first = m.layers[0].trace();
  const std::size_t H = first.k.shape[0], d = first.k.shape[2], d_model = first.x.shape[1], cols = H * d;
  const auto model = policy::lorc{}(weights, {d_model, H, d}, budget::ratio{b});
  compressed_model out;
  out.kept_fraction = model.kept_fraction();
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const std::size_t P = m.layers[i].options().prefix;
    const std::span<const float> x(m.layers[i].trace().x.data.data(), P * d_model);
    std::vector<std::int64_t> positions(P);
    for (std::size_t t = 0; t < P; ++t) positions[t] = static_cast<std::int64_t>(t);
    std::vector<float> k(P * cols), v(P * cols);
    for (auto [p, y] : {std::pair{&model.keys[i], &k}, std::pair{&model.values[i], &v}}) {
      std::vector<float> latent(P * p->rank());
      p->compress(x, P, latent);
      p->reconstruct(latent, P, *y);
    }
    io::apply_rope(k, H, d, positions, m.rope_theta);
    std::vector<std::vector<index_t>> all(H, std::vector<index_t>(P));
    for (auto& h : all)
      for (std::size_t t = 0; t < P; ++t) h[t] = static_cast<index_t>(t);
    compressed_layer<float> c(keep_set::from_heads(P, all), d, d);
    for (std::size_t h = 0; h < H; ++h) {
      auto ck = c.keys(h), cv = c.values(h);
      for (std::size_t t = 0; t < P; ++t) {
        c.positions(h)[t] = static_cast<std::int64_t>(t);
        for (std::size_t j = 0; j < d; ++j) {
          ck(0, t, j) = k[t * cols + h * d + j];
          cv(0, t, j) = v[t * cols + h * d + j];
        }
      }
    }
    out.layers.push_back(std::move(c));
    out.layer_fraction.push_back(static_cast<double>(model.keys[i].rank() + model.values[i].rank()) /
                                 static_cast<double>(2 * cols));
  }
  return out;
}

/// The evaluated methods, each with the paper's (or kvc's documented) defaults.
inline std::vector<method> methods() {
  return {
      per_layer("streaming_llm", policy::streaming_llm{}),
      per_layer("h2o", policy::h2o{}),
      per_layer("snapkv", policy::snapkv{}),
      per_layer("tova", policy::tova{}),
      per_layer("key_norm", policy::key_norm{}),
      per_layer("random", policy::random{.score = {.seed = 1}}),
      per_layer("adakv", policy::adakv{}),
      {"pyramidkv", pyramidkv},
      // FastGen profiles on the window queries (docs/fastgen.md#profiling: C_local is the window
      // those queries see); the budget caps each head.
      per_layer(
          "fastgen",
          [](const model_prefix& m) {
            return policy::fastgen{.select = {.classes = m.classes, .budget = fastgen::budget_use::cap}};
          },
          attention_seen::window),
      per_layer("ems", policy::ems{}),
      // CGE's scores are the observation window's accumulated attention (docs/intelllm.md).
      per_layer("intelllm", policy::intelllm{}, attention_seen::window),
      {"lorc", lorc},
  };
}

/// The method called `name`, or an error listing the names.
inline method find_method(const std::string& name) {
  std::string names;
  for (auto& m : methods()) {
    if (m.name == name) return m;
    names += (names.empty() ? "" : ", ") + m.name;
  }
  kvc::detail::require(false, "method", "one of " + names, name);
  return {};
}

}  // namespace kvc::eval
