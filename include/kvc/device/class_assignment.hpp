#pragma once
// kvc::device::class_assignment<System>: the device twin of kvc::ems::class_assignment (EMS's
// zero class, docs/ems.md): a device::keep_set (the class centers) plus one int32 class id per
// (kv_head, token) in one uniform row-major [kv_heads, tokens] array, whatever each head's
// budget. Id 0 is the zero class (evicted), c >= 1 the class of the head's c-th center, −1 a
// pending merge candidate. Built by the device evict_merge selector, read by the device
// center_merge; to_host() gives the kvc::ems::class_assignment the host path would give.

#include "kvc/version.hpp"

#include <cstddef>
#include <utility>
#include <vector>

#include <thrust/copy.h>
#include <thrust/find.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform_reduce.h>

#include "kvc/core/element.hpp"
#include "kvc/core/error.hpp"
#include "kvc/device/keep_set.hpp"
#include "kvc/device/vector.hpp"
#include "kvc/ems/class_assignment.hpp"

namespace kvc::device {

namespace detail {
/// kept(h) = offsets[h + 1] − offsets[h].
struct kept_of_head {
  const std::size_t* offsets;
  KVC_HOST_DEVICE std::size_t operator()(std::size_t h) const { return offsets[h + 1] - offsets[h]; }
};
}  // namespace detail

// Derives from device::keep_set as the host type derives from kvc::keep_set, so a merger that
// takes a keep_set (merge::drop) also accepts an assignment and keeps its centers.
template <class System>
class class_assignment : public device::keep_set<System> {
 public:
  using system = System;
  static constexpr kvc::ems::class_id zero_class = kvc::ems::class_assignment::zero_class;
  static constexpr kvc::ems::class_id pending = kvc::ems::class_assignment::pending;

  class_assignment() = default;
  /// `ids` is row-major `[keep.heads(), keep.tokens()]` in System memory. Only its size is
  /// checked here (the convention is checked by to_host()); the device selector builds it.
  class_assignment(device::keep_set<System> keep, vector<kvc::ems::class_id, System> ids)
      : device::keep_set<System>(std::move(keep)), ids_(std::move(ids)) {
    kvc::detail::require(ids_.size() == this->heads() * this->tokens(), "class_assignment.ids.size()",
                         "heads*tokens " + std::to_string(this->heads() * this->tokens()), ids_.size());
  }

  /// Uploads a host assignment (already checked by its constructor).
  static class_assignment from_host(const kvc::ems::class_assignment& a) {
    vector<kvc::ems::class_id, System> ids(a.ids().size());
    thrust::copy(a.ids().begin(), a.ids().end(), ids.begin());
    return {device::keep_set<System>::from_host(a), std::move(ids)};
  }

  /// The class centers.
  [[nodiscard]] const device::keep_set<System>& keep() const noexcept { return *this; }
  /// All ids, row-major `[heads, tokens]`.
  [[nodiscard]] vector<kvc::ems::class_id, System>& ids() noexcept { return ids_; }
  [[nodiscard]] const vector<kvc::ems::class_id, System>& ids() const noexcept { return ids_; }

  /// Accumulator slots per head that fit every head: 1 + the largest budget.
  [[nodiscard]] std::size_t max_classes() const {
    if (this->heads() == 0) return 1;
    const auto head = thrust::counting_iterator<std::size_t>(0);
    return 1 + thrust::transform_reduce(System{}, head, head + kvc::device::detail::steps(this->heads()),
                                        detail::kept_of_head{thrust::raw_pointer_cast(this->offsets().data())},
                                        std::size_t{0}, thrust::maximum<std::size_t>{});
  }
  /// True when no id is pending: every token is kept, merged into a center, or evicted.
  [[nodiscard]] bool complete() const {
    return thrust::find(System{}, ids_.begin(), ids_.end(), pending) == ids_.end();
  }

  /// The host assignment; its constructor re-checks the id convention.
  [[nodiscard]] kvc::ems::class_assignment to_host() const {
    std::vector<kvc::ems::class_id> ids(ids_.size());
    thrust::copy(ids_.begin(), ids_.end(), ids.begin());
    return {this->keep().to_host(), std::move(ids)};
  }

 private:
  vector<kvc::ems::class_id, System> ids_;
};

}  // namespace kvc::device
