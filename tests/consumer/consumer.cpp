// A host translation unit of an engine that uses kvc: two policies over its own buffers, the
// device path on Thrust's CPP system, and the version macros. Built with -Wall -Wextra -Wpedantic
// -Wshadow -Wsign-conversion -Werror.
#include <kvc/kvc.hpp>
#include <kvc/device/all.hpp>

#include <cstdio>
#include <vector>

static_assert(KVC_VERSION_MAJOR == 0 && KVC_VERSION_MINOR == 2, "the consumer expects kvc 0.2");

int main() {
  std::vector<float> keys(64 * 2), values(64 * 2), queries(2 * 8 * 2);
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = values[i] = static_cast<float>(i % 5);
  for (std::size_t i = 0; i < queries.size(); ++i) queries[i] = static_cast<float>(i) * 0.25f;
  auto k = kvc::strided_view<const float>::contiguous(keys.data(), 1, 64, 2);
  auto v = kvc::strided_view<const float>::contiguous(values.data(), 1, 64, 2);
  auto q = kvc::strided_view<const float>::contiguous(queries.data(), 2, 8, 2);
  const auto sl = kvc::policy::streaming_llm{.select = {.sinks = 2}}(kvc::make_layer(k, v), kvc::budget::ratio{0.5});
  const auto sn = kvc::policy::snapkv{}(kvc::make_layer(k, v, q), kvc::budget::tokens{40});
  using cpp = kvc::exec::device<thrust::cpp::tag>;
  const kvc::compressed_layer<float> dev =
      kvc::compress(cpp{}, kvc::policy::snapkv{}, kvc::make_layer(k, v, q), kvc::budget::tokens{40});
  std::printf("kvc %s: kept %zu of %zu, snapkv %zu\n", kvc::version_string, sl.kept(0), keys.size() / 2, sn.kept(0));
  return sl.kept(0) == 32 && sn.kept(0) == 40 && dev.positions(0).size() == 40 ? 0 : 1;
}
