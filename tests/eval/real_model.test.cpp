// Regression tests on a real model: tests/data/smollm2 is a trace of SmolLM2-135M-Instruct over
// Genesis (layers 0, 15, 29; 384 tokens; tools/eval/trace.py --fixture). Every method compresses
// the first 256 tokens and is judged on the next 128 real queries (docs/results.md).
#include <doctest/doctest.h>
#include <kvc/eval/methods.hpp>
#include <kvc/eval/metrics.hpp>
#include <kvc/eval/prefix.hpp>
#include <kvc/io/trace.hpp>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace {

struct fixture_model {
  kvc::io::trace_meta meta;
  std::vector<kvc::io::trace_layer> traces;
  std::vector<kvc::eval::prefix_layer> layers;
  std::vector<kvc::fastgen::token_class> classes;
  std::vector<kvc::eval::reference> refs;

  fixture_model() {
    const std::string dir = KVC_TEST_DATA_DIR "/smollm2";
    meta = kvc::io::read_trace_meta(dir);
    const auto ids = kvc::io::read_trace_tokens(dir, meta);
    const auto strings = kvc::io::read_trace_token_strings(dir, meta);
    const kvc::eval::prefix_options o{.prefix = 256, .window = 32, .future = 128};
    classes = kvc::eval::token_classes(std::span(ids).first(o.prefix), std::span(strings).first(o.prefix), meta.bos_id);
    for (auto l : meta.layers) traces.push_back(kvc::io::read_trace_layer(dir, meta, l));
    for (const auto& t : traces) layers.emplace_back(t, o);
    for (const auto& l : layers) refs.push_back(kvc::eval::make_reference(l.layer(), l.future()));
  }
  [[nodiscard]] kvc::eval::model_prefix view() const { return {layers, classes, meta.rope_theta}; }

  /// Mean output error over the layers.
  [[nodiscard]] double error(const kvc::eval::compressed_model& c) const {
    double e = 0.0;
    for (std::size_t i = 0; i < layers.size(); ++i)
      e += kvc::eval::evaluate(refs[i], c.layers[i]).output_error / static_cast<double>(layers.size());
    return e;
  }
};

const fixture_model& model() {
  static const fixture_model m;
  return m;
}

}  // namespace

TEST_CASE("the fixture is the trace the tests expect") {
  const auto& m = model();
  CHECK(m.meta.model.find("SmolLM2-135M") != std::string::npos);
  CHECK(m.meta.layers == std::vector<std::size_t>{0, 15, 29});
  CHECK(m.meta.q_heads == 9);
  CHECK(m.meta.kv_heads == 3);
  CHECK(m.meta.head_dim == 64);
  CHECK(m.meta.tokens == 384);
  REQUIRE(m.classes.size() == 256);
  CHECK(m.classes[0] == kvc::fastgen::token_class::special);  // the prepended <|endoftext|>
}

TEST_CASE("LoRC at full rank rebuilds the model's post-RoPE keys and values from x, wk, wv") {
  // The trace's keys come from the forward pass; LoRC rebuilds them from the layer input and the
  // weights with kvc's RoPE. Agreement to fp16 rounding checks the weights and the rotation.
  const auto& m = model();
  const auto c = kvc::eval::lorc(m.view(), 1.0);
  CHECK(c.kept_fraction == doctest::Approx(1.0));
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto full = m.layers[i].layer();
    double diff = 0.0, norm = 0.0;
    for (std::size_t h = 0; h < full.kv_heads(); ++h) {
      const auto k = c.layers[i].keys(h);
      for (std::size_t t = 0; t < full.tokens(); ++t)
        for (std::size_t d = 0; d < full.head_dim(); ++d) {
          const double e = double(k(0, t, d)) - double(full.keys(h, t, d));
          diff += e * e;
          norm += double(full.keys(h, t, d)) * full.keys(h, t, d);
        }
    }
    CHECK(std::sqrt(diff / norm) < 5e-3);
  }
  CHECK(m.error(c) < 0.01);
}

TEST_CASE("on real attention, scored methods beat random eviction by far at half the cache") {
  const auto& m = model();
  const double random = m.error(kvc::eval::find_method("random").compress(m.view(), 0.5));
  for (const char* name : {"h2o", "snapkv", "adakv", "pyramidkv", "ems", "intelllm", "streaming_llm"}) {
    CAPTURE(name);
    CHECK(m.error(kvc::eval::find_method(name).compress(m.view(), 0.5)) < 0.25 * random);
  }
}

TEST_CASE("no method's attention-output error at 50% regresses past its recorded bound") {
  // Errors recorded on the fixture (mean over its 3 layers), plus 10% headroom for compilers and
  // platforms. A change that makes a method worse on real data fails here; one that makes it
  // better should lower the bound. EMS's bound rose (0.1325 to 0.1589) when it took the three bands
  // and key merging of its sources: its KL and retrieval in the quality benchmark improved
  // (docs/ems.md), and this error over the next queries does not predict retrieval. FastGen's
  // rose (0.1814 to 0.2397) when the evaluation began to profile it on the whole prompt's
  // attention, as its paper does, under the `trim` ceiling: its retrieval rose (docs/fastgen.md).
  const std::map<std::string, double> recorded{
      {"streaming_llm", 0.1285}, {"h2o", 0.1330},     {"snapkv", 0.1117}, {"tova", 0.2075},
      {"key_norm", 0.3708},      {"random", 1.2159},  {"adakv", 0.1139},  {"pyramidkv", 0.1532},
      {"fastgen", 0.2397},       {"ems", 0.1589},     {"intelllm", 0.1389}, {"lorc", 0.7261},
  };
  const auto& m = model();
  for (const auto& method : kvc::eval::methods()) {
    CAPTURE(method.name);
    const auto it = recorded.find(method.name);
    REQUIRE_MESSAGE(it != recorded.end(), "record a bound for the new method");
    const auto c = method.compress(m.view(), 0.5);
    CHECK(c.kept_fraction <= 0.5 + 1e-9);  // FastGen may keep less: T sets its heads' needs
    CHECK(m.error(c) <= 1.10 * it->second);
  }
}
