#pragma once
// kvc::device::cuda::device_keep_set: a keep_set whose indices live on the GPU. The CSR offsets
// are kept on both sides (the host copy sizes every output without a synchronisation).

#include "kvc/version.hpp"

#include "kvc/device/cuda/detail/prelude.cuh"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "kvc/core/keep_set.hpp"
#include "kvc/device/cuda/buffer.cuh"

namespace kvc::device::cuda {

class device_keep_set {
 public:
  [[nodiscard]] std::size_t heads() const noexcept { return host_offsets_.empty() ? 0 : host_offsets_.size() - 1; }
  [[nodiscard]] std::size_t tokens() const noexcept { return tokens_; }
  [[nodiscard]] std::size_t total() const noexcept { return host_offsets_.empty() ? 0 : host_offsets_.back(); }
  [[nodiscard]] std::size_t kept(std::size_t h) const noexcept { return host_offsets_[h + 1] - host_offsets_[h]; }
  [[nodiscard]] const std::vector<std::size_t>& host_offsets() const noexcept { return host_offsets_; }
  [[nodiscard]] const std::size_t* offsets() const noexcept { return offsets_.data(); }  ///< device, heads + 1
  [[nodiscard]] const index_t* indices() const noexcept { return indices_.data(); }      ///< device, total()
  [[nodiscard]] index_t* indices() noexcept { return indices_.data(); }

  /// Shapes the set for per-head counts `kept` (a selector then fills the indices on the device).
  void shape(std::size_t tokens, std::span<const std::size_t> kept, cudaStream_t stream) {
    std::vector<std::size_t> offsets{0};
    for (std::size_t k : kept) offsets.push_back(offsets.back() + k);
    tokens_ = tokens;
    // Same budgets as last time (the steady state of a serving loop): nothing to copy.
    if (offsets == host_offsets_ && offsets_.size() == offsets.size()) return;
    host_offsets_ = std::move(offsets);
    offsets_.upload(std::span<const std::size_t>(host_offsets_), stream);
    indices_.resize(host_offsets_.back());
  }
  /// A host keep_set (already validated by its constructor) copied to the device.
  static device_keep_set upload(const kvc::keep_set& keep, cudaStream_t stream) {
    device_keep_set out;
    out.tokens_ = keep.tokens();
    out.host_offsets_ = keep.offsets();
    out.offsets_.upload(std::span<const std::size_t>(out.host_offsets_), stream);
    out.indices_.upload(std::span<const index_t>(keep.indices()), stream);
    return out;
  }
  /// Back to a host keep_set (validated again); waits for `stream`.
  [[nodiscard]] kvc::keep_set download(cudaStream_t stream) const {
    return {tokens_, host_offsets_, indices_.download(stream)};
  }

 private:
  std::size_t tokens_ = 0;
  std::vector<std::size_t> host_offsets_{0};
  device_buffer<std::size_t> offsets_;
  device_buffer<index_t> indices_;
};

}  // namespace kvc::device::cuda
