// Tile geometry for the engine: where tiles go, how their outputs are
// feathered together, and how reads past the image border are reflected.
// Pure arithmetic, no LibTorch, so it is tested on its own.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_TILING_H
#define FDIKP_TILING_H

#include <vector>

namespace fdikp {
namespace tiling {

// One tile along one axis. The tile reads [start, start + size), which may
// reach past the image (those samples are reflected), and owns the core
// [core_begin, core_end): the cores of all tiles partition [0, length).
// Its output counts with a non-zero weight only on
// [core_begin - ramp_before, core_end + ramp_after).
struct Span {
  int start = 0;
  int size = 0;
  int core_begin = 0;
  int core_end = 0;
  // Half-widths of the regions shared with the previous and next tile
  // (0 at the ends of the axis); each shared region is centred on the
  // boundary between the two cores.
  int ramp_before = 0;
  int ramp_after = 0;

  int weighted_begin() const { return core_begin - ramp_before; }
  int weighted_end() const { return core_end + ramp_after; }
};

// Lays tiles of at most `tile` samples (a multiple of `multiple`) over an
// axis of `length` samples so that neighbours share `overlap` samples: the
// middle half of the shared region is feathered, its outer quarters are
// context. The fewest tiles that take that, with equal cores, each tile
// just long enough for its core and the shared context (rounded up to
// `multiple`). An axis no longer than
// `tile` gets one tile, padded up to a multiple of `multiple`. Overlap is clamped so that
// neighbouring feathers never meet (see effective_overlap).
std::vector<Span> layout(int length, int tile, int overlap, int multiple);

// The overlap layout() really uses for these settings.
int effective_overlap(int length, int tile, int overlap);

// Weight of `span`'s output at `position` (a sample index on the axis).
// For any position in [0, length), the weights of all spans of one layout
// sum to exactly 1: a raised-cosine cross-fade across each shared region.
float weight(const Span &span, int position);

// Maps any integer index onto [0, length) by mirror reflection about the
// border samples (..., 2, 1, | 0, 1, ..., n-1, | n-2, ...), for any distance.
int reflect(int index, int length);

// Rounds value up / down to a multiple of m (m >= 1).
int round_up(int value, int m);
int round_down(int value, int m);

}  // namespace tiling
}  // namespace fdikp

#endif  // FDIKP_TILING_H
