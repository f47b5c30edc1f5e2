#pragma once
// Owning device memory for the CUDA fast paths: device_buffer<T> (a typed array that only
// grows) and scratch (untyped workspace a kernel sequence carves up). Both free on destruction.

#include "kvc/version.hpp"

#include "kvc/device/cuda/detail/prelude.cuh"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "kvc/device/cuda/check.cuh"

namespace kvc::device::cuda {

template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  explicit device_buffer(std::size_t count) { resize(count); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  device_buffer& operator=(device_buffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  ~device_buffer() { release(); }

  /// New size; contents are not kept when the buffer has to grow.
  void resize(std::size_t count) {
    if (count > capacity_) {
      release();
      void* p = nullptr;
      KVC_CUDA_CHECK(cudaMalloc(&p, count * sizeof(T)));
      data_ = static_cast<T*>(p);
      capacity_ = count;
    }
    size_ = count;
  }
  /// Resizes to `host.size()` and copies it in, ordered on `stream`.
  void upload(std::span<const T> host, cudaStream_t stream) {
    resize(host.size());
    if (!host.empty())
      KVC_CUDA_CHECK(cudaMemcpyAsync(data_, host.data(), host.size_bytes(), cudaMemcpyHostToDevice, stream));
  }
  /// Copies the contents out; waits for `stream`.
  [[nodiscard]] std::vector<T> download(cudaStream_t stream) const {
    std::vector<T> host(size_);
    if (size_ > 0)
      KVC_CUDA_CHECK(cudaMemcpyAsync(host.data(), data_, size_ * sizeof(T), cudaMemcpyDeviceToHost, stream));
    KVC_CUDA_CHECK(cudaStreamSynchronize(stream));
    return host;
  }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

 private:
  void release() noexcept {
    if (data_ != nullptr) cudaFree(data_);  // a destructor must not throw; a failed free leaks
    data_ = nullptr;
    size_ = capacity_ = 0;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0, capacity_ = 0;
};

/// Workspace reused across calls: take<T>(count) hands out 256-byte aligned pieces in order.
class scratch {
 public:
  /// Starts a new layout of at least `bytes` (grows the buffer when needed).
  void reserve(std::size_t bytes) {
    bytes_.resize(bytes);
    used_ = 0;
  }
  template <class T>
  T* take(std::size_t count) {
    const std::size_t at = used_;
    used_ += round_up(count * sizeof(T));
    if (used_ > bytes_.size())
      throw kvc::error("scratch", "a reserve() large enough for every take()", std::to_string(used_) + " bytes");
    return reinterpret_cast<T*>(bytes_.data() + at);
  }
  static constexpr std::size_t round_up(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

 private:
  device_buffer<std::byte> bytes_;
  std::size_t used_ = 0;
};

}  // namespace kvc::device::cuda
