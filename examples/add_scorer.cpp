// Adding a method to kvc: a scorer whose math is one element function, its policy, its registry
// entry, and the checks its test makes. docs/architecture.md#adding-a-method shows the parts
// between the [name] markers, and CTest checks the page still matches this file.
//
// The scorer keeps the tokens whose values carry the most energy, ‖v_t‖₂ (a toy, not a method
// of any paper). Because its math is a KVC_HOST_DEVICE element function it runs on the host
// reference and, with no more code, on every Thrust system (here thrust::cpp, which needs no
// accelerator and no OpenMP).
#include <kvc/device/all.hpp>
#include <kvc/kvc.hpp>
#include <kvc/methods.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

#include <cuda/std/cmath>
#include <thrust/system/cpp/execution_policy.h>

// [scorer]
// include/kvc/score/value_norm.hpp
namespace kvc::score {
struct value_norm {
  double power = 2.0;  ///< s = ‖v_t‖_p

  template <layer_type L>  // the math, once: the host loop and the device driver both call it
  KVC_HOST_DEVICE float element(const L& l, std::size_t h, std::size_t t) const {
    double s = 0.0;
    for (std::size_t c = 0; c < l.values.extent(2); ++c) s += ::cuda::std::pow(::cuda::std::fabs(to_float(l.values(h, t, c))), power);
    return static_cast<float>(::cuda::std::pow(s, 1.0 / power));
  }
  template <layer_type L>  // checks, once: both paths call check() before any element
  void check(const L&) const {
    kvc::detail::require(power >= 1.0 && std::isfinite(power), "value_norm.power", "a finite p >= 1", power);
  }
  template <layer_type L>
  void operator()(const L& l, score_matrix& out) const {
    score_elements(*this, l, out);
  }
};
}  // namespace kvc::score
// [scorer]

// [policy]
// include/kvc/policy/value_norm.hpp
namespace kvc::policy {
using value_norm = pipeline<score::value_norm, select::topk>;
}
// [policy]

// [registry]
// include/kvc/methods.hpp: the function, and value_norm() added to all()
namespace kvc::methods {
inline auto value_norm() {
  return make<level::layer>("value_norm", "the tokens whose values carry the most energy", "docs/value_norm.md",
                            policy::value_norm{.select = {.sinks = 4}},
                            param<double>("power", "p of the value norm", {1.0, 8.0},
                                          [](auto& p) -> auto& { return p.score.power; }),
                            param<std::size_t>("sinks", "first tokens always kept", {0, 9},
                                               [](auto& p) -> auto& { return p.select.sinks; }));
}
}  // namespace kvc::methods
// [registry]

int main() {
  const std::size_t heads = 2, tokens = 40, dim = 8;
  std::vector<float> keys(heads * tokens * dim), values(keys.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    keys[i] = std::cos(0.11f * static_cast<float>(i));
    values[i] = std::sin(0.37f * static_cast<float>(i)) * (1.0f + static_cast<float>(i % 13));
  }
  const auto layer = kvc::make_layer(kvc::strided_view<const float>::contiguous(keys.data(), heads, tokens, dim),
                                     kvc::strided_view<const float>::contiguous(values.data(), heads, tokens, dim));
  int failures = 0;

  // [test]
  // tests/score/value_norm.test.cpp: a hand-computed score, and the host against the device path
  // at every sweep value of every parameter (tests/device/sweep.test.cpp does this for all()).
  const auto m = kvc::methods::value_norm();
  const kvc::exec::device<thrust::cpp::tag> device{};
  double energy = 0.0;
  for (std::size_t c = 0; c < dim; ++c) energy += double(values[5 * dim + c]) * values[5 * dim + c];
  if (std::fabs(m.start.scores(layer)(0, 5) - std::sqrt(energy)) > 1e-5 * std::sqrt(energy)) ++failures;
  kvc::methods::for_each_parameter(m, [&](const auto& p) {
    for (const auto& v : p.sweep) {
      auto policy = m.start;
      p.set(policy, v);
      const auto host = kvc::compress(kvc::exec::host, policy, layer, kvc::budget::tokens{12});
      const auto dev = kvc::compress(device, policy, layer, kvc::budget::tokens{12});
      const auto start = kvc::compress(kvc::exec::host, m.start, layer, kvc::budget::tokens{12});
      if (!(host.keep() == dev.keep().to_host())) ++failures;  // the device path agrees with the reference
      if (host.keep() == start.keep()) ++failures;    // and the value changes what is kept
      std::printf("%s.%s = %g: head 0 keeps", m.name.data(), p.name.data(), static_cast<double>(v));
      for (auto t : host.keep().head(0)) std::printf(" %d", t);
      std::printf("\n");
    }
  });
  // [test]
  std::printf("%s\n", failures == 0 ? "value_norm: host and device agree at every sweep value" : "FAILED");
  return failures == 0 ? 0 : 1;
}
