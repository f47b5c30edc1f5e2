// kvc: compress and judge the KV cache of a real model's trace (tools/eval/trace.py writes one).
//
//   kvc methods
//   kvc eval        --trace DIR [--prefix P] [--future F] [--window W] [--budgets 0.1,0.2,0.5]
//                   [--methods all|a,b,...] [--csv PATH]
//   kvc compress    --trace DIR --prefix P --out DIR [--window W] [--budgets ...] [--methods ...]
//   kvc fastgen-map --trace DIR [--prefix P] [--threshold 0.95] [--csv PATH]
//
// eval: per method, budget and layer, compresses the cache of the first P tokens with only what is
// known at P, then judges it on the next F real queries (attention-output relative error and
// attention recovery, kvc/eval/metrics.hpp). Prints the mean over layers; --csv has every layer.
// compress: writes OUT/<method>/<budget>/Lxx.mask.npy [kv_heads, P] (1 = kept) and, where the
// method changed the kept keys/values (merging, projection), Lxx.k.npy / Lxx.v.npy
// [kv_heads, P, head_dim] holding them at the kept tokens' original indices, and
// kept_fraction.txt, the share of the prefix cache's memory kept (LoRC keeps every token).
// fastgen-map: FastGen's profiled policy of every head (paper mode: T alone sets the budget),
// profiled on the window queries as the evaluation's fastgen method does.
#include <kvc/eval/methods.hpp>
#include <kvc/eval/metrics.hpp>
#include <kvc/eval/prefix.hpp>
#include <kvc/fastgen/profile.hpp>
#include <kvc/io/npy.hpp>
#include <kvc/io/trace.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct arguments {
  std::string command;
  std::map<std::string, std::string> options;

  [[nodiscard]] bool has(const std::string& k) const { return options.count(k) != 0; }
  [[nodiscard]] std::string get(const std::string& k, const std::string& fallback = "") const {
    const auto it = options.find(k);
    return it == options.end() ? fallback : it->second;
  }
  [[nodiscard]] std::size_t count(const std::string& k, std::size_t fallback) const {
    if (!has(k)) return fallback;
    const std::string v = get(k);
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    kvc::detail::require(!v.empty() && *end == '\0', "--" + k, "a non-negative integer", v);
    return static_cast<std::size_t>(n);
  }
  [[nodiscard]] std::string required(const std::string& k) const {
    kvc::detail::require(has(k), "--" + k, "given", "missing");
    return get(k);
  }
};

arguments parse(int argc, char** argv) {
  arguments a;
  kvc::detail::require(argc >= 2, "command", "methods, eval, compress or fastgen-map", "none");
  a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    kvc::detail::require(k.rfind("--", 0) == 0 && i + 1 < argc, "argument " + std::to_string(i),
                         "--name value", k);
    a.options[k.substr(2)] = argv[++i];
  }
  return a;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<double> budgets_of(const arguments& a) {
  std::vector<double> out;
  for (const auto& b : split(a.get("budgets", "0.1,0.2,0.5"))) {
    char* end = nullptr;
    const double v = std::strtod(b.c_str(), &end);
    kvc::detail::require(*end == '\0' && v > 0.0 && v <= 1.0, "--budgets", "fractions in (0, 1]", b);
    out.push_back(v);
  }
  return out;
}

std::vector<kvc::eval::method> methods_of(const arguments& a) {
  const std::string names = a.get("methods", "all");
  if (names == "all") return kvc::eval::methods();
  std::vector<kvc::eval::method> out;
  for (const auto& n : split(names)) out.push_back(kvc::eval::find_method(n));
  return out;
}

std::string budget_name(double b) {
  char s[16];
  std::snprintf(s, sizeof s, "%.2f", b);
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// A trace loaded and cut at the prefix, with everything a method may look at.
struct loaded_model {
  kvc::io::trace_meta meta;
  std::vector<kvc::io::trace_layer> traces;
  std::vector<kvc::eval::prefix_layer> layers;
  std::vector<kvc::fastgen::token_class> classes;

  [[nodiscard]] kvc::eval::model_prefix view() const { return {layers, classes, meta.rope_theta}; }
};

loaded_model load(const std::string& dir, kvc::eval::prefix_options o, bool weights) {
  const auto t0 = std::chrono::steady_clock::now();
  loaded_model m;
  m.meta = kvc::io::read_trace_meta(dir);
  const auto ids = kvc::io::read_trace_tokens(dir, m.meta);
  const auto strings = kvc::io::read_trace_token_strings(dir, m.meta);
  kvc::detail::require(o.prefix >= 1 && o.prefix <= m.meta.tokens, "--prefix",
                       "between 1 and the trace's " + std::to_string(m.meta.tokens) + " tokens", o.prefix);
  m.classes = kvc::eval::token_classes(std::span(ids).first(o.prefix), std::span(strings).first(o.prefix),
                                       m.meta.bos_id);
  m.traces.resize(m.meta.layers.size());
  for (std::size_t i = 0; i < m.traces.size(); ++i)
    m.traces[i] = kvc::io::read_trace_layer(dir, m.meta, m.meta.layers[i], weights);
  // The accumulated prefix attention is the costly part: one layer per thread.
  std::vector<std::optional<kvc::eval::prefix_layer>> cut(m.traces.size());
#pragma omp parallel for schedule(dynamic)
  for (std::size_t i = 0; i < m.traces.size(); ++i) cut[i].emplace(m.traces[i], o);
  for (auto& c : cut) m.layers.push_back(std::move(*c));
  std::fprintf(stderr, "kvc: %s, %zu layers, prefix %zu of %zu tokens, loaded in %.1f s\n", m.meta.model.c_str(),
               m.layers.size(), o.prefix, m.meta.tokens, seconds_since(t0));
  return m;
}

/// The method's compression at budget b, or why it refused (e.g. a budget below the tokens it
/// protects): a refusal skips that budget, it does not end the run.
struct attempt {
  std::optional<kvc::eval::compressed_model> model;
  std::string refusal;

  explicit operator bool() const { return model.has_value(); }
  const kvc::eval::compressed_model& operator*() const { return *model; }
  [[nodiscard]] const std::string& error() const { return refusal; }
};

attempt try_compress(const kvc::eval::method& method, const loaded_model& m, double b) {
  try {
    return {method.compress(m.view(), b), {}};
  } catch (const kvc::error& e) {
    return {std::nullopt, e.what()};
  }
}

bool needs_weights(const std::vector<kvc::eval::method>& ms) {
  for (const auto& m : ms)
    if (m.name == "lorc") return true;
  return false;
}

int run_eval(const arguments& a) {
  const std::string dir = a.required("trace");
  const auto meta = kvc::io::read_trace_meta(dir);
  kvc::eval::prefix_options o;
  o.future = a.count("future", 128);
  o.window = a.count("window", 32);
  kvc::detail::require(o.future < meta.tokens, "--future", "fewer than the trace's " + std::to_string(meta.tokens) +
                       " tokens", o.future);
  o.prefix = a.count("prefix", meta.tokens - o.future);
  const auto ms = methods_of(a);
  const auto budgets = budgets_of(a);
  const loaded_model m = load(dir, o, needs_weights(ms));

  std::vector<kvc::eval::reference> refs(m.layers.size());
#pragma omp parallel for schedule(dynamic)
  for (std::size_t i = 0; i < m.layers.size(); ++i) refs[i] = kvc::eval::make_reference(m.layers[i].layer(), m.layers[i].future());

  std::ofstream csv;
  if (a.has("csv")) {
    csv.open(a.get("csv"));
    kvc::detail::require(static_cast<bool>(csv), "--csv", "a writable file", a.get("csv"));
    csv << "method,budget,layer,prefix,future,kept_fraction,output_error,recovery\n";
  }
  std::printf("%s: %zu layers, prefix %zu tokens, judged on the next %zu queries\n\n", m.meta.model.c_str(),
              m.layers.size(), o.prefix, o.future);
  std::printf("| %-14s | %6s | %8s | %11s | %8s | %7s |\n", "method", "budget", "kept", "out. error", "recovery",
              "time s");
  std::printf("|----------------|--------|----------|-------------|----------|---------|\n");
  for (const auto& method : ms)
    for (double b : budgets) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto compressed = try_compress(method, m, b);
      if (!compressed) {
        std::printf("| %-14s | %5.0f%% | skipped: %s\n", method.name.c_str(), 100.0 * b, compressed.error().c_str());
        continue;
      }
      const auto& c = *compressed;
      const double took = seconds_since(t0);
      std::vector<kvc::eval::quality> q(m.layers.size());
#pragma omp parallel for schedule(dynamic)
      for (std::size_t i = 0; i < m.layers.size(); ++i) q[i] = kvc::eval::evaluate(refs[i], c.layers[i]);
      kvc::eval::quality mean;
      for (std::size_t i = 0; i < q.size(); ++i) {
        mean.output_error += q[i].output_error / static_cast<double>(q.size());
        mean.recovery += q[i].recovery / static_cast<double>(q.size());
        if (csv.is_open())
          csv << method.name << ',' << budget_name(b) << ',' << m.layers[i].index() << ',' << o.prefix << ','
              << o.future << ',' << c.layer_fraction[i] << ',' << q[i].output_error << ',' << q[i].recovery << '\n';
      }
      std::printf("| %-14s | %5.0f%% | %7.1f%% | %11.4f | %8.4f | %7.1f |\n", method.name.c_str(), 100.0 * b,
                  100.0 * c.kept_fraction, mean.output_error, mean.recovery, took);
      std::fflush(stdout);
    }
  std::printf("\nout. error: mean ||o - o_hat|| / ||o|| of the attention output over the prefix; recovery: the\n"
              "full attention mass on kept tokens. Means over layers, query heads and held-out queries.\n");
  return 0;
}

int run_compress(const arguments& a) {
  const std::string dir = a.required("trace");
  const std::filesystem::path out = a.required("out");
  kvc::eval::prefix_options o;
  o.prefix = a.count("prefix", 0);
  o.window = a.count("window", 32);
  o.future = 0;
  kvc::detail::require(a.has("prefix"), "--prefix", "given", "missing");
  const auto ms = methods_of(a);
  const auto budgets = budgets_of(a);
  const loaded_model m = load(dir, o, needs_weights(ms));
  const std::size_t H = m.meta.kv_heads, d = m.meta.head_dim, P = o.prefix;
  for (const auto& method : ms)
    for (double b : budgets) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto compressed = try_compress(method, m, b);
      if (!compressed) {  // no folder for it
        std::fprintf(stderr, "kvc: %s at %s skipped: %s\n", method.name.c_str(), budget_name(b).c_str(),
                     compressed.error().c_str());
        continue;
      }
      const auto& c = *compressed;
      const auto folder = out / method.name / budget_name(b);
      std::filesystem::create_directories(folder);
      for (std::size_t i = 0; i < m.layers.size(); ++i) {
        const auto& layer = c.layers[i];
        const auto& full = m.layers[i].layer();
        std::vector<float> mask(H * P, 0.0f), k(H * P * d, 0.0f), v(H * P * d, 0.0f);
        bool changed = false;
        for (std::size_t h = 0; h < H; ++h) {
          const auto keep = layer.keep().head(h);
          const auto ck = layer.keys(h), cv = layer.values(h);
          for (std::size_t j = 0; j < keep.size(); ++j) {
            const auto t = static_cast<std::size_t>(keep[j]);
            mask[h * P + t] = 1.0f;
            for (std::size_t x = 0; x < d; ++x) {
              k[(h * P + t) * d + x] = ck(0, j, x);
              v[(h * P + t) * d + x] = cv(0, j, x);
              changed = changed || ck(0, j, x) != full.keys(h, t, x) || cv(0, j, x) != full.values(h, t, x);
            }
          }
        }
        char name[32];
        std::snprintf(name, sizeof name, "L%02zu", m.layers[i].index());
        kvc::io::write_npy((folder / (std::string(name) + ".mask.npy")).string(), {H, P}, mask);
        if (changed) {
          kvc::io::write_npy((folder / (std::string(name) + ".k.npy")).string(), {H, P, d}, k);
          kvc::io::write_npy((folder / (std::string(name) + ".v.npy")).string(), {H, P, d}, v);
        }
      }
      std::ofstream(folder / "kept_fraction.txt") << c.kept_fraction << '\n';
      std::fprintf(stderr, "kvc: %-14s %5.0f%%  kept %5.1f%%  %.1f s\n", method.name.c_str(), 100.0 * b,
                   100.0 * c.kept_fraction, seconds_since(t0));
    }
  return 0;
}

int run_fastgen_map(const arguments& a) {
  const std::string dir = a.required("trace");
  const auto meta = kvc::io::read_trace_meta(dir);
  kvc::eval::prefix_options o;
  o.future = 0;
  o.window = a.count("window", 32);
  o.prefix = a.count("prefix", meta.tokens);
  kvc::fastgen::profile_parameters p;
  if (a.has("threshold")) p.recovery_threshold = std::strtod(a.get("threshold").c_str(), nullptr);
  const loaded_model m = load(dir, o, false);
  std::ofstream csv;
  if (a.has("csv")) {
    csv.open(a.get("csv"));
    kvc::detail::require(static_cast<bool>(csv), "--csv", "a writable file", a.get("csv"));
    csv << "layer,head,policy,recovery,kept,tokens\n";
  }
  double kept = 0.0;
  for (const auto& l : m.layers) {
    const auto table = kvc::fastgen::profile(l.window_layer(), m.classes, p);  // as the fastgen method does
    std::printf("layer %zu: ", l.index());
    for (std::size_t h = 0; h < table.size(); ++h) {
      std::ostringstream name;
      name << table[h].policy;
      std::printf("%s%s (%.0f%%)", h ? ", " : "", name.str().c_str(),
                  100.0 * static_cast<double>(table[h].kept) / static_cast<double>(table.tokens));
      if (csv.is_open())
        csv << l.index() << ',' << h << ",\"" << name.str() << "\"," << table[h].recovery << ',' << table[h].kept
            << ',' << table.tokens << '\n';
    }
    std::printf("\n");
    kept += table.kept_fraction() / static_cast<double>(m.layers.size());
  }
  std::printf("T = %.2f: %.1f%% of the prefix cache kept over all heads\n", p.recovery_threshold, 100.0 * kept);
  return 0;
}

int run_methods() {
  for (const auto& m : kvc::eval::methods()) std::printf("%s\n", m.name.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const arguments a = parse(argc, argv);
    if (a.command == "methods") return run_methods();
    if (a.command == "eval") return run_eval(a);
    if (a.command == "compress") return run_compress(a);
    if (a.command == "fastgen-map") return run_fastgen_map(a);
    kvc::detail::require(false, "command", "methods, eval, compress or fastgen-map", a.command);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    std::fprintf(stderr, "%s%s\n", what.rfind("kvc:", 0) == 0 ? "" : "kvc: ", what.c_str());
    std::fprintf(stderr,
                 "usage: kvc methods\n"
                 "       kvc eval --trace DIR [--prefix P] [--future F] [--window W] [--budgets 0.1,0.2,0.5] "
                 "[--methods all|a,b] [--csv PATH]\n"
                 "       kvc compress --trace DIR --prefix P --out DIR [--window W] [--budgets ...] [--methods ...]\n"
                 "       kvc fastgen-map --trace DIR [--prefix P] [--threshold T] [--csv PATH]\n");
    return 2;
  }
  return 0;
}
