#include <doctest/doctest.h>
#include <kvc/io/trace.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {
namespace fs = std::filesystem;

/// A two-layer trace directory of 3 tokens, 2 q-heads over 1 kv-head, head_dim 2, written by hand.
fs::path write_tiny_trace(const std::string& name, std::size_t layer_tokens = 3) {
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "meta.json") << R"({"model": "tiny \"test\" model", "n_layers": 4, "layers": [1, 3],
    "q_heads": 2, "kv_heads": 1, "head_dim": 2, "d_model": 4, "rope_theta": 10000.0, "rope": "adjacent-pairs",
    "tokens": 3, "text": "hand-made", "bos_id": 0})";
  kvc::io::write_npy((dir / "tokens.npy").string(), {3}, {0, 17, 4});
  std::ofstream(dir / "tokens.txt", std::ios::binary) << "<|endoftext|>\nĠa\\\\b\n.\\n\n";
  for (int l : {1, 3}) {
    const std::string stem = (dir / ("L0" + std::to_string(l))).string();
    kvc::io::write_npy(stem + ".q.npy", {2, 3, 2}, std::vector<float>(12, float(l)));
    kvc::io::write_npy(stem + ".k.npy", {1, layer_tokens, 2}, std::vector<float>(layer_tokens * 2, 1.0f));
    kvc::io::write_npy(stem + ".v.npy", {1, 3, 2}, std::vector<float>(6, 2.0f));
  }
  return dir;
}
}  // namespace

TEST_CASE("a trace's meta data, token ids and token strings are read as written") {
  const auto dir = write_tiny_trace("kvc_trace_meta").string();
  const auto m = kvc::io::read_trace_meta(dir);
  CHECK(m.model == "tiny \"test\" model");
  CHECK(m.n_layers == 4);
  CHECK(m.layers == std::vector<std::size_t>{1, 3});
  CHECK(m.q_heads == 2);
  CHECK(m.kv_heads == 1);
  CHECK(m.head_dim == 2);
  CHECK(m.d_model == 4);
  CHECK(m.tokens == 3);
  CHECK(m.rope_theta == 10000.0);
  CHECK(m.bos_id == 0);
  CHECK(kvc::io::read_trace_tokens(dir, m) == std::vector<std::int32_t>{0, 17, 4});
  // "Ġa\\b" is the string Ġa\b; ".\n" ends in a real newline.
  CHECK(kvc::io::read_trace_token_strings(dir, m) == std::vector<std::string>{"<|endoftext|>", "Ġa\\b", ".\n"});
  const auto layer = kvc::io::read_trace_layer(dir, m, 3);
  CHECK(layer.index == 3);
  CHECK(layer.q.data[0] == 3.0f);
  CHECK_FALSE(layer.has_weights());
  fs::remove_all(dir);
}

TEST_CASE("a trace that disagrees with its meta data is rejected naming the file") {
  const auto dir = write_tiny_trace("kvc_trace_bad", 4).string();
  const auto m = kvc::io::read_trace_meta(dir);
  CHECK_THROWS_WITH_AS(kvc::io::read_trace_layer(dir, m, 1), doctest::Contains("k.shape"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::io::read_trace_layer(dir, m, 2), doctest::Contains("one of the trace's layers"),
                       kvc::error);
  CHECK_THROWS_WITH_AS(kvc::io::read_trace_meta(dir + "/nowhere"), doctest::Contains("'path'"), kvc::error);
  std::ofstream(fs::path(dir) / "meta.json") << R"({"model": "m", "n_layers": 2})";
  CHECK_THROWS_WITH_AS(kvc::io::read_trace_meta(dir), doctest::Contains("\"text\""), kvc::error);
  fs::remove_all(dir);
}

TEST_CASE("RoPE rotates adjacent pairs by position times theta^(-2i/d)") {
  // head_dim 4: pair 0 turns by p rad, pair 1 by p / 100 rad (theta 10000).
  std::vector<float> x{1, 0, 0, 1,   // position 0: unchanged
                       1, 0, 0, 1};  // position 2
  const std::vector<std::int64_t> pos{0, 2};
  kvc::io::apply_rope(x, 1, 4, pos, 10000.0);
  CHECK(x[0] == 1.0f);
  CHECK(x[3] == 1.0f);
  CHECK(x[4] == doctest::Approx(std::cos(2.0)));
  CHECK(x[5] == doctest::Approx(std::sin(2.0)));
  CHECK(x[6] == doctest::Approx(-std::sin(0.02)));
  CHECK(x[7] == doctest::Approx(std::cos(0.02)));
  CHECK_THROWS_WITH_AS(kvc::io::apply_rope(x, 1, 3, pos, 10000.0), doctest::Contains("head_dim"), kvc::error);
}
