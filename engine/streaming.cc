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
            const Infer &infer, const Reuse &reuse, int *tiles_reused, int channels,
            const Lanes &lanes)
      : pixels_(pixels),
        callbacks_(callbacks),
        tile_(tile),
        overlap_(overlap),
        multiple_(multiple),
        infer_(infer),
        region_(resolve_region(pixels)),
        reuse_(reuse),
        tiles_reused_(tiles_reused),
        channels_(channels),
        lanes_(lanes) {}

  PassResult run(int *tiles_done) {
    // The grid is laid over the whole image whatever the region, and only
    // the tiles that weigh on the region run: each pixel of the region sums
    // the same tiles' outputs in the same order as in a whole-image pass.
    xs_ = reaching(tiling::layout(pixels_.width, tile_, overlap_, multiple_), region_.x,
                   region_.x + region_.width);
    ys_ = reaching(tiling::layout(pixels_.height, tile_, overlap_, multiple_), region_.y,
                   region_.y + region_.height);
    const std::size_t total = xs_.size() * ys_.size();
    *tiles_done = 0;
    band_.clear();
    band_top_ = region_.y;
    // Tiles go in row-major order, up to lanes_.count at a time: read, then
    // inferred side by side, then blended one after the other in that order,
    // so that the output does not depend on how many ran at once (beyond
    // the float rounding of the threads each inference had).
    const std::size_t lanes = static_cast<std::size_t>(std::max(1, lanes_.count));
    slots_.resize(std::min(lanes, std::max<std::size_t>(total, 1)));
    for (std::size_t first = 0; first < total; first += slots_.size()) {
      if (callbacks_.cancelled && callbacks_.cancelled()) return {Outcome::Cancelled, "cancelled"};
      const std::size_t count = std::min(slots_.size(), total - first);
      std::vector<int> pending;  // slots to infer (not found in the memo)
      for (std::size_t k = 0; k < count; ++k) {
        Slot &slot = slots_[k];
        slot.sx = xs_[(first + k) % xs_.size()];
        slot.sy = ys_[(first + k) / xs_.size()];
        read_tile(slot);
        slot.output.clear();
        // A tile that weighs on pixels outside the region will be wanted
        // again by the region next to it.
        const tiling::Span &sx = slot.sx, &sy = slot.sy;
        slot.memo =
            reuse_.memo &&
            (sx.weighted_begin() < region_.x || sx.weighted_end() > region_.x + region_.width ||
             sy.weighted_begin() < region_.y || sy.weighted_end() > region_.y + region_.height);
        slot.hash = slot.memo ? TileMemo::hash(slot.input.data(), sx.size, sy.size) : 0;
        slot.reused = slot.memo && reuse_.memo->find(reuse_.model, slot.hash, sx.size, sy.size,
                                                     slot.input.data(), &slot.output);
        if (!slot.reused) pending.push_back(static_cast<int>(k));
      }
      const auto infer = [&](int index) {
        Slot &slot = slots_[pending[index]];
        slot.result = infer_(slot.input.data(), slot.sx.size, slot.sy.size, &slot.output);
      };
      if (pending.size() > 1 && lanes_.run) lanes_.run(static_cast<int>(pending.size()), infer);
      else
        for (std::size_t i = 0; i < pending.size(); ++i) infer(static_cast<int>(i));
      for (std::size_t k = 0; k < count; ++k) {
        // Cancellation is polled once per tile: for a group's first tile
        // before the group runs, for the others before they are blended (a
        // cancel during the group's inference stops at its next tile).
        if (k > 0 && callbacks_.cancelled && callbacks_.cancelled())
          return {Outcome::Cancelled, "cancelled"};
        Slot &slot = slots_[k];
        if (!slot.reused) {
          if (slot.result.outcome != Outcome::Done) return slot.result;
          const std::size_t expected = slot.input.size() / 3 * channels_;
          if (slot.output.size() != expected)
            return {Outcome::Failed, "internal error: a tile's inference returned " +
                                         std::to_string(slot.output.size()) + " values for " +
                                         std::to_string(expected)};
          if (slot.memo)
            reuse_.memo->store(reuse_.model, slot.hash, slot.sx.size, slot.sy.size,
                               slot.input.data(), slot.output);
        } else if (tiles_reused_) {
          ++*tiles_reused_;
        }
        blend(first + k, slot);
        ++*tiles_done;
        if (callbacks_.progress) callbacks_.progress(*tiles_done / static_cast<double>(total));
      }
    }
    return {};
  }

 private:
  // One tile on its way through a pass: its place, input, output and how
  // its inference ended.
  struct Slot {
    tiling::Span sx, sy;
    std::vector<float> input, output;
    std::vector<int> columns, rows;  // reflected image coordinates of its samples
    std::vector<float> source;
    bool memo = false, reused = false;
    std::uint64_t hash = 0;
    PassResult result;
  };

  // Adds tile `index` (row-major) to the band of rows it weighs on; the
  // first tile of a row of tiles grows the band to that row's bottom, the
  // last hands over the rows that no later tile weighs on.
  void blend(std::size_t index, const Slot &slot) {
    const std::size_t ty = index / xs_.size();
    const bool row_begins = index % xs_.size() == 0;
    const bool row_ends = index % xs_.size() + 1 == xs_.size();
    const int width = region_.width;
    const int region_bottom = region_.y + region_.height;
    const int bottom = std::min(region_bottom, slot.sy.weighted_end());
    if (row_begins)
      band_.resize(static_cast<std::size_t>(bottom - band_top_) * width * channels_, 0.0f);
    accumulate(slot);
    if (!row_ends) return;
    // Rows above the next band's first weighted row are final: hand them
    // over once and keep only the rows the next band still blends into.
    const int final_end =
        ty + 1 < ys_.size() ? std::max(band_top_, ys_[ty + 1].weighted_begin()) : bottom;
    if (final_end > band_top_)
      pixels_.write(Rect{region_.x, band_top_, width, final_end - band_top_}, band_.data());
    band_.erase(band_.begin(), band_.begin() + static_cast<std::ptrdiff_t>(final_end - band_top_) *
                                                   width * channels_);
    band_top_ = final_end;
  }

  // Reads the slot's tile into its input, reflecting past the borders.
  void read_tile(Slot &slot) const {
    const tiling::Span &sx = slot.sx, &sy = slot.sy;
    const int w = pixels_.width, h = pixels_.height;
    slot.columns.resize(sx.size);
    slot.rows.resize(sy.size);
    for (int i = 0; i < sx.size; ++i) slot.columns[i] = tiling::reflect(sx.start + i, w);
    for (int j = 0; j < sy.size; ++j) slot.rows[j] = tiling::reflect(sy.start + j, h);
    const auto [x0, x1] = std::minmax_element(slot.columns.begin(), slot.columns.end());
    const auto [y0, y1] = std::minmax_element(slot.rows.begin(), slot.rows.end());
    const Rect source{*x0, *y0, *x1 - *x0 + 1, *y1 - *y0 + 1};
    slot.source.resize(static_cast<std::size_t>(source.width) * source.height * 3);
    pixels_.read(source, slot.source.data());
    slot.input.resize(static_cast<std::size_t>(sx.size) * sy.size * 3);
    for (int j = 0; j < sy.size; ++j) {
      const float *row =
          slot.source.data() + static_cast<std::size_t>(slot.rows[j] - source.y) * source.width * 3;
      float *dst = slot.input.data() + static_cast<std::size_t>(j) * sx.size * 3;
      for (int i = 0; i < sx.size; ++i) {
        const float *px = row + static_cast<std::size_t>(slot.columns[i] - source.x) * 3;
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

  // Adds the slot's weighted output to the band.
  void accumulate(const Slot &slot) {
    const tiling::Span &sx = slot.sx, &sy = slot.sy;
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
      const float *src = slot.output.data() +
                         (static_cast<std::size_t>(y - sy.start) * sx.size + (xa - sx.start)) * n;
      float *dst =
          band_.data() + (static_cast<std::size_t>(y - band_top_) * width + (xa - region_.x)) * n;
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
  const Lanes lanes_;
  std::vector<tiling::Span> xs_, ys_;  // the spans that weigh on the region
  std::vector<Slot> slots_;
  std::vector<float> band_;  // rows [band_top_, ...) of the region's blended output
  int band_top_ = 0;
  std::vector<float> wx_;
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
                     int *tiles_reused, int channels, const Lanes &lanes) {
  if (tiles_reused) *tiles_reused = 0;
  if (channels != 1 && channels != 3)
    return {Outcome::Failed, "internal error: " + std::to_string(channels) + " output channels"};
  return TiledPass(pixels, callbacks, tile, overlap, multiple, infer, reuse, tiles_reused, channels,
                   lanes)
      .run(tiles_done);
}

}  // namespace streaming
}  // namespace fdikp
