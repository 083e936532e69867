// The streaming of an image through tiles, with plain functions as the
// inference (no LibTorch, no fixture models): every pixel is written once,
// the cross-fades sum to one, tiles are padded to the multiple, inputs are
// cleaned, and progress, cancellation and failures behave.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../check.h"
#include "engine/streaming.h"

using fdikp::Callbacks;
using fdikp::Pixels;
using fdikp::Rect;
using fdikp::streaming::Infer;
using fdikp::streaming::Outcome;
using fdikp::streaming::PassResult;
using fdikp::streaming::run_tiled;

namespace {

// An image in memory, counting how often each pixel is written.
struct Image {
  int width, height;
  std::vector<float> in, out;
  std::vector<int> writes;

  Image(int w, int h) : width(w), height(h), in(std::size_t(w) * h * 3), out(in.size(), -1.0f),
                        writes(std::size_t(w) * h, 0) {
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = float((i * 7919) % 1000) / 999.0f;
  }

  Pixels pixels() {
    Pixels p;
    p.width = width;
    p.height = height;
    p.read = [this](const Rect &r, float *rgb) {
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

Infer adding(float offset, int *calls = nullptr) {
  return [offset, calls](const float *input, int width, int height, std::vector<float> *output) {
    if (calls) ++*calls;
    output->assign(input, input + std::size_t(width) * height * 3);
    for (float &v : *output) v += offset;
    return PassResult{};
  };
}

}  // namespace

TEST(identity_reproduces_the_image_through_many_tiles_writing_each_pixel_once) {
  const int sizes[][2] = {{1, 1}, {1, 9}, {9, 1}, {17, 23}, {131, 5}, {257, 190}};
  for (const auto &size : sizes) {
    for (int tile : {16, 64, 512}) {
      Image image(size[0], size[1]);
      int tiles = 0, calls = 0;
      const PassResult result = run_tiled(image.pixels(), {}, tile, 8, 4, adding(0.0f, &calls), &tiles);
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
    const Infer check_tile = [&](const float *input, int width, int height, std::vector<float> *output) {
      sides_ok = sides_ok && width % multiple == 0 && height % multiple == 0;
      for (std::size_t i = 0; i < std::size_t(width) * height * 3; ++i)
        values_ok = values_ok && input[i] >= 0.0f && input[i] <= 1.0f;
      output->assign(input, input + std::size_t(width) * height * 3);
      return PassResult{};
    };
    int tiles = 0;
    // The engine passes a tile that is a multiple of the multiple.
    const int tile = std::max(32, multiple);
    CHECK(run_tiled(image.pixels(), {}, tile, 8, multiple, check_tile, &tiles).outcome == Outcome::Done);
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
    const PassResult result = run_tiled(again.pixels(), cancelling, 32, 8, 1, adding(0.0f, &calls), &done);
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

CHECK_MAIN()
