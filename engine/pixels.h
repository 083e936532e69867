// The engine's view of the caller's image: pixel access and the callbacks
// for progress and cancellation. No LibTorch, GLib or GEGL types.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_PIXELS_H
#define FDIKP_PIXELS_H

#include <functional>

namespace fdikp {

// A rectangle in image pixel coordinates.
struct Rect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

// The caller owns the pixels. The engine reads the input through `read` and
// writes each output pixel exactly once through `write`, in rows of tiles,
// so the caller never needs the whole image in one piece.
//   read(rect, rgb):  fill rect.width * rect.height interleaved R'G'B' floats
//                     (sRGB-encoded, nominally [0, 1]); rect lies inside the
//                     image.
//   write(rect, rgb): take the finished R'G'B' floats of rect (inside the
//                     region); of a defocus map (Output::DefocusMap), one
//                     float per pixel, the blur radius in pixels.
// progress(fraction) is called after each tile; cancelled() is polled before
// each tile (a cancelled run ends as cancelled and may have written
// part of the image: the caller restores it).
struct Pixels {
  int width = 0;
  int height = 0;
  // The part of the output wanted; a width or height of 0 means the whole
  // image. Only the tiles that reach it are inferred and only its pixels
  // are written, each exactly as a whole-image run computes it (the tile
  // grid is anchored to the image, not to the region); reads reach past it
  // by up to one tile (streaming::input_needed).
  Rect region;
  std::function<void(const Rect &, float *rgb)> read;
  std::function<void(const Rect &, const float *rgb)> write;
};

struct Callbacks {
  std::function<void(double fraction)> progress;
  std::function<bool()> cancelled;
};

}  // namespace fdikp

#endif  // FDIKP_PIXELS_H
