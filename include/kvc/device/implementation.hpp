#pragma once
// Dispatch for kvc::exec::device<System>: kvc::device::implementation<Component> holds the
// device version of one scorer, selector or merger. Each device header specialises it; a
// component without a specialisation is rejected at compile time by one static_assert.
//
//   template <> struct kvc::device::implementation<my_scorer> {
//     static constexpr bool available = true;
//     template <class System, class Layer>
//     static void score(exec::device<System>, const my_scorer&, const Layer&, score_buffer<System>&);
//   };
//
// Selectors provide `select(exec, selector, const score_buffer&, budget) -> device::keep_set`,
// mergers `merge(exec, merger, layer, const score_buffer&, const device::keep_set&)
// -> device::compressed_layer`.

#include "kvc/version.hpp"

#include <type_traits>

namespace kvc::device {

/// No device version unless specialised.
template <class Component>
struct implementation {
  static constexpr bool available = false;
};

/// Does `Component` (a scorer, selector or merger) run under kvc::exec::device?
template <class Component>
concept has_device_version = implementation<std::remove_cvref_t<Component>>::available;

namespace detail {
/// Instantiated by every device entry point; the failed assertion names the component.
template <class Component>
struct require_device_version {
  static_assert(has_device_version<Component>,
                "kvc::exec::device: this component has no device version (kvc::device::implementation<Component> "
                "is not specialised for it); run it with kvc::exec::host or specialise the trait");
  using type = implementation<std::remove_cvref_t<Component>>;
};
}  // namespace detail

template <class Component>
using implementation_of = typename detail::require_device_version<Component>::type;

}  // namespace kvc::device
