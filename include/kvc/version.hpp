#pragma once
// kvc's version and the language standard it needs. Every kvc header includes this one first, so
// a translation unit compiled below C++20 stops here with one message instead of thousands.

#if defined(_MSVC_LANG) && _MSVC_LANG > __cplusplus
#define KVC_CPLUSPLUS _MSVC_LANG
#else
#define KVC_CPLUSPLUS __cplusplus
#endif

#if KVC_CPLUSPLUS < 202002L
#error "kvc needs C++20: compile with -std=c++20 (g++ >= 12, clang >= 14, nvcc >= 12 with -std=c++20), or link the CMake target kvc::kvc, which asks for it"
// Stop here: the rest of kvc would only add errors that hide the one above.
#include <kvc_needs_cpp20__see_the_error_above>
#endif

// Checked against project(VERSION) in CMakeLists.txt at configure time.
#define KVC_VERSION_MAJOR 0
#define KVC_VERSION_MINOR 2
#define KVC_VERSION_PATCH 0
#define KVC_VERSION_STRING "0.2.0"
/// One number that orders releases: major * 10000 + minor * 100 + patch.
#define KVC_VERSION (KVC_VERSION_MAJOR * 10000 + KVC_VERSION_MINOR * 100 + KVC_VERSION_PATCH)

namespace kvc {
/// The version of the kvc headers in use, as `{major, minor, patch}`.
struct version_info {
  int major, minor, patch;
};
inline constexpr version_info version{KVC_VERSION_MAJOR, KVC_VERSION_MINOR, KVC_VERSION_PATCH};
inline constexpr const char* version_string = KVC_VERSION_STRING;
}  // namespace kvc
