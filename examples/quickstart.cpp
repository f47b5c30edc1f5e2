// The kvc demo: one realistic synthetic layer (sinks, local heads, heavy hitters, GQA),
// compressed by every policy at 50% and 20% budgets, judged on held-out later queries.
#include <kvc/eval/metrics.hpp>
#include <kvc/eval/synthetic.hpp>
#include <kvc/kvc.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

const kvc::eval::synthetic_layer data = kvc::eval::make_synthetic_layer(
    {.kv_heads = 8, .group = 4, .tokens = 2048, .head_dim = 64, .window = 32, .held_out = 16, .seed = 7});

// FastGen's special tokens: token 0 plays BOS.
const std::vector<kvc::fastgen::token_class> classes = [] {
  std::vector<kvc::fastgen::token_class> c(data.config.tokens, kvc::fastgen::token_class::plain);
  c[0] = kvc::fastgen::token_class::special;
  return c;
}();

void row(const char* name, const char* budget, const auto& compressed) {
  const std::size_t full_tokens = data.config.kv_heads * data.config.tokens;
  const std::size_t full_bytes = 2 * full_tokens * data.config.head_dim * sizeof(float);
  const auto q = kvc::eval::evaluate(data.layer(), data.future_view(), compressed);
  std::printf("| %-22s | %-6s | %6zu / %-6zu | %9.1f KiB | %10.4f | %8.4f |\n", name, budget,
              compressed.keep().total(), full_tokens, static_cast<double>(full_bytes - compressed.bytes()) / 1024.0,
              q.output_error, q.recovery);
}

template <class Policy>
void run(const char* name, const Policy& policy) {
  row(name, "50%", policy(data.layer(), kvc::budget::ratio{0.5}));
  row(name, "20%", policy(data.layer(), kvc::budget::ratio{0.2}));
}

// LoRC compresses weights, not tokens: a small model's K/V projections (d_model 256, 4 kv heads
// of dim 32) made of a decaying rank-64 signal plus noise, compressed to half their rank in total.
void lorc_section() {
  const std::size_t layers = 6, d_model = 256, heads = 4, dim = 32, cols = heads * dim, tokens = 128;
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto weight = [&](double noise) {
    std::vector<float> a(d_model * 64), b(64 * cols), w(d_model * cols, 0.0f);
    for (auto& x : a) x = normal(rng);
    for (std::size_t r = 0; r < 64; ++r)
      for (std::size_t c = 0; c < cols; ++c) b[r * cols + c] = normal(rng) * std::pow(0.93f, static_cast<float>(r));
    for (std::size_t i = 0; i < d_model; ++i)
      for (std::size_t r = 0; r < 64; ++r)
        for (std::size_t c = 0; c < cols; ++c) w[i * cols + c] += a[i * 64 + r] * b[r * cols + c] / 8.0f;
    for (auto& x : w) x += static_cast<float>(noise) * normal(rng);
    return w;
  };
  std::vector<std::vector<float>> storage;
  std::vector<kvc::policy::lorc::layer_weights<float>> model;
  for (std::size_t l = 0; l < layers; ++l) {
    storage.push_back(weight(0.05 + 0.02 * static_cast<double>(l)));
    storage.push_back(weight(0.05 + 0.02 * static_cast<double>(l)));
    model.push_back({storage[storage.size() - 2], storage.back()});
  }
  const auto compressed = kvc::policy::lorc{}(model, {d_model, heads, dim}, kvc::budget::ratio{0.5});
  std::printf("\nLoRC: %zu layers, K/V weights [%zu x %zu], half the total rank, progressive per layer\n", layers,
              d_model, cols);
  std::printf("| layer | cond(W_k) | key rank | value rank | cache kept | key rel. error |\n");
  std::printf("|-------|-----------|----------|------------|------------|----------------|\n");
  std::vector<float> x(tokens * d_model);
  for (auto& v : x) v = normal(rng);
  for (std::size_t l = 0; l < layers; ++l) {
    const auto& p = compressed.keys[l];
    std::vector<float> latent(tokens * p.rank()), approx(tokens * cols);
    p.compress(x, tokens, latent);
    p.reconstruct(latent, tokens, approx);
    double diff = 0.0, norm = 0.0;
    for (std::size_t t = 0; t < tokens; ++t)
      for (std::size_t c = 0; c < cols; ++c) {
        double k = 0.0;
        for (std::size_t i = 0; i < d_model; ++i) k += double(x[t * d_model + i]) * storage[2 * l][i * cols + c];
        diff += (k - approx[t * cols + c]) * (k - approx[t * cols + c]);
        norm += k * k;
      }
    std::printf("| %5zu | %9.1f | %8zu | %10zu | %9.1f%% | %14.4f |\n", l, compressed.key_condition[l], p.rank(),
                compressed.values[l].rank(),
                100.0 * static_cast<double>(p.rank() + compressed.values[l].rank()) / static_cast<double>(2 * cols),
                std::sqrt(diff / norm));
  }
  std::printf("kept %.1f%% of the K/V cache in total (the latent C = X U_r S_r is cached instead of K, V)\n",
              100.0 * compressed.kept_fraction());
}

}  // namespace

int main() {
  const auto& c = data.config;
  std::printf("kvc quickstart: one layer, %zu kv heads x %zu query heads each, %zu tokens, head_dim %zu, fp32\n",
              c.kv_heads, c.group, c.tokens, c.head_dim);
  std::printf("head kinds cycle sink / local / heavy-hitter / diffuse; judged on %zu later queries per head\n\n",
              c.held_out);
  std::printf("| %-22s | %-6s | %-15s | %13s | %10s | %8s |\n", "policy", "budget", "tokens kept", "bytes saved",
              "out. error", "recovery");
  std::printf("|------------------------|--------|-----------------|---------------|------------|----------|\n");
  run("StreamingLLM", kvc::policy::streaming_llm{});
  run("H2O", kvc::policy::h2o{});
  run("SnapKV", kvc::policy::snapkv{});
  run("TOVA", kvc::policy::tova{});
  run("key norm", kvc::policy::key_norm{});
  run("Ada-KV", kvc::policy::adakv{});
  run("random", kvc::policy::random{.score = {.seed = 1}});
  run("FastGen (T=0.95, cap)",
      kvc::policy::fastgen{.select = {.classes = classes, .budget = kvc::fastgen::budget_use::cap}});
  for (double T : {0.95, 0.90})  // the paper's mode: T alone sets each head's budget
    row(T == 0.95 ? "FastGen (T=0.95)" : "FastGen (T=0.90)", "by T",
        kvc::policy::fastgen{.select = {.classes = classes, .recovery_threshold = T}}(data.layer(), kvc::budget::ratio{1.0}));
  run("EMS", kvc::policy::ems{});
  run("IntelLLM", kvc::policy::intelllm{});
  std::printf("\nout. error: mean ||o - o_hat|| / ||o|| of the attention output; recovery: mean full-attention\n"
              "mass on kept tokens. Both over held-out queries that come after the compressed prompt.\n");
  lorc_section();
  return 0;
}
