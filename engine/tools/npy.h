// Reads and writes NumPy .npy files of float32 images (H x W x C, C-order):
// the exchange format between the engine's command-line tool and Python.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_NPY_H
#define FDIKP_NPY_H

#include <cstddef>
#include <string>

namespace fdikp {

// The shape of a .npy image and where its data starts in the file.
struct NpyHeader {
  int height = 0;
  int width = 0;
  int channels = 0;
  std::size_t data_offset = 0;
  unsigned long long value_count() const {
    return static_cast<unsigned long long>(height) * width * channels;
  }
};

// Parses the header at the start of `bytes` (which need hold no data): a
// little-endian float32 array of shape (H, W, C) or (H, W), C-order.
bool parse_npy_header(const std::string &bytes, NpyHeader *header, std::string *error);

// A .npy image on disk, read and written a row segment at a time so that an
// image of any size streams through the engine without being held in memory.
class NpyFile {
 public:
  NpyFile() = default;
  NpyFile(const NpyFile &) = delete;
  NpyFile &operator=(const NpyFile &) = delete;
  ~NpyFile();

  // Opens an existing file for reading; checks the data size against the shape.
  bool open(const std::string &path, std::string *error);
  // Creates (or replaces) a file of the given shape, values unset (zero).
  bool create(const std::string &path, int height, int width, int channels, std::string *error);

  const NpyHeader &header() const { return header_; }

  // The `pixels` pixels from (x, y) along row y: pixels * channels values.
  bool read_run(int x, int y, int pixels, float *values) const;
  bool write_run(int x, int y, int pixels, const float *values);

 private:
  long long offset_of(int x, int y) const;
  int fd_ = -1;
  NpyHeader header_;
};

}  // namespace fdikp

#endif  // FDIKP_NPY_H
