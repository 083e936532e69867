// The ZIP reader that finds a model's metadata (`<archive>/extra/fdikp.json`)
// inside a TorchScript archive, without LibTorch: any bytes are safe to give.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "catalog.h"

#include <algorithm>
#include <fstream>

namespace fdikp {
namespace {

// ZIP record signatures and the limits this reader accepts: a model's
// central directory holds a few dozen entries, its metadata a few hundred
// bytes.
constexpr std::uint32_t kEndOfDirectory = 0x06054b50;
constexpr std::uint32_t kZip64Locator = 0x07064b50;
constexpr std::uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr std::uint32_t kDirectoryEntry = 0x02014b50;
constexpr std::uint32_t kLocalHeader = 0x04034b50;
constexpr std::size_t kEndOfDirectorySize = 22;
constexpr std::size_t kMaxComment = 0xFFFF;
constexpr std::uint64_t kMaxDirectoryBytes = 16u << 20;
constexpr std::uint64_t kMaxMetadataBytes = 1u << 20;
constexpr char kMetadataSuffix[] = "/extra/fdikp.json";

std::uint32_t le(const char *p, int bytes) {
  std::uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::uint64_t le64(const char *p) {
  return (static_cast<std::uint64_t>(le(p + 4, 4)) << 32) | le(p, 4);
}

std::uint32_t crc32(const std::string &bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<unsigned char>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

bool read_at(const ByteSource &source, std::uint64_t offset, std::size_t n, std::string *out) {
  if (offset > source.size || n > source.size - offset) return false;
  out->assign(n, '\0');
  return n == 0 || source.read(offset, n, &(*out)[0]);
}

// Where the central directory lies, from the end-of-directory record (and
// its zip64 form when the plain one is saturated).
bool find_directory(const ByteSource &source, std::uint64_t *offset, std::uint64_t *bytes,
                    std::uint64_t *entries, std::string *error) {
  if (source.size < kEndOfDirectorySize) {
    *error = "it is too short to be a model archive";
    return false;
  }
  const std::uint64_t tail_size =
      std::min<std::uint64_t>(source.size, kEndOfDirectorySize + kMaxComment);
  const std::uint64_t tail_start = source.size - tail_size;
  std::string tail;
  if (!read_at(source, tail_start, static_cast<std::size_t>(tail_size), &tail)) {
    *error = "it could not be read";
    return false;
  }
  std::size_t at = tail.size() - kEndOfDirectorySize + 1;
  for (;;) {
    if (at == 0) {
      *error = "it is not a model archive (no ZIP directory)";
      return false;
    }
    --at;
    if (le(&tail[at], 4) == kEndOfDirectory &&
        at + kEndOfDirectorySize + le(&tail[at + 20], 2) == tail.size())
      break;
  }
  const char *end = &tail[at];
  *entries = le(end + 10, 2);
  *bytes = le(end + 12, 4);
  *offset = le(end + 16, 4);
  if (*entries == 0xFFFF || *bytes == 0xFFFFFFFFu || *offset == 0xFFFFFFFFu) {
    const std::uint64_t end_at = tail_start + at;
    std::string locator, record;
    if (end_at < 20 || !read_at(source, end_at - 20, 20, &locator) ||
        le(&locator[0], 4) != kZip64Locator || !read_at(source, le64(&locator[8]), 56, &record) ||
        le(&record[0], 4) != kZip64EndOfDirectory) {
      *error = "its zip64 directory record is missing or damaged";
      return false;
    }
    *entries = le64(&record[32]);
    *bytes = le64(&record[40]);
    *offset = le64(&record[48]);
  }
  if (*bytes > kMaxDirectoryBytes || *offset > source.size || *bytes > source.size - *offset) {
    *error = "its ZIP directory lies outside the file";
    return false;
  }
  return true;
}

// The zip64 extra field replaces the saturated sizes and offset, in order.
void apply_zip64(const std::string &extra, std::uint64_t *size, std::uint64_t *compressed,
                 std::uint64_t *local) {
  std::size_t at = 0;
  while (at + 4 <= extra.size()) {
    const std::uint32_t id = le(&extra[at], 2), length = le(&extra[at + 2], 2);
    if (at + 4 + length > extra.size()) return;
    if (id == 0x0001) {
      std::size_t field = at + 4;
      for (std::uint64_t *value : {size, compressed, local}) {
        if (*value != 0xFFFFFFFFu) continue;
        if (field + 8 > at + 4 + length) return;
        *value = le64(&extra[field]);
        field += 8;
      }
      return;
    }
    at += 4 + length;
  }
}

bool is_metadata_entry(const std::string &name) {
  const std::size_t n = sizeof kMetadataSuffix - 1;
  return name.size() > n && name.compare(name.size() - n, n, kMetadataSuffix) == 0 &&
         name.find('/') == name.size() - n;
}

}  // namespace

bool read_archive_metadata(const ByteSource &source, std::string *json, std::string *error) {
  std::uint64_t offset = 0, bytes = 0, entries = 0;
  if (!find_directory(source, &offset, &bytes, &entries, error)) return false;
  std::string directory;
  if (!read_at(source, offset, static_cast<std::size_t>(bytes), &directory)) {
    *error = "its ZIP directory could not be read";
    return false;
  }
  std::size_t at = 0;
  for (std::uint64_t i = 0; i < entries; ++i) {
    if (at + 46 > directory.size() || le(&directory[at], 4) != kDirectoryEntry) {
      *error = "its ZIP directory is damaged";
      return false;
    }
    const char *entry = &directory[at];
    const std::size_t name_length = le(entry + 28, 2), extra_length = le(entry + 30, 2),
                      comment_length = le(entry + 32, 2);
    if (at + 46 + name_length + extra_length + comment_length > directory.size()) {
      *error = "its ZIP directory is damaged";
      return false;
    }
    const std::string name = directory.substr(at + 46, name_length);
    if (is_metadata_entry(name)) {
      const std::uint32_t method = le(entry + 10, 2), crc = le(entry + 16, 4);
      std::uint64_t compressed = le(entry + 20, 4), size = le(entry + 24, 4),
                    local = le(entry + 42, 4);
      apply_zip64(directory.substr(at + 46 + name_length, extra_length), &size, &compressed,
                  &local);
      if (method != 0 || compressed != size) {
        *error = "its metadata is stored compressed, which this reader does not read";
        return false;
      }
      if (size > kMaxMetadataBytes) {
        *error = "its metadata is larger than 1 MiB";
        return false;
      }
      std::string header;
      if (!read_at(source, local, 30, &header) || le(&header[0], 4) != kLocalHeader) {
        *error = "its metadata entry is damaged";
        return false;
      }
      const std::uint64_t data = local + 30 + le(&header[26], 2) + le(&header[28], 2);
      if (!read_at(source, data, static_cast<std::size_t>(size), json) || crc32(*json) != crc) {
        json->clear();
        *error = "its metadata entry is damaged (truncated or wrong checksum)";
        return false;
      }
      return true;
    }
    at += 46 + name_length + extra_length + comment_length;
  }
  json->clear();  // a model without metadata: the engine's defaults
  return true;
}

bool read_archive_metadata_file(const std::string &path, std::string *json, std::string *error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *error = "it cannot be opened";
    return false;
  }
  file.seekg(0, std::ios::end);
  const std::streamoff size = file.tellg();
  if (size < 0) {
    *error = "it cannot be read";
    return false;
  }
  ByteSource source;
  source.size = static_cast<std::uint64_t>(size);
  source.read = [&file](std::uint64_t offset, std::size_t n, char *out) {
    file.clear();
    file.seekg(static_cast<std::streamoff>(offset));
    file.read(out, static_cast<std::streamsize>(n));
    return static_cast<std::size_t>(file.gcount()) == n;
  };
  return read_archive_metadata(source, json, error);
}

}  // namespace fdikp
