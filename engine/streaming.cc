// The image streamed through tiles: see streaming.h.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "streaming.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "tiling.h"

namespace fdikp {
namespace streaming {

namespace {

class TiledPass {
 public:
  TiledPass(const Pixels &pixels, const Callbacks &callbacks, int tile, int overlap, int multiple,
            const Infer &infer, const Reuse &reuse, int *tiles_reused, int channels)
      : pixels_(pixels),
        callbacks_(callbacks),
        tile_(tile),
        overlap_(overlap),
        multiple_(multiple),
        infer_(infer),
        region_(resolve_region(pixels)),
        reuse_(reuse),
        tiles_reused_(tiles_reused),
        channels_(channels) {}

  PassResult run(int *tiles_done) {
    // The grid is laid over the whole image whatever the region, and only
    // the tiles that weigh on the region run: each pixel of the region sums
    // the same tiles' outputs in the same order as in a whole-image pass.
    const auto xs = reaching(tiling::layout(pixels_.width, tile_, overlap_, multiple_), region_.x,
                             region_.x + region_.width);
    const auto ys = reaching(tiling::layout(pixels_.height, tile_, overlap_, multiple_), region_.y,
                             region_.y + region_.height);
    const double total = static_cast<double>(xs.size() * ys.size());
    const int width = region_.width;
    const int region_bottom = region_.y + region_.height;
    *tiles_done = 0;
    std::vector<float> band;  // rows [band_top, ...) of the region's blended output
    int band_top = region_.y;
    for (std::size_t ty = 0; ty < ys.size(); ++ty) {
      const tiling::Span &sy = ys[ty];
      const int bottom = std::min(region_bottom, sy.weighted_end());
      band.resize(static_cast<std::size_t>(bottom - band_top) * width * channels_, 0.0f);
      for (const tiling::Span &sx : xs) {
        if (callbacks_.cancelled && callbacks_.cancelled())
          return {Outcome::Cancelled, "cancelled"};
        read_tile(sx, sy);
        output_.clear();
        // A tile that weighs on pixels outside the region will be wanted
        // again by the region next to it.
        const bool beyond =
            sx.weighted_begin() < region_.x || sx.weighted_end() > region_.x + region_.width ||
            sy.weighted_begin() < region_.y || sy.weighted_end() > region_.y + region_.height;
        const bool memo = beyond && reuse_.memo;
        const std::uint64_t hash = memo ? TileMemo::hash(input_.data(), sx.size, sy.size) : 0;
        if (memo &&
            reuse_.memo->find(reuse_.model, hash, sx.size, sy.size, input_.data(), &output_)) {
          if (tiles_reused_) ++*tiles_reused_;
        } else {
          PassResult tile = infer_(input_.data(), sx.size, sy.size, &output_);
          if (tile.outcome != Outcome::Done) return tile;
          const std::size_t expected = input_.size() / 3 * channels_;
          if (output_.size() != expected)
            return {Outcome::Failed, "internal error: a tile's inference returned " +
                                         std::to_string(output_.size()) + " values for " +
                                         std::to_string(expected)};
          if (memo)
            reuse_.memo->store(reuse_.model, hash, sx.size, sy.size, input_.data(), output_);
        }
        accumulate(sx, sy, band_top, &band);
        ++*tiles_done;
        if (callbacks_.progress) callbacks_.progress(*tiles_done / total);
      }
      // Rows above the next band's first weighted row are final: hand them
      // over once and keep only the rows the next band still blends into.
      const int final_end =
          ty + 1 < ys.size() ? std::max(band_top, ys[ty + 1].weighted_begin()) : bottom;
      if (final_end > band_top) {
        pixels_.write(Rect{region_.x, band_top, width, final_end - band_top}, band.data());
      }
      band.erase(band.begin(), band.begin() + static_cast<std::ptrdiff_t>(final_end - band_top) *
                                                  width * channels_);
      band_top = final_end;
    }
    return {};
  }

 private:
  // Reads the tile's pixels into input_, reflecting past the borders.
  void read_tile(const tiling::Span &sx, const tiling::Span &sy) {
    const int w = pixels_.width, h = pixels_.height;
    columns_.resize(sx.size);
    rows_.resize(sy.size);
    for (int i = 0; i < sx.size; ++i) columns_[i] = tiling::reflect(sx.start + i, w);
    for (int j = 0; j < sy.size; ++j) rows_[j] = tiling::reflect(sy.start + j, h);
    const auto [x0, x1] = std::minmax_element(columns_.begin(), columns_.end());
    const auto [y0, y1] = std::minmax_element(rows_.begin(), rows_.end());
    const Rect source{*x0, *y0, *x1 - *x0 + 1, *y1 - *y0 + 1};
    source_.resize(static_cast<std::size_t>(source.width) * source.height * 3);
    pixels_.read(source, source_.data());
    input_.resize(static_cast<std::size_t>(sx.size) * sy.size * 3);
    for (int j = 0; j < sy.size; ++j) {
      const float *row =
          source_.data() + static_cast<std::size_t>(rows_[j] - source.y) * source.width * 3;
      float *dst = input_.data() + static_cast<std::size_t>(j) * sx.size * 3;
      for (int i = 0; i < sx.size; ++i) {
        const float *px = row + static_cast<std::size_t>(columns_[i] - source.x) * 3;
        for (int c = 0; c < 3; ++c) {
          // The model is defined on [0, 1]; NaN (std::clamp keeps it) and
          // out-of-range float pixels would otherwise spread through it.
          const float v = px[c];
          dst[i * 3 + c] = std::isnan(v) ? 0.0f : std::clamp(v, 0.0f, 1.0f);
        }
      }
    }
  }

  // The spans of `spans` whose weighted range meets [begin, end).
  static std::vector<tiling::Span> reaching(const std::vector<tiling::Span> &spans, int begin,
                                            int end) {
    std::vector<tiling::Span> out;
    for (const tiling::Span &s : spans)
      if (s.weighted_end() > begin && s.weighted_begin() < end) out.push_back(s);
    return out;
  }

  void accumulate(const tiling::Span &sx, const tiling::Span &sy, int band_top,
                  std::vector<float> *band) {
    const int width = region_.width;
    const int xa = std::max(region_.x, sx.weighted_begin());
    const int xb = std::min(region_.x + region_.width, sx.weighted_end());
    const int ya = std::max(region_.y, sy.weighted_begin());
    const int yb = std::min(region_.y + region_.height, sy.weighted_end());
    wx_.resize(xb - xa);
    for (int x = xa; x < xb; ++x) wx_[x - xa] = tiling::weight(sx, x);
    const int n = channels_;  // 3 or 1 (run_tiled)
    for (int y = ya; y < yb; ++y) {
      const float wy = tiling::weight(sy, y);
      const float *src =
          output_.data() + (static_cast<std::size_t>(y - sy.start) * sx.size + (xa - sx.start)) * n;
      float *dst =
          band->data() + (static_cast<std::size_t>(y - band_top) * width + (xa - region_.x)) * n;
      if (n == 3) {
        for (int x = 0; x < xb - xa; ++x) {
          const float w = wy * wx_[x];
          dst[3 * x + 0] += w * src[3 * x + 0];
          dst[3 * x + 1] += w * src[3 * x + 1];
          dst[3 * x + 2] += w * src[3 * x + 2];
        }
      } else {  // one channel: a defocus map
        for (int x = 0; x < xb - xa; ++x) dst[x] += wy * wx_[x] * src[x];
      }
    }
  }

  const Pixels &pixels_;
  const Callbacks &callbacks_;
  const int tile_;
  const int overlap_;
  const int multiple_;
  const Infer &infer_;
  const Rect region_;
  const Reuse reuse_;
  int *const tiles_reused_;
  const int channels_;  // output values per pixel
  std::vector<float> source_, input_, output_, wx_;
  std::vector<int> columns_, rows_;  // reflected image coordinates of the tile's samples
};

}  // namespace

Rect resolve_region(const Pixels &pixels) {
  const Rect &r = pixels.region;
  if (r.width <= 0 || r.height <= 0) return Rect{0, 0, pixels.width, pixels.height};
  const int x0 = std::clamp(r.x, 0, pixels.width), y0 = std::clamp(r.y, 0, pixels.height);
  const int x1 = std::clamp(r.x + r.width, x0, pixels.width);
  const int y1 = std::clamp(r.y + r.height, y0, pixels.height);
  return Rect{x0, y0, x1 - x0, y1 - y0};
}

Rect input_needed(int width, int height, int tile, const Rect &region) {
  // A tile that weighs on the region starts at most one tile before it and
  // ends at most one tile after it; reads reflected past the image border
  // land within the same distance of the region (tiling::layout).
  const int x0 = std::clamp(region.x - tile, 0, width);
  const int y0 = std::clamp(region.y - tile, 0, height);
  const int x1 = std::clamp(region.x + region.width + tile, x0, width);
  const int y1 = std::clamp(region.y + region.height + tile, y0, height);
  return Rect{x0, y0, x1 - x0, y1 - y0};
}

PassResult run_tiled(const Pixels &pixels, const Callbacks &callbacks, int tile, int overlap,
                     int multiple, const Infer &infer, int *tiles_done, const Reuse &reuse,
                     int *tiles_reused, int channels) {
  if (tiles_reused) *tiles_reused = 0;
  if (channels != 1 && channels != 3)
    return {Outcome::Failed, "internal error: " + std::to_string(channels) + " output channels"};
  return TiledPass(pixels, callbacks, tile, overlap, multiple, infer, reuse, tiles_reused, channels)
      .run(tiles_done);
}

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
