// The kvc demo: one realistic synthetic layer (sinks, local heads, heavy hitters, GQA),
// compressed by every policy at 50% and 20% budgets, judged on held-out later queries.
#include <kvc/eval/metrics.hpp>
#include <kvc/eval/synthetic.hpp>
#include <kvc/kvc.hpp>

#include <cstdio>
#include <string>

namespace {

const kvc::eval::synthetic_layer data = kvc::eval::make_synthetic_layer(
    {.kv_heads = 8, .group = 4, .tokens = 2048, .head_dim = 64, .window = 32, .held_out = 16, .seed = 7});

void row(const char* name, double ratio, const auto& compressed) {
  const std::size_t full_tokens = data.config.kv_heads * data.config.tokens;
  const std::size_t full_bytes = 2 * full_tokens * data.config.head_dim * sizeof(float);
  const auto q = kvc::eval::evaluate(data.layer(), data.future_view(), compressed);
  std::printf("| %-14s | %4.0f%% | %6zu / %-6zu | %9.1f KiB | %10.4f | %8.4f |\n", name, ratio * 100.0,
              compressed.keep().total(), full_tokens, static_cast<double>(full_bytes - compressed.bytes()) / 1024.0,
              q.output_error, q.recovery);
}

template <class Policy>
void run(const char* name, const Policy& policy) {
  for (double ratio : {0.5, 0.2}) row(name, ratio, policy(data.layer(), kvc::budget::ratio{ratio}));
}

}  // namespace

int main() {
  const auto& c = data.config;
  std::printf("kvc quickstart: one layer, %zu kv heads x %zu query heads each, %zu tokens, head_dim %zu, fp32\n",
              c.kv_heads, c.group, c.tokens, c.head_dim);
  std::printf("head kinds cycle sink / local / heavy-hitter / diffuse; judged on %zu later queries per head\n\n",
              c.held_out);
  std::printf("| %-14s | %5s | %-15s | %13s | %10s | %8s |\n", "policy", "kept", "tokens kept", "bytes saved",
              "out. error", "recovery");
  std::printf("|----------------|-------|-----------------|---------------|------------|----------|\n");
  run("StreamingLLM", kvc::policy::streaming_llm{});
  run("H2O", kvc::policy::h2o{});
  run("SnapKV", kvc::policy::snapkv{});
  run("TOVA", kvc::policy::tova{});
  run("key norm", kvc::policy::key_norm{});
  run("Ada-KV", kvc::policy::adakv{});
  run("random", kvc::policy::random{.score = {.seed = 1}});
  std::printf("\nout. error: mean ||o - o_hat|| / ||o|| of the attention output; recovery: mean full-attention\n"
              "mass on kept tokens. Both over held-out queries that come after the compressed prompt.\n");
  return 0;
}
