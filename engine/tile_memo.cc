// Tiles kept between the regions a host asks for: see streaming::TileMemo.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <cstring>

#include "streaming.h"

namespace fdikp {
namespace streaming {

// FNV-1a over the bytes of the samples.
std::uint64_t TileMemo::hash(const float *input, int width, int height) {
  const std::size_t count = static_cast<std::size_t>(width) * height * 3;
  const unsigned char *bytes = reinterpret_cast<const unsigned char *>(input);
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i < count * sizeof(float); ++i) {
    h ^= bytes[i];
    h *= 1099511628211ull;
  }
  return h;
}

bool TileMemo::find(std::uint64_t model, std::uint64_t hash, int width, int height,
                    const float *input, std::vector<float> *output) {
  const std::size_t count = static_cast<std::size_t>(width) * height * 3;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->model != model || it->hash != hash || it->width != width || it->height != height ||
        std::memcmp(it->input.data(), input, count * sizeof(float)) != 0)
      continue;
    *output = it->output;
    entries_.splice(entries_.begin(), entries_, it);
    return true;
  }
  return false;
}

void TileMemo::store(std::uint64_t model, std::uint64_t hash, int width, int height,
                     const float *input, const std::vector<float> &output) {
  const std::size_t count = static_cast<std::size_t>(width) * height * 3;
  const std::size_t size = (count + output.size()) * sizeof(float);
  if (size > max_bytes_) return;
  Entry entry;
  entry.model = model;
  entry.hash = hash;
  entry.width = width;
  entry.height = height;
  entry.input.assign(input, input + count);
  entry.output = output;
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.push_front(std::move(entry));
  bytes_ += size;
  while (bytes_ > max_bytes_) {
    bytes_ -= (entries_.back().input.size() + entries_.back().output.size()) * sizeof(float);
    entries_.pop_back();
  }
}

void TileMemo::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.clear();
  bytes_ = 0;
}

std::size_t TileMemo::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

}  // namespace streaming
}  // namespace fdikp
