
#include <doctest/doctest.h>
#include <kvc/io/npy.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace {

std::vector<char> bytes_of(std::initializer_list<int> values) {
  std::vector<char> out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

/// A version-`major` file: magic, version, HEADER_LEN (2 bytes in 1.0, 4 in 2.0 and 3.0), the
/// header padded with spaces and a newline to a multiple of 64 bytes as NumPy does, the payload.
std::vector<char> file_with(const std::string& header_text, const std::vector<char>& payload, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = header_text;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes("\x93NUMPY", 6);
  bytes += static_cast<char>(major);
  bytes += '\0';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  if (major != 1) bytes += std::string(2, '\0');
  bytes += header;
  bytes.append(payload.data(), payload.size());
  return {bytes.begin(), bytes.end()};
}

std::vector<char> header_only(const std::string& header_text) { return file_with(header_text, {}); }

/// The field a kvc::error names, "no error", or "another exception".
std::string field_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const kvc::error& e) {
    return e.argument();
  } catch (...) {
    return "another exception";
  }
  return "no error";
}

std::string npy_field(const std::vector<char>& bytes) {
  return field_of([&] { (void)kvc::io::parse_npy(bytes); });
}

const std::vector<char> four_zero_bytes(4, 0);

}  // namespace

TEST_CASE("npy round trip through a file") {
  const std::string path = (std::filesystem::temp_directory_path() / "kvc_npy_round_trip.npy").string();
  const std::vector<float> data{1, 2, 3, 4, 5, 6};
  kvc::io::write_npy(path, {1, 2, 3}, data);
  const auto a = kvc::io::read_npy(path);
  CHECK(a.shape == std::vector<std::size_t>{1, 2, 3});
  CHECK(a.data == data);
  CHECK(a.dtype == kvc::io::npy_dtype{kvc::io::npy_kind::floating, 4});
  CHECK(a.view3()(0, 1, 2) == 6.0f);

  // int32 and uint64 arrays keep their exact values.
  kvc::io::write_npy(path, {3}, std::vector<std::int32_t>{16777217, -1, 2147483647});
  const auto i = kvc::io::read_npy(path);
  CHECK(i.dtype.descr() == "<i4");
  CHECK(i.integers<std::int32_t>("ids") == std::vector<std::int32_t>{16777217, -1, 2147483647});
  kvc::io::write_npy(path, {1}, std::vector<std::uint64_t>{18446744073709551615u});
  CHECK(kvc::io::read_npy(path).integers<std::uint64_t>("ids") == std::vector<std::uint64_t>{18446744073709551615u});
  std::remove(path.c_str());
  CHECK_THROWS_WITH_AS(kvc::io::read_npy("/nonexistent/kvc.npy"), doctest::Contains("'path'"), kvc::error);
}

TEST_CASE("the writer's bytes are NumPy's, by hand") {
  // {'descr': '<i2', 'fortran_order': False, 'shape': (2,), } is 57 characters; padded with 60
  // spaces and a newline to 118, so that 10 + 118 = 128. int16 -2 = fe ff, 258 = 02 01.
  const auto bytes = kvc::io::format_npy<std::int16_t>({2}, std::vector<std::int16_t>{-2, 258});
  const std::string header = "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }" + std::string(60, ' ') + "\n";
  std::vector<char> want = bytes_of({0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0});
  want.insert(want.end(), header.begin(), header.end());
  for (int b : {0xfe, 0xff, 0x02, 0x01}) want.push_back(static_cast<char>(b));
  CHECK(bytes == want);
  // A scalar, shape (): a 55-character dict, again 128 bytes before the 8 of the double.
  CHECK(kvc::io::format_npy<double>({}, std::vector<double>{1.0}).size() == 128 + 8);
  CHECK(field_of([] { (void)kvc::io::format_npy<float>({2, 2}, std::vector<float>(3)); }) == "data.size()");
}

TEST_CASE("float16 payloads and Fortran order are decoded by hand-known values") {
  // float16 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, 65504 = 0x7bff; little endian.
  const auto half = bytes_of({0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff, 0x7b});
  const auto a = kvc::io::parse_npy(file_with("{'descr': '<f2', 'fortran_order': True, 'shape': (2, 2), }", half));
  // Fortran order: memory is (0,0), (1,0), (0,1), (1,1).
  CHECK(a.data == std::vector<float>{1.0f, 0.5f, -2.0f, 65504.0f});

  // int8 [2, 3] in Fortran order holds 1..6 as (0,0) (1,0) (0,1) (1,1) (0,2) (1,2).
  const auto f2 = kvc::io::parse_npy(
      file_with("{'descr': '|i1', 'fortran_order': True, 'shape': (2, 3), }", bytes_of({1, 2, 3, 4, 5, 6})));
  CHECK(f2.int64 == std::vector<std::int64_t>{1, 3, 5, 2, 4, 6});
  CHECK(f2.data == std::vector<float>{1, 3, 5, 2, 4, 6});
  // [2, 2, 2]: memory offset i + 2j + 4k holds that number, so C order (i, j, k) lists i + 2j + 4k.
  const auto f3 = kvc::io::parse_npy(
      file_with("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2, 2), }", bytes_of({0, 1, 2, 3, 4, 5, 6, 7})));
  CHECK(f3.uint64 == std::vector<std::uint64_t>{0, 4, 2, 6, 1, 5, 3, 7});
}

TEST_CASE("float32 and float64 payloads by their bits") {
  // float32 -1.5 = 0xbfc00000; float64 0.25 = 0x3fd0000000000000, 1e300 is beyond float: +inf.
  CHECK(kvc::io::parse_npy(
            file_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", bytes_of({0, 0, 0xc0, 0xbf})))
            .data == std::vector<float>{-1.5f});
  // 1e300 = 0x7e37e43c8800759c.
  const auto d = kvc::io::parse_npy(file_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                              bytes_of({0, 0, 0, 0, 0, 0, 0xd0, 0x3f,  //
                                                        0x9c, 0x75, 0x00, 0x88, 0x3c, 0xe4, 0x37, 0x7e})));
  CHECK(d.data[0] == 0.25f);
  CHECK(d.data[1] == std::numeric_limits<float>::infinity());
  CHECK(d.int64.empty());
  CHECK(field_of([&] { (void)d.integers<std::int32_t>("x"); }) == "x dtype");
}

TEST_CASE("integer and bool payloads are exact; float rounds them") {
  using kvc::io::parse_npy;
  // int32 16777217 = 0x01000001: float has 24 bits, so data rounds it to 16777216.
  const auto i4 = parse_npy(file_with("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
                                      bytes_of({0x01, 0, 0, 0x01, 0xff, 0xbf, 0, 0, 0xfe, 0xff, 0xff, 0xff})));
  CHECK(i4.integers<std::int32_t>("ids") == std::vector<std::int32_t>{16777217, 49151, -2});
  CHECK(i4.data == std::vector<float>{16777216.0f, 49151.0f, -2.0f});
  CHECK(field_of([&] { (void)i4.integers<std::int32_t>("ids", 0); }) == "ids[2]");  // -2 below 0
  CHECK(i4.integers<std::int32_t>("ids", -2, 16777217).size() == 3);
  CHECK(field_of([&] { (void)i4.integers<std::uint16_t>("ids"); }) == "ids[0]");  // 16777217 > 65535

  // int64 16777217, int64 min, int64 max.
  const auto i8 = parse_npy(file_with("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                                      bytes_of({0x01, 0,    0,    0x01, 0,    0,    0,    0,     //
                                                0,    0,    0,    0,    0,    0,    0,    0x80,  //
                                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})));
  CHECK(i8.integers<std::int64_t>("ids") ==
        std::vector<std::int64_t>{16777217, std::numeric_limits<std::int64_t>::min(), 9223372036854775807});
  CHECK(field_of([&] { (void)i8.integers<std::int32_t>("ids"); }) == "ids[1]");

  // uint64 max = 18446744073709551615 and 2^63 = 9223372036854775808: exact, too big for int64.
  const auto u8 = parse_npy(file_with("{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }",
                                      bytes_of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  //
                                                0, 0, 0, 0, 0, 0, 0, 0x80})));
  CHECK(u8.integers<std::uint64_t>("ids") == std::vector<std::uint64_t>{18446744073709551615u, 9223372036854775808u});
  CHECK(field_of([&] { (void)u8.integers<std::int64_t>("ids"); }) == "ids[0]");

  // uint32 4294967295 fits uint32, not int32.
  const auto u4 = parse_npy(
      file_with("{'descr': '<u4', 'fortran_order': False, 'shape': (1,), }", bytes_of({0xff, 0xff, 0xff, 0xff})));
  CHECK(u4.integers<std::uint32_t>("ids") == std::vector<std::uint32_t>{4294967295u});
  CHECK(field_of([&] { (void)u4.integers<std::int32_t>("ids"); }) == "ids[0]");

  // int8 -1, -128 and 127; int16 -32768; uint16 0xffff; bool.
  CHECK(parse_npy(file_with("{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }", bytes_of({0xff, 0x80, 0x7f})))
            .integers<std::int8_t>("m") == std::vector<std::int8_t>{-1, -128, 127});
  CHECK(
      parse_npy(file_with("{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }", bytes_of({0x00, 0x80}))).int64 ==
      std::vector<std::int64_t>{-32768});
  CHECK(
      parse_npy(file_with("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }", bytes_of({0xff, 0xff}))).data ==
      std::vector<float>{65535.0f});
  const auto b = parse_npy(file_with("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", bytes_of({1, 0, 1})));
  CHECK(b.dtype.kind == kvc::io::npy_kind::boolean);
  CHECK(b.data == std::vector<float>{1.0f, 0.0f, 1.0f});
  CHECK(b.integers<std::uint8_t>("mask") == std::vector<std::uint8_t>{1, 0, 1});
}

TEST_CASE("headers as NumPy writes or accepts them") {
  using kvc::io::parse_npy;
  const auto one = bytes_of({0, 0, 0x80, 0x3f});  // float32 1.0
  // Keys in any order, double quotes, no trailing comma, tabs and newlines between tokens.
  const auto a = parse_npy(file_with("{\"shape\":(1,),\t'fortran_order'\n:\r\nFalse , \"descr\" : '<f4'}", one));
  CHECK(a.shape == std::vector<std::size_t>{1});
  CHECK(a.data == std::vector<float>{1.0f});
  // Version 2.0 and 3.0: a 4-byte HEADER_LEN.
  CHECK(parse_npy(file_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", one, 2)).data[0] == 1.0f);
  CHECK(parse_npy(file_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", one, 3)).shape ==
        std::vector<std::size_t>{1, 1});
  // A scalar (shape ()) has one element; a zero dimension none, whatever the others are.
  CHECK(parse_npy(file_with("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", one)).data.size() == 1);
  const auto empty =
      parse_npy(header_only("{'descr': '<f4', 'fortran_order': True, 'shape': (0, 1152921504606846976), }"));
  CHECK(empty.shape == std::vector<std::size_t>{0, 1152921504606846976u});  // 2^60 × 4 bytes would fit
  CHECK(empty.data.empty());
  // 64 dimensions (NumPy 2's limit) of 1.
  std::string dims;
  for (int i = 0; i < 64; ++i) dims += "1, ";
  CHECK(parse_npy(file_with("{'descr': '<f4', 'fortran_order': True, 'shape': (" + dims + "), }", one)).shape.size() ==
        64);
}

TEST_CASE("malformed prefixes are rejected naming magic, version or header_len") {
  CHECK(npy_field({'x', 'y'}) == "npy magic");
  CHECK(npy_field({}) == "npy magic");
  CHECK(npy_field(bytes_of({0x93, 'N', 'U', 'M', 'P', 'X', 1, 0, 0, 0})) == "npy magic");
  CHECK(npy_field(bytes_of({0x93, 'N', 'U', 'M', 'P', 'Y', 4, 0, 0, 0})) == "npy version");
  CHECK(npy_field(bytes_of({0x93, 'N', 'U', 'M', 'P', 'Y', 0, 0, 0, 0})) == "npy version");
  CHECK(npy_field(bytes_of({0x93, 'N', 'U', 'M', 'P', 'Y', 1, 1, 0, 0})) == "npy version");  // minor 1
  // Version 1.0 needs 2 length bytes, 2.0 four.
  CHECK(npy_field(bytes_of({0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0})) == "npy header_len");
  CHECK(npy_field(bytes_of({0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0, 0, 0})) == "npy header_len");
  // HEADER_LEN past the end of the file.
  CHECK(npy_field(bytes_of({0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 1, 0})) == "npy header_len");
  auto v2 = file_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", four_zero_bytes, 2);
  CHECK(npy_field(v2) == "no error");
  // Its third length byte set: 65536 bytes more than the file has. Read as version 1.0's two bytes
  // the length would be valid, so this shows that 2.0 reads four.
  v2[10] = 1;
  CHECK(npy_field(v2) == "npy header_len");
  v2[10] = 0;
  v2[11] = static_cast<char>(0x80);  // 2^31 more
  CHECK(npy_field(v2) == "npy header_len");
  // A 1.0 file whose HEADER_LEN is one byte short makes the newline data: 5 bytes, not 4.
  auto v1 = file_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", four_zero_bytes);
  v1[8] = static_cast<char>(v1[8] - 1);
  CHECK(npy_field(v1) == "npy data size");
}

TEST_CASE("malformed header dicts are rejected naming the header or the key") {
  const std::string end = "'fortran_order': False, 'shape': (1,), }";
  CHECK(npy_field(header_only("")) == "npy header");
  CHECK(npy_field(header_only("'descr': '<f4', " + end)) == "npy header");  // no '{'
  CHECK(npy_field(header_only("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), ")) == "npy header");  // no '}'
  CHECK(npy_field(header_only("{'descr': '<f4', 'fortran_order': False}")) == "npy header");  // no 'shape'
  CHECK(npy_field(header_only("{'descr': '<f4', 'extra': 1, " + end)) == "npy header");
  CHECK(npy_field(header_only("{'descr': '<f4', 'descr': '<f4', " + end)) == "npy header");  // twice
  CHECK(npy_field(header_only("{'descr' '<f4', " + end)) == "npy header");                   // no ':'
  CHECK(npy_field(header_only("{'descr': '<f4' " + end)) == "npy header");                   // no ','
  CHECK(npy_field(header_only("{'descr': '<f4', " + end + " x")) == "npy header");           // junk after
  CHECK(npy_field(header_only("{'descr': '<f4', " + end + "}")) == "npy header");
  CHECK(npy_field(header_only("{descr: '<f4', " + end)) == "npy header");   // a name, not a string
  CHECK(npy_field(header_only("{'descr: '<f4', " + end)) == "npy header");  // the key "descr: "
  CHECK(npy_field(header_only("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), '")) == "npy header");
  CHECK(npy_field(header_only("{'descr': '<f4', 'fortran_order': False, 'shape': (1,),, }")) == "npy header");
  CHECK(npy_field(header_only("{, 'descr': '<f4', " + end)) == "npy header");
  CHECK(npy_field(header_only("{'de\\x73cr': '<f4', " + end)) == "npy header");  // no escapes
}

TEST_CASE("malformed descr, fortran_order and shape values are rejected naming the key") {
  using kvc::io::parse_npy;
  const auto with = [](const std::string& descr, const std::string& order, const std::string& shape,
                       const std::vector<char>& data = four_zero_bytes) {
    return npy_field(
        file_with("{'descr': " + descr + ", 'fortran_order': " + order + ", 'shape': " + shape + ", }", data));
  };
  CHECK(with("'<f4'", "False", "(1,)") == "no error");
  // descr: big-endian, complex, trailing garbage, no byte order, not a string, unclosed.
  CHECK(with("'>i4'", "False", "(1,)") == "npy descr");
  CHECK(with("'<c8'", "False", "(1,)") == "npy descr");
  CHECK(with("'<f4x'", "False", "(1,)") == "npy descr");
  CHECK(with("'<f4 '", "False", "(1,)") == "npy descr");
  CHECK(with("'f4'", "False", "(1,)") == "npy descr");
  CHECK(with("'|f4'", "False", "(1,)") == "npy descr");
  CHECK(with("[('a', '<f4')]", "False", "(1,)") == "npy descr");
  CHECK(with("'<f4", "False", "(1,)") == "npy descr");
  CHECK(with("'<f4' x", "False", "(1,)") == "npy header");  // junk after the value
  // fortran_order: only the words True and False, whole.
  CHECK(with("'<f4'", "Falsey", "(1,)") == "npy fortran_order");
  CHECK(with("'<f4'", "false", "(1,)") == "npy fortran_order");
  CHECK(with("'<f4'", "0", "(1,)") == "npy fortran_order");
  CHECK(with("'<f4'", "'False'", "(1,)") == "npy fortran_order");
  CHECK(with("'<f4'", "False junk", "(1,)") == "npy header");
  CHECK(with("'<f4'", "True", "(1,)") == "no error");
  // shape: a tuple of decimal integers.
  CHECK(with("'<f4'", "False", "(1)") == "npy shape");  // an int in parentheses
  CHECK(with("'<f4'", "False", "1") == "npy shape");
  CHECK(with("'<f4'", "False", "[1]") == "npy shape");
  CHECK(with("'<f4'", "False", "(-1,)") == "npy shape");
  CHECK(with("'<f4'", "False", "(1 1)") == "npy shape");
  CHECK(with("'<f4'", "False", "(1,,)") == "npy shape");
  CHECK(with("'<f4'", "False", "(,)") == "npy shape");
  CHECK(with("'<f4'", "False", "(01,)") == "npy shape");
  CHECK(with("'<f4'", "False", "(1L,)") == "npy shape");
  CHECK(with("'<f4'", "False", "(1.0,)") == "npy shape");
  CHECK(with("'<f4'", "False", "(1,") == "npy shape");
  std::string dims;
  for (int i = 0; i < 65; ++i) dims += "1, ";
  CHECK(with("'<f4'", "False", "(" + dims + ")") == "npy shape");  // 65 dimensions
}

TEST_CASE("sizes that overflow and data that disagrees with the shape are rejected") {
  const auto with = [](const std::string& descr, const std::string& order, const std::string& shape,
                       const std::vector<char>& data) {
    return npy_field(
        file_with("{'descr': " + descr + ", 'fortran_order': " + order + ", 'shape': " + shape + ", }", data));
  };
  const std::vector<char> eight(8, 1);
  // 3 × 6148914691236517206 = 2^64 + 2: wrapped, the count would be 2 elements, 8 bytes of <f4,
  // and the Fortran reordering would write at offsets up to 6148914691236517206.
  CHECK(with("'<f4'", "True", "(3, 6148914691236517206)", eight) == "npy shape");
  // (2**33, 2**33): 2^66 wraps to 0 elements.
  CHECK(with("'<f4'", "True", "(8589934592, 8589934592)", {}) == "npy shape");
  // 2^62 elements of 4 bytes are 2^64 bytes; 2^61 - 1 of them fit in 2^63 - 1 bytes but not in this file.
  CHECK(with("'<f4'", "False", "(4611686018427387904,)", {}) == "npy shape");
  CHECK(with("'<f4'", "False", "(2305843009213693951,)", {}) == "npy data size");
  // Dimensions above 2^63 - 1, and above 2^64.
  CHECK(with("'|u1'", "False", "(9223372036854775807,)", {}) == "npy data size");
  CHECK(with("'|u1'", "False", "(9223372036854775808,)", {}) == "npy shape");
  CHECK(with("'|u1'", "False", "(18446744073709551616,)", {}) == "npy shape");
  CHECK(with("'|u1'", "False", "(0, 18446744073709551617)", {}) == "npy shape");
  // A zero dimension does not excuse an overflow of the others (NumPy rejects it too).
  CHECK(with("'<f4'", "False", "(0, 4294967296, 4294967296)", {}) == "npy shape");
  // The data must be exactly shape × item size.
  CHECK(with("'<f4'", "False", "(2,)", four_zero_bytes) == "npy data size");
  CHECK(with("'<f4'", "False", "(1,)", eight) == "npy data size");
  CHECK(with("'<f4'", "False", "(2, 3)", std::vector<char>(20, 0)) == "npy data size");
  CHECK(with("'<f4'", "False", "(0,)", four_zero_bytes) == "npy data size");
  CHECK(with("'<f2'", "False", "(1,)", {0}) == "npy data size");
  CHECK(with("'<f4'", "False", "()", {}) == "npy data size");  // a scalar has one element
}

TEST_CASE("read_npy names the file in its errors") {
  const std::string path = (std::filesystem::temp_directory_path() / "kvc_npy_short.npy").string();
  const auto bytes = file_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", four_zero_bytes);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  CHECK(field_of([&] { (void)kvc::io::read_npy(path); }) == path + " data size");
  std::remove(path.c_str());
  CHECK(field_of([&] { (void)kvc::io::parse_npy(bytes, "L00.k.npy"); }) == "L00.k.npy data size");
}
