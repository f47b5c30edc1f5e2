#include <kvc/kvc.hpp>

#include <cstdio>
#include <vector>

int main() {
  std::vector<float> keys(8 * 2), values(8 * 2);
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = values[i] = static_cast<float>(i);
  auto k = kvc::strided_view<const float>::contiguous(keys.data(), 1, 8, 2);
  auto v = kvc::strided_view<const float>::contiguous(values.data(), 1, 8, 2);
  const auto out = kvc::policy::streaming_llm{.select = {.sinks = 2}}(kvc::make_layer(k, v), kvc::budget::ratio{0.5});
  std::printf("kept %zu of %zu\n", out.kept(0), keys.size() / 2);
  return out.kept(0) == 4 ? 0 : 1;
}
