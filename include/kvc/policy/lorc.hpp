#pragma once
// LoRC (Zhang et al. 2024): low-rank K/V projection weights with a progressive per-layer rank.
// An offline step: decompose every layer's K and V weight once, derive the ranks from the
// condition numbers (kvc::project::progressive_rank), and hand the engine one projector per
// layer and per K/V. docs/lorc.md

#include "kvc/version.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kvc/core/budget.hpp"
#include "kvc/core/compressed_layer.hpp"
#include "kvc/core/keep_set.hpp"
#include "kvc/core/error.hpp"
#include "kvc/project/low_rank.hpp"
#include "kvc/project/rank_schedule.hpp"
#include "kvc/project/svd.hpp"

namespace kvc::policy {

struct lorc {
  project::progressive_rank schedule{};
  project::jacobi_svd decompose{};
  /// kvc's option (not the paper's): decompose diag(s) W instead of W, with s the RMS of each
  /// input feature over calibration tokens (layer_weights::input_rms), so that the truncation
  /// drops what matters least for the inputs the layer really sees. docs/lorc.md#input-scaling
  bool scale_by_inputs = false;

  /// One layer's projection weights, each row-major [d_model, kv_heads * head_dim] (K = X W_k),
  /// and, for scale_by_inputs, the RMS of each of the layer's d_model input features (the K/V
  /// projections' input, after the attention norm) over calibration tokens.
  template <class T = float>
  struct layer_weights {
    std::span<const T> key, value;
    std::span<const T> input_rms{};
  };

  /// Per layer, the K and V projectors, their weights' condition numbers and the ranks.
  struct compressed_model {
    std::vector<project::low_rank_projector> keys, values;
    std::vector<double> key_condition, value_condition;

    [[nodiscard]] std::vector<std::size_t> key_ranks() const { return ranks(keys); }
    [[nodiscard]] std::vector<std::size_t> value_ranks() const { return ranks(values); }
    /// Cached floats per token over all layers, relative to the uncompressed K and V.
    [[nodiscard]] double kept_fraction() const {
      double kept = 0.0, full = 0.0;
      for (const auto* side : {&keys, &values})
        for (const auto& p : *side) {
          kept += static_cast<double>(p.rank());
          full += static_cast<double>(p.output_dim());
        }
      return full > 0.0 ? kept / full : 0.0;
    }

   private:
    static std::vector<std::size_t> ranks(const std::vector<project::low_rank_projector>& ps) {
      std::vector<std::size_t> r;
      r.reserve(ps.size());
      for (const auto& p : ps) r.push_back(p.rank());
      return r;
    }
  };

  /// The SVDs of every layer's K and V weights, which the rank schedule and the projectors are
  /// built from. They depend on the weights alone: factor a model once (offline) and build the
  /// projectors of every budget from the same factors.
  struct factors {
    std::vector<project::svd_result> keys, values;
    std::vector<std::vector<double>> input_scale;  ///< per layer; empty: the weights alone
    project::weight_shape shape{};
  };

  /// Factors a model whose layers all have shape `shape`.
  template <class T>
  [[nodiscard]] factors factorize(std::span<const layer_weights<T>> layers, project::weight_shape shape) const {
    kvc::detail::require(!layers.empty(), "layers", "at least one layer", 0);
    kvc::detail::require(shape.d_model >= 1 && shape.kv_heads >= 1 && shape.head_dim >= 1, "shape",
                         "d_model, kv_heads and head_dim all at least 1",
                         std::to_string(shape.d_model) + ", " + std::to_string(shape.kv_heads) + ", " +
                             std::to_string(shape.head_dim));
    const std::size_t size = shape.d_model * shape.columns();
    for (std::size_t l = 0; l < layers.size(); ++l) {
      kvc::detail::require(layers[l].key.size() == size, "layers[" + std::to_string(l) + "].key.size()",
                           "d_model * kv_heads * head_dim = " + std::to_string(size), layers[l].key.size());
      kvc::detail::require(layers[l].value.size() == size, "layers[" + std::to_string(l) + "].value.size()",
                           "d_model * kv_heads * head_dim = " + std::to_string(size), layers[l].value.size());
      if (!scale_by_inputs) continue;
      const std::string name = "layers[" + std::to_string(l) + "].input_rms";
      kvc::detail::require(layers[l].input_rms.size() == shape.d_model, name + ".size()",
                           "d_model = " + std::to_string(shape.d_model) + " (lorc.scale_by_inputs is set)",
                           layers[l].input_rms.size());
      for (std::size_t i = 0; i < shape.d_model; ++i) {
        const auto r = static_cast<double>(layers[l].input_rms[i]);
        kvc::detail::require(std::isfinite(r) && r > 0.0, name + "[" + std::to_string(i) + "]",
                             "a finite, positive RMS", r);
      }
    }
    factors out;
    out.shape = shape;
    out.keys.reserve(layers.size());
    out.values.reserve(layers.size());
    std::vector<double> scaled;
    for (const auto& w : layers) {
      if (!scale_by_inputs) {
        out.keys.push_back(decompose(w.key, shape.d_model, shape.columns()));
        out.values.push_back(decompose(w.value, shape.d_model, shape.columns()));
        out.input_scale.emplace_back();
        continue;
      }
      std::vector<double> s(shape.d_model);
      for (std::size_t i = 0; i < shape.d_model; ++i) s[i] = static_cast<double>(w.input_rms[i]);
      const auto scaled_svd = [&](std::span<const T> weight) {
        scaled.resize(size);
        for (std::size_t i = 0; i < shape.d_model; ++i)
          for (std::size_t j = 0; j < shape.columns(); ++j)
            scaled[i * shape.columns() + j] = s[i] * static_cast<double>(weight[i * shape.columns() + j]);
        return decompose(std::span<const double>(scaled), shape.d_model, shape.columns());
      };
      out.keys.push_back(scaled_svd(w.key));
      out.values.push_back(scaled_svd(w.value));
      out.input_scale.push_back(std::move(s));
    }
    return out;
  }

  template <class T>
  [[nodiscard]] factors factorize(const std::vector<layer_weights<T>>& layers, project::weight_shape shape) const {
    return factorize(std::span<const layer_weights<T>>(layers), shape);
  }

  /// Builds the projectors from a model's factors; keys and values each keep `kept` of their
  /// cache (the schedule runs on each side separately).
  [[nodiscard]] compressed_model operator()(const factors& f, budget::ratio kept) const {
    kvc::detail::require(!f.keys.empty() && f.keys.size() == f.values.size(), "factors",
                         "as many key as value SVDs, at least one",
                         std::to_string(f.keys.size()) + " and " + std::to_string(f.values.size()));
    kvc::detail::require(kept.value > 0.0 && kept.value <= 1.0, "kept", "a fraction in (0, 1]", kept.value);
    compressed_model out;
    for (std::size_t l = 0; l < f.keys.size(); ++l) {
      out.key_condition.push_back(f.keys[l].condition_number());
      out.value_condition.push_back(f.values[l].condition_number());
    }
    const std::size_t full_rank = f.keys.front().size();  // min(d_model, kv_heads * head_dim)
    const std::vector<std::size_t> key_ranks = schedule(out.key_condition, full_rank, kept);
    const std::vector<std::size_t> value_ranks = schedule(out.value_condition, full_rank, kept);
    for (std::size_t l = 0; l < f.keys.size(); ++l) {
      const std::span<const double> scale =
          l < f.input_scale.size() ? std::span<const double>(f.input_scale[l]) : std::span<const double>{};
      out.keys.push_back(project::low_rank_projector::from_svd(f.keys[l], f.shape, key_ranks[l], scale));
      out.values.push_back(project::low_rank_projector::from_svd(f.values[l], f.shape, value_ranks[l], scale));
    }
    return out;
  }

  /// Builds the projectors of a model whose layers all have shape `shape`: factorize, then the
  /// projectors of budget `kept`.
  template <class T>
  [[nodiscard]] compressed_model operator()(std::span<const layer_weights<T>> layers, project::weight_shape shape,
                                            budget::ratio kept) const {
    kvc::detail::require(kept.value > 0.0 && kept.value <= 1.0, "kept", "a fraction in (0, 1]", kept.value);
    return (*this)(factorize(layers, shape), kept);
  }

  template <class T>
  [[nodiscard]] compressed_model operator()(const std::vector<layer_weights<T>>& layers, project::weight_shape shape,
                                            budget::ratio kept) const {
    return (*this)(std::span<const layer_weights<T>>(layers), shape, kept);
  }

  /// Layer `i`'s cache as `model` rebuilds it from that layer's inputs x (`rows` tokens, row-major
  /// [rows, d_model]): K̂ = x Ŵ_k and V̂ = x Ŵ_v through the rank-r latents, every token kept, token
  /// t at position t. `rotate(keys, kv_heads, head_dim, positions)` is applied to the rebuilt keys
  /// ([rows, kv_heads · head_dim]) first, as the model applies RoPE after its K projection (pass
  /// a no-op for a model without one).
  template <class Rotate>
  [[nodiscard]] static compressed_layer<float> rebuild(const compressed_model& model, std::size_t i,
                                                       std::span<const float> x, std::size_t rows,
                                                       project::weight_shape shape, Rotate&& rotate) {
    kvc::detail::require(i < model.keys.size(), "layer", "below the model's " + std::to_string(model.keys.size()) +
                                                             " layers", i);
    kvc::detail::require(model.keys[i].output_dim() == shape.columns(), "shape",
                         "kv_heads * head_dim = the projectors' " + std::to_string(model.keys[i].output_dim()),
                         shape.columns());
    const std::size_t H = shape.kv_heads, d = shape.head_dim, cols = shape.columns();
    std::vector<std::int64_t> positions(rows);
    for (std::size_t t = 0; t < rows; ++t) positions[t] = static_cast<std::int64_t>(t);
    std::vector<float> k(rows * cols), v(rows * cols);
    for (auto [p, y] : {std::pair{&model.keys[i], &k}, std::pair{&model.values[i], &v}}) {
      std::vector<float> latent(rows * p->rank());
      p->compress(x, rows, latent);  // checks x's size
      p->reconstruct(latent, rows, *y);
    }
    rotate(std::span<float>(k), H, d, std::span<const std::int64_t>(positions));
    std::vector<std::vector<index_t>> all(H, std::vector<index_t>(rows));
    for (auto& h : all)
      for (std::size_t t = 0; t < rows; ++t) h[t] = static_cast<index_t>(t);
    compressed_layer<float> c(keep_set::from_heads(rows, all), d, d);
    for (std::size_t h = 0; h < H; ++h) {
      auto ck = c.keys(h), cv = c.values(h);
      for (std::size_t t = 0; t < rows; ++t) {
        c.positions(h)[t] = positions[t];
        for (std::size_t j = 0; j < d; ++j) {
          ck(0, t, j) = k[t * cols + h * d + j];
          cv(0, t, j) = v[t * cols + h * d + j];
        }
      }
    }
    return c;
  }
};

}  // namespace kvc::policy
