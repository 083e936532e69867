// Tile geometry: tiles cover the image, feather weights sum to one, small
// and odd sizes, reflection.

#include <algorithm>

#include "../check.h"
#include "engine/tiling.h"

using fdikp::tiling::layout;
using fdikp::tiling::reflect;
using fdikp::tiling::Span;
using fdikp::tiling::weight;

namespace {

// For every sample of the axis: the weights sum to 1, every tile with a
// non-zero weight there actually reads that sample, and at least one does.
void check_axis(int length, int tile, int overlap, int multiple) {
  const std::vector<Span> spans = layout(length, tile, overlap, multiple);
  CHECK(!spans.empty());
  for (const Span &s : spans) {
    CHECK_EQ(s.size % multiple, 0);
    CHECK(s.size <= std::max(tile, fdikp::tiling::round_up(length, multiple)));
    CHECK(s.start <= s.weighted_begin());
    CHECK(s.start + s.size >= s.weighted_end());
  }
  CHECK_EQ(spans.front().core_begin, 0);
  CHECK_EQ(spans.back().core_end, length);
  for (std::size_t i = 1; i < spans.size(); ++i)
    CHECK_EQ(spans[i].core_begin, spans[i - 1].core_end);
  for (int p = 0; p < length; ++p) {
    double sum = 0;
    int readers = 0;
    for (const Span &s : spans) {
      const float w = weight(s, p);
      CHECK(w >= 0.0f && w <= 1.0f);
      if (w > 0) {
        ++readers;
        CHECK(p >= s.start && p < s.start + s.size);
      }
      sum += w;
    }
    CHECK(readers >= 1);
    CHECK_NEAR(sum, 1.0, 1e-6);
  }
}

}  // namespace

TEST(weights_sum_to_one_across_layouts) {
  const int lengths[] = {1, 2, 3, 7, 15, 16, 17, 63, 64, 65, 127, 128, 129, 500, 1000, 1023, 4099};
  for (int length : lengths) {
    check_axis(length, 64, 16, 1);
    check_axis(length, 64, 16, 16);
    check_axis(length, 128, 64, 16);
    check_axis(length, 96, 0, 32);
    check_axis(length, 64, 63, 4);  // overlap clamped to a third of the tile
  }
}

TEST(axis_shorter_than_a_tile_is_one_padded_tile) {
  const auto spans = layout(17, 64, 16, 16);
  CHECK_EQ(spans.size(), 1u);
  CHECK_EQ(spans[0].start, 0);
  CHECK_EQ(spans[0].size, 32);
  CHECK_EQ(spans[0].core_end, 17);
  CHECK_EQ(weight(spans[0], 0), 1.0f);
  CHECK_EQ(weight(spans[0], 16), 1.0f);
  const auto single = layout(1, 512, 64, 1);
  CHECK_EQ(single.size(), 1u);
  CHECK_EQ(single[0].size, 1);
}

TEST(long_axis_gets_equal_cores_and_tiles_fitted_to_them) {
  const auto spans = layout(1000, 256, 64, 16);
  CHECK_EQ(spans.size(), 6u);  // step 192: ceil(1000 / 192)
  for (const Span &s : spans) {
    const int core = s.core_end - s.core_begin;
    CHECK(core == 166 || core == 167);
    CHECK_EQ(s.size, 240);  // core + 64 shared, rounded up to 16; not 256
  }
  // Cores of a full step keep the full tile.
  for (const Span &s : layout(1024, 320, 64, 4)) CHECK_EQ(s.size, 320);
  for (const Span &s : layout(1024, 320, 32, 4)) CHECK_EQ(s.size, 288);
  CHECK_EQ(spans[0].ramp_before, 0);
  CHECK_EQ(spans[0].ramp_after, 16);
  CHECK_EQ(spans[1].start, spans[1].core_begin - 32);
  CHECK_EQ(spans.back().ramp_after, 0);
}

TEST(weights_are_one_inside_cores_and_fade_in_shared_regions) {
  const auto spans = layout(300, 128, 32, 1);  // 32 shared: 16 feathered, 8 of context on each side
  const Span &a = spans[0], &b = spans[1];
  CHECK_EQ(weight(a, 0), 1.0f);
  CHECK_EQ(weight(a, a.core_end - 9), 1.0f);
  CHECK(weight(a, a.core_end - 1) > 0.5f);
  CHECK(weight(b, a.core_end) > 0.5f);
  CHECK_EQ(weight(a, a.core_end + 8), 0.0f);
  CHECK_EQ(weight(b, b.core_begin - 9), 0.0f);
  // Context: the weighted region stays a quarter of the overlap inside the tile.
  CHECK(a.start + a.size - a.weighted_end() >= 8);
  CHECK(b.weighted_begin() - b.start >= 8);
}

TEST(reflect_mirrors_about_border_samples) {
  CHECK_EQ(reflect(-1, 5), 1);
  CHECK_EQ(reflect(-2, 5), 2);
  CHECK_EQ(reflect(5, 5), 3);
  CHECK_EQ(reflect(6, 5), 2);
  CHECK_EQ(reflect(3, 5), 3);
  CHECK_EQ(reflect(-9, 5), 1);
  CHECK_EQ(reflect(13, 5), 3);
  CHECK_EQ(reflect(-7, 1), 0);
  CHECK_EQ(reflect(7, 1), 0);
  CHECK_EQ(reflect(2, 2), 0);
  CHECK_EQ(reflect(-1, 2), 1);
  for (int i = -50; i < 50; ++i) {
    const int r = reflect(i, 7);
    CHECK(r >= 0 && r < 7);
  }
}

CHECK_MAIN()
