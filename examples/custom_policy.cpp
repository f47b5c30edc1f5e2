// A user-defined scorer composed with a built-in selector: keep the tokens whose values
// carry the most energy, protecting 4 attention sinks.
#include <kvc/kvc.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

struct value_energy {  // models kvc::scorer: void operator()(const Layer&, kvc::score_matrix&) const
  template <kvc::layer_type L>
  void operator()(const L& l, kvc::score_matrix& out) const {
    for (std::size_t h = 0; h < l.kv_heads(); ++h)
      for (std::size_t t = 0; t < l.tokens(); ++t) {
        double e = 0.0;
        for (std::size_t c = 0; c < l.values.extent(2); ++c) e += std::pow(kvc::to_float(l.values(h, t, c)), 2);
        out(h, t) = static_cast<float>(e);
      }
  }
};
static_assert(kvc::scorer<value_energy>);
using my_policy = kvc::pipeline<value_energy, kvc::select::topk>;

int main() {
  std::vector<float> keys(2 * 16 * 8), values(2 * 16 * 8);
  for (std::size_t i = 0; i < values.size(); ++i) keys[i] = values[i] = std::sin(0.37f * static_cast<float>(i));
  auto k = kvc::strided_view<const float>::contiguous(keys.data(), 2, 16, 8);
  auto v = kvc::strided_view<const float>::contiguous(values.data(), 2, 16, 8);
  const auto out = my_policy{.select = {.sinks = 4}}(kvc::make_layer(k, v), kvc::budget::tokens{6});
  for (std::size_t h = 0; h < out.heads(); ++h) {
    std::printf("head %zu keeps", h);
    for (auto t : out.keep().head(h)) std::printf(" %d", t);
    std::printf("\n");
  }
  return out.keep().total() == 12 ? 0 : 1;
}
