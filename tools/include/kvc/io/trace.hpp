#pragma once
// A model trace on disk: what a real model's forward pass over a text left in its attention
// layers, as written by tools/eval/trace.py. One directory:
//   meta.json       {"n_layers", "layers": [...], "q_heads", "kv_heads", "head_dim", "d_model",
//                    "rope_theta", "tokens", "bos_id", "model", "text"}
//   tokens.npy      int32 [tokens]  token ids
//   tokens.txt      the vocabulary string of each token, one per line (\\ \n \r \t escaped)
//   Lxx.q.npy       [q_heads, tokens, head_dim]   post-RoPE queries of layer xx
//   Lxx.k.npy       [kv_heads, tokens, head_dim]  post-RoPE keys
//   Lxx.v.npy       [kv_heads, tokens, head_dim]  values
//   Lxx.x.npy       [tokens, d_model]             the input of the K/V projections (optional)
//   Lxx.wk.npy      [d_model, kv_heads*head_dim]  K before RoPE = x · wk (optional; LoRC)
//   Lxx.wv.npy      [d_model, kv_heads*head_dim]  V = x · wv (optional; LoRC)
// RoPE rotates adjacent pairs (2i, 2i+1) by position · rope_theta^(−2i/head_dim).

#include "kvc/version.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/io/npy.hpp"

namespace kvc::io {

struct trace_meta {
  std::string model, text;
  std::size_t n_layers = 0, q_heads = 0, kv_heads = 0, head_dim = 0, d_model = 0, tokens = 0;
  std::vector<std::size_t> layers;  ///< the layers this trace holds
  double rope_theta = 10000.0;
  std::int64_t bos_id = -1;
};

/// One layer of a trace.
struct trace_layer {
  std::size_t index = 0;
  npy_array q, k, v;
  npy_array x, wk, wv;  ///< empty when the trace has no weights for this layer

  [[nodiscard]] bool has_weights() const noexcept { return !x.data.empty() && !wk.data.empty() && !wv.data.empty(); }
};

namespace detail {

/// The text right after `"key":` in a flat JSON object, or an error naming the key.
inline std::size_t json_value_at(const std::string& json, const std::string& key) {
  const auto k = json.find("\"" + key + "\"");
  kvc::detail::require(k != std::string::npos, "meta.json", "a \"" + key + "\" entry", "none");
  auto v = json.find(':', k + key.size() + 2);
  kvc::detail::require(v != std::string::npos, "meta.json", "':' after \"" + key + "\"", json.substr(k, 40));
  ++v;
  while (v < json.size() && (json[v] == ' ' || json[v] == '\n' || json[v] == '\t' || json[v] == '\r')) ++v;
  return v;
}

inline double json_number(const std::string& json, const std::string& key) {
  const std::size_t v = json_value_at(json, key);
  char* end = nullptr;
  const double d = std::strtod(json.c_str() + v, &end);
  kvc::detail::require(end != json.c_str() + v, "meta.json \"" + key + "\"", "a number", json.substr(v, 20));
  return d;
}

inline std::size_t json_count(const std::string& json, const std::string& key) {
  const double d = json_number(json, key);
  kvc::detail::require(d >= 0.0 && d == std::floor(d), "meta.json \"" + key + "\"", "a non-negative integer", d);
  return static_cast<std::size_t>(d);
}

inline std::string json_string(const std::string& json, const std::string& key) {
  std::size_t v = json_value_at(json, key);
  kvc::detail::require(v < json.size() && json[v] == '"', "meta.json \"" + key + "\"", "a string",
                       json.substr(v, 20));
  std::string out;
  for (++v; v < json.size() && json[v] != '"'; ++v) {
    if (json[v] == '\\' && v + 1 < json.size()) ++v;  // keep escaped characters as they are
    out += json[v];
  }
  return out;
}

inline std::vector<std::size_t> json_counts(const std::string& json, const std::string& key) {
  std::size_t v = json_value_at(json, key);
  kvc::detail::require(v < json.size() && json[v] == '[', "meta.json \"" + key + "\"", "an array",
                       json.substr(v, 20));
  const auto end = json.find(']', v);
  kvc::detail::require(end != std::string::npos, "meta.json \"" + key + "\"", "a closed array", json.substr(v, 20));
  std::vector<std::size_t> out;
  for (++v; v < end;) {
    char* stop = nullptr;
    const long long n = std::strtoll(json.c_str() + v, &stop, 10);
    if (stop == json.c_str() + v) {
      ++v;
      continue;
    }
    kvc::detail::require(n >= 0, "meta.json \"" + key + "\"", "non-negative integers", n);
    out.push_back(static_cast<std::size_t>(n));
    v = static_cast<std::size_t>(stop - json.c_str());
  }
  return out;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  kvc::detail::require(static_cast<bool>(in), "path", "a readable file", path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string layer_file(const std::string& dir, std::size_t layer, const char* what) {
  char name[32];
  std::snprintf(name, sizeof name, "L%02zu.%s.npy", layer, what);
  return (std::filesystem::path(dir) / name).string();
}

inline void require_shape(const npy_array& a, const std::vector<std::size_t>& shape, const std::string& what) {
  std::string want, got;
  for (auto s : shape) want += (want.empty() ? "" : ", ") + std::to_string(s);
  for (auto s : a.shape) got += (got.empty() ? "" : ", ") + std::to_string(s);
  kvc::detail::require(a.shape == shape, what + ".shape", "[" + want + "]", "[" + got + "]");
}

}  // namespace detail

inline trace_meta read_trace_meta(const std::string& dir) {
  const std::string json = detail::read_text((std::filesystem::path(dir) / "meta.json").string());
  trace_meta m;
  m.model = detail::json_string(json, "model");
  m.text = detail::json_string(json, "text");
  m.n_layers = detail::json_count(json, "n_layers");
  m.q_heads = detail::json_count(json, "q_heads");
  m.kv_heads = detail::json_count(json, "kv_heads");
  m.head_dim = detail::json_count(json, "head_dim");
  m.d_model = detail::json_count(json, "d_model");
  m.tokens = detail::json_count(json, "tokens");
  m.layers = detail::json_counts(json, "layers");
  m.rope_theta = detail::json_number(json, "rope_theta");
  m.bos_id = static_cast<std::int64_t>(detail::json_number(json, "bos_id"));
  kvc::detail::require(m.kv_heads >= 1 && m.q_heads % m.kv_heads == 0, "meta.json \"q_heads\"",
                       "a multiple of kv_heads " + std::to_string(m.kv_heads), m.q_heads);
  for (auto l : m.layers)
    kvc::detail::require(l < m.n_layers, "meta.json \"layers\"", "indices below n_layers " + std::to_string(m.n_layers),
                         l);
  return m;
}

/// Token ids of the trace, as integers.
inline std::vector<std::int32_t> read_trace_tokens(const std::string& dir, const trace_meta& m) {
  const npy_array a = read_npy((std::filesystem::path(dir) / "tokens.npy").string());
  detail::require_shape(a, {m.tokens}, "tokens.npy");
  std::vector<std::int32_t> ids(a.size());
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>(a.data[i]);
  return ids;
}

/// One string per line, with `\\`, `\n`, `\r`, `\t` unescaped.
inline std::vector<std::string> parse_token_strings(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      out.push_back(std::move(cur));
      cur.clear();
    } else if (c == '\\' && i + 1 < text.size()) {
      const char e = text[++i];
      cur += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

inline std::vector<std::string> read_trace_token_strings(const std::string& dir, const trace_meta& m) {
  auto out = parse_token_strings(detail::read_text((std::filesystem::path(dir) / "tokens.txt").string()));
  kvc::detail::require(out.size() == m.tokens, "tokens.txt", std::to_string(m.tokens) + " lines", out.size());
  return out;
}

/// Reads layer `index` (one of meta.layers) and checks every shape against the meta data;
/// the LoRC inputs (x, wk, wv) are read when `weights` is set and the files exist.
inline trace_layer read_trace_layer(const std::string& dir, const trace_meta& m, std::size_t index,
                                    bool weights = true) {
  bool listed = false;
  for (auto l : m.layers) listed = listed || l == index;
  kvc::detail::require(listed, "index", "one of the trace's layers", index);
  trace_layer t;
  t.index = index;
  t.q = read_npy(detail::layer_file(dir, index, "q"));
  t.k = read_npy(detail::layer_file(dir, index, "k"));
  t.v = read_npy(detail::layer_file(dir, index, "v"));
  detail::require_shape(t.q, {m.q_heads, m.tokens, m.head_dim}, "q");
  detail::require_shape(t.k, {m.kv_heads, m.tokens, m.head_dim}, "k");
  detail::require_shape(t.v, {m.kv_heads, m.tokens, m.head_dim}, "v");
  if (weights && std::filesystem::exists(detail::layer_file(dir, index, "wk"))) {
    t.x = read_npy(detail::layer_file(dir, index, "x"));
    t.wk = read_npy(detail::layer_file(dir, index, "wk"));
    t.wv = read_npy(detail::layer_file(dir, index, "wv"));
    detail::require_shape(t.x, {m.tokens, m.d_model}, "x");
    detail::require_shape(t.wk, {m.d_model, m.kv_heads * m.head_dim}, "wk");
    detail::require_shape(t.wv, {m.d_model, m.kv_heads * m.head_dim}, "wv");
  }
  return t;
}

/// Rotates `x` ([tokens, heads * head_dim], row-major; token t at position positions[t]) in place
/// by RoPE on adjacent pairs: (x_2i, x_2i+1) by angle p · theta^(−2i/head_dim).
inline void apply_rope(std::span<float> x, std::size_t heads, std::size_t head_dim,
                       std::span<const std::int64_t> positions, double theta) {
  kvc::detail::require(head_dim % 2 == 0, "head_dim", "an even number", head_dim);
  kvc::detail::require(x.size() == positions.size() * heads * head_dim, "x.size()",
                       "tokens * heads * head_dim = " + std::to_string(positions.size() * heads * head_dim), x.size());
  for (std::size_t t = 0; t < positions.size(); ++t)
    for (std::size_t i = 0; i < head_dim / 2; ++i) {
      const double angle = static_cast<double>(positions[t]) *
                           std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
      const double c = std::cos(angle), s = std::sin(angle);
      for (std::size_t h = 0; h < heads; ++h) {
        float* p = x.data() + (t * heads + h) * head_dim + 2 * i;
        const double a = p[0], b = p[1];
        p[0] = static_cast<float>(a * c - b * s);
        p[1] = static_cast<float>(a * s + b * c);
      }
    }
}

}  // namespace kvc::io
