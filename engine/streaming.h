// Streams an image through a tile-by-tile inference: reads each tile's
// pixels (reflected past the borders, cleaned to [0, 1]), hands them to an
// inference callback, cross-fades the results and writes the finished rows
// once, in bands, so that memory holds one tile and one band of rows. No
// LibTorch: the engine supplies the model as the callback, tests a plain
// function.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_STREAMING_H
#define FDIKP_STREAMING_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <vector>

#include "pixels.h"

namespace fdikp {
namespace streaming {

// How one pass over the image (or one tile's inference) ended.
enum class Outcome { Done, Cancelled, OutOfMemory, DeviceFault, Failed };

struct PassResult {
  Outcome outcome = Outcome::Done;
  std::string message;
};

// Runs the model on one tile of width x height interleaved R'G'B' floats in
// [0, 1] (both sides multiples of the pass's `multiple`), filling *output
// with width * height * channels floats (the pass's output channels: 3 for
// an image, 1 for a map); anything but Outcome::Done stops the pass with
// that result.
using Infer = std::function<PassResult(const float *input, int width, int height,
                                       std::vector<float> *output)>;

// Tiles kept for the next region: a host that asks for an image in pieces
// (GIMP's canvas asks chunk by chunk) would otherwise infer every tile along
// the pieces' edges once for each piece it reaches. run_tiled stores only
// tiles that reach past the region they were computed for (a whole-image
// run stores nothing) and finds them by the model's key and the tile's
// exact input, so a reused tile is the same output bit for bit. The least
// recently used go first beyond `max_bytes`. Thread-safe.
class TileMemo {
 public:
  explicit TileMemo(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  // A quick first test before the exact comparison of the input; computed
  // once per tile for find() and, on a miss, store().
  static std::uint64_t hash(const float *input, int width, int height);
  bool find(std::uint64_t model, std::uint64_t hash, int width, int height, const float *input,
            std::vector<float> *output);
  void store(std::uint64_t model, std::uint64_t hash, int width, int height, const float *input,
             const std::vector<float> &output);
  void clear();
  std::size_t bytes() const;

 private:
  struct Entry {
    std::uint64_t model = 0, hash = 0;
    int width = 0, height = 0;
    std::vector<float> input, output;
  };
  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::size_t bytes_ = 0;
};

// A memo and the key of the model (and its settings) whose tiles it holds.
struct Reuse {
  TileMemo *memo = nullptr;
  std::uint64_t model = 0;
};

// Tiles inferred side by side. `run` calls job(0) ... job(count - 1), as
// many at the same time as it can, and returns when all have returned
// (each job's inference then has fewer threads of its own: the engine runs
// them on LibTorch's threads, one each). A pass hands up to `count` tiles
// at a time to it; with count 1 or no `run`, tiles go one after the other.
struct Lanes {
  int count = 1;
  std::function<void(int count, const std::function<void(int)> &job)> run;
};

// The whole image when `region` is empty, else `region` clipped to the
// image.
Rect resolve_region(const Pixels &pixels);

// The input a pass over `region` of a width x height image may read with
// tiles of at most `tile` samples: the region grown by `tile` on every side,
// clipped to the image. A bound, not the exact set, so that it holds for a
// smaller tile too (a pass retried after running out of memory).
Rect input_needed(int width, int height, int tile, const Rect &region);

// One pass over `pixels` (its region: see Pixels) with square tiles of
// `tile` samples (a multiple of `multiple`) sharing `overlap` samples
// (tiling::layout). Progress after each tile, cancellation polled once for
// each, before it; *tiles_done counts the tiles done (inferred, or found in
// reuse.memo: *tiles_reused counts those when given). `channels` values
// per pixel come out of each inference and go to pixels.write: 3 (R'G'B')
// or 1 (a defocus map). With `lanes`, up to lanes.count tiles are read,
// inferred side by side, then blended in the same order as one by one; a
// group's tiles after its first are polled for cancellation before they
// are blended.
PassResult run_tiled(const Pixels &pixels, const Callbacks &callbacks, int tile, int overlap,
                     int multiple, const Infer &infer, int *tiles_done, const Reuse &reuse = {},
                     int *tiles_reused = nullptr, int channels = 3, const Lanes &lanes = {});

}  // namespace streaming
}  // namespace fdikp

#endif  // FDIKP_STREAMING_H
