#pragma once
// kvc::error: what every host entry point throws on bad input, before touching any buffer.

#include "kvc/version.hpp"

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kvc {

/// Bad input to a kvc call. The message names the argument, the expected and the actual value.
class error : public std::invalid_argument {
 public:
  error(std::string_view argument, std::string_view expected, std::string_view actual)
      : std::invalid_argument(compose(argument, expected, actual)),
        argument_(argument) {}

  /// The name of the offending argument, e.g. "keys.extent(1)".
  [[nodiscard]] const std::string& argument() const noexcept { return argument_; }

 private:
  static std::string compose(std::string_view argument, std::string_view expected,
                             std::string_view actual) {
    std::string m = "kvc: invalid argument '";
    m.append(argument).append("': expected ").append(expected).append(", got ").append(actual);
    return m;
  }
  std::string argument_;
};

/// A failed CUDA runtime call; the message names the call.
class cuda_error : public std::runtime_error {
 public:
  cuda_error(std::string_view call, std::string_view what_failed)
      : std::runtime_error(std::string("kvc: CUDA call ").append(call).append(" failed: ").append(what_failed)) {}
};

namespace detail {

template <class T>
std::string to_text(const T& value) {
  std::ostringstream s;
  s << value;
  return s.str();
}

/// Throws kvc::error unless `ok`. `expected` is prose ("a multiple of kv_heads (8)").
template <class Actual>
void require(bool ok, std::string_view argument, std::string_view expected, const Actual& actual) {
  if (!ok) throw error(argument, expected, to_text(actual));
}

}  // namespace detail
}  // namespace kvc
