// A CUDA translation unit of an engine that uses kvc: the device path on Thrust's CUDA system,
// compiled by nvcc through kvc::kvc alone (no flags added by the consumer), with -Werror on every
// nvcc and host-compiler warning. Compiled and linked in CI; it runs only where a GPU is present.
#include <kvc/kvc.hpp>
#include <kvc/device/all.hpp>

#include <thrust/device_vector.h>

#include <cstdio>
#include <vector>

int main() {
  const std::size_t heads = 2, q_heads = 4, tokens = 64, dim = 16, window = 8;
  std::vector<float> host(heads * tokens * dim), host_q(q_heads * window * dim);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(i % 7) * 0.125f;
  for (std::size_t i = 0; i < host_q.size(); ++i) host_q[i] = static_cast<float>(i % 3) * 0.5f;
  thrust::device_vector<float> keys(host.begin(), host.end()), values(host.begin(), host.end());
  thrust::device_vector<float> queries(host_q.begin(), host_q.end());
  auto k = kvc::strided_view<const float>::contiguous(thrust::raw_pointer_cast(keys.data()), heads, tokens, dim);
  auto v = kvc::strided_view<const float>::contiguous(thrust::raw_pointer_cast(values.data()), heads, tokens, dim);
  auto q = kvc::strided_view<const float>::contiguous(thrust::raw_pointer_cast(queries.data()), q_heads, window, dim);
  using cuda = kvc::exec::device<thrust::cuda::tag>;
  const kvc::compressed_layer<float> out =
      kvc::compress(cuda{}, kvc::policy::snapkv{}, kvc::make_layer(k, v, q), kvc::budget::ratio{0.25});
  std::printf("kvc %s on CUDA: kept %zu of %zu\n", kvc::version_string, out.kept(0), tokens);
  return out.kept(0) == 16 ? 0 : 1;
}
