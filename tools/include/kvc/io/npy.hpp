#pragma once
// .npy reader and writer (NumPy format versions 1.0, 2.0 and 3.0) for evaluation data: attention
// traces and K/V/Q dumps from real models, token ids, masks.
//
// Element types: little-endian float16/32/64 (<f2 <f4 <f8), signed and unsigned integers of 1, 2,
// 4 and 8 bytes (<i2 <i4 <i8 <u2 <u4 <u8; |i1 |u1 and bool |b1, whose byte order is immaterial,
// also as < or >), in C or Fortran order. Every array is available as float (`data`); integer and
// bool arrays also keep their exact values (`int64` for signed types, `uint64` for unsigned ones
// and bool), read through `npy_array::integers<T>()` with a range check, because float rounds
// integers above 2^24 (16777217 would come back as 16777216).
//
// The header is the Python literal dict NumPy writes, parsed strictly: the keys 'descr',
// 'fortran_order' and 'shape', each exactly once, in any order, single- or double-quoted; a
// trailing comma; whitespace (space, tab, form feed, newlines) between tokens and as padding.
// 'descr' is one of the strings above, 'fortran_order' is True or False, 'shape' a tuple of
// decimal integers ("()", "(3,)", "(2, 3)"). Anything else, sizes that overflow, and data that
// does not hold exactly shape × item size bytes are kvc::error naming the field.

#include "kvc/version.hpp"

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/view.hpp"

namespace kvc::io {

/// What kind of number an .npy element is.
enum class npy_kind : unsigned char { floating, signed_integer, unsigned_integer, boolean };

/// The element type of an .npy array: kind and width in bytes.
struct npy_dtype {
  npy_kind kind = npy_kind::floating;
  std::size_t width = 4;

  [[nodiscard]] bool is_integer() const noexcept { return kind != npy_kind::floating; }
  /// NumPy's descr string: "<f4", "|b1", ...
  [[nodiscard]] std::string descr() const {
    const char letter = kind == npy_kind::floating         ? 'f'
                        : kind == npy_kind::signed_integer ? 'i'
                        : kind == npy_kind::boolean        ? 'b'
                                                           : 'u';
    return std::string(1, width == 1 ? '|' : '<') + letter + std::to_string(width);
  }
  friend bool operator==(const npy_dtype&, const npy_dtype&) = default;
};

/// A loaded array, always in C (row-major) order.
struct npy_array {
  std::vector<std::size_t> shape;
  std::vector<float> data;            ///< every element as float (integers rounded to the nearest float)
  npy_dtype dtype{};                  ///< what the file stored
  std::vector<std::int64_t> int64;    ///< exact values of a signed integer array; empty otherwise
  std::vector<std::uint64_t> uint64;  ///< exact values of an unsigned integer or bool array; empty otherwise

  [[nodiscard]] std::size_t size() const noexcept { return data.size(); }
  /// A `[d0, d1, d2]` view of a rank-3 array.
  [[nodiscard]] strided_view<const float> view3() const {
    kvc::detail::require(shape.size() == 3, "npy.shape", "a rank-3 array", shape.size());
    return strided_view<const float>::contiguous(data.data(), shape[0], shape[1], shape[2]);
  }

  /// The exact values of an integer or bool array as T, each checked to lie in [lo, hi]; errors
  /// name `field` ("tokens.npy") and the offending element.
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  [[nodiscard]] std::vector<T> integers(std::string_view field, T lo = std::numeric_limits<T>::min(),
                                        T hi = std::numeric_limits<T>::max()) const {
    const std::string name(field);
    kvc::detail::require(dtype.is_integer(), name + " dtype", "an integer or bool type", dtype.descr());
    const bool is_signed = dtype.kind == npy_kind::signed_integer;
    const std::size_t n = is_signed ? int64.size() : uint64.size();
    kvc::detail::require(n == data.size(), name + " exact values",
                         "one for each of the " + std::to_string(data.size()) + " elements", n);
    std::vector<T> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto check = [&](auto v) {
        if (std::cmp_less(v, lo) || std::cmp_greater(v, hi))  // the message is built only on failure
          kvc::detail::require(false, name + "[" + std::to_string(i) + "]",
                               "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
        out[i] = static_cast<T>(v);
      };
      if (is_signed)
        check(int64[i]);
      else
        check(uint64[i]);
    }
    return out;
  }
};

namespace detail {

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      std::uint32_t e = 113, m = mant;
      while ((m & 0x400u) == 0) {
        m <<= 1;
        --e;
      }
      bits = sign | (e << 23) | ((m & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f = 0.0f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

/// The largest byte count an array may have (NumPy's npy_intp limit).
inline constexpr std::size_t npy_max_bytes = static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max());
/// NumPy 2's NPY_MAXDIMS.
inline constexpr std::size_t npy_max_rank = 64;

/// `a * b`, or a kvc::error naming `field` when the product exceeds `limit`.
inline std::size_t checked_mul(std::size_t a, std::size_t b, std::size_t limit, const std::string& field,
                               std::string_view expected) {
  kvc::detail::require(a == 0 || b <= limit / a, field, expected,
                       std::to_string(a) + " × " + std::to_string(b) + " (over " + std::to_string(limit) + ")");
  return a * b;
}

/// Up to 24 characters of `text` from `at`, non-printable bytes as \xNN, for error messages.
inline std::string excerpt(std::string_view text, std::size_t at) {
  if (at >= text.size()) return "the end of the header";
  std::string out = "\"";
  const std::size_t end = at + 24 < text.size() ? at + 24 : text.size();
  for (std::size_t i = at; i < end; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  if (end < text.size()) out += "...";
  return out + "\"";
}

/// The header dict of an .npy file (see the top of this file for the accepted grammar).
struct npy_header {
  npy_dtype dtype;
  bool fortran_order = false;
  std::vector<std::size_t> shape;
};

class npy_header_parser {
 public:
  npy_header_parser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  npy_header parse() {
    npy_header h;
    unsigned seen = 0;  // bit 0 descr, 1 fortran_order, 2 shape
    skip_space();
    expect('{', "the dict's '{'");
    skip_space();
    while (!at('}')) {
      const std::string_view key = string_literal("header", "a key: 'descr', 'fortran_order' or 'shape'");
      const unsigned bit = key == "descr" ? 1u : key == "fortran_order" ? 2u : key == "shape" ? 4u : 0u;
      fail_unless(bit != 0, "header", "a key: 'descr', 'fortran_order' or 'shape'", "'" + std::string(key) + "'");
      fail_unless((seen & bit) == 0, "header", "each key once", "a second '" + std::string(key) + "'");
      seen |= bit;
      skip_space();
      expect(':', "':' after '" + std::string(key) + "'");
      skip_space();
      if (bit == 1u)
        h.dtype = descr();
      else if (bit == 2u)
        h.fortran_order = boolean();
      else
        h.shape = shape();
      skip_space();
      if (at('}')) break;
      expect(',', "',' or '}' after the value of '" + std::string(key) + "'");
      skip_space();
    }
    ++pos_;  // '}'
    skip_space();
    fail_unless(pos_ == text_.size(), "header", "only whitespace after the dict", pos_);
    fail_unless(seen == 7u, "header", "the keys 'descr', 'fortran_order' and 'shape'",
                std::string((seen & 1u) ? "" : "no 'descr' ") + ((seen & 2u) ? "" : "no 'fortran_order' ") +
                    ((seen & 4u) ? "" : "no 'shape'"));
    return h;
  }

 private:
  [[nodiscard]] std::string field(std::string_view what) const {
    return std::string(source_) + " " + std::string(what);
  }
  void fail_unless(bool ok, std::string_view what, std::string_view expected, const std::string& actual) const {
    kvc::detail::require(ok, field(what), expected, actual);
  }
  /// The same with the header text at `at` as the actual value, quoted only on failure.
  void fail_unless(bool ok, std::string_view what, std::string_view expected, std::size_t at) const {
    if (!ok) kvc::detail::require(false, field(what), expected, excerpt(text_, at));
  }
  [[nodiscard]] bool at(char c) const noexcept { return pos_ < text_.size() && text_[pos_] == c; }
  void skip_space() noexcept {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\f'))
      ++pos_;
  }
  void expect(char c, const std::string& expected) {
    fail_unless(at(c), "header", expected, pos_);
    ++pos_;
  }
  /// A quoted string without escapes: 'text' or "text".
  std::string_view string_literal(std::string_view what, std::string_view expected) {
    fail_unless(at('\'') || at('"'), what, expected, pos_);
    const char quote = text_[pos_];
    const std::size_t begin = pos_ + 1;
    std::size_t end = begin;
    while (end < text_.size() && text_[end] != quote && text_[end] != '\\' && text_[end] != '\n') ++end;
    fail_unless(end < text_.size() && text_[end] == quote, what, "a closed string without escapes", pos_);
    pos_ = end + 1;
    return text_.substr(begin, end - begin);
  }
  npy_dtype descr() {
    const std::size_t start = pos_;
    const std::string_view d = string_literal("descr", "a type string such as '<f4'");
    static constexpr std::array<std::pair<std::string_view, npy_dtype>, 18> known{{
        {"<f2", {npy_kind::floating, 2}},         {"<f4", {npy_kind::floating, 4}},
        {"<f8", {npy_kind::floating, 8}},         {"<i2", {npy_kind::signed_integer, 2}},
        {"<i4", {npy_kind::signed_integer, 4}},   {"<i8", {npy_kind::signed_integer, 8}},
        {"<u2", {npy_kind::unsigned_integer, 2}}, {"<u4", {npy_kind::unsigned_integer, 4}},
        {"<u8", {npy_kind::unsigned_integer, 8}}, {"|i1", {npy_kind::signed_integer, 1}},
        {"<i1", {npy_kind::signed_integer, 1}},   {">i1", {npy_kind::signed_integer, 1}},
        {"|u1", {npy_kind::unsigned_integer, 1}}, {"<u1", {npy_kind::unsigned_integer, 1}},
        {">u1", {npy_kind::unsigned_integer, 1}}, {"|b1", {npy_kind::boolean, 1}},
        {"<b1", {npy_kind::boolean, 1}},          {">b1", {npy_kind::boolean, 1}},
    }};
    for (const auto& [name, type] : known)
      if (d == name) return type;
    fail_unless(false, "descr",
                "a little-endian float (<f2, <f4, <f8), integer (|i1, <i2, <i4, <i8, |u1, <u2, <u4, <u8) or bool "
                "(|b1) type",
                start);
    return {};
  }
  bool boolean() {
    const auto word = [&](std::string_view w) {
      if (text_.substr(pos_, w.size()) != w) return false;
      const std::size_t end = pos_ + w.size();  // a whole word: "Truex" is a name, not True
      if (end < text_.size()) {
        const auto c = static_cast<unsigned char>(text_[end]);
        if (c == '_' || c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) return false;
      }
      pos_ = end;
      return true;
    };
    if (word("True")) return true;
    if (word("False")) return false;
    fail_unless(false, "fortran_order", "True or False", pos_);
    return false;
  }
  /// A decimal integer literal as Python writes it: 0, or digits without a leading zero.
  std::size_t dimension() {
    const std::size_t start = pos_;
    fail_unless(pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9', "shape",
                "a tuple of non-negative decimal integers", start);
    std::size_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const auto digit = static_cast<std::size_t>(text_[pos_] - '0');
      fail_unless(v <= (npy_max_bytes - digit) / 10, "shape", "dimensions of at most " + std::to_string(npy_max_bytes),
                  start);
      fail_unless(!(v == 0 && pos_ > start), "shape", "decimal integers without leading zeros", start);
      v = v * 10 + digit;
      ++pos_;
    }
    return v;
  }
  std::vector<std::size_t> shape() {
    const std::size_t start = pos_;
    fail_unless(at('('), "shape", "a tuple such as (2, 3)", start);
    ++pos_;
    skip_space();
    std::vector<std::size_t> dims;
    bool comma = false;  // "(3)" is the integer 3, not a tuple: one dimension needs its comma
    while (!at(')')) {
      if (dims.size() >= npy_max_rank)
        fail_unless(false, "shape", "at most " + std::to_string(npy_max_rank) + " dimensions", start);
      dims.push_back(dimension());
      skip_space();
      comma = at(',');
      if (!comma) break;
      ++pos_;
      skip_space();
    }
    fail_unless(at(')'), "shape", "',' or ')' between dimensions", pos_);
    fail_unless(dims.size() != 1 || comma, "shape", "a tuple: one dimension is written (n,)", start);
    ++pos_;
    return dims;
  }

  std::string_view text_, source_;
  std::size_t pos_ = 0;
};

/// Reorders `v`, whose size is the product of `shape`, from Fortran order (first index fastest) into C order.
template <class T>
void fortran_to_c_order(std::vector<T>& v, const std::vector<std::size_t>& shape) {
  if (shape.size() < 2 || v.empty()) return;
  std::vector<T> c_order(v.size());
  const std::size_t rank = shape.size();
  std::vector<std::size_t> idx(rank, 0);
  for (std::size_t f = 0; f < v.size(); ++f) {
    std::size_t c = 0;
    for (std::size_t r = 0; r < rank; ++r) c = c * shape[r] + idx[r];
    c_order[c] = v[f];
    for (std::size_t r = 0; r < rank && ++idx[r] == shape[r]; ++r) idx[r] = 0;
  }
  v = std::move(c_order);
}

inline std::uint64_t little_endian(const unsigned char* p, std::size_t width) noexcept {
  std::uint64_t u = 0;
  for (std::size_t b = width; b-- > 0;) u = (u << 8) | p[b];
  return u;
}

template <class T>
constexpr npy_dtype npy_dtype_of() {
  if constexpr (std::is_floating_point_v<T>)
    return {npy_kind::floating, sizeof(T)};
  else if constexpr (std::is_signed_v<T>)
    return {npy_kind::signed_integer, sizeof(T)};
  else
    return {npy_kind::unsigned_integer, sizeof(T)};
}

}  // namespace detail

/// Parses a whole .npy file already in memory. `source` names the file in error messages
/// (fields read "<source> shape", "<source> descr", ...).
inline npy_array parse_npy(std::span<const char> bytes, std::string_view source = "npy") {
  using kvc::detail::require;
  const std::string name(source);
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  require(bytes.size() >= 8 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0, name + " magic",
          "the bytes \\x93NUMPY and a version",
          bytes.size() < 8 ? "a file of " + std::to_string(bytes.size()) + " bytes"
                           : detail::excerpt({bytes.data(), 8}, 0));
  const unsigned major = u[6], minor = u[7];
  require((major >= 1 && major <= 3) && minor == 0, name + " version", "1.0, 2.0 or 3.0",
          std::to_string(major) + "." + std::to_string(minor));
  // Version 1.0 has a 2-byte little-endian HEADER_LEN, versions 2.0 and 3.0 a 4-byte one.
  const std::size_t length_bytes = major == 1 ? 2 : 4, offset = 8 + length_bytes;
  require(bytes.size() >= offset, name + " header_len",
          std::to_string(length_bytes) + " bytes for version " + std::to_string(major), bytes.size() - 8);
  const std::size_t header_len = static_cast<std::size_t>(detail::little_endian(u + 8, length_bytes));
  require(header_len <= bytes.size() - offset, name + " header_len",
          "at most the " + std::to_string(bytes.size() - offset) + " bytes after it", header_len);
  const detail::npy_header h = detail::npy_header_parser({bytes.data() + offset, header_len}, source).parse();

  // Element count and byte size, overflow-checked; a zero dimension makes the array empty, but
  // the other dimensions must still fit (as NumPy checks).
  std::size_t nonzero = 1;
  bool empty = false;
  for (auto d : h.shape) {
    if (d == 0)
      empty = true;
    else
      nonzero = detail::checked_mul(nonzero, d, detail::npy_max_bytes, name + " shape",
                                    "a product of dimensions of at most 2^63 - 1 bytes");
  }
  detail::checked_mul(nonzero, h.dtype.width, detail::npy_max_bytes, name + " shape",
                      "a product of dimensions of at most 2^63 - 1 bytes");
  const std::size_t count = empty ? 0 : nonzero, data_bytes = count * h.dtype.width;
  const std::size_t available = bytes.size() - offset - header_len;
  require(available == data_bytes, name + " data size",
          std::to_string(data_bytes) + " bytes (" + std::to_string(count) + " elements of " + h.dtype.descr() + ")",
          std::to_string(available) + " bytes");

  npy_array out;
  out.shape = h.shape;
  out.dtype = h.dtype;
  out.data.resize(count);
  const unsigned char* p = u + offset + header_len;
  const std::size_t width = h.dtype.width;
  switch (h.dtype.kind) {
    case npy_kind::floating:
      for (std::size_t k = 0; k < count; ++k) {
        const std::uint64_t bits = detail::little_endian(p + width * k, width);
        if (width == 2) {
          out.data[k] = detail::half_to_float(static_cast<std::uint16_t>(bits));
        } else if (width == 4) {
          const auto b32 = static_cast<std::uint32_t>(bits);
          std::memcpy(&out.data[k], &b32, 4);
        } else {
          double d = 0.0;
          std::memcpy(&d, &bits, 8);
          out.data[k] = static_cast<float>(d);  // IEEE rounding; beyond float's range: ±inf
        }
      }
      break;
    case npy_kind::signed_integer:
      out.int64.resize(count);
      for (std::size_t k = 0; k < count; ++k) {
        std::uint64_t bits = detail::little_endian(p + width * k, width);
        if (width < 8 && (bits >> (8 * width - 1)) != 0) bits |= ~std::uint64_t{0} << (8 * width);  // sign-extend
        out.int64[k] = static_cast<std::int64_t>(bits);
        out.data[k] = static_cast<float>(out.int64[k]);
      }
      break;
    case npy_kind::unsigned_integer:
    case npy_kind::boolean:
      out.uint64.resize(count);
      for (std::size_t k = 0; k < count; ++k) {
        out.uint64[k] = detail::little_endian(p + width * k, width);
        out.data[k] = static_cast<float>(out.uint64[k]);
      }
      break;
  }
  if (h.fortran_order) {
    detail::fortran_to_c_order(out.data, out.shape);
    detail::fortran_to_c_order(out.int64, out.shape);
    detail::fortran_to_c_order(out.uint64, out.shape);
  }
  return out;
}

inline npy_array parse_npy(const std::vector<char>& bytes, std::string_view source = "npy") {
  return parse_npy(std::span<const char>(bytes), source);
}

/// Reads and parses an .npy file; errors name the path ("<path> shape").
inline npy_array read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  kvc::detail::require(static_cast<bool>(in), "path", "a readable .npy file", path);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_npy(bytes, path);
}

/// The bytes of a C-order .npy file (format version 1.0) holding `data` with `shape`.
template <class T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && (sizeof(T) <= 8) &&
           (!std::is_floating_point_v<T> || sizeof(T) == 4 || sizeof(T) == 8))
std::vector<char> format_npy(const std::vector<std::size_t>& shape, std::span<const T> data) {
  std::size_t count = 1;
  for (auto s : shape)
    count = detail::checked_mul(count, s, detail::npy_max_bytes / sizeof(T), "shape",
                                "a product of dimensions of at most 2^63 - 1 bytes");
  kvc::detail::require(count == data.size(), "data.size()", "the product of shape, " + std::to_string(count),
                       data.size());
  std::string header = "{'descr': '" + detail::npy_dtype_of<T>().descr() + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i)
    header += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
  header += "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  kvc::detail::require(header.size() <= 0xffff, "shape", "a header of at most 65535 bytes", header.size());
  const std::string prefix = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size() & 0xff) +
                             static_cast<char>(header.size() >> 8);
  std::vector<char> out(prefix.size() + header.size() + count * sizeof(T));
  std::copy(prefix.begin(), prefix.end(), out.begin());
  std::copy(header.begin(), header.end(), out.begin() + static_cast<std::ptrdiff_t>(prefix.size()));
  std::size_t at = prefix.size() + header.size();
  for (const T value : data) {
    using bits_t =
        std::conditional_t<sizeof(T) == 1, std::uint8_t,
                           std::conditional_t<sizeof(T) == 2, std::uint16_t,
                                              std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
    bits_t bits{};
    std::memcpy(&bits, &value, sizeof(T));
    for (std::size_t b = 0; b < sizeof(T); ++b) out[at++] = static_cast<char>((bits >> (8 * b)) & 0xffu);
  }
  return out;
}

/// Writes a C-order array (format version 1.0): float32/64 or an integer type.
template <class T>
void write_npy(const std::string& path, const std::vector<std::size_t>& shape, const std::vector<T>& data) {
  const std::vector<char> bytes = format_npy(shape, std::span<const T>(data));
  std::ofstream out(path, std::ios::binary);
  kvc::detail::require(static_cast<bool>(out), "path", "a writable file", path);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  kvc::detail::require(!out.fail(), "path", "a file that takes " + std::to_string(bytes.size()) + " bytes", path);
}

/// Writes a C-order float32 array (format version 1.0).
inline void write_npy(const std::string& path, const std::vector<std::size_t>& shape, const std::vector<float>& data) {
  write_npy<float>(path, shape, data);
}

}  // namespace kvc::io
