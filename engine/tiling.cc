// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "tiling.h"

#include <algorithm>
#include <cmath>

namespace fdikp {
namespace tiling {

int round_up(int value, int m) { return (value + m - 1) / m * m; }

int round_down(int value, int m) { return value / m * m; }

int reflect(int index, int length) {
  if (length <= 1) return 0;
  const int period = 2 * (length - 1);
  int i = index % period;
  if (i < 0) i += period;
  return i < length ? i : period - i;
}

int effective_overlap(int length, int tile, int overlap) {
  if (length <= tile) return 0;
  // Cores are at least (tile - overlap) / 2 long (see layout); keeping the
  // overlap at most a third of the tile keeps every core at least as long
  // as one shared region, so the two feathers of a tile never meet. Even,
  // so each shared region is centred on the boundary between two cores.
  return std::clamp(overlap, 0, tile / 3) & ~1;
}

std::vector<Span> layout(int length, int tile, int overlap, int multiple) {
  std::vector<Span> spans;
  if (length <= 0) return spans;
  if (length <= tile) {
    Span whole;
    whole.size = round_up(length, multiple);
    whole.core_end = length;
    spans.push_back(whole);
    return spans;
  }
  const int shared = effective_overlap(length, tile, overlap);
  // Of the samples two neighbours share, the middle half is cross-faded and
  // the outer quarters are context only: a tile's output is never used right
  // at its edge, where the model sees the least of the scene.
  const int half = shared / 2;
  const int ramp = shared / 4;
  const int step = tile - shared;
  const int count = (length + step - 1) / step;
  spans.reserve(count);
  // Equal cores (to within one sample) rather than full steps and a runt at
  // the end: no tile is mostly reflected padding.
  for (int t = 0; t < count; ++t) {
    Span s;
    s.core_begin = static_cast<int>(static_cast<long long>(t) * length / count);
    s.core_end = static_cast<int>(static_cast<long long>(t + 1) * length / count);
    s.ramp_before = t > 0 ? ramp : 0;
    s.ramp_after = t + 1 < count ? ramp : 0;
    s.start = s.core_begin - half;
    // No larger than its core and the shared context need: with equal
    // cores shorter than a full step the tile shrinks (1024 px in 320-px
    // tiles sharing 32: four cores of 256, tiles of 288, 0.81x the pixels).
    s.size = std::min(tile, round_up(s.core_end - s.core_begin + shared, multiple));
    spans.push_back(s);
  }
  return spans;
}

namespace {

// Rises from 0 to 1 across a shared region of `width` samples; sample k of
// the region gets rise(k) and the matching sample of the other tile
// 1 - rise(k), so the pair always sums to 1.
float rise(int k, int width) {
  const double u = (k + 0.5) / width;
  return static_cast<float>(0.5 - 0.5 * std::cos(M_PI * u));
}

}  // namespace

float weight(const Span &span, int position) {
  if (position < span.weighted_begin() || position >= span.weighted_end()) return 0.0f;
  if (span.ramp_before > 0 && position < span.core_begin + span.ramp_before) {
    return rise(position - span.weighted_begin(), 2 * span.ramp_before);
  }
  if (span.ramp_after > 0 && position >= span.core_end - span.ramp_after) {
    return 1.0f - rise(position - (span.core_end - span.ramp_after), 2 * span.ramp_after);
  }
  return 1.0f;
}

}  // namespace tiling
}  // namespace fdikp
