// kvc::io::parse_npy on arbitrary bytes. A kvc::error is a correct answer to a malformed file;
// any other exception, a crash or a sanitizer report is a bug. On success the array must be
// self-consistent, and writing it again (as float32, or as its integer type) and reading that
// back must give the same values.
#include <kvc/io/npy.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool same_float(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }

void check_array(const kvc::io::npy_array& a) {
  using kvc::io::npy_kind;
  check(a.shape.size() <= 64);
  std::size_t count = 1;
  for (auto d : a.shape) check(!__builtin_mul_overflow(count, d, &count));
  check(count == a.data.size());
  check(a.size() == count);
  const auto& t = a.dtype;
  check(t.width == 1 || t.width == 2 || t.width == 4 || t.width == 8);
  check(t.kind != npy_kind::floating || t.width >= 2);
  check(t.kind != npy_kind::boolean || t.width == 1);
  check(a.int64.size() == (t.kind == npy_kind::signed_integer ? count : 0));
  check(a.uint64.size() == (t.kind == npy_kind::unsigned_integer || t.kind == npy_kind::boolean ? count : 0));
  // The float copy is the exact value rounded.
  for (std::size_t i = 0; i < a.int64.size(); ++i) check(a.data[i] == static_cast<float>(a.int64[i]));
  for (std::size_t i = 0; i < a.uint64.size(); ++i) check(a.data[i] == static_cast<float>(a.uint64[i]));
  // Integer ranges by width.
  if (t.kind == npy_kind::signed_integer && t.width < 8)
    for (auto v : a.int64)
      check(v >= -(std::int64_t{1} << (8 * t.width - 1)) && v < (std::int64_t{1} << (8 * t.width - 1)));
  if (t.kind != npy_kind::floating && t.width < 8)
    for (auto v : a.uint64) check(v < (std::uint64_t{1} << (8 * t.width)));
  if (a.shape.size() == 3) (void)a.view3();
}

void round_trip(const kvc::io::npy_array& a) {
  // Written as int64 or float32, the same shape must still fit: skip where 8-byte items would not.
  std::size_t nonzero = 1;
  for (auto d : a.shape)
    if (d != 0 && __builtin_mul_overflow(nonzero, d, &nonzero)) return;
  if (nonzero > static_cast<std::size_t>(PTRDIFF_MAX) / 8) return;
  const auto f = kvc::io::parse_npy(kvc::io::format_npy<float>(a.shape, std::span<const float>(a.data)));
  check(f.shape == a.shape);
  check(f.data.size() == a.data.size());
  for (std::size_t i = 0; i < a.data.size(); ++i) check(same_float(f.data[i], a.data[i]));
  if (a.dtype.kind == kvc::io::npy_kind::signed_integer) {
    const auto i =
        kvc::io::parse_npy(kvc::io::format_npy<std::int64_t>(a.shape, std::span<const std::int64_t>(a.int64)));
    check(i.int64 == a.int64);
    check(a.integers<std::int64_t>("fuzz") == a.int64);
  } else if (a.dtype.is_integer()) {
    const auto u =
        kvc::io::parse_npy(kvc::io::format_npy<std::uint64_t>(a.shape, std::span<const std::uint64_t>(a.uint64)));
    check(u.uint64 == a.uint64);
    check(a.integers<std::uint64_t>("fuzz") == a.uint64);
  }
  // A range-checked narrowing either gives the values or names an element.
  if (a.dtype.is_integer()) {
    try {
      const auto narrow = a.integers<std::int32_t>("fuzz", 0);
      for (std::size_t i = 0; i < narrow.size(); ++i)
        check(narrow[i] >= 0 && static_cast<float>(narrow[i]) == a.data[i]);
    } catch (const kvc::error& e) {
      check(e.argument().rfind("fuzz[", 0) == 0);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kvc::io::npy_array a;
  try {
    a = kvc::io::parse_npy(std::span<const char>(reinterpret_cast<const char*>(data), size));
  } catch (const kvc::error& e) {
    check(e.argument().rfind("npy ", 0) == 0);  // every message names an npy field
    return 0;
  }
  check_array(a);
  round_trip(a);
  return 0;
}
