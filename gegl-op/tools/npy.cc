// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "npy.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

namespace fdikp {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

// Finds `'key':` in the header dict and returns the text after it.
bool header_value(const std::string &header, const std::string &key, std::string *value) {
  const std::string quoted = "'" + key + "':";
  const auto at = header.find(quoted);
  if (at == std::string::npos) return false;
  *value = header.substr(at + quoted.size());
  const auto begin = value->find_first_not_of(' ');
  *value = begin == std::string::npos ? std::string() : value->substr(begin);
  return true;
}

bool parse_shape(const std::string &text, std::vector<long long> *shape) {
  if (text.empty() || text[0] != '(') return false;
  const auto close = text.find(')');
  if (close == std::string::npos) return false;
  std::string inner = text.substr(1, close - 1);
  shape->clear();
  std::size_t pos = 0;
  while (pos < inner.size()) {
    while (pos < inner.size() && (inner[pos] == ' ' || inner[pos] == ',')) ++pos;
    if (pos >= inner.size()) break;
    long long v = 0;
    std::size_t digits = 0;
    while (pos < inner.size() && inner[pos] >= '0' && inner[pos] <= '9') {
      if (v > (std::numeric_limits<int>::max() - 9) / 10) return false;
      v = v * 10 + (inner[pos++] - '0');
      ++digits;
    }
    if (digits == 0) return false;
    shape->push_back(v);
    if (shape->size() > 3) return false;
  }
  return true;
}

}  // namespace

bool parse_npy(const std::string &bytes, FloatImage *image, std::string *error) {
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) {
    *error = "not a .npy file";
    return false;
  }
  const unsigned major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) {
      *error = "truncated .npy header";
      return false;
    }
    header_len = 0;
    for (int i = 3; i >= 0; --i) header_len = header_len << 8 | static_cast<unsigned char>(bytes[8 + i]);
    header_start = 12;
  } else {
    *error = "unsupported .npy version " + std::to_string(major);
    return false;
  }
  if (header_len > bytes.size() - header_start) {
    *error = "truncated .npy header";
    return false;
  }
  const std::string header = bytes.substr(header_start, header_len);
  std::string descr, order, shape_text;
  if (!header_value(header, "descr", &descr) || !header_value(header, "fortran_order", &order) ||
      !header_value(header, "shape", &shape_text)) {
    *error = ".npy header lacks descr, fortran_order or shape";
    return false;
  }
  if (descr.compare(0, 5, "'<f4'") != 0) {
    *error = "expected little-endian float32 ('<f4') data";
    return false;
  }
  if (order.compare(0, 5, "False") != 0) {
    *error = "expected C-order data";
    return false;
  }
  std::vector<long long> shape;
  if (!parse_shape(shape_text, &shape) || shape.size() < 2) {
    *error = "expected a shape (H, W) or (H, W, C)";
    return false;
  }
  const long long channels = shape.size() == 3 ? shape[2] : 1;
  if (shape[0] < 1 || shape[1] < 1 || channels < 1 || channels > 4) {
    *error = "expected H, W >= 1 and 1 to 4 channels";
    return false;
  }
  const std::size_t offset = header_start + header_len;
  const unsigned long long count = static_cast<unsigned long long>(shape[0]) * shape[1] * channels;
  if (count > (bytes.size() - offset) / sizeof(float) || (bytes.size() - offset) != count * sizeof(float)) {
    *error = "the data size does not match the shape";
    return false;
  }
  image->height = static_cast<int>(shape[0]);
  image->width = static_cast<int>(shape[1]);
  image->channels = static_cast<int>(channels);
  image->values.resize(count);
  std::memcpy(image->values.data(), bytes.data() + offset, count * sizeof(float));
  return true;
}

bool read_npy(const std::string &path, FloatImage *image, std::string *error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!parse_npy(bytes, image, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

bool write_npy(const std::string &path, const FloatImage &image, std::string *error) {
  std::ostringstream dict;
  dict << "{'descr': '<f4', 'fortran_order': False, 'shape': (" << image.height << ", "
       << image.width << ", " << image.channels << "), }";
  std::string header = dict.str();
  // Pad so that the data starts on a 64-byte boundary, ending in '\n'.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  out.write(kMagic, 6);
  const unsigned char version[2] = {1, 0};
  out.write(reinterpret_cast<const char *>(version), 2);
  const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xff),
                                static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<const char *>(len), 2);
  out << header;
  out.write(reinterpret_cast<const char *>(image.values.data()),
            static_cast<std::streamsize>(image.values.size() * sizeof(float)));
  if (!out) {
    *error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace fdikp
