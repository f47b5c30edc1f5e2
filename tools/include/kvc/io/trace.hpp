#pragma once
// A model trace on disk: what a real model's forward pass over a text left in its attention
// layers, as written by tools/eval/trace.py. One directory:
//   meta.json       {"n_layers", "layers": [...], "q_heads", "kv_heads", "head_dim", "d_model",
//                    "rope_theta", "rope", "tokens", "bos_id", "model", "text"}
//   tokens.npy      int32 [tokens]  token ids
//   tokens.txt      the vocabulary string of each token, one per line (\\ \n \r \t escaped)
//   Lxx.q.npy       [q_heads, tokens, head_dim]   post-RoPE queries of layer xx
//   Lxx.k.npy       [kv_heads, tokens, head_dim]  post-RoPE keys
//   Lxx.v.npy       [kv_heads, tokens, head_dim]  values
//   Lxx.x.npy       [tokens, d_model]             the input of the K/V projections (optional)
//   Lxx.wk.npy      [d_model, kv_heads*head_dim]  K before RoPE = x · wk (optional; LoRC)
//   Lxx.wv.npy      [d_model, kv_heads*head_dim]  V = x · wv (optional; LoRC)
// RoPE rotates adjacent pairs (2i, 2i+1) by position · rope_theta^(−2i/head_dim).
//
// Each reader has an in-memory form (parse_trace_meta, trace_tokens, make_trace_layer) that the
// file readers call, so the checks are the same whether the bytes come from disk or not.

#include "kvc/version.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kvc/core/error.hpp"
#include "kvc/io/npy.hpp"

namespace kvc::io {

struct trace_meta {
  std::string model, text;
  std::size_t n_layers = 0, q_heads = 0, kv_heads = 0, head_dim = 0, d_model = 0, tokens = 0;
  std::vector<std::size_t> layers;  ///< the layers this trace holds, ascending
  double rope_theta = 10000.0;
  std::int64_t bos_id = -1;  ///< -1: the model has none
};

/// One layer of a trace.
struct trace_layer {
  std::size_t index = 0;
  npy_array q, k, v;
  npy_array x, wk, wv;  ///< empty when the trace has no weights for this layer

  [[nodiscard]] bool has_weights() const noexcept { return !x.data.empty() && !wk.data.empty() && !wv.data.empty(); }
};

namespace detail {

using json = nlohmann::json;

inline std::string meta_field(std::string_view key) { return "meta.json \"" + std::string(key) + "\""; }

/// What a JSON value is, for error messages: its type, and the value when it is a number.
inline std::string json_describe(const json& v) {
  if (v.is_number()) return std::string(v.type_name()) + " " + v.dump();
  return v.type_name();
}

inline const json& json_member(const json& object, std::string_view key) {
  const auto it = object.find(std::string(key));
  kvc::detail::require(it != object.end(), meta_field(key), "present", "missing");
  return *it;
}

/// A JSON integer in [lo, hi]; an integral number written with a fraction or exponent (4.0, 1e3)
/// counts too, but never a double cast outside the range (1e300, -1, 2.5).
inline std::int64_t json_integer(const json& v, const std::string& field, std::int64_t lo, std::int64_t hi) {
  const std::string expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    kvc::detail::require(std::cmp_greater_equal(u, lo) && std::cmp_less_equal(u, hi), field, expected, u);
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    kvc::detail::require(i >= lo && i <= hi, field, expected, i);
    return i;
  }
  kvc::detail::require(v.is_number_float(), field, expected, json_describe(v));
  const double d = v.get<double>();
  // Both bounds are exact doubles below 2^63 once rounded down; compare before converting.
  kvc::detail::require(std::isfinite(d) && d == std::floor(d) && d >= static_cast<double>(lo) &&
                           d <= static_cast<double>(hi) && d < 9223372036854775808.0,
                       field, expected, json_describe(v));
  const auto i = static_cast<std::int64_t>(d);
  kvc::detail::require(i >= lo && i <= hi, field, expected, json_describe(v));
  return i;
}

/// The largest count a meta.json field may hold: what keeps a [count] float array addressable.
inline constexpr std::int64_t max_count =
    std::numeric_limits<std::ptrdiff_t>::max() / static_cast<std::ptrdiff_t>(sizeof(float));

inline std::size_t json_count(const json& object, std::string_view key, std::int64_t lo = 1) {
  return static_cast<std::size_t>(json_integer(json_member(object, key), meta_field(key), lo, max_count));
}

inline std::string json_string(const json& object, std::string_view key) {
  const json& v = json_member(object, key);
  kvc::detail::require(v.is_string(), meta_field(key), "a string", json_describe(v));
  return v.get<std::string>();
}

/// `a * b` elements of float, or an error naming the counts that overflow.
inline std::size_t element_product(std::size_t a, std::size_t b, const std::string& field, std::string_view what) {
  return detail::checked_mul(a, b, static_cast<std::size_t>(max_count), field,
                             std::string(what) + " to fit in memory as float");
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  kvc::detail::require(static_cast<bool>(in), "path", "a readable file", path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string layer_name(std::size_t layer, const char* what) {
  char name[48];
  std::snprintf(name, sizeof name, "L%02zu.%s.npy", layer, what);
  return name;
}

inline std::string layer_file(const std::string& dir, std::size_t layer, const char* what) {
  return (std::filesystem::path(dir) / layer_name(layer, what)).string();
}

inline std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
  return "[" + s + "]";
}

inline void require_shape(const npy_array& a, const std::vector<std::size_t>& shape, const std::string& what) {
  kvc::detail::require(a.shape == shape, what + " shape", shape_text(shape), shape_text(a.shape));
  std::size_t count = 1;
  for (auto d : shape)
    count = detail::checked_mul(count, d, std::numeric_limits<std::size_t>::max(), what + " shape",
                                "a product of dimensions that fits in size_t");
  kvc::detail::require(a.data.size() == count, what + " data", std::to_string(count) + " elements", a.data.size());
}

inline void require_float(const npy_array& a, const std::string& what) {
  kvc::detail::require(a.dtype.kind == npy_kind::floating, what + " dtype", "a float type (<f2, <f4, <f8)",
                       a.dtype.descr());
}

}  // namespace detail

/// Parses the text of meta.json. Every field listed at the top of this file must be present with
/// its type: counts are integers (n_layers, q_heads, kv_heads, head_dim, d_model, tokens at least
/// 1, with q_heads a multiple of kv_heads and every array the trace implies addressable as float),
/// layers a non-empty ascending list of indices below n_layers, rope_theta a positive number,
/// rope (when present) "adjacent-pairs", bos_id an integer in [-1, 2^31 - 1] (-1: none).
inline trace_meta parse_trace_meta(std::string_view text) {
  using kvc::detail::require;
  detail::json j;
  try {
    j = detail::json::parse(text.begin(), text.end());
  } catch (const detail::json::exception& e) {  // parse errors, and numbers beyond double (out_of_range)
    throw kvc::error("meta.json", "valid JSON", e.what());
  }
  require(j.is_object(), "meta.json", "a JSON object", detail::json_describe(j));
  trace_meta m;
  m.model = detail::json_string(j, "model");
  m.text = detail::json_string(j, "text");
  m.n_layers = detail::json_count(j, "n_layers");
  m.q_heads = detail::json_count(j, "q_heads");
  m.kv_heads = detail::json_count(j, "kv_heads");
  m.head_dim = detail::json_count(j, "head_dim");
  m.d_model = detail::json_count(j, "d_model");
  m.tokens = detail::json_count(j, "tokens");
  require(m.q_heads % m.kv_heads == 0, detail::meta_field("q_heads"),
          "a multiple of kv_heads " + std::to_string(m.kv_heads), m.q_heads);
  // The arrays of a layer: q [q_heads, tokens, head_dim] (k and v are smaller), x [tokens, d_model],
  // wk and wv [d_model, kv_heads * head_dim].
  detail::element_product(
      detail::element_product(m.q_heads, m.tokens, detail::meta_field("tokens"), "q_heads × tokens"), m.head_dim,
      detail::meta_field("head_dim"), "q_heads × tokens × head_dim");
  detail::element_product(m.tokens, m.d_model, detail::meta_field("d_model"), "tokens × d_model");
  detail::element_product(
      detail::element_product(m.kv_heads, m.head_dim, detail::meta_field("head_dim"), "kv_heads × head_dim"), m.d_model,
      detail::meta_field("d_model"), "d_model × kv_heads × head_dim");

  const detail::json& layers = detail::json_member(j, "layers");
  require(layers.is_array() && !layers.empty(), detail::meta_field("layers"), "a non-empty array",
          layers.is_array() ? std::string("an empty array") : detail::json_describe(layers));
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string field = detail::meta_field("layers") + "[" + std::to_string(i) + "]";
    const auto l =
        static_cast<std::size_t>(detail::json_integer(layers[i], field, 0, static_cast<std::int64_t>(m.n_layers) - 1));
    require(m.layers.empty() || l > m.layers.back(), field,
            "a layer above the one before, " + (m.layers.empty() ? std::string() : std::to_string(m.layers.back())), l);
    m.layers.push_back(l);
  }

  const detail::json& theta = detail::json_member(j, "rope_theta");
  require(theta.is_number(), detail::meta_field("rope_theta"), "a positive number", detail::json_describe(theta));
  m.rope_theta = theta.get<double>();
  require(std::isfinite(m.rope_theta) && m.rope_theta > 0.0, detail::meta_field("rope_theta"), "a positive number",
          detail::json_describe(theta));
  if (j.contains("rope")) {
    const std::string rope = detail::json_string(j, "rope");
    require(rope == "adjacent-pairs", detail::meta_field("rope"), "\"adjacent-pairs\" (the pairing apply_rope uses)",
            "\"" + rope + "\"");
  }
  m.bos_id = detail::json_integer(detail::json_member(j, "bos_id"), detail::meta_field("bos_id"), -1,
                                  std::numeric_limits<std::int32_t>::max());
  return m;
}

inline trace_meta read_trace_meta(const std::string& dir) {
  return parse_trace_meta(detail::read_text((std::filesystem::path(dir) / "meta.json").string()));
}

/// Token ids from tokens.npy's array: an integer array [tokens], each id in [0, 2^31 - 1], exact.
inline std::vector<std::int32_t> trace_tokens(const npy_array& a, const trace_meta& m) {
  detail::require_shape(a, {m.tokens}, "tokens.npy");
  return a.integers<std::int32_t>("tokens.npy", 0);
}

/// Token ids of the trace, as integers.
inline std::vector<std::int32_t> read_trace_tokens(const std::string& dir, const trace_meta& m) {
  return trace_tokens(read_npy((std::filesystem::path(dir) / "tokens.npy").string()), m);
}

/// One string per line, with `\\`, `\n`, `\r`, `\t` unescaped.
inline std::vector<std::string> parse_token_strings(std::string_view text) {
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

/// tokens.txt's strings, one per token of the trace.
inline std::vector<std::string> trace_token_strings(std::string_view text, const trace_meta& m) {
  auto out = parse_token_strings(text);
  kvc::detail::require(out.size() == m.tokens, "tokens.txt", std::to_string(m.tokens) + " lines", out.size());
  return out;
}

inline std::vector<std::string> read_trace_token_strings(const std::string& dir, const trace_meta& m) {
  return trace_token_strings(detail::read_text((std::filesystem::path(dir) / "tokens.txt").string()), m);
}

/// Layer `index` (one of m.layers) from its arrays, each checked against the meta data: q, k, v
/// float arrays of the shapes at the top of this file; x, wk, wv either all empty (no weights) or
/// all of their shapes.
inline trace_layer make_trace_layer(const trace_meta& m, std::size_t index, npy_array q, npy_array k, npy_array v,
                                    npy_array x = {}, npy_array wk = {}, npy_array wv = {}) {
  bool listed = false;
  for (auto l : m.layers) listed = listed || l == index;
  kvc::detail::require(listed, "index", "one of the trace's layers", index);
  trace_layer t;
  t.index = index;
  t.q = std::move(q);
  t.k = std::move(k);
  t.v = std::move(v);
  const auto name = [&](const char* what) { return detail::layer_name(index, what); };
  detail::require_shape(t.q, {m.q_heads, m.tokens, m.head_dim}, name("q"));
  detail::require_shape(t.k, {m.kv_heads, m.tokens, m.head_dim}, name("k"));
  detail::require_shape(t.v, {m.kv_heads, m.tokens, m.head_dim}, name("v"));
  detail::require_float(t.q, name("q"));
  detail::require_float(t.k, name("k"));
  detail::require_float(t.v, name("v"));
  const auto absent = [](const npy_array& a) { return a.shape.empty() && a.data.empty(); };
  if (absent(x) && absent(wk) && absent(wv)) return t;
  t.x = std::move(x);
  t.wk = std::move(wk);
  t.wv = std::move(wv);
  detail::require_shape(t.x, {m.tokens, m.d_model}, name("x"));
  detail::require_shape(t.wk, {m.d_model, m.kv_heads * m.head_dim}, name("wk"));
  detail::require_shape(t.wv, {m.d_model, m.kv_heads * m.head_dim}, name("wv"));
  detail::require_float(t.x, name("x"));
  detail::require_float(t.wk, name("wk"));
  detail::require_float(t.wv, name("wv"));
  return t;
}

/// Reads layer `index` (one of meta.layers) and checks every shape against the meta data;
/// the LoRC inputs (x, wk, wv) are read when `weights` is set and Lxx.wk.npy exists.
inline trace_layer read_trace_layer(const std::string& dir, const trace_meta& m, std::size_t index,
                                    bool weights = true) {
  bool listed = false;
  for (auto l : m.layers) listed = listed || l == index;
  kvc::detail::require(listed, "index", "one of the trace's layers", index);
  const auto read = [&](const char* what) { return read_npy(detail::layer_file(dir, index, what)); };
  npy_array q = read("q"), k = read("k"), v = read("v");
  if (weights && std::filesystem::exists(detail::layer_file(dir, index, "wk")))
    return make_trace_layer(m, index, std::move(q), std::move(k), std::move(v), read("x"), read("wk"), read("wv"));
  return make_trace_layer(m, index, std::move(q), std::move(k), std::move(v));
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
