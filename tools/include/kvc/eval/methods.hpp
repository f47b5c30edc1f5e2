#pragma once
// Every kvc method, by name, as the evaluation runs it on a real model's prefix (kvc::eval::
// prefix_layer per layer), with every parameter of its policy: the one list the evaluation, the
// command-line tool (`kvc methods`, `--param METHOD.NAME=VALUE`, docs/cli.md) and the tests read.
//
// A parameter is a member (or members that must stay equal, e.g. SnapKV's score.window and
// select.window) of the registry's starting value of the method; its default is read from that
// value, so it is the policy struct's own default-initialised member unless the entry says
// otherwise (random's seed, FastGen's budget use, which attention a scorer sees), and `kvc
// methods` then shows both. Adding a method is one entry in methods(): a name, one line, its
// docs page, the policy and its parameters.
//
// A budget is a share of each head's prefix tokens (budget::ratio) or exactly that many tokens
// per head (budget::tokens): the average per layer for PyramidKV; for LoRC, which keeps every
// token, a share of the K/V rank (tokens n of a P-token prefix count as the share n / P).

#include "kvc/version.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "kvc/core/budget.hpp"
#include "kvc/core/compressed_layer.hpp"
#include "kvc/core/error.hpp"
#include "kvc/core/layer.hpp"
#include "kvc/eval/prefix.hpp"
#include "kvc/fastgen/punctuation.hpp"
#include "kvc/fastgen/token_class.hpp"
#include "kvc/io/trace.hpp"
#include "kvc/methods.hpp"
#include "kvc/policy/adakv.hpp"
#include "kvc/policy/ems.hpp"
#include "kvc/policy/fastgen.hpp"
#include "kvc/policy/h2o.hpp"
#include "kvc/policy/intelllm.hpp"
#include "kvc/policy/key_norm.hpp"
#include "kvc/policy/lorc.hpp"
#include "kvc/policy/pyramidkv.hpp"
#include "kvc/policy/random.hpp"
#include "kvc/policy/snapkv.hpp"
#include "kvc/policy/streaming_llm.hpp"
#include "kvc/policy/tova.hpp"

namespace kvc::eval {

/// What a method may look at: the model's layers cut at the prefix, and the prefix's tokens.
/// LoRC's weight factors, computed on a model prefix's first LoRC run and reused by every later
/// budget (they depend on the weights and the SVD's settings alone).
struct lorc_factor_memo {
  std::optional<policy::lorc::factors> factors;
  project::jacobi_svd decompose{};
  bool scale_by_inputs = false;
};

struct model_prefix {
  std::span<const prefix_layer> layers;
  std::span<const fastgen::token_class> classes;  ///< FastGen's class of each prefix token
  double rope_theta = 10000.0;                    ///< for methods that rebuild keys (LoRC)
  std::shared_ptr<lorc_factor_memo> lorc_factors = std::make_shared<lorc_factor_memo>();

  /// P: the prefix tokens every layer holds (0 without layers).
  [[nodiscard]] std::size_t prefix() const noexcept { return layers.empty() ? 0 : layers[0].options().prefix; }
};

/// A compressed model: one compressed layer per input layer, and the cache memory it keeps.
struct compressed_model {
  std::vector<compressed_layer<float>> layers;
  double kept_fraction = 0.0;         ///< cached floats / the full prefix cache's
  std::vector<double> layer_fraction;  ///< the same, per layer
};

/// One run's budget: a share of each head's prefix tokens, or exactly that many tokens per head.
using method_budget = std::variant<budget::ratio, budget::tokens>;

/// The budget as the tool's output and folders name it: "0.20" for a ratio, "256t" for tokens.
inline std::string budget_name(const method_budget& b) {
  if (const auto* t = std::get_if<budget::tokens>(&b)) return std::to_string(t->value) + "t";
  char s[32];
  std::snprintf(s, sizeof s, "%.2f", std::get<budget::ratio>(b).value);
  return s;
}

/// The budget as a share of a `prefix`-token cache (tokens n count as n / prefix).
inline double budget_share(const method_budget& b, std::size_t prefix) {
  if (const auto* t = std::get_if<budget::tokens>(&b))
    return prefix == 0 ? 0.0 : static_cast<double>(t->value) / static_cast<double>(prefix);
  return std::get<budget::ratio>(b).value;
}

/// Which attention a per-layer method's scorer sees.
enum class attention_seen {
  prefix,  ///< every prefix query's, accumulated (what H2O's engine keeps during prefill); only
           ///< scorers that read layer.attention (H2O, FastGen, IntelLLM's CGE) see a difference
  window,  ///< only the window queries' (prefix_layer::window_layer)
};

/// One parameter of a method, as `kvc methods` lists it and `--param METHOD.NAME=VALUE` sets it.
struct method_parameter {
  std::string name;            ///< e.g. "window"
  std::string meaning;         ///< one line
  std::string accepts;         ///< the values it takes, in words
  std::string value;           ///< in this method (the default unless set with method::with)
  std::string default_value;   ///< in methods()
  std::string policy_default;  ///< in the default-initialised policy; differs where methods() starts elsewhere
  bool observation_window = false;  ///< a count of the last prefix queries the method reads
};

class method {
 public:
  using run_function = std::function<compressed_model(const model_prefix&, const method_budget&)>;
  using with_function = std::function<method(const std::map<std::string, std::string>&)>;

  std::string name;
  std::string summary;  ///< what it does, in one line
  std::string docs;     ///< its page, e.g. "docs/snapkv.md"
  std::vector<method_parameter> parameters;

  method() = default;
  method(std::string name, std::string summary, std::string docs, std::vector<method_parameter> parameters,
         run_function run, with_function with)
      : name(std::move(name)), summary(std::move(summary)), docs(std::move(docs)),
        parameters(std::move(parameters)), run_(std::move(run)), with_(std::move(with)) {}

  /// Compresses every layer of `m`, keeping `ratio` of each head's tokens.
  [[nodiscard]] compressed_model compress(const model_prefix& m, double ratio) const {
    return run_(m, budget::ratio{ratio});
  }
  [[nodiscard]] compressed_model compress(const model_prefix& m, const method_budget& b) const { return run_(m, b); }

  /// This method with the parameters `values` (name -> value) set, applied in the order of
  /// `parameters`; an unknown name or a value the parameter does not take is a kvc::error that
  /// lists what it accepts.
  [[nodiscard]] method with(const std::map<std::string, std::string>& values) const { return with_(values); }

  /// The parameter called `n`, or a kvc::error listing this method's parameters.
  [[nodiscard]] const method_parameter& parameter(std::string_view n) const {
    for (const auto& p : parameters)
      if (p.name == n) return p;
    kvc::detail::require(false, name + " parameter", parameter_names().empty() ? "none (" + name + " has no parameters)"
                                                                               : "one of " + parameter_names(),
                         n);
    return parameters.front();  // not reached
  }
  [[nodiscard]] std::string parameter_names() const {
    std::string out;
    for (const auto& p : parameters) out += (out.empty() ? "" : ", ") + p.name;
    return out;
  }
  /// The value of parameter `n` as a T (a bool, enum, unsigned or double, as the parameter is).
  template <class T>
  [[nodiscard]] T value(std::string_view n) const;
  /// The most prefix queries any of its observation windows reads (0: it reads no window).
  [[nodiscard]] std::size_t observation_window() const {
    std::size_t w = 0;
    for (const auto& p : parameters)
      if (p.observation_window) w = std::max(w, value<std::size_t>(p.name));
    return w;
  }

 private:
  run_function run_;
  with_function with_;
};

namespace detail {

/// Fills kept_fraction and layer_fraction from the layers' keep-sets (token methods).
inline void count_kept_tokens(compressed_model& m) {
  double kept = 0.0, full = 0.0;
  m.layer_fraction.clear();
  for (const auto& c : m.layers) {
    const auto k = static_cast<double>(c.keep().total()), f = static_cast<double>(c.heads() * c.keep().tokens());
    m.layer_fraction.push_back(f > 0.0 ? k / f : 0.0);
    kept += k;
    full += f;
  }
  m.kept_fraction = full > 0.0 ? kept / full : 0.0;
}

/// The names of an enum's values, as parameters spell them.
template <class E>
struct enum_names;
template <>
struct enum_names<group_reduce> {
  static constexpr std::array<std::pair<group_reduce, std::string_view>, 2> values{
      {{group_reduce::mean, "mean"}, {group_reduce::max, "max"}}};
};
template <>
struct enum_names<score::pooling> {
  static constexpr std::array<std::pair<score::pooling, std::string_view>, 2> values{
      {{score::pooling::max, "max"}, {score::pooling::average, "average"}}};
};
template <>
struct enum_names<merge::position_mode> {
  static constexpr std::array<std::pair<merge::position_mode, std::string_view>, 3> values{
      {{merge::position_mode::original, "original"},
       {merge::position_mode::repacked, "repacked"},
       {merge::position_mode::remote_gap, "remote_gap"}}};
};
template <>
struct enum_names<fastgen::budget_use> {
  static constexpr std::array<std::pair<fastgen::budget_use, std::string_view>, 3> values{
      {{fastgen::budget_use::ignore, "ignore"}, {fastgen::budget_use::cap, "cap"}, {fastgen::budget_use::trim, "trim"}}};
};
template <>
struct enum_names<ems::similarity_measure> {
  static constexpr std::array<std::pair<ems::similarity_measure, std::string_view>, 2> values{
      {{ems::similarity_measure::key_value, "key_value"}, {ems::similarity_measure::key, "key"}}};
};
template <>
struct enum_names<project::cumulation> {
  static constexpr std::array<std::pair<project::cumulation, std::string_view>, 2> values{
      {{project::cumulation::log_product, "log_product"}, {project::cumulation::sum, "sum"}}};
};
template <>
struct enum_names<attention_seen> {
  static constexpr std::array<std::pair<attention_seen, std::string_view>, 2> values{
      {{attention_seen::prefix, "prefix"}, {attention_seen::window, "window"}}};
};

/// A parameter value as text (shortest round-trip form for doubles) ...
template <class T>
std::string show_value(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_enum_v<T>) {
    for (const auto& [e, n] : enum_names<T>::values)
      if (e == v) return std::string(n);
    return std::to_string(static_cast<long long>(v));
  } else {
    static_assert(std::is_arithmetic_v<T>, "kvc::eval: a parameter is a bool, an enum, an unsigned or a double");
    std::array<char, 64> s{};
    const auto r = std::to_chars(s.data(), s.data() + s.size(), v);
    return std::string(s.data(), r.ptr);
  }
}

/// ... what it accepts, in words ...
template <class T>
std::string accepted_values() {
  if constexpr (std::is_same_v<T, bool>) {
    return "true or false";
  } else if constexpr (std::is_enum_v<T>) {
    std::string out;
    for (std::size_t i = 0; i < enum_names<T>::values.size(); ++i)
      out += std::string(i == 0 ? "one of " : ", ") + std::string(enum_names<T>::values[i].second);
    return out;
  } else if constexpr (std::is_integral_v<T>) {
    static_assert(std::is_unsigned_v<T>, "kvc::eval: integer parameters are counts or seeds (unsigned)");
    return "an integer >= 0";
  } else {
    return "a finite number";
  }
}

/// ... and read back from text (empty: not a value T takes).
template <class T>
std::optional<T> parse_value(std::string_view s) {
  if constexpr (std::is_same_v<T, bool>) {
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
    return std::nullopt;
  } else if constexpr (std::is_enum_v<T>) {
    for (const auto& [e, n] : enum_names<T>::values)
      if (n == s) return e;
    return std::nullopt;
  } else {
    T v{};
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc{} || r.ptr != s.data() + s.size()) return std::nullopt;
    if constexpr (std::is_floating_point_v<T>)
      if (!std::isfinite(v)) return std::nullopt;
    return v;
  }
}

/// One parameter of a registry state S: members of S reached by `access` functions.
template <class S>
struct field {
  std::string name, meaning, accepts;
  std::function<std::string(const S&)> get;
  std::function<bool(S&, std::string_view)> set;  ///< false: not a value it takes
  bool observation_window = false;
};

/// A parameter held by one member of S, or by several that must stay equal (the first is shown;
/// all are set). Each `access` is `[](auto& s) -> auto& { return s.member; }`.
template <class S, class First, class... More>
field<S> member(std::string name, std::string meaning, First first, More... more) {
  using T = std::remove_cvref_t<decltype(first(std::declval<S&>()))>;
  static_assert((std::is_same_v<T, std::remove_cvref_t<decltype(more(std::declval<S&>()))>> && ...),
                "kvc::eval: members set together have one type");
  field<S> f;
  f.name = std::move(name);
  f.meaning = std::move(meaning);
  f.accepts = accepted_values<T>();
  f.get = [first](const S& s) { return show_value(first(s)); };
  f.set = [first, more...](S& s, std::string_view text) {
    const auto v = parse_value<T>(text);
    if (!v) return false;
    first(s) = *v;
    ((more(s) = *v), ...);
    return true;
  };
  return f;
}

/// An observation window: a count of the last prefix queries the method reads.
template <class S, class... Access>
field<S> window(std::string name, std::string meaning, Access... access) {
  auto f = member<S>(std::move(name), std::move(meaning), access...);
  f.observation_window = true;
  return f;
}

/// The registry entry of one method: its parameters over a state S, and how S compresses.
template <class S>
struct entry {
  std::string name, summary, docs;
  std::vector<field<S>> fields;
  std::function<compressed_model(const S&, const model_prefix&, const method_budget&)> run;
  S start;  ///< the registry's defaults
  S plain;  ///< the default-initialised policy's
};

template <class S>
method make_method(std::shared_ptr<const entry<S>> e, S state) {
  std::vector<method_parameter> ps;
  for (const auto& f : e->fields)
    ps.push_back({f.name, f.meaning, f.accepts, f.get(state), f.get(e->start), f.get(e->plain), f.observation_window});
  auto run = [e, state](const model_prefix& m, const method_budget& b) { return e->run(state, m, b); };
  auto with = [e, state](const std::map<std::string, std::string>& values) {
    std::string names;
    for (const auto& f : e->fields) names += (names.empty() ? "" : ", ") + f.name;
    for (const auto& value : values) {  // no structured binding: clang 14 cannot capture one
      const std::string& n = value.first;
      const bool known = std::any_of(e->fields.begin(), e->fields.end(), [&](const auto& f) { return f.name == n; });
      kvc::detail::require(known, e->name + " parameter",
                           names.empty() ? "none (" + e->name + " has no parameters)" : "one of " + names, n);
    }
    S next = state;
    for (const auto& f : e->fields)  // in the table's order: a tied window before what follows it
      if (const auto it = values.find(f.name); it != values.end())
        kvc::detail::require(f.set(next, it->second), e->name + "." + f.name, f.accepts, it->second);
    return make_method(e, next);
  };
  return {e->name, e->summary, e->docs, std::move(ps), std::move(run), std::move(with)};
}

template <class S>
method make_method(entry<S> e) {
  auto shared = std::make_shared<const entry<S>>(std::move(e));
  return make_method(shared, shared->start);
}

}  // namespace detail

template <class T>
T method::value(std::string_view n) const {
  const auto& p = parameter(n);
  const auto v = detail::parse_value<T>(p.value);
  kvc::detail::require(v.has_value(), name + "." + p.name, p.accepts, p.value);
  return *v;
}

/// FastGen's classes of a token sequence: `special_id` (the BOS) is special, tokens whose
/// vocabulary string is punctuation (fastgen::punctuation_ids) are punctuation.
inline std::vector<fastgen::token_class> token_classes(std::span<const std::int32_t> ids,
                                                       std::span<const std::string> strings,
                                                       std::int64_t special_id) {
  kvc::detail::require(ids.size() == strings.size(), "strings.size()", "ids.size() = " + std::to_string(ids.size()),
                       strings.size());
  // punctuation_ids over the sequence's own strings gives positions; classify by position.
  std::vector<std::int32_t> positions(ids.size()), special;
  for (std::size_t t = 0; t < ids.size(); ++t) {
    positions[t] = static_cast<std::int32_t>(t);
    if (ids[t] == special_id) special.push_back(static_cast<std::int32_t>(t));
  }
  return fastgen::classify(positions, special, fastgen::punctuation_ids(strings));
}

/// A per-layer method's registry state: its policy, and which attention its scorer sees.
template <class Policy>
struct layer_method {
  Policy policy{};
  attention_seen seen = attention_seen::prefix;
};

/// Compresses every layer with `s.policy` at the per-head budget b; `bind` hands the policy
/// what only the model knows (FastGen's token classes).
template <class Policy, class Bind>
compressed_model compress_layers(const layer_method<Policy>& s, const model_prefix& m, const method_budget& b,
                                 Bind bind) {
  Policy p = s.policy;
  bind(p, m);
  compressed_model out;
  for (const auto& l : m.layers) {
    const auto view = s.seen == attention_seen::prefix ? l.layer() : l.window_layer();
    out.layers.push_back(std::visit([&](const auto& per_head) { return p(view, per_head); }, b));
  }
  detail::count_kept_tokens(out);
  return out;
}

/// PyramidKV: SnapKV with per-layer budgets that shrink with depth and average b tokens per
/// head (b · prefix for a ratio).
inline compressed_model pyramidkv(const model_prefix& m, const method_budget& b, const policy::pyramidkv& p = {}) {
  using layer_t = decltype(m.layers[0].layer());
  std::vector<layer_t> layers;
  for (const auto& l : m.layers) layers.push_back(l.layer());
  const std::size_t average =
      std::holds_alternative<budget::tokens>(b)
          ? std::get<budget::tokens>(b).value
          : static_cast<std::size_t>(std::get<budget::ratio>(b).value * static_cast<double>(m.prefix()) + 0.5);
  compressed_model out;
  for (auto& c : p(std::span<const layer_t>(layers), budget::tokens{average})) out.layers.push_back(std::move(c));
  detail::count_kept_tokens(out);
  return out;
}
inline compressed_model pyramidkv(const model_prefix& m, double b, const policy::pyramidkv& p = {}) {
  return pyramidkv(m, method_budget{budget::ratio{b}}, p);
}

/// LoRC: low-rank K/V projection weights (progressive ranks, b of the total rank kept). The
/// prefix's keys and values are rebuilt from the layer inputs x: K̂ = RoPE(x Ŵ_k), V̂ = x Ŵ_v;
/// every token stays. Needs the trace's x, wk, wv for every layer. With scale_by_inputs the
/// inputs' RMS per feature is taken over the prefix's own x (an online calibration).
inline compressed_model lorc(const model_prefix& m, double b, const policy::lorc& policy = {}) {
  kvc::detail::require(!m.layers.empty(), "layers", "at least one layer", 0);
  const auto& first = m.layers[0].trace();
  kvc::detail::require(first.has_weights(), "layer " + std::to_string(m.layers[0].index()),
                       "x, wk and wv in the trace (LoRC compresses weights)", "none");
  const project::weight_shape shape{first.x.shape[1], first.k.shape[0], first.k.shape[2]};
  std::vector<std::vector<float>> rms(m.layers.size());
  std::vector<policy::lorc::layer_weights<float>> weights;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& l = m.layers[i];
    kvc::detail::require(l.trace().has_weights(), "layer " + std::to_string(l.index()),
                         "x, wk and wv in the trace (LoRC compresses weights)", "none");
    if (policy.scale_by_inputs) {
      const std::size_t P = l.options().prefix;
      std::vector<double> sq(shape.d_model, 0.0);
      for (std::size_t t = 0; t < P; ++t)
        for (std::size_t j = 0; j < shape.d_model; ++j) {
          const double x = l.trace().x.data[t * shape.d_model + j];
          sq[j] += x * x;
        }
      rms[i].resize(shape.d_model);
      // A feature that is 0 on every prefix token gets a tiny positive scale: it is truncated first.
      for (std::size_t j = 0; j < shape.d_model; ++j)
        rms[i][j] = static_cast<float>(std::max(std::sqrt(sq[j] / static_cast<double>(P)), 1e-12));
    }
    weights.push_back({l.trace().wk.data, l.trace().wv.data, rms[i]});
  }
  kvc::detail::require(b > 0.0 && b <= 1.0, "kept", "a fraction in (0, 1]", b);
  auto& memo = *m.lorc_factors;
  if (!memo.factors || memo.decompose.tolerance != policy.decompose.tolerance ||
      memo.decompose.max_sweeps != policy.decompose.max_sweeps || memo.scale_by_inputs != policy.scale_by_inputs ||
      memo.factors->keys.size() != weights.size()) {
    memo.factors = policy.factorize(weights, shape);
    memo.decompose = policy.decompose;
    memo.scale_by_inputs = policy.scale_by_inputs;
  }
  const auto model = policy(*memo.factors, budget::ratio{b});
  const auto rope = [&](std::span<float> k, std::size_t heads, std::size_t d, std::span<const std::int64_t> positions) {
    io::apply_rope(k, heads, d, positions, m.rope_theta);
  };
  compressed_model out;
  out.kept_fraction = model.kept_fraction();
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const std::size_t P = m.layers[i].options().prefix;
    const std::span<const float> x(m.layers[i].trace().x.data.data(), P * shape.d_model);
    out.layers.push_back(policy.rebuild(model, i, x, P, shape, rope));
    out.layer_fraction.push_back(static_cast<double>(model.keys[i].rank() + model.values[i].rank()) /
                                 static_cast<double>(2 * shape.columns()));
  }
  return out;
}

namespace detail {

/// A per-layer method's registry entry.
template <class Policy, class Bind>
entry<layer_method<Policy>> layer_entry(std::string name, std::string summary, std::string docs,
                                        layer_method<Policy> start, std::vector<field<layer_method<Policy>>> fields,
                                        Bind bind) {
  return {std::move(name), std::move(summary), std::move(docs), std::move(fields),
          [bind](const layer_method<Policy>& s, const model_prefix& m, const method_budget& b) {
            return compress_layers(s, m, b, bind);
          },
          std::move(start), layer_method<Policy>{}};
}

/// A parameter of the library's registry (kvc/methods.hpp) as a field of state S, its members
/// reached through `policy_of(state)`.
template <class S, class Parameter, class PolicyOf>
field<S> field_of(const Parameter& p, PolicyOf policy_of) {
  return std::apply(
      [&](const auto&... access) {
        auto f = member<S>(std::string(p.name), std::string(p.meaning),
                           [policy_of, access](auto& s) -> auto& { return access(policy_of(s)); }...);
        f.observation_window = p.observation_window;
        return f;
      },
      p.access);
}
template <class S, class Method, class PolicyOf>
std::vector<field<S>> fields_of(const Method& m, PolicyOf policy_of) {
  std::vector<field<S>> out;
  kvc::methods::for_each_parameter(m, [&](const auto& p) { out.push_back(field_of<S>(p, policy_of)); });
  return out;
}

/// Does the scorer read the engine's accumulated attention (layer.attention) when it has one
/// (attention_source::engine)? Only these methods get the `attention` parameter.
template <class Scorer>
constexpr bool reads_attention() {
  if constexpr (attention_scorer<Scorer>)
    return Scorer{}.source().engine;
  else
    return false;
}

template <class S>
field<S> attention_field() {
  return member<S>("attention",
                   "attention the scores read: prefix (every prefix query's, accumulated) or window (the "
                   "carried queries', kvc --queries)",
                   [](auto& s) -> auto& { return s.seen; });
}

/// The evaluation's entry for a method of the library's registry.
template <class Method>
method from_registry(const Method& m) {
  using Policy = typename Method::policy_type;
  const std::string name(m.name), summary(m.summary), docs(m.docs);
  if constexpr (Method::scope == kvc::methods::level::model) {
    static_assert(std::is_same_v<Policy, policy::pyramidkv>, "kvc::eval: a model-level method needs its runner here");
    return make_method(entry<Policy>{
        name, summary, docs, fields_of<Policy>(m, [](auto& p) -> auto& { return p; }),
        [](const Policy& p, const model_prefix& mp, const method_budget& b) { return pyramidkv(mp, b, p); }, m.start,
        Policy{}});
  } else if constexpr (Method::scope == kvc::methods::level::weights) {
    static_assert(std::is_same_v<Policy, policy::lorc>, "kvc::eval: a weights method needs its runner here");
    return make_method(entry<Policy>{
        name, summary, docs, fields_of<Policy>(m, [](auto& p) -> auto& { return p; }),
        [](const Policy& p, const model_prefix& mp, const method_budget& b) {
          return lorc(mp, budget_share(b, mp.prefix()), p);
        },
        m.start, Policy{}});
  } else {
    using S = layer_method<Policy>;
    auto fields = fields_of<S>(m, [](auto& s) -> auto& { return s.policy; });
    S start{.policy = m.start};
    if constexpr (reads_attention<decltype(Policy{}.score)>()) {
      fields.push_back(attention_field<S>());
      // Every attention scorer reads the whole prompt's accumulated attention in the evaluation:
      // H2O's engine keeps it, FastGen's paper profiles on it (docs/fastgen.md), and IntelLLM
      // keeps the needle with it and not with the window's (docs/intelllm.md).
    }
    if constexpr (std::is_same_v<Policy, policy::fastgen>)
      return make_method(layer_entry(name, summary, docs, start, std::move(fields),
                                     [](Policy& p, const model_prefix& mp) { p.select.classes = mp.classes; }));
    else
      return make_method(
          layer_entry(name, summary, docs, start, std::move(fields), [](Policy&, const model_prefix&) {}));
  }
}

}  // namespace detail

/// The evaluated methods: kvc::methods::all(), each with its registry defaults.
inline std::vector<method> methods() {
  std::vector<method> out;
  kvc::methods::for_each([&](const auto& m) { out.push_back(detail::from_registry(m)); });
  return out;
}

/// The names of the methods, comma-separated.
inline std::string method_names() {
  std::string names;
  for (const auto& m : methods()) names += (names.empty() ? "" : ", ") + m.name;
  return names;
}

/// The method called `name`, or an error listing the names.
inline method find_method(const std::string& name) {
  for (auto& m : methods())
    if (m.name == name) return m;
  kvc::detail::require(false, "method", "one of " + method_names(), name);
  return {};
}

}  // namespace kvc::eval
