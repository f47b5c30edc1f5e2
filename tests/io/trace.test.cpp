#include <doctest/doctest.h>
#include <kvc/io/trace.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {
namespace fs = std::filesystem;

/// The field a kvc::error names, "no error", or "another exception".
std::string field_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const kvc::error& e) {
    return e.argument();
  } catch (...) {
    return "another exception";
  }
  return "no error";
}

/// A valid meta.json with one field's value replaced (or, with value "", removed).
std::string meta_with(const std::string& key = "", const std::string& value = "") {
  const std::vector<std::pair<std::string, std::string>> fields{
      {"model", R"("tiny \"test\" model")"}, {"n_layers", "4"}, {"layers", "[1, 3]"}, {"q_heads", "2"},
      {"kv_heads", "1"}, {"head_dim", "2"}, {"d_model", "4"}, {"rope_theta", "10000.0"},
      {"rope", R"("adjacent-pairs")"}, {"tokens", "3"}, {"text", R"("hand-made")"}, {"bos_id", "0"}};
  std::string json = "{";
  for (const auto& [k, v] : fields) {
    const std::string& shown = k == key ? value : v;
    if (k == key && value.empty()) continue;
    json += (json.size() > 1 ? ", \"" : "\"") + k + "\": " + shown;
  }
  return json + "}";
}

std::string meta_field(const std::string& json) {
  return field_of([&] { (void)kvc::io::parse_trace_meta(json); });
}

/// A two-layer trace directory of 3 tokens, 2 q-heads over 1 kv-head, head_dim 2, written by hand.
fs::path write_tiny_trace(const std::string& name, std::size_t layer_tokens = 3) {
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "meta.json") << meta_with();
  kvc::io::write_npy((dir / "tokens.npy").string(), {3}, std::vector<std::int32_t>{0, 16777217, 4});
  std::ofstream(dir / "tokens.txt", std::ios::binary) << "<|endoftext|>\nĠa\\\\b\n.\\n\n";
  for (int l : {1, 3}) {
    const std::string stem = (dir / ("L0" + std::to_string(l))).string();
    kvc::io::write_npy(stem + ".q.npy", {2, 3, 2}, std::vector<float>(12, float(l)));
    kvc::io::write_npy(stem + ".k.npy", {1, layer_tokens, 2}, std::vector<float>(layer_tokens * 2, 1.0f));
    kvc::io::write_npy(stem + ".v.npy", {1, 3, 2}, std::vector<float>(6, 2.0f));
  }
  return dir;
}

kvc::io::npy_array floats(std::vector<std::size_t> shape, float value = 0.0f) {
  kvc::io::npy_array a;
  std::size_t n = 1;
  for (auto d : shape) n *= d;
  a.shape = std::move(shape);
  a.data.assign(n, value);
  return a;
}

kvc::io::npy_array int32_array(const std::vector<std::int32_t>& ids) {
  return kvc::io::parse_npy(kvc::io::format_npy<std::int32_t>({ids.size()}, ids));
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
  // 16777217 is above float's 2^24: it comes through exact.
  CHECK(kvc::io::read_trace_tokens(dir, m) == std::vector<std::int32_t>{0, 16777217, 4});
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
  CHECK(field_of([&] { (void)kvc::io::read_trace_layer(dir, m, 1); }) == "L01.k.npy shape");
  CHECK(field_of([&] { (void)kvc::io::read_trace_layer(dir, m, 2); }) == "index");
  CHECK(field_of([&] { (void)kvc::io::read_trace_meta(dir + "/nowhere"); }) == "path");
  std::ofstream(fs::path(dir) / "meta.json") << R"({"model": "m", "n_layers": 2})";
  CHECK(field_of([&] { (void)kvc::io::read_trace_meta(dir); }) == "meta.json \"text\"");
  std::ofstream(fs::path(dir) / "tokens.txt") << "a\nb\n";
  CHECK(field_of([&] { (void)kvc::io::read_trace_token_strings(dir, m); }) == "tokens.txt");
  fs::remove_all(dir);
}

TEST_CASE("the committed SmolLM2 trace reads with the values of its meta.json") {
  const std::string dir = KVC_TEST_DATA_DIR "/smollm2";
  const auto m = kvc::io::read_trace_meta(dir);
  CHECK(m.n_layers == 30);
  CHECK(m.layers == std::vector<std::size_t>{0, 15, 29});
  CHECK(m.q_heads == 9);
  CHECK(m.kv_heads == 3);
  CHECK(m.head_dim == 64);
  CHECK(m.d_model == 576);
  CHECK(m.tokens == 384);
  CHECK(m.rope_theta == 100000.0);
  CHECK(m.bos_id == 0);
  CHECK(kvc::io::read_trace_tokens(dir, m).size() == 384);
  CHECK(kvc::io::read_trace_token_strings(dir, m).size() == 384);
  const auto layer = kvc::io::read_trace_layer(dir, m, 15);
  CHECK(layer.q.shape == std::vector<std::size_t>{9, 384, 64});
  CHECK(layer.k.dtype.descr() == "<f2");
  CHECK(layer.has_weights());
  CHECK(layer.wk.shape == std::vector<std::size_t>{576, 192});
  CHECK_FALSE(kvc::io::read_trace_layer(dir, m, 15, false).has_weights());
}

TEST_CASE("meta.json is JSON: escapes, nesting, any order and spacing") {
  // The keys in another order, a unicode escape, a nested object and a string holding key-like
  // text that a search for "tokens" would find first, integral numbers written as 3.0 and 1e1.
  const auto m = kvc::io::parse_trace_meta(R"({
    "text": "\"tokens\": 99, \"layers\": [7]",
    "extra": {"tokens": 5, "n_layers": 1},
    "model": "caf\u00e9 \\ model",
    "layers":[0,2],"n_layers":1e1,"q_heads":4,"kv_heads":2,"head_dim":8,"d_model":16,
    "rope_theta":500000,"tokens":3.0,"bos_id":-1})");
  CHECK(m.text == R"("tokens": 99, "layers": [7])");
  CHECK(m.model == "caf\xc3\xa9 \\ model");
  CHECK(m.n_layers == 10);
  CHECK(m.layers == std::vector<std::size_t>{0, 2});
  CHECK(m.tokens == 3);
  CHECK(m.q_heads == 4);
  CHECK(m.kv_heads == 2);
  CHECK(m.rope_theta == 500000.0);
  CHECK(m.bos_id == -1);
  CHECK(meta_field(meta_with()) == "no error");
  CHECK(meta_field(meta_with("rope", "")) == "no error");  // "rope" is optional
}

TEST_CASE("meta.json: missing fields, wrong types and values out of range are rejected naming the field") {
  // Not JSON, not an object, numbers beyond double.
  CHECK(meta_field("") == "meta.json");
  CHECK(meta_field("{\"model\": ") == "meta.json");
  CHECK(meta_field(meta_with() + " x") == "meta.json");
  CHECK(meta_field("[1, 2]") == "meta.json");
  CHECK(meta_field(meta_with("tokens", "NaN")) == "meta.json");
  CHECK(meta_field(meta_with("tokens", "Infinity")) == "meta.json");
  CHECK(meta_field(meta_with("tokens", "1e400")) == "meta.json");
  CHECK(meta_field(meta_with("model", "\"\xff\"")) == "meta.json");  // not UTF-8
  // Each field missing.
  for (const char* key : {"model", "text", "n_layers", "layers", "q_heads", "kv_heads", "head_dim", "d_model",
                          "rope_theta", "tokens", "bos_id"})
    CHECK(meta_field(meta_with(key, "")) == std::string("meta.json \"") + key + "\"");
  // Wrong types.
  CHECK(meta_field(meta_with("model", "1")) == "meta.json \"model\"");
  CHECK(meta_field(meta_with("text", "null")) == "meta.json \"text\"");
  CHECK(meta_field(meta_with("tokens", "\"3\"")) == "meta.json \"tokens\"");
  CHECK(meta_field(meta_with("tokens", "true")) == "meta.json \"tokens\"");
  CHECK(meta_field(meta_with("tokens", "[3]")) == "meta.json \"tokens\"");
  CHECK(meta_field(meta_with("rope_theta", "\"1e4\"")) == "meta.json \"rope_theta\"");
  CHECK(meta_field(meta_with("rope", "1")) == "meta.json \"rope\"");
  CHECK(meta_field(meta_with("bos_id", "null")) == "meta.json \"bos_id\"");
  // Doubles that are no count: too big, negative, fractional; integers out of range.
  CHECK(meta_field(meta_with("tokens", "1e300")) == "meta.json \"tokens\"");
  CHECK(meta_field(meta_with("tokens", "-1")) == "meta.json \"tokens\"");
  CHECK(meta_field(meta_with("tokens", "-1.0")) == "meta.json \"tokens\"");
  CHECK(meta_field(meta_with("tokens", "2.5")) == "meta.json \"tokens\"");
  CHECK(meta_field(meta_with("tokens", "0")) == "meta.json \"tokens\"");
  CHECK(meta_field(meta_with("tokens", "18446744073709551615")) == "meta.json \"tokens\"");
  CHECK(meta_field(meta_with("tokens", "18446744073709551616")) == "meta.json \"tokens\"");  // a double
  CHECK(meta_field(meta_with("tokens", "9223372036854775808.0")) == "meta.json \"tokens\"");
  // 2^61 floats are 2^63 bytes, one more than fits; 2^61 - 1 = 2305843009213693951 fits alone.
  CHECK(meta_field(meta_with("d_model", "2305843009213693952")) == "meta.json \"d_model\"");
  // But not times the 3 tokens: tokens × d_model overflows.
  CHECK(meta_field(meta_with("d_model", "2305843009213693951")) == "meta.json \"d_model\"");
  // q_heads × tokens × head_dim = 2 × 3 × 2^60 overflows at head_dim; 2^31 q_heads × 3 tokens fits,
  // times head_dim 2^31 does not.
  CHECK(meta_field(meta_with("head_dim", "1152921504606846976")) == "meta.json \"head_dim\"");
  CHECK(meta_field(R"({"model": "m", "text": "t", "n_layers": 4, "layers": [1], "q_heads": 2147483648,
      "kv_heads": 1, "head_dim": 2147483648, "d_model": 4, "rope_theta": 1e4, "tokens": 3, "bos_id": 0})") ==
        "meta.json \"head_dim\"");
  CHECK(meta_field(R"({"model": "m", "text": "t", "n_layers": 4, "layers": [1], "q_heads": 1152921504606846976,
      "kv_heads": 1, "head_dim": 1, "d_model": 4, "rope_theta": 1e4, "tokens": 3, "bos_id": 0})") ==
        "meta.json \"tokens\"");
  // Heads.
  CHECK(meta_field(meta_with("kv_heads", "0")) == "meta.json \"kv_heads\"");
  CHECK(meta_field(meta_with("kv_heads", "3")) == "meta.json \"q_heads\"");  // 2 q heads over 3
  // layers: an ascending, non-empty list below n_layers.
  CHECK(meta_field(meta_with("layers", "[]")) == "meta.json \"layers\"");
  CHECK(meta_field(meta_with("layers", "{}")) == "meta.json \"layers\"");
  CHECK(meta_field(meta_with("layers", "3")) == "meta.json \"layers\"");
  CHECK(meta_field(meta_with("layers", "[4]")) == "meta.json \"layers\"[0]");
  CHECK(meta_field(meta_with("layers", "[1, -1]")) == "meta.json \"layers\"[1]");
  CHECK(meta_field(meta_with("layers", "[1, 1]")) == "meta.json \"layers\"[1]");
  CHECK(meta_field(meta_with("layers", "[3, 1]")) == "meta.json \"layers\"[1]");
  CHECK(meta_field(meta_with("layers", "[\"1\"]")) == "meta.json \"layers\"[0]");
  CHECK(meta_field(meta_with("layers", "[1.5]")) == "meta.json \"layers\"[0]");
  CHECK(meta_field(meta_with("layers", "[1e300]")) == "meta.json \"layers\"[0]");
  CHECK(meta_field(meta_with("layers", "[0, 1.0, 3]")) == "no error");
  // rope_theta positive and finite; rope the pairing apply_rope implements; bos_id -1 or an int32.
  CHECK(meta_field(meta_with("rope_theta", "0")) == "meta.json \"rope_theta\"");
  CHECK(meta_field(meta_with("rope_theta", "-10000.0")) == "meta.json \"rope_theta\"");
  CHECK(meta_field(meta_with("rope", "\"half-split\"")) == "meta.json \"rope\"");
  CHECK(meta_field(meta_with("bos_id", "-2")) == "meta.json \"bos_id\"");
  CHECK(meta_field(meta_with("bos_id", "2147483648")) == "meta.json \"bos_id\"");
  CHECK(meta_field(meta_with("bos_id", "1e300")) == "meta.json \"bos_id\"");
  CHECK(meta_field(meta_with("bos_id", "0.5")) == "meta.json \"bos_id\"");
  CHECK(meta_field(meta_with("bos_id", "2147483647")) == "no error");
}

TEST_CASE("token ids come through exact and range-checked into int32") {
  const auto m = kvc::io::parse_trace_meta(meta_with());
  CHECK(kvc::io::trace_tokens(int32_array({16777217, 0, 2147483647}), m) ==
        std::vector<std::int32_t>{16777217, 0, 2147483647});
  const auto tokens_field = [&](const kvc::io::npy_array& a) {
    return field_of([&] { (void)kvc::io::trace_tokens(a, m); });
  };
  CHECK(tokens_field(int32_array({1, -1, 2})) == "tokens.npy[1]");  // negative
  CHECK(tokens_field(int32_array({1, 2})) == "tokens.npy shape");   // 2 of 3 tokens
  // int64 2^31 = 2147483648 and uint64 max do not fit int32; an int64 16777217 does.
  const auto i64 = [](const std::vector<std::int64_t>& ids) {
    return kvc::io::parse_npy(kvc::io::format_npy<std::int64_t>({ids.size()}, ids));
  };
  CHECK(tokens_field(i64({0, 2147483648, 1})) == "tokens.npy[1]");
  CHECK(kvc::io::trace_tokens(i64({16777217, 1, 2}), m) == std::vector<std::int32_t>{16777217, 1, 2});
  CHECK(tokens_field(kvc::io::parse_npy(kvc::io::format_npy<std::uint64_t>(
            {3}, std::vector<std::uint64_t>{1, 2, 18446744073709551615u}))) == "tokens.npy[2]");
  // Float token arrays are not cast: float32 16777217 does not exist.
  CHECK(tokens_field(kvc::io::parse_npy(kvc::io::format_npy<float>({3}, std::vector<float>{0, 1, 2}))) ==
        "tokens.npy dtype");
}

TEST_CASE("a layer from arrays in memory is checked against the meta data") {
  const auto m = kvc::io::parse_trace_meta(meta_with());  // q [2, 3, 2], k and v [1, 3, 2]
  const auto layer_field = [&](std::size_t index, kvc::io::npy_array q, kvc::io::npy_array k, kvc::io::npy_array v,
                               kvc::io::npy_array x = {}, kvc::io::npy_array wk = {}, kvc::io::npy_array wv = {}) {
    return field_of([&] {
      (void)kvc::io::make_trace_layer(m, index, std::move(q), std::move(k), std::move(v), std::move(x), std::move(wk),
                                      std::move(wv));
    });
  };
  const auto l = kvc::io::make_trace_layer(m, 1, floats({2, 3, 2}, 5.0f), floats({1, 3, 2}), floats({1, 3, 2}),
                                           floats({3, 4}), floats({4, 2}), floats({4, 2}));
  CHECK(l.index == 1);
  CHECK(l.q.data[11] == 5.0f);
  CHECK(l.has_weights());
  CHECK(layer_field(1, floats({2, 3, 2}), floats({1, 3, 2}), floats({1, 3, 2})) == "no error");
  CHECK(layer_field(0, floats({2, 3, 2}), floats({1, 3, 2}), floats({1, 3, 2})) == "index");
  CHECK(layer_field(1, floats({1, 3, 2}), floats({1, 3, 2}), floats({1, 3, 2})) == "L01.q.npy shape");
  CHECK(layer_field(3, floats({2, 3, 2}), floats({1, 3, 2}), floats({1, 2, 3})) == "L03.v.npy shape");
  // A hand-made array whose data disagrees with its shape.
  auto short_k = floats({1, 3, 2});
  short_k.data.pop_back();
  CHECK(layer_field(1, floats({2, 3, 2}), short_k, floats({1, 3, 2})) == "L01.k.npy data");
  // Integer arrays are no queries.
  auto int_q = kvc::io::parse_npy(kvc::io::format_npy<std::int32_t>({2, 3, 2}, std::vector<std::int32_t>(12, 1)));
  CHECK(layer_field(1, int_q, floats({1, 3, 2}), floats({1, 3, 2})) == "L01.q.npy dtype");
  // The weights come as all three of x [3, 4], wk and wv [4, 2], or not at all.
  CHECK(layer_field(1, floats({2, 3, 2}), floats({1, 3, 2}), floats({1, 3, 2}), {}, floats({4, 2}), floats({4, 2})) ==
        "L01.x.npy shape");
  CHECK(layer_field(1, floats({2, 3, 2}), floats({1, 3, 2}), floats({1, 3, 2}), floats({3, 4}), floats({2, 4}),
                    floats({4, 2})) == "L01.wk.npy shape");
  CHECK(layer_field(1, floats({2, 3, 2}), floats({1, 3, 2}), floats({1, 3, 2}), floats({3, 4}), floats({4, 2})) ==
        "L01.wv.npy shape");
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
