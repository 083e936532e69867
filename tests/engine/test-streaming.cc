// The streaming of an image through tiles, with plain functions as the
// inference (no LibTorch, no fixture models): every pixel is written once,
// the cross-fades sum to one, tiles are padded to the multiple, inputs are
// cleaned, progress, cancellation and failures behave, and a region run
// gives exactly the region of a whole-image run, tiles inferred side by
// side included.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "../check.h"
#include "engine/streaming.h"

using fdikp::Callbacks;
using fdikp::Pixels;
using fdikp::Rect;
using fdikp::streaming::Infer;
using fdikp::streaming::input_needed;
using fdikp::streaming::Lanes;
using fdikp::streaming::Outcome;
using fdikp::streaming::PassResult;
using fdikp::streaming::Reuse;
using fdikp::streaming::run_tiled;
using fdikp::streaming::TileMemo;

namespace {

// An image in memory, counting how often each pixel is written.
struct Image {
  int width, height;
  std::vector<float> in, out;
  std::vector<int> writes;
  Rect region;  // what the pass is asked for
  int read_x0 = 1 << 30, read_y0 = 1 << 30, read_x1 = -1, read_y1 = -1;  // what it read

  Image(int w, int h)
      : width(w),
        height(h),
        in(std::size_t(w) * h * 3),
        out(in.size(), -1.0f),
        writes(std::size_t(w) * h, 0) {
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = float((i * 7919) % 1000) / 999.0f;
  }

  Pixels pixels() {
    Pixels p;
    p.width = width;
    p.height = height;
    p.region = region;
    p.read = [this](const Rect &r, float *rgb) {
      read_x0 = std::min(read_x0, r.x);
      read_y0 = std::min(read_y0, r.y);
      read_x1 = std::max(read_x1, r.x + r.width);
      read_y1 = std::max(read_y1, r.y + r.height);
      for (int y = 0; y < r.height; ++y)
        for (int x = 0; x < r.width; ++x)
          for (int c = 0; c < 3; ++c)
            *rgb++ = in[((std::size_t(r.y + y) * width) + r.x + x) * 3 + c];
    };
    p.write = [this](const Rect &r, const float *rgb) {
      for (int y = 0; y < r.height; ++y)
        for (int x = 0; x < r.width; ++x) {
          const std::size_t i = std::size_t(r.y + y) * width + r.x + x;
          ++writes[i];
          for (int c = 0; c < 3; ++c) out[i * 3 + c] = *rgb++;
        }
    };
    return p;
  }

  double max_error(float offset = 0.0f) const {
    double worst = 0;
    for (std::size_t i = 0; i < in.size(); ++i)
      worst = std::max(worst, std::fabs(double(out[i]) - (in[i] + offset)));
    return worst;
  }

  bool each_written_once() const {
    return std::all_of(writes.begin(), writes.end(), [](int n) { return n == 1; });
  }
};

// An inference whose every output depends on the tile's content and on
// where in the tile a pixel sits (a 3 x 3 box blur with clamped borders,
// scaled by the tile's mean): a region run matches a whole run only if it
// lays the same tiles and feeds them the same pixels.
Infer position_dependent(int *calls = nullptr) {
  return [calls](const float *input, int width, int height, std::vector<float> *output) {
    if (calls) ++*calls;
    double sum = 0;
    const std::size_t n = std::size_t(width) * height * 3;
    for (std::size_t i = 0; i < n; ++i) sum += input[i];
    const float scale = float(0.5 + sum / n);
    output->assign(n, 0.0f);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < 3; ++c) {
          float acc = 0;
          for (int dy = -1; dy <= 1; ++dy)
            for (int dx = -1; dx <= 1; ++dx) {
              const int yy = std::clamp(y + dy, 0, height - 1),
                        xx = std::clamp(x + dx, 0, width - 1);
              acc += input[(std::size_t(yy) * width + xx) * 3 + c];
            }
          (*output)[(std::size_t(y) * width + x) * 3 + c] = acc / 9.0f * scale;
        }
    return PassResult{};
  };
}

Infer adding(float offset, int *calls = nullptr) {
  return [offset, calls](const float *input, int width, int height, std::vector<float> *output) {
    if (calls) ++*calls;
    output->assign(input, input + std::size_t(width) * height * 3);
    for (float &v : *output) v += offset;
    return PassResult{};
  };
}

// Lanes on plain threads, one per job, as the engine runs them on threads
// of its own; *groups counts the calls that ran more than one tile.
Lanes on_threads(int count, std::atomic<int> *groups) {
  Lanes lanes;
  lanes.count = count;
  lanes.run = [groups](int jobs, const std::function<void(int)> &job) {
    if (jobs > 1) ++*groups;
    std::vector<std::thread> threads;
    for (int i = 0; i < jobs; ++i) threads.emplace_back(job, i);
    for (std::thread &thread : threads) thread.join();
  };
  return lanes;
}

// position_dependent, counting its calls from several threads.
Infer counted(std::atomic<int> *calls) {
  const Infer infer = position_dependent();
  return [infer, calls](const float *input, int width, int height, std::vector<float> *output) {
    ++*calls;
    return infer(input, width, height, output);
  };
}

}  // namespace

TEST(identity_reproduces_the_image_through_many_tiles_writing_each_pixel_once) {
  const int sizes[][2] = {{1, 1}, {1, 9}, {9, 1}, {17, 23}, {131, 5}, {257, 190}};
  for (const auto &size : sizes) {
    for (int tile : {16, 64, 512}) {
      Image image(size[0], size[1]);
      int tiles = 0, calls = 0;
      const PassResult result =
          run_tiled(image.pixels(), {}, tile, 8, 4, adding(0.0f, &calls), &tiles);
      CHECK(result.outcome == Outcome::Done);
      CHECK_EQ(tiles, calls);
      CHECK(image.each_written_once());
      CHECK(image.max_error() <= 2e-6);
    }
  }
}

TEST(the_cross_fades_sum_to_one) {
  // An offset survives blending unchanged only if the weights sum to one.
  Image image(200, 150);
  int tiles = 0;
  CHECK(run_tiled(image.pixels(), {}, 32, 16, 1, adding(0.25f), &tiles).outcome == Outcome::Done);
  CHECK(tiles > 20);
  CHECK(image.each_written_once());
  CHECK(image.max_error(0.25f) <= 2e-6);
}

TEST(tiles_are_multiples_of_the_multiple_and_inputs_are_cleaned) {
  Image image(45, 77);
  image.in[0] = std::numeric_limits<float>::quiet_NaN();
  image.in[1] = 7.0f;
  image.in[2] = -3.0f;
  for (int multiple : {1, 4, 16, 64}) {
    bool sides_ok = true, values_ok = true;
    const Infer check_tile = [&](const float *input, int width, int height,
                                 std::vector<float> *output) {
      sides_ok = sides_ok && width % multiple == 0 && height % multiple == 0;
      for (std::size_t i = 0; i < std::size_t(width) * height * 3; ++i)
        values_ok = values_ok && input[i] >= 0.0f && input[i] <= 1.0f;
      output->assign(input, input + std::size_t(width) * height * 3);
      return PassResult{};
    };
    int tiles = 0;
    // The engine passes a tile that is a multiple of the multiple.
    const int tile = std::max(32, multiple);
    CHECK(run_tiled(image.pixels(), {}, tile, 8, multiple, check_tile, &tiles).outcome ==
          Outcome::Done);
    CHECK(sides_ok);
    CHECK(values_ok);
  }
  CHECK_EQ(image.out[0], 0.0f);
  CHECK_EQ(image.out[1], 1.0f);
  CHECK_EQ(image.out[2], 0.0f);
}

TEST(progress_rises_to_one_and_cancellation_stops_before_a_tile) {
  Image image(120, 120);
  std::vector<double> seen;
  Callbacks callbacks;
  callbacks.progress = [&](double f) { seen.push_back(f); };
  int tiles = 0, calls = 0;
  CHECK(run_tiled(image.pixels(), callbacks, 32, 8, 1, adding(0.0f, &calls), &tiles).outcome ==
        Outcome::Done);
  CHECK_EQ(int(seen.size()), tiles);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK_NEAR(seen.back(), 1.0, 1e-12);

  for (int cancel_after : {0, 3}) {
    Image again(120, 120);
    int done = 0;
    calls = 0;
    Callbacks cancelling;
    cancelling.cancelled = [&] { return calls >= cancel_after; };
    const PassResult result =
        run_tiled(again.pixels(), cancelling, 32, 8, 1, adding(0.0f, &calls), &done);
    CHECK(result.outcome == Outcome::Cancelled);
    CHECK_EQ(calls, cancel_after);
    CHECK_EQ(done, cancel_after);
  }
}

TEST(a_failing_tile_stops_the_pass_with_its_result) {
  for (Outcome outcome : {Outcome::Failed, Outcome::OutOfMemory, Outcome::DeviceFault}) {
    Image image(100, 100);
    int calls = 0, tiles = 0;
    const Infer failing = [&](const float *, int, int, std::vector<float> *) {
      return ++calls == 2 ? PassResult{outcome, "tile two"} : PassResult{Outcome::Done, ""};
    };
    // A Done tile with no output is refused too: only the first call is
    // Done, and it returns nothing.
    const PassResult result = run_tiled(image.pixels(), {}, 32, 8, 1, failing, &tiles);
    CHECK(result.outcome == Outcome::Failed);
    CHECK_CONTAINS(result.message, "internal error");
    CHECK_EQ(calls, 1);
    CHECK_EQ(tiles, 0);

    int second_calls = 0;
    const Infer failing_second = [&](const float *input, int w, int h, std::vector<float> *output) {
      if (++second_calls == 2) return PassResult{outcome, "tile two"};
      output->assign(input, input + std::size_t(w) * h * 3);
      return PassResult{};
    };
    const PassResult second = run_tiled(image.pixels(), {}, 32, 8, 1, failing_second, &tiles);
    CHECK(second.outcome == outcome);
    CHECK_EQ(second.message, "tile two");
    CHECK_EQ(second_calls, 2);
    CHECK_EQ(tiles, 1);
  }
}

TEST(a_region_alone_equals_that_region_of_a_whole_run_bit_for_bit) {
  const int sizes[][2] = {{97, 61}, {130, 131}, {33, 200}};
  for (const auto &size : sizes) {
    for (int tile : {24, 48, 256}) {
      Image whole(size[0], size[1]);
      int whole_tiles = 0;
      CHECK(
          run_tiled(whole.pixels(), {}, tile, 12, 4, position_dependent(), &whole_tiles).outcome ==
          Outcome::Done);
      const Rect regions[] = {{0, 0, 1, 1},
                              {size[0] - 1, size[1] - 1, 1, 1},
                              {5, 7, 13, 29},
                              {size[0] / 3, size[1] / 2, size[0] / 2, size[1] / 3},
                              // around the first tile boundary when there is one
                              {std::min(tile, size[0]) - 2, std::min(tile, size[1]) - 2, 3, 3},
                              {0, 0, size[0], size[1]}};
      for (const Rect &r : regions) {
        Image part(size[0], size[1]);
        part.region = r;
        int tiles = 0, calls = 0;
        std::vector<double> progress;
        Callbacks callbacks;
        callbacks.progress = [&](double f) { progress.push_back(f); };
        CHECK(run_tiled(part.pixels(), callbacks, tile, 12, 4, position_dependent(&calls), &tiles)
                  .outcome == Outcome::Done);
        CHECK_EQ(tiles, calls);
        CHECK(tiles >= 1 && tiles <= whole_tiles);
        CHECK(!progress.empty() && progress.back() == 1.0);
        bool same = true, once_inside = true, untouched_outside = true;
        for (int y = 0; y < size[1]; ++y)
          for (int x = 0; x < size[0]; ++x) {
            const std::size_t i = std::size_t(y) * size[0] + x;
            const bool inside = x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
            if (inside) {
              once_inside = once_inside && part.writes[i] == 1;
              for (int c = 0; c < 3; ++c)
                same = same && part.out[i * 3 + c] == whole.out[i * 3 + c];
            } else {
              untouched_outside = untouched_outside && part.writes[i] == 0;
            }
          }
        CHECK(same);
        CHECK(once_inside);
        CHECK(untouched_outside);
        // Everything read lies within the bound a GEGL op asks its input for.
        const Rect bound = input_needed(size[0], size[1], tile, r);
        CHECK(part.read_x0 >= bound.x && part.read_y0 >= bound.y);
        CHECK(part.read_x1 <= bound.x + bound.width && part.read_y1 <= bound.y + bound.height);
      }
    }
  }
}

TEST(an_image_asked_for_in_pieces_infers_each_tile_once_with_a_memo) {
  const int w = 211, h = 157, tile = 48;
  Image whole(w, h);
  int whole_tiles = 0, whole_calls = 0;
  TileMemo memo(std::size_t(64) << 20);
  const Reuse reuse{&memo, 7};
  CHECK(run_tiled(whole.pixels(), {}, tile, 12, 4, position_dependent(&whole_calls), &whole_tiles,
                  reuse)
            .outcome == Outcome::Done);
  CHECK_EQ(memo.bytes(), std::size_t(0));  // a whole-image run keeps nothing
  for (std::size_t budget : {std::size_t(64) << 20, std::size_t(100000)}) {
    TileMemo pieces_memo(budget);
    Image pieces(w, h);
    int calls = 0, reused_total = 0, done_total = 0;
    // Chunks of 50 x 40 in rows, as a GEGL processor would ask for them.
    for (int y = 0; y < h; y += 40)
      for (int x = 0; x < w; x += 50) {
        pieces.region = Rect{x, y, std::min(50, w - x), std::min(40, h - y)};
        int done = 0, reused = 0;
        CHECK(run_tiled(pieces.pixels(), {}, tile, 12, 4, position_dependent(&calls), &done,
                        Reuse{&pieces_memo, 7}, &reused)
                  .outcome == Outcome::Done);
        reused_total += reused;
        done_total += done;
      }
    CHECK(pieces.out == whole.out);  // bit for bit, reused tiles included
    CHECK(pieces.each_written_once());
    CHECK_EQ(calls + reused_total, done_total);
    if (budget > 1000000) {
      CHECK_EQ(calls, whole_calls);  // every tile inferred exactly once
    } else {
      CHECK(calls > whole_calls);  // a memo too small for one tile keeps nothing
      CHECK_EQ(reused_total, 0);
    }
  }
  // The tiles kept for one model's key are found by that key only.
  Image other(w, h);
  int reused = -1, done = 0;
  other.region = Rect{0, 0, 50, 40};
  run_tiled(other.pixels(), {}, tile, 12, 4, position_dependent(), &done, reuse, &reused);
  CHECK(memo.bytes() > 0);
  other.region = Rect{50, 0, 50, 40};
  run_tiled(other.pixels(), {}, tile, 12, 4, position_dependent(), &done, Reuse{&memo, 8}, &reused);
  CHECK_EQ(reused, 0);
  run_tiled(other.pixels(), {}, tile, 12, 4, position_dependent(), &done, reuse, &reused);
  CHECK(reused > 0);
}

TEST(a_small_region_runs_only_the_tiles_that_reach_it) {
  Image image(1000, 800);
  image.region = Rect{500, 400, 10, 10};
  int tiles = 0;
  CHECK(run_tiled(image.pixels(), {}, 64, 16, 1, adding(0.0f), &tiles).outcome == Outcome::Done);
  CHECK(tiles >= 1 && tiles <= 4);
  // A region outside the image writes nothing.
  Image outside(50, 50);
  outside.region = Rect{60, 0, 10, 10};
  CHECK(run_tiled(outside.pixels(), {}, 32, 8, 1, adding(0.0f), &tiles).outcome == Outcome::Done);
  CHECK_EQ(tiles, 0);
  CHECK(std::all_of(outside.writes.begin(), outside.writes.end(), [](int n) { return n == 0; }));
}

TEST(tiles_side_by_side_give_the_one_by_one_result_bit_for_bit) {
  const int sizes[][2] = {{97, 61}, {130, 131}, {257, 190}};
  for (const auto &size : sizes) {
    Image whole(size[0], size[1]);
    int whole_tiles = 0;
    CHECK(run_tiled(whole.pixels(), {}, 48, 12, 4, position_dependent(), &whole_tiles).outcome ==
          Outcome::Done);
    for (int count : {2, 3, 5}) {
      Image side(size[0], size[1]);
      std::atomic<int> calls{0}, groups{0};
      std::vector<double> seen;
      Callbacks callbacks;
      callbacks.progress = [&](double f) { seen.push_back(f); };
      int tiles = 0;
      CHECK(run_tiled(side.pixels(), callbacks, 48, 12, 4, counted(&calls), &tiles, {}, nullptr, 3,
                      on_threads(count, &groups))
                .outcome == Outcome::Done);
      CHECK(side.out == whole.out);
      CHECK(side.each_written_once());
      CHECK_EQ(tiles, whole_tiles);
      CHECK_EQ(calls.load(), whole_tiles);
      CHECK(groups.load() >= (whole_tiles - 1) / count);  // every full group ran side by side
      CHECK_EQ(int(seen.size()), tiles);
      CHECK(std::is_sorted(seen.begin(), seen.end()));
      CHECK_NEAR(seen.back(), 1.0, 1e-12);
      // Asked for in pieces through a memo: still the same pixels.
      TileMemo memo(std::size_t(64) << 20);
      Image pieces(size[0], size[1]);
      for (int y = 0; y < size[1]; y += 40)
        for (int x = 0; x < size[0]; x += 50) {
          pieces.region = Rect{x, y, std::min(50, size[0] - x), std::min(40, size[1] - y)};
          int done = 0;
          CHECK(run_tiled(pieces.pixels(), {}, 48, 12, 4, counted(&calls), &done, Reuse{&memo, 3},
                          nullptr, 3, on_threads(count, &groups))
                    .outcome == Outcome::Done);
        }
      CHECK(pieces.out == whole.out);
      CHECK(pieces.each_written_once());
    }
  }
}

TEST(tiles_side_by_side_stop_at_cancellation_and_at_a_failing_tile) {
  std::atomic<int> groups{0};
  for (int cancel_after : {0, 3}) {
    Image image(120, 120);  // 16 tiles of 32 px
    std::atomic<int> calls{0};
    int done = 0;
    Callbacks cancelling;
    cancelling.cancelled = [&] { return calls.load() >= cancel_after; };
    const PassResult result = run_tiled(image.pixels(), cancelling, 32, 8, 1, counted(&calls),
                                        &done, {}, nullptr, 3, on_threads(3, &groups));
    CHECK(result.outcome == Outcome::Cancelled);
    // Polled once per tile: before the first group, nothing runs; a cancel
    // while a group of three runs stops before its second tile is blended.
    CHECK_EQ(calls.load(), cancel_after == 0 ? 0 : 3);
    CHECK_EQ(done, cancel_after == 0 ? 0 : 1);
  }
  for (Outcome outcome : {Outcome::Failed, Outcome::OutOfMemory, Outcome::DeviceFault}) {
    Image image(120, 120);
    std::atomic<int> calls{0};
    const Infer fifth_fails = [&](const float *input, int w, int h, std::vector<float> *output) {
      // The fifth call is one of the second group of three (which one
      // depends on the threads).
      if (++calls == 5) return PassResult{outcome, "tile five"};
      output->assign(input, input + std::size_t(w) * h * 3);
      return PassResult{};
    };
    int done = 0;
    const PassResult result = run_tiled(image.pixels(), {}, 32, 8, 1, fifth_fails, &done, {},
                                        nullptr, 3, on_threads(3, &groups));
    CHECK(result.outcome == outcome);
    CHECK_EQ(result.message, "tile five");
    // The first group is blended, and of the second, the tiles before the
    // failed one; none after it.
    CHECK(done >= 3 && done < 6);
    CHECK_EQ(calls.load(), 6);
    CHECK(std::all_of(image.writes.begin(), image.writes.end(), [](int n) { return n <= 1; }));
  }
}

CHECK_MAIN()
