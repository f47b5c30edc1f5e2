// The trace reader on arbitrary bytes, without files: the input is split at each occurrence of
// the line "\n--kvc--\n" into up to nine parts,
//   0 meta.json   1 tokens.npy   2 tokens.txt   3 Lxx.q.npy   4 Lxx.k.npy   5 Lxx.v.npy
//   6 Lxx.x.npy   7 Lxx.wk.npy   8 Lxx.wv.npy
// (missing parts are absent files; bytes after a ninth separator belong to part 8). Each reader
// (parse_trace_meta, trace_tokens, trace_token_strings, make_trace_layer for the first listed
// layer) runs on its parts; a kvc::error is a correct answer, anything else a bug. What a reader
// accepts must agree with the meta data.
#include <kvc/io/trace.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <span>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view separator = "\n--kvc--\n";

void check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string_view> split(std::string_view input) {
  std::vector<std::string_view> parts;
  while (parts.size() < 8) {
    const auto at = input.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(input.substr(0, at));
    input.remove_prefix(at + separator.size());
  }
  parts.push_back(input);
  return parts;
}

kvc::io::npy_array npy(std::string_view bytes, const char* name) {
  return kvc::io::parse_npy(std::span<const char>(bytes.data(), bytes.size()), name);
}

bool fits(std::size_t a, std::size_t b) {
  std::size_t p = 0;
  return !__builtin_mul_overflow(a, b, &p) && p <= static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(float);
}

void check_meta(const kvc::io::trace_meta& m) {
  check(m.n_layers >= 1 && m.q_heads >= 1 && m.kv_heads >= 1 && m.head_dim >= 1 && m.d_model >= 1 && m.tokens >= 1);
  check(m.q_heads % m.kv_heads == 0);
  check(!m.layers.empty());
  for (std::size_t i = 0; i < m.layers.size(); ++i)
    check(m.layers[i] < m.n_layers && (i == 0 || m.layers[i - 1] < m.layers[i]));
  check(fits(m.q_heads, m.tokens) && fits(m.q_heads * m.tokens, m.head_dim));
  check(fits(m.tokens, m.d_model));
  check(fits(m.kv_heads, m.head_dim) && fits(m.kv_heads * m.head_dim, m.d_model));
  check(std::isfinite(m.rope_theta) && m.rope_theta > 0.0);
  check(m.bos_id >= -1 && m.bos_id <= INT32_MAX);
}

void check_layer(const kvc::io::trace_layer& l, const kvc::io::trace_meta& m) {
  check(l.index == m.layers.front());
  check(l.q.shape == std::vector<std::size_t>{m.q_heads, m.tokens, m.head_dim});
  check(l.k.shape == std::vector<std::size_t>{m.kv_heads, m.tokens, m.head_dim});
  check(l.v.shape == l.k.shape);
  check(l.q.data.size() == m.q_heads * m.tokens * m.head_dim);
  check(l.k.data.size() == m.kv_heads * m.tokens * m.head_dim && l.v.data.size() == l.k.data.size());
  if (l.has_weights()) {
    check(l.x.shape == std::vector<std::size_t>{m.tokens, m.d_model});
    check(l.wk.shape == std::vector<std::size_t>{m.d_model, m.kv_heads * m.head_dim});
    check(l.wv.shape == l.wk.shape);
    check(l.x.data.size() == m.tokens * m.d_model && l.wk.data.size() == m.d_model * m.kv_heads * m.head_dim);
  } else {
    check(l.x.data.empty() && l.wk.data.empty() && l.wv.data.empty());
  }
  // Keys laid out as [tokens, kv_heads * head_dim] have the size RoPE expects.
  std::vector<float> k = l.k.data;
  std::vector<std::int64_t> positions(m.tokens);
  std::iota(positions.begin(), positions.end(), std::int64_t{0});
  try {
    kvc::io::apply_rope(k, m.kv_heads, m.head_dim, positions, m.rope_theta);
  } catch (const kvc::error& e) {
    check(m.head_dim % 2 == 1 && e.argument() == "head_dim");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = split({reinterpret_cast<const char*>(data), size});
  kvc::io::trace_meta m;
  try {
    m = kvc::io::parse_trace_meta(parts[0]);
  } catch (const kvc::error& e) {
    check(e.argument().rfind("meta.json", 0) == 0);
    return 0;
  }
  check_meta(m);
  if (parts.size() > 1) {
    try {
      const auto ids = kvc::io::trace_tokens(npy(parts[1], "tokens.npy"), m);
      check(ids.size() == m.tokens);
      for (auto id : ids) check(id >= 0);
    } catch (const kvc::error& e) {
      check(e.argument().rfind("tokens.npy", 0) == 0);
    }
  }
  if (parts.size() > 2) {
    try {
      check(kvc::io::trace_token_strings(parts[2], m).size() == m.tokens);
    } catch (const kvc::error& e) {
      check(e.argument() == "tokens.txt");
    }
  }
  if (parts.size() > 5) {
    const std::size_t index = m.layers.front();
    try {
      const auto part = [&](std::size_t i, const char* name) {
        return i < parts.size() ? npy(parts[i], name) : kvc::io::npy_array{};
      };
      auto layer = kvc::io::make_trace_layer(m, index, part(3, "q.npy"), part(4, "k.npy"), part(5, "v.npy"),
                                             part(6, "x.npy"), part(7, "wk.npy"), part(8, "wv.npy"));
      check_layer(layer, m);
    } catch (const kvc::error& e) {
      check(!e.argument().empty());
    }
  }
  return 0;
}
