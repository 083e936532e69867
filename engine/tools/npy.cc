// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <vector>

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

bool parse_npy_header(const std::string &bytes, NpyHeader *header_out, std::string *error) {
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
    for (int i = 3; i >= 0; --i)
      header_len = header_len << 8 | static_cast<unsigned char>(bytes[8 + i]);
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
  header_out->height = static_cast<int>(shape[0]);
  header_out->width = static_cast<int>(shape[1]);
  header_out->channels = static_cast<int>(channels);
  header_out->data_offset = header_start + header_len;
  return true;
}

namespace {

// The header of a version 1.0 .npy file for a float32 H x W x C array,
// padded so that the data starts on a 64-byte boundary.
std::string header_bytes(int height, int width, int channels) {
  std::ostringstream dict;
  dict << "{'descr': '<f4', 'fortran_order': False, 'shape': (" << height << ", " << width << ", "
       << channels << "), }";
  std::string header = dict.str();
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes(kMagic, 6);
  bytes.push_back(1);
  bytes.push_back(0);
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  return bytes + header;
}

bool pread_all(int fd, void *data, std::size_t size, long long offset) {
  char *p = static_cast<char *>(data);
  while (size > 0) {
    const ssize_t got = ::pread(fd, p, size, offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    size -= static_cast<std::size_t>(got);
    offset += got;
  }
  return true;
}

bool pwrite_all(int fd, const void *data, std::size_t size, long long offset) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    const ssize_t put = ::pwrite(fd, p, size, offset);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    p += put;
    size -= static_cast<std::size_t>(put);
    offset += put;
  }
  return true;
}

}  // namespace

NpyFile::~NpyFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool NpyFile::open(const std::string &path, std::string *error) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  // A version 1 header is at most 10 + 65535 bytes; versions 2 and 3 with a
  // longer header are not written by NumPy for arrays this simple.
  std::string head(static_cast<std::size_t>(std::min<long long>(st.st_size, 10 + 65535)), '\0');
  if (!pread_all(fd_, &head[0], head.size(), 0) || !parse_npy_header(head, &header_, error)) {
    if (error->empty()) *error = "cannot read";
    *error = path + ": " + *error;
    return false;
  }
  const unsigned long long data = static_cast<unsigned long long>(st.st_size) - header_.data_offset;
  if (header_.data_offset > static_cast<unsigned long long>(st.st_size) ||
      data != header_.value_count() * sizeof(float)) {
    *error = path + ": the data size does not match the shape";
    return false;
  }
  return true;
}

bool NpyFile::create(const std::string &path, int height, int width, int channels,
                     std::string *error) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const std::string head = header_bytes(height, width, channels);
  header_ = NpyHeader{height, width, channels, head.size()};
  if (fd_ < 0 || !pwrite_all(fd_, head.data(), head.size(), 0) ||
      ::ftruncate(fd_, static_cast<off_t>(head.size() + header_.value_count() * sizeof(float))) !=
          0) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

long long NpyFile::offset_of(int x, int y) const {
  return static_cast<long long>(header_.data_offset) +
         (static_cast<long long>(y) * header_.width + x) * header_.channels *
             static_cast<long long>(sizeof(float));
}

bool NpyFile::read_run(int x, int y, int pixels, float *values) const {
  return pread_all(fd_, values, static_cast<std::size_t>(pixels) * header_.channels * sizeof(float),
                   offset_of(x, y));
}

bool NpyFile::write_run(int x, int y, int pixels, const float *values) {
  return pwrite_all(fd_, values,
                    static_cast<std::size_t>(pixels) * header_.channels * sizeof(float),
                    offset_of(x, y));
}

}  // namespace fdikp
