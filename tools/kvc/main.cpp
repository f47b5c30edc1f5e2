// kvc: compress and judge the KV cache of a real model's trace (tools/eval/trace.py writes one).
// docs/cli.md has every command, option and exit status, with examples; `kvc COMMAND --help`
// prints a command's options.
//
//   kvc methods     [NAME...] [--names]
//   kvc eval        --trace DIR [--prefix P] [--future F] [--queries W] [--methods all|a,b,...]
//                   [--budgets 0.1,0.2,0.5] [--tokens 64,256] [--param METHOD.NAME=VALUE]...
//                   [--csv PATH] [--skip-refused] [--quiet]
//   kvc compress    --trace DIR --prefix P --out DIR [the options of eval but --future, --csv]
//   kvc fastgen-map --trace DIR [--prefix P] [--queries W] [--threshold T] [--param fastgen.NAME=VALUE]...
//                   [--csv PATH] [--quiet]
//
// eval: per method, budget and layer, compresses the cache of the first P tokens with only what is
// known at P, then judges it on the next F real queries (attention-output relative error and
// attention recovery, kvc/eval/metrics.hpp). Prints the mean over layers; --csv has every layer.
// compress: writes OUT/<method>/<budget>/Lxx.mask.npy [kv_heads, P] (1 = kept) and, where the
// method changed the kept keys/values (merging, projection), Lxx.k.npy / Lxx.v.npy
// [kv_heads, P, head_dim] holding them at the kept tokens' original indices, and
// kept_fraction.txt, the share of the prefix cache's memory kept (LoRC keeps every token).
// fastgen-map: FastGen's profiled policy of every head (paper mode: T alone sets the budget),
// profiled on the attention the evaluation's fastgen method sees.
// Exit status: 0 done, 1 a run that failed (e.g. a budget below a method's protected tokens),
// 2 a command line that cannot run (unknown option, method or parameter, a bad value).
#include <kvc/eval/methods.hpp>
#include <kvc/eval/metrics.hpp>
#include <kvc/eval/prefix.hpp>
#include <kvc/fastgen/profile.hpp>
#include <kvc/io/npy.hpp>
#include <kvc/io/trace.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_WIN32)
#include <io.h>
#define KVC_STDERR_IS_TERMINAL() (_isatty(_fileno(stderr)) != 0)
#else
#include <unistd.h>
#define KVC_STDERR_IS_TERMINAL() (isatty(fileno(stderr)) != 0)
#endif

namespace {

/// A command line that cannot run: exit status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The message of a kvc::error or other exception without its leading "kvc: ".
std::string message_of(const std::exception& e) {
  const std::string what = e.what();
  return what.rfind("kvc: ", 0) == 0 ? what.substr(5) : what;
}

/// Runs `f`; whatever it throws becomes a usage_error (it only checks the command line).
template <class F>
auto checked(F f) {
  try {
    return f();
  } catch (const usage_error&) {
    throw;
  } catch (const std::exception& e) {
    throw usage_error(message_of(e));
  }
}

/// Progress of the long phases on stderr: on a terminal one line rewritten in place, otherwise a
/// line per step. --quiet silences it.
class progress {
 public:
  explicit progress(bool quiet) : quiet_(quiet), terminal_(KVC_STDERR_IS_TERMINAL()) {}

  /// A passing state ("reading layer 3 of 30").
  void step(const std::string& s) {
    if (quiet_) return;
    std::fprintf(stderr, terminal_ ? "\r\033[Kkvc: %s" : "kvc: %s\n", s.c_str());
    std::fflush(stderr);
    pending_ = terminal_;
  }
  /// A line that stays.
  void note(const std::string& s) {
    if (quiet_) return;
    clear();
    std::fprintf(stderr, "kvc: %s\n", s.c_str());
  }
  /// Removes a rewritten line before anything else is printed.
  void clear() {
    if (!pending_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    pending_ = false;
  }

 private:
  bool quiet_, terminal_, pending_ = false;
};

std::string format(const char* f, auto... args) {
  char s[256];
  std::snprintf(s, sizeof s, f, args...);
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The budget as a table cell and in messages: "   20%" for a ratio, "  256t" for tokens.
std::string budget_cell(const kvc::eval::method_budget& b) {
  if (const auto* t = std::get_if<kvc::budget::tokens>(&b)) return format("%5zut", t->value);
  return format("%5.0f%%", 100.0 * std::get<kvc::budget::ratio>(b).value);
}
std::string budget_label(const kvc::eval::method_budget& b) {
  auto s = budget_cell(b);
  return s.erase(0, s.find_first_not_of(' '));
}

// ---------------------------------------------------------------------------------------------
// The command line

/// What eval, compress and fastgen-map are given.
struct options {
  std::string trace;
  std::optional<std::size_t> prefix, future, queries;
  std::vector<std::string> methods;
  std::vector<double> ratios;
  std::vector<std::size_t> tokens;
  std::vector<std::string> params;
  std::optional<double> threshold;
  std::string csv, out, old_window;
  bool skip_refused = false, quiet = false;
};

/// A count: digits only (CLI11 alone would read "-5" as a huge unsigned and "010" as octal).
const CLI::Validator count_text(
    [](std::string& s) {
      return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })
                 ? std::string()
                 : "expected a whole number >= 0, got " + s;
    },
    "", "count");
const CLI::Validator ratio_text(
    [](std::string& s) {
      const auto v = kvc::eval::detail::parse_value<double>(s);
      return v && *v > 0.0 && *v <= 1.0 ? std::string() : "expected a ratio in (0, 1], got " + s;
    },
    "", "ratio");

void add_trace_option(CLI::App* c, options& o) {
  c->add_option("--trace", o.trace, "the trace folder (tools/eval/trace.py writes one)")
      ->required()
      ->check(CLI::Validator(CLI::ExistingDirectory).description(""))
      ->type_name("DIR");
}
void add_queries_option(CLI::App* c, options& o) {
  const auto carried = kvc::eval::prefix_options{}.window;
  c->add_option("--queries", o.queries,
                "prefix queries every layer carries to the methods (their observation windows read the last "
                "of these); default " + std::to_string(carried) + ", or the widest window a method's parameters ask for")
      ->check(count_text)
      ->type_name("W");
  // --window meant both the queries carried and SnapKV's window; say where each went.
  c->add_option("--window", o.old_window)->group("");
}
void add_method_options(CLI::App* c, options& o) {
  c->add_option("--methods", o.methods, "methods, comma-separated, or all (kvc methods lists them)")
      ->delimiter(',')
      ->type_name("all|M,...");
  c->add_option("--budgets", o.ratios,
                "budgets as ratios in (0, 1]: the share of each head's prefix tokens kept; default 0.1,0.2,0.5 "
                "unless --tokens is given")
      ->delimiter(',')
      ->check(ratio_text)
      ->type_name("R,...");
  c->add_option("--tokens", o.tokens, "budgets as exact tokens kept per head (runs after the --budgets ones)")
      ->delimiter(',')
      ->check(count_text)
      ->type_name("N,...");
  c->add_option("--param", o.params,
                "set a method's parameter (repeatable); kvc methods lists each one with its default")
      ->type_name("METHOD.NAME=VALUE");
  c->add_flag("--skip-refused", o.skip_refused,
              "report a budget a method refuses (e.g. below the tokens it protects) and go on; without it, "
              "the refusal ends the run with exit status 1");
}
void add_quiet_flag(CLI::App* c, options& o) {
  c->add_flag("-q,--quiet", o.quiet, "no progress on stderr");
}

/// --param METHOD.NAME=VALUE, grouped by method.
std::map<std::string, std::map<std::string, std::string>> parse_params(const std::vector<std::string>& params) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& p : params) {
    const auto dot = p.find('.'), eq = p.find('=');
    if (dot == std::string::npos || eq == std::string::npos || dot == 0 || dot + 1 >= eq)
      throw usage_error("--param: expected METHOD.NAME=VALUE (e.g. snapkv.window=16), got " + p);
    const std::string method = p.substr(0, dot), name = p.substr(dot + 1, eq - dot - 1);
    if (!out[method].emplace(name, p.substr(eq + 1)).second)
      throw usage_error("--param: " + method + "." + name + " is given twice");
  }
  return out;
}

/// The methods --methods names, with the parameters --param sets, checked before any work.
std::vector<kvc::eval::method> chosen_methods(const options& o) {
  std::vector<kvc::eval::method> out;
  const auto all = kvc::eval::methods();
  if (o.methods.empty() || (o.methods.size() == 1 && o.methods[0] == "all")) {
    out = all;
  } else {
    for (const auto& n : o.methods) {
      if (n.empty()) continue;
      const auto it = std::find_if(all.begin(), all.end(), [&](const auto& m) { return m.name == n; });
      if (it == all.end())
        throw usage_error("--methods: unknown method '" + n + "'; expected all or some of " +
                          kvc::eval::method_names());
      if (std::none_of(out.begin(), out.end(), [&](const auto& m) { return m.name == n; })) out.push_back(*it);
    }
    if (out.empty()) throw usage_error("--methods: expected all or some of " + kvc::eval::method_names());
  }
  for (const auto& set : parse_params(o.params)) {  // no structured bindings: clang 14 cannot capture them
    const std::string& name = set.first;
    const auto& values = set.second;
    const auto it = std::find_if(out.begin(), out.end(), [&](const auto& m) { return m.name == name; });
    if (it == out.end()) {
      const bool known = std::any_of(all.begin(), all.end(), [&](const auto& m) { return m.name == name; });
      std::string chosen;
      for (const auto& m : out) chosen += (chosen.empty() ? "" : ", ") + m.name;
      throw usage_error("--param " + name + ".*: " +
                        (known ? name + " is not among the methods run (" + chosen + ")"
                               : "unknown method '" + name + "'; expected one of " + kvc::eval::method_names()));
    }
    for (const auto& value : values)
      if (std::none_of(it->parameters.begin(), it->parameters.end(), [&](const auto& q) { return q.name == value.first; }))
        throw usage_error("--param " + name + "." + value.first + ": " + name + " has no parameter '" + value.first + "'; " +
                          (it->parameters.empty() ? name + " has none" : "its parameters are " + it->parameter_names()));
    *it = checked([&] {
      try {
        return it->with(values);
      } catch (const kvc::error& e) {
        throw usage_error("--param: " + message_of(e));
      }
    });
  }
  return out;
}

/// "snapkv.window=16 (default 32)" for every parameter set away from its default.
std::string changed_parameters(const std::vector<kvc::eval::method>& ms) {
  std::string out;
  for (const auto& m : ms)
    for (const auto& p : m.parameters)
      if (p.value != p.default_value)
        out += (out.empty() ? "" : ", ") + m.name + "." + p.name + "=" + p.value + " (default " + p.default_value + ")";
  return out;
}

/// Everything a trace command does, decided before the trace is loaded.
struct plan {
  kvc::io::trace_meta meta;
  kvc::eval::prefix_options prefix;
  std::vector<kvc::eval::method> methods;
  std::vector<kvc::eval::method_budget> budgets;
};

enum class command { eval, compress, fastgen_map };

plan make_plan(const options& o, command c) {
  if (!o.old_window.empty())
    throw usage_error("--window is gone: --queries W sets the prefix queries every layer carries, and "
                      "--param METHOD.window=W a method's observation window (kvc methods lists them)");
  plan p;
  p.methods = chosen_methods(o);
  try {
    p.meta = kvc::io::read_trace_meta(o.trace);
  } catch (const std::exception& e) {
    throw usage_error("--trace " + o.trace + ": " + message_of(e));
  }
  const std::size_t T = p.meta.tokens;
  const kvc::eval::prefix_options defaults;
  p.prefix.future = c == command::eval ? o.future.value_or(defaults.future) : 0;
  if (c == command::eval && p.prefix.future >= T)
    throw usage_error("--future: expected fewer than the trace's " + std::to_string(T) + " tokens, got " +
                      std::to_string(p.prefix.future));
  p.prefix.prefix = o.prefix.value_or(T - p.prefix.future);
  if (p.prefix.prefix < 1 || p.prefix.prefix + p.prefix.future > T)
    throw usage_error("--prefix: expected between 1 and " + std::to_string(T - p.prefix.future) + " (the trace's " +
                      std::to_string(T) + " tokens" + (p.prefix.future ? " less --future" : "") + "), got " +
                      std::to_string(p.prefix.prefix));
  const std::size_t P = p.prefix.prefix;

  // The queries carried: enough for every method's observation window.
  std::size_t widest = 0;
  std::string widest_name;
  for (const auto& m : p.methods)
    for (const auto& q : m.parameters)
      if (q.observation_window && m.value<std::size_t>(q.name) > widest) {
        widest = m.value<std::size_t>(q.name);
        widest_name = m.name + "." + q.name;
      }
  if (widest > P)
    throw usage_error(widest_name + " = " + std::to_string(widest) + ": expected at most the prefix's " +
                      std::to_string(P) + " tokens");
  if (o.queries) {
    if (*o.queries < 1 || *o.queries > P)
      throw usage_error("--queries: expected between 1 and the prefix's " + std::to_string(P) + " tokens, got " +
                        std::to_string(*o.queries));
    if (*o.queries < widest)
      throw usage_error("--queries " + std::to_string(*o.queries) + ": fewer than the " + std::to_string(widest) +
                        " queries " + widest_name + " reads");
    p.prefix.window = *o.queries;
  } else {
    p.prefix.window = std::min(std::max(defaults.window, widest), P);
  }

  if (c != command::fastgen_map) {
    for (double r : o.ratios) p.budgets.push_back(kvc::budget::ratio{r});
    for (std::size_t n : o.tokens) {
      if (n < 1 || n > P)
        throw usage_error("--tokens: expected between 1 and the prefix's " + std::to_string(P) + " tokens, got " +
                          std::to_string(n));
      p.budgets.push_back(kvc::budget::tokens{n});
    }
    if (p.budgets.empty())
      for (double r : {0.1, 0.2, 0.5}) p.budgets.push_back(kvc::budget::ratio{r});
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Loading and compressing

/// A trace loaded and cut at the prefix, with everything a method may look at.
struct loaded_model {
  kvc::io::trace_meta meta;
  std::vector<kvc::io::trace_layer> traces;
  std::vector<kvc::eval::prefix_layer> layers;
  std::vector<kvc::fastgen::token_class> classes;
  /// LoRC's weight SVDs, shared by every budget of this trace.
  std::shared_ptr<kvc::eval::lorc_factor_memo> lorc_factors = std::make_shared<kvc::eval::lorc_factor_memo>();

  [[nodiscard]] kvc::eval::model_prefix view() const { return {layers, classes, meta.rope_theta, lorc_factors}; }
};

/// Runs f(i) for i in [0, n), one index per thread, counting "what: k of n layers" as they finish.
template <class F>
void for_each_layer(std::size_t n, const char* what, progress& prog, F f) {
  std::atomic<std::size_t> done{0};
  prog.step(format("%s: 0 of %zu layers", what, n));
#pragma omp parallel for schedule(dynamic)
  for (std::size_t i = 0; i < n; ++i) {
    f(i);
    const std::size_t k = ++done;
#pragma omp critical(kvc_progress)
    prog.step(format("%s: %zu of %zu layers", what, k, n));
  }
}

loaded_model load(const std::string& dir, const plan& p, bool weights, progress& prog) {
  const auto t0 = std::chrono::steady_clock::now();
  loaded_model m;
  m.meta = p.meta;
  const auto ids = kvc::io::read_trace_tokens(dir, m.meta);
  const auto strings = kvc::io::read_trace_token_strings(dir, m.meta);
  const std::size_t P = p.prefix.prefix, n = m.meta.layers.size();
  m.classes = kvc::eval::token_classes(std::span(ids).first(P), std::span(strings).first(P), m.meta.bos_id);
  m.traces.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    prog.step(format("reading layer %zu (%zu of %zu)", m.meta.layers[i], i + 1, n));
    m.traces[i] = kvc::io::read_trace_layer(dir, m.meta, m.meta.layers[i], weights);
  }
  // The accumulated prefix attention is the costly part: one layer per thread.
  std::vector<std::optional<kvc::eval::prefix_layer>> cut(n);
  for_each_layer(n, "prefix attention", prog, [&](std::size_t i) { cut[i].emplace(m.traces[i], p.prefix); });
  for (auto& c : cut) m.layers.push_back(std::move(*c));
  prog.note(format("%s, %zu layers, prefix %zu of %zu tokens, loaded in %.1f s", m.meta.model.c_str(), n, P,
                   m.meta.tokens, seconds_since(t0)));
  return m;
}

bool needs_weights(const std::vector<kvc::eval::method>& ms) {
  return std::any_of(ms.begin(), ms.end(), [](const auto& m) { return m.name == "lorc"; });
}

/// The method's compression at budget b; a refusal (a kvc::error: e.g. a budget below the tokens
/// it protects) ends the run unless --skip-refused, which returns it as `refusal`.
struct attempt {
  std::optional<kvc::eval::compressed_model> model;
  std::string refusal;
};

attempt try_compress(const kvc::eval::method& method, const loaded_model& m, const kvc::eval::method_budget& b,
                     bool skip_refused) {
  try {
    return {method.compress(m.view(), b), {}};
  } catch (const kvc::error& e) {
    if (!skip_refused)
      throw std::runtime_error(method.name + " at " + budget_label(b) + ": " + message_of(e) +
                               " (--skip-refused reports it and goes on)");
    return {std::nullopt, e.what()};
  }
}

/// The write target of --csv, opened before the trace is loaded.
std::ofstream open_csv(const std::string& path, const char* header) {
  std::ofstream csv;
  if (path.empty()) return csv;
  csv.open(path);
  if (!csv) throw usage_error("--csv: expected a writable file, got " + path);
  csv << header;
  return csv;
}

// ---------------------------------------------------------------------------------------------
// The commands

int run_eval(const options& o) {
  const plan p = make_plan(o, command::eval);
  std::ofstream csv = open_csv(o.csv, "method,budget,layer,prefix,future,kept_fraction,output_error,recovery\n");
  progress prog(o.quiet);
  const loaded_model m = load(o.trace, p, needs_weights(p.methods), prog);

  std::vector<kvc::eval::reference> refs(m.layers.size());
  for_each_layer(m.layers.size(), "references", prog, [&](std::size_t i) {
    refs[i] = kvc::eval::make_reference(m.layers[i].layer(), m.layers[i].future());
  });
  prog.clear();
  std::printf("%s: %zu layers, prefix %zu tokens, judged on the next %zu queries\n", m.meta.model.c_str(),
              m.layers.size(), p.prefix.prefix, p.prefix.future);
  if (const auto changed = changed_parameters(p.methods); !changed.empty()) std::printf("parameters: %s\n", changed.c_str());
  std::printf("\n| %-14s | %6s | %8s | %11s | %8s | %7s |\n", "method", "budget", "kept", "out. error", "recovery",
              "time s");
  std::printf("|----------------|--------|----------|-------------|----------|---------|\n");
  std::fflush(stdout);
  std::size_t run = 0;
  const std::size_t runs = p.methods.size() * p.budgets.size();
  for (const auto& method : p.methods)
    for (const auto& b : p.budgets) {
      prog.step(format("%s at %s (%zu of %zu)", method.name.c_str(), budget_label(b).c_str(), ++run, runs));
      const auto t0 = std::chrono::steady_clock::now();
      const auto compressed = try_compress(method, m, b, o.skip_refused);
      prog.clear();
      if (!compressed.model) {
        std::printf("| %-14s | %s | skipped: %s\n", method.name.c_str(), budget_cell(b).c_str(),
                    compressed.refusal.c_str());
        std::fflush(stdout);
        continue;
      }
      const auto& c = *compressed.model;
      const double took = seconds_since(t0);
      std::vector<kvc::eval::quality> q(m.layers.size());
#pragma omp parallel for schedule(dynamic)
      for (std::size_t i = 0; i < m.layers.size(); ++i) q[i] = kvc::eval::evaluate(refs[i], c.layers[i]);
      kvc::eval::quality mean;
      for (std::size_t i = 0; i < q.size(); ++i) {
        mean.output_error += q[i].output_error / static_cast<double>(q.size());
        mean.recovery += q[i].recovery / static_cast<double>(q.size());
        if (csv.is_open())
          csv << method.name << ',' << kvc::eval::budget_name(b) << ',' << m.layers[i].index() << ','
              << p.prefix.prefix << ',' << p.prefix.future << ',' << c.layer_fraction[i] << ',' << q[i].output_error
              << ',' << q[i].recovery << '\n';
      }
      std::printf("| %-14s | %s | %7.1f%% | %11.4f | %8.4f | %7.1f |\n", method.name.c_str(), budget_cell(b).c_str(),
                  100.0 * c.kept_fraction, mean.output_error, mean.recovery, took);
      std::fflush(stdout);
    }
  std::printf("\nout. error: mean ||o - o_hat|| / ||o|| of the attention output over the prefix; recovery: the\n"
              "full attention mass on kept tokens. Means over layers, query heads and held-out queries.\n");
  return 0;
}

int run_compress(const options& o) {
  const plan p = make_plan(o, command::compress);
  const std::filesystem::path out = o.out;
  progress prog(o.quiet);
  const loaded_model m = load(o.trace, p, needs_weights(p.methods), prog);
  if (const auto changed = changed_parameters(p.methods); !changed.empty()) prog.note("parameters: " + changed);
  const std::size_t H = m.meta.kv_heads, d = m.meta.head_dim, P = p.prefix.prefix;
  std::size_t run = 0;
  const std::size_t runs = p.methods.size() * p.budgets.size();
  for (const auto& method : p.methods)
    for (const auto& b : p.budgets) {
      prog.step(format("%s at %s (%zu of %zu)", method.name.c_str(), budget_label(b).c_str(), ++run, runs));
      const auto t0 = std::chrono::steady_clock::now();
      const auto compressed = try_compress(method, m, b, o.skip_refused);
      if (!compressed.model) {  // no folder for it
        prog.clear();
        std::fprintf(stderr, "kvc: %s at %s skipped: %s\n", method.name.c_str(), budget_label(b).c_str(),
                     compressed.refusal.c_str());
        continue;
      }
      const auto& c = *compressed.model;
      const auto folder = out / method.name / kvc::eval::budget_name(b);
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
        const std::string name = format("L%02zu", m.layers[i].index());
        kvc::io::write_npy((folder / (name + ".mask.npy")).string(), {H, P}, mask);
        if (changed) {
          kvc::io::write_npy((folder / (name + ".k.npy")).string(), {H, P, d}, k);
          kvc::io::write_npy((folder / (name + ".v.npy")).string(), {H, P, d}, v);
        }
      }
      std::ofstream(folder / "kept_fraction.txt") << c.kept_fraction << '\n';
      prog.note(format("%-14s %6s  kept %5.1f%%  %.1f s", method.name.c_str(), budget_label(b).c_str(),
                       100.0 * c.kept_fraction, seconds_since(t0)));
    }
  return 0;
}

int run_fastgen_map(options o) {
  // FastGen's profile reads T, r_l and r_f, and the attention its method sees; paper mode, so
  // no budget: its other parameters have nothing to do here.
  for (const auto& s : o.params)
    if (s.rfind("fastgen.", 0) != 0)
      throw usage_error("--param: fastgen-map takes fastgen's parameters only, got " + s);
  if (o.threshold) {
    if (std::any_of(o.params.begin(), o.params.end(),
                    [](const auto& s) { return s.rfind("fastgen.recovery_threshold=", 0) == 0; }))
      throw usage_error("--threshold and --param fastgen.recovery_threshold both given");
    o.params.push_back("fastgen.recovery_threshold=" + kvc::eval::detail::show_value(*o.threshold));
  }
  o.methods = {"fastgen"};
  const plan p = make_plan(o, command::fastgen_map);
  const auto& fastgen = p.methods.front();
  for (const auto& s : o.params) {
    const auto name = s.substr(8, s.find('=') - 8);
    if (name == "budget_use")
      throw usage_error("--param fastgen.budget_use: fastgen-map profiles in the paper's mode, without a budget");
  }
  const kvc::fastgen::profile_parameters params{fastgen.value<double>("recovery_threshold"),
                                                fastgen.value<double>("local_ratio"),
                                                fastgen.value<double>("frequent_ratio")};
  const auto group = fastgen.value<kvc::group_reduce>("group");
  const bool window = fastgen.value<kvc::eval::attention_seen>("attention") == kvc::eval::attention_seen::window;
  checked([&] {
    kvc::fastgen::detail::require_parameters(params);
    return 0;
  });
  std::ofstream csv = open_csv(o.csv, "layer,head,policy,recovery,kept,tokens\n");
  progress prog(o.quiet);
  const loaded_model m = load(o.trace, p, false, prog);
  prog.clear();
  double kept = 0.0;
  for (const auto& l : m.layers) {
    const auto table = window ? kvc::fastgen::profile(l.window_layer(), m.classes, params, group)
                              : kvc::fastgen::profile(l.layer(), m.classes, params, group);
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
  std::printf("T = %.2f: %.1f%% of the prefix cache kept over all heads\n", params.recovery_threshold, 100.0 * kept);
  return 0;
}

/// Edit distance of two option names, for "did you mean".
std::size_t distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// Arguments the command does not take (CLI11 keeps them aside: allow_extras) as a usage error
/// that names the first and, for a near miss, the option meant.
void reject_extras(const CLI::App& command) {
  const auto extras = command.remaining();
  if (extras.empty()) return;
  const auto first = std::find_if(extras.begin(), extras.end(), [](const auto& a) { return a.rfind("-", 0) == 0; });
  const std::string where = command.get_name();
  if (first == extras.end())
    throw usage_error(where + ": unexpected argument '" + extras.front() + "'");
  const std::string given = first->substr(0, first->find('='));
  std::string closest;
  std::size_t best = 3;  // suggest only near misses
  for (const auto* opt : command.get_options())
    for (const auto& name : opt->get_lnames()) {
      if (opt->get_group().empty()) continue;  // hidden
      const std::size_t d = distance(given, "--" + name);
      if (d < best) {
        best = d;
        closest = "--" + name;
      }
    }
  throw usage_error(where + ": unknown option " + given + (closest.empty() ? "" : " (did you mean " + closest + "?)"));
}

int run_methods(const std::vector<std::string>& names, bool names_only) {
  std::vector<kvc::eval::method> ms;
  const auto all = kvc::eval::methods();
  for (const auto& n : names) {
    const auto it = std::find_if(all.begin(), all.end(), [&](const auto& m) { return m.name == n; });
    if (it == all.end())
      throw usage_error("methods: unknown method '" + n + "'; expected one of " + kvc::eval::method_names());
    ms.push_back(*it);
  }
  if (names.empty()) ms = all;
  if (names_only) {
    for (const auto& m : ms) std::printf("%s\n", m.name.c_str());
    return 0;
  }
  std::printf("%-24s %-14s %s\n", "METHOD / PARAMETER", "DEFAULT", "MEANING");
  for (const auto& m : ms) {
    std::printf("\n%-39s %s (%s)\n", m.name.c_str(), m.summary.c_str(), m.docs.c_str());
    for (const auto& p : m.parameters) {
      std::string meaning = p.meaning;
      if (p.accepts.rfind("one of ", 0) == 0 || p.accepts == "true or false") meaning += "; " + p.accepts;
      if (p.policy_default != p.default_value) meaning += "; the policy's own default: " + p.policy_default;
      std::printf("  %-22s %-14s %s\n", p.name.c_str(), p.default_value.c_str(), meaning.c_str());
    }
  }
  std::printf("\nSet one with --param METHOD.NAME=VALUE (kvc eval, kvc compress; kvc fastgen-map takes fastgen's).\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvc: compress and judge the KV cache of a real model's trace (docs/cli.md)", "kvc"};
  app.require_subcommand(0, 1);
  app.allow_extras();
  app.set_version_flag("--version", KVC_VERSION_STRING);
  app.get_formatter()->column_width(36);
  app.failure_message([](const CLI::App* a, const CLI::Error& e) { return "kvc: " + CLI::FailureMessage::simple(a, e); });
  app.footer("Exit status: 0 done, 1 a run that failed, 2 a command line that cannot run.");

  std::vector<std::string> method_filter;
  bool names_only = false;
  auto* methods = app.add_subcommand("methods", "list the methods, their parameters and defaults");
  methods->allow_extras();
  methods->add_option("names", method_filter, "only these methods")->type_name("METHOD");
  methods->add_flag("--names", names_only, "only the names, one per line");

  options o;
  auto* eval = app.add_subcommand("eval", "compress a trace's prefix with every method and budget; judge each on "
                                          "the next real queries");
  eval->allow_extras();
  add_trace_option(eval, o);
  eval->add_option("--prefix", o.prefix, "P: the prefix tokens compressed; default the trace's tokens less --future")
      ->check(count_text)
      ->type_name("P");
  eval->add_option("--future", o.future,
                   "F: the later queries held out to judge on; default " +
                       std::to_string(kvc::eval::prefix_options{}.future))
      ->check(count_text)
      ->type_name("F");
  add_queries_option(eval, o);
  add_method_options(eval, o);
  eval->add_option("--csv", o.csv, "also write every layer's result here")->type_name("PATH");
  add_quiet_flag(eval, o);

  auto* compress = app.add_subcommand("compress", "write each method's keep masks (and changed keys and values) at "
                                                  "every budget");
  compress->allow_extras();
  add_trace_option(compress, o);
  compress->add_option("--prefix", o.prefix, "P: the prefix tokens compressed")
      ->required()
      ->check(count_text)
      ->type_name("P");
  compress->add_option("--out", o.out, "the folder that gets OUT/METHOD/BUDGET/")->required()->type_name("DIR");
  add_queries_option(compress, o);
  add_method_options(compress, o);
  add_quiet_flag(compress, o);

  auto* fastgen_map = app.add_subcommand("fastgen-map", "FastGen's profiled policy of every head (the paper's mode)");
  fastgen_map->allow_extras();
  add_trace_option(fastgen_map, o);
  fastgen_map->add_option("--prefix", o.prefix, "P: the prefix tokens profiled; default all the trace's")
      ->check(count_text)
      ->type_name("P");
  add_queries_option(fastgen_map, o);
  fastgen_map->add_option("--threshold", o.threshold, "T, the same as --param fastgen.recovery_threshold=T")
      ->type_name("T");
  fastgen_map->add_option("--param", o.params,
                          "set one of fastgen's parameters: recovery_threshold, local_ratio, frequent_ratio, group, "
                          "attention (repeatable)")
      ->type_name("fastgen.NAME=VALUE");
  fastgen_map->add_option("--csv", o.csv, "also write every head's policy here")->type_name("PATH");
  add_quiet_flag(fastgen_map, o);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const auto chosen = app.get_subcommands();
  if (chosen.empty()) {
    const auto extras = app.remaining();
    const std::string what =
        extras.empty()                      ? "a command is needed: methods, eval, compress or fastgen-map"
        : extras.front().rfind("-", 0) == 0 ? "unknown option " + extras.front()
                                            : "unknown command '" + extras.front() +
                                                  "'; expected methods, eval, compress or fastgen-map";
    std::fprintf(stderr, "kvc: %s\nRun kvc --help for the commands.\n", what.c_str());
    return 2;
  }
  const std::string name = chosen.front()->get_name();
  try {
    reject_extras(*chosen.front());
    if (*methods) return run_methods(method_filter, names_only);
    if (*eval) return run_eval(o);
    if (*compress) return run_compress(o);
    if (*fastgen_map) return run_fastgen_map(o);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "kvc: %s\nRun kvc %s --help for its options.\n", e.what(), name.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kvc: %s\n", message_of(e).c_str());
    return 1;
  }
  return 0;
}
