#include <doctest/doctest.h>
#include <kvc/io/npy.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {
std::vector<char> file_with(const std::string& header_text, const std::vector<char>& payload) {
  std::string header = header_text;
  while ((10 + header.size() + 1) % 16 != 0) header += ' ';
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size());
  bytes += '\0';
  bytes += header;
  bytes.append(payload.data(), payload.size());
  return {bytes.begin(), bytes.end()};
}
}  // namespace

TEST_CASE("npy round trip through a file") {
  const std::string path = (std::filesystem::temp_directory_path() / "kvc_npy_round_trip.npy").string();
  const std::vector<float> data{1, 2, 3, 4, 5, 6};
  kvc::io::write_npy(path, {1, 2, 3}, data);
  const auto a = kvc::io::read_npy(path);
  std::remove(path.c_str());
  CHECK(a.shape == std::vector<std::size_t>{1, 2, 3});
  CHECK(a.data == data);
  CHECK(a.view3()(0, 1, 2) == 6.0f);
}

TEST_CASE("float16 payloads and Fortran order are decoded by hand-known values") {
  // float16 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, 65504 = 0x7bff; little endian.
  const std::vector<char> half{0x00, 0x3c, 0x00, static_cast<char>(0xc0), 0x00, 0x38, static_cast<char>(0xff), 0x7b};
  const auto a = kvc::io::parse_npy(file_with("{'descr': '<f2', 'fortran_order': True, 'shape': (2, 2), }", half));
  // Fortran order: memory is (0,0), (1,0), (0,1), (1,1).
  CHECK(a.data == std::vector<float>{1.0f, 0.5f, -2.0f, 65504.0f});
}

TEST_CASE("integer and bool payloads (token ids, masks) read as float") {
  // int32 little endian: 49151 = 0x0000bfff, -2 = 0xfffffffe.
  const std::vector<char> i4{static_cast<char>(0xff), static_cast<char>(0xbf), 0, 0,
                             static_cast<char>(0xfe), static_cast<char>(0xff), static_cast<char>(0xff), static_cast<char>(0xff)};
  CHECK(kvc::io::parse_npy(file_with("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", i4)).data ==
        std::vector<float>{49151.0f, -2.0f});
  // int8 -1 and 127; uint16 0xffff; bool.
  CHECK(kvc::io::parse_npy(file_with("{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }",
                                     {static_cast<char>(0xff), 0x7f}))
            .data == std::vector<float>{-1.0f, 127.0f});
  CHECK(kvc::io::parse_npy(file_with("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }",
                                     {static_cast<char>(0xff), static_cast<char>(0xff)}))
            .data == std::vector<float>{65535.0f});
  CHECK(kvc::io::parse_npy(file_with("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", {1, 0, 1})).data ==
        std::vector<float>{1.0f, 0.0f, 1.0f});
  // int64 -3.
  std::vector<char> i8(8, static_cast<char>(0xff));
  i8[0] = static_cast<char>(0xfd);
  CHECK(kvc::io::parse_npy(file_with("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", i8)).data ==
        std::vector<float>{-3.0f});
}

TEST_CASE("malformed files are rejected with the problem named") {
  CHECK_THROWS_WITH_AS(kvc::io::parse_npy({'x', 'y'}), doctest::Contains("npy magic"), kvc::error);
  const std::vector<char> four(4, 0);
  CHECK_THROWS_WITH_AS(kvc::io::parse_npy(file_with("{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }", four)),
                       doctest::Contains("npy descr"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::io::parse_npy(file_with("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", four)),
                       doctest::Contains("npy descr"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::io::parse_npy(file_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", four)),
                       doctest::Contains("npy data size"), kvc::error);
  CHECK_THROWS_WITH_AS(kvc::io::read_npy("/nonexistent/kvc.npy"), doctest::Contains("'path'"), kvc::error);
}
