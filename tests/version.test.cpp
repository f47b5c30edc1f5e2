#include <doctest/doctest.h>

#include <kvc/version.hpp>

#include <string>

TEST_CASE("version: kvc/version.hpp agrees with project(VERSION) and with itself") {
  CHECK(std::string(KVC_VERSION_STRING) == KVC_PROJECT_VERSION);
  CHECK(std::string(kvc::version_string) ==
        std::to_string(KVC_VERSION_MAJOR) + "." + std::to_string(KVC_VERSION_MINOR) + "." + std::to_string(KVC_VERSION_PATCH));
  static_assert(KVC_VERSION == KVC_VERSION_MAJOR * 10000 + KVC_VERSION_MINOR * 100 + KVC_VERSION_PATCH);
  CHECK(kvc::version.major == KVC_VERSION_MAJOR);
  CHECK(kvc::version.minor == KVC_VERSION_MINOR);
  CHECK(kvc::version.patch == KVC_VERSION_PATCH);
}
