#pragma once
// Minimal .npy reader and writer (NumPy format versions 1-3) for evaluation data: attention
// traces and K/V/Q dumps from real models. Little-endian float32, float16 and float64 arrays, and
// integer arrays (token ids, masks: int8-64, uint8-32, bool) read as float, in C or Fortran
// order; every malformed header is a kvc::error naming what is wrong.

#include "kvc/version.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "kvc/core/error.hpp"
#include "kvc/core/view.hpp"

namespace kvc::io {

/// A loaded array, converted to float, always in C (row-major) order.
struct npy_array {
  std::vector<std::size_t> shape;
  std::vector<float> data;

  [[nodiscard]] std::size_t size() const noexcept { return data.size(); }
  /// A `[d0, d1, d2]` view of a rank-3 array.
  [[nodiscard]] strided_view<const float> view3() const {
    detail::require(shape.size() == 3, "npy.shape", "a rank-3 array", shape.size());
    return strided_view<const float>::contiguous(data.data(), shape[0], shape[1], shape[2]);
  }
};

namespace detail {

inline std::string header_value(const std::string& header, const std::string& key) {
  const auto k = header.find("'" + key + "'");
  kvc::detail::require(k != std::string::npos, "npy header", "a '" + key + "' entry", header);
  auto v = header.find(':', k);
  kvc::detail::require(v != std::string::npos, "npy header", "':' after '" + key + "'", header);
  ++v;
  while (v < header.size() && header[v] == ' ') ++v;
  std::size_t end = v;
  if (header[v] == '(') {
    end = header.find(')', v);
    kvc::detail::require(end != std::string::npos, "npy header", "a closed shape tuple", header);
    return header.substr(v, end - v + 1);
  }
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  return header.substr(v, end - v);
}

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

}  // namespace detail

/// Parses a whole .npy file already in memory.
inline npy_array parse_npy(const std::vector<char>& bytes) {
  using kvc::detail::require;
  require(bytes.size() >= 10 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0, "npy magic",
          "the bytes \\x93NUMPY", bytes.size() < 6 ? std::string("a short file") : std::string(bytes.data(), 6));
  const int major = static_cast<unsigned char>(bytes[6]);
  require(major >= 1 && major <= 3, "npy version", "1, 2 or 3", major);
  std::size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else {
    require(bytes.size() >= 12, "npy header", "a 4-byte length", bytes.size());
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + static_cast<std::size_t>(i)]);
    offset = 12;
  }
  require(offset + header_len <= bytes.size(), "npy header length", "at most the file size", header_len);
  const std::string header(bytes.data() + offset, header_len);
  std::string descr = detail::header_value(header, "descr");
  const bool fortran = detail::header_value(header, "fortran_order").find("True") != std::string::npos;
  const std::string shape_text = detail::header_value(header, "shape");

  npy_array out;
  std::size_t count = 1, i = 1;
  while (i < shape_text.size()) {
    while (i < shape_text.size() && (shape_text[i] == ' ' || shape_text[i] == ',')) ++i;
    if (i >= shape_text.size() || shape_text[i] == ')') break;
    std::size_t v = 0;
    require(shape_text[i] >= '0' && shape_text[i] <= '9', "npy shape", "non-negative integers", shape_text);
    while (i < shape_text.size() && shape_text[i] >= '0' && shape_text[i] <= '9') v = v * 10 + static_cast<std::size_t>(shape_text[i++] - '0');
    out.shape.push_back(v);
    count *= v;
  }
  descr.erase(0, descr.find_first_not_of("'\" "));
  descr.erase(descr.find_last_not_of("'\" ") + 1);
  // Element kinds: 'f' float, 'i' signed, 'u' unsigned / bool, by byte width.
  char kind = 0;
  std::size_t width = 0;
  if (descr.size() >= 3 && (descr[0] == '<' || descr[0] == '|')) {
    kind = descr[1] == 'b' ? 'u' : descr[1];
    width = static_cast<std::size_t>(std::atoi(descr.c_str() + 2));
  }
  const bool known = (kind == 'f' && (width == 2 || width == 4 || width == 8)) ||
                     ((kind == 'i' || kind == 'u') && (width == 1 || width == 2 || width == 4 || width == 8)) ||
                     (descr == "|b1");
  require(known && (descr[0] == '<' || width == 1), "npy descr",
          "a little-endian float (<f2, <f4, <f8), integer (<i1..<i8, <u1..<u8) or bool (|b1) type", descr);
  const char* p = bytes.data() + offset + header_len;
  require(bytes.size() - offset - header_len == count * width, "npy data size",
          std::to_string(count * width) + " bytes", bytes.size() - offset - header_len);

  std::vector<float> raw(count);
  for (std::size_t k = 0; k < count; ++k) {
    const char* e = p + width * k;
    if (kind == 'f' && width == 4) {
      std::memcpy(&raw[k], e, 4);
    } else if (kind == 'f' && width == 8) {
      double d = 0.0;
      std::memcpy(&d, e, 8);
      raw[k] = static_cast<float>(d);
    } else if (kind == 'f') {
      std::uint16_t h = 0;
      std::memcpy(&h, e, 2);
      raw[k] = detail::half_to_float(h);
    } else {  // little-endian integer, sign-extended for 'i'
      std::uint64_t u = 0;
      for (std::size_t b = width; b-- > 0;) u = (u << 8) | static_cast<unsigned char>(e[b]);
      if (kind == 'i' && width < 8 && (u >> (8 * width - 1)) != 0) u |= ~std::uint64_t{0} << (8 * width);
      raw[k] = kind == 'i' ? static_cast<float>(static_cast<std::int64_t>(u)) : static_cast<float>(u);
    }
  }
  if (!fortran || out.shape.size() < 2) {
    out.data = std::move(raw);
    return out;
  }
  // Fortran order: the first index varies fastest; transpose into C order.
  out.data.resize(count);
  const std::size_t rank = out.shape.size();
  std::vector<std::size_t> idx(rank, 0);
  for (std::size_t f = 0; f < count; ++f) {
    std::size_t c = 0;
    for (std::size_t r = 0; r < rank; ++r) c = c * out.shape[r] + idx[r];
    out.data[c] = raw[f];
    for (std::size_t r = 0; r < rank && ++idx[r] == out.shape[r]; ++r) idx[r] = 0;
  }
  return out;
}

inline npy_array read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  kvc::detail::require(static_cast<bool>(in), "path", "a readable .npy file", path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_npy(bytes);
}

/// Writes a C-order float32 array (format version 1).
inline void write_npy(const std::string& path, const std::vector<std::size_t>& shape, const std::vector<float>& data) {
  std::size_t count = 1;
  for (auto s : shape) count *= s;
  kvc::detail::require(count == data.size(), "data.size()", "the product of shape, " + std::to_string(count), data.size());
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) header += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
  header += "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  kvc::detail::require(static_cast<bool>(out), "path", "a writable file", path);
  out.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  out.write(len, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(float)));
}

}  // namespace kvc::io
