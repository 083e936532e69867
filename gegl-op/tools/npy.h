// Reads and writes NumPy .npy files of float32 images (H x W x C, C-order):
// the exchange format between the engine's command-line tool and Python.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_NPY_H
#define FDIKP_NPY_H

#include <string>
#include <vector>

namespace fdikp {

struct FloatImage {
  int height = 0;
  int width = 0;
  int channels = 0;
  std::vector<float> values;  // height * width * channels, interleaved
};

// Parses the bytes of a .npy file holding a little-endian float32 array of
// shape (H, W, C) or (H, W). Returns false with *error on anything else.
bool parse_npy(const std::string &bytes, FloatImage *image, std::string *error);

bool read_npy(const std::string &path, FloatImage *image, std::string *error);
bool write_npy(const std::string &path, const FloatImage &image, std::string *error);

}  // namespace fdikp

#endif  // FDIKP_NPY_H
