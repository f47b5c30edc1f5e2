#include <doctest/doctest.h>
#include <kvc/core/error.hpp>

#include <stdexcept>

TEST_CASE("kvc::error names the argument, the expected and the actual value") {
  const kvc::error e("budget", "at most 10", "12");
  CHECK(std::string(e.what()) == "kvc: invalid argument 'budget': expected at most 10, got 12");
  CHECK(e.argument() == "budget");
  const std::invalid_argument& base = e;  // catchable as the standard type
  CHECK(std::string(base.what()).find("budget") != std::string::npos);
  CHECK_THROWS_AS(kvc::detail::require(false, "x", "y", 3), kvc::error);
  CHECK_NOTHROW(kvc::detail::require(true, "x", "y", 3));
  CHECK(std::string(kvc::cuda_error("cudaMemcpyAsync", "invalid argument").what()) ==
        "kvc: CUDA call cudaMemcpyAsync failed: invalid argument");
}
