// Reliability of the engine: hostile pixels, extreme shapes, parameters at
// and beyond their bounds, a model file replaced under a running process,
// and several models failing and succeeding at once.

#include <sys/resource.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

#include "../check.h"
#include "engine/engine.h"

namespace {

std::string fixture(const std::string &name) {
  const char *dir = std::getenv("FDIKP_FIXTURES");
  return std::string(dir ? dir : "fixtures") + "/" + name;
}

fdikp::Options options_for(const std::string &path, int tile = 0, int overlap = 16) {
  fdikp::Options o;
  o.model_path = path;
  o.tile_size = tile;
  o.tile_overlap = overlap;
  o.device = fdikp::Device::Cpu;
  return o;
}

float pattern(int x, int y, int c) {
  return static_cast<float>(((x * 37 + y * 101 + c * 53) % 251) / 250.0);
}

std::vector<float> image(int w, int h, int channels) {
  std::vector<float> v(static_cast<std::size_t>(w) * h * channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        v[(static_cast<std::size_t>(y) * w + x) * channels + c] = pattern(x, y, c);
  return v;
}

fdikp::Status run(const fdikp::Options &o, const std::vector<float> &in, std::vector<float> *out,
                  int w, int h, int channels, fdikp::RunInfo *info = nullptr) {
  out->assign(in.size(), -7.0f);
  return fdikp::run_interleaved(o, in.data(), out->data(), w, h, channels, {}, info);
}

bool equal_within(const std::vector<float> &a, const std::vector<float> &b, double tolerance) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(static_cast<double>(a[i]) - b[i]) <= tolerance)) return false;
  return a.size() == b.size();
}

long peak_rss_kib() {
  struct rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

TEST(nonfinite_and_out_of_range_pixels_give_finite_in_range_output) {
  const int w = 40, h = 30, ch = 4;
  auto in = image(w, h, ch);
  const float hostile[] = {std::numeric_limits<float>::quiet_NaN(),
                           std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(),
                           -1.0f,
                           2.5f,
                           1e30f,
                           -1e-30f};
  for (std::size_t i = 0; i < in.size(); i += 7) in[i] = hostile[(i / 7) % 7];
  for (const char *model : {"identity.pt", "sharpen.pt"}) {
    std::vector<float> out;
    CHECK(run(options_for(fixture(model), 16, 8), in, &out, w, h, ch).ok());
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (i % ch == 3) {
        // Alpha is copied, whatever it holds.
        CHECK(std::memcmp(&in[i], &out[i], sizeof(float)) == 0);
      } else {
        CHECK(std::isfinite(out[i]) && out[i] >= 0.0f && out[i] <= 1.0f);
      }
    }
  }
}

TEST(extreme_shapes_come_back_exact_through_identity) {
  const int shapes[][2] = {{16384, 1}, {1, 16384}, {16384, 3}, {2, 9001},
                           {7919, 3},  {101, 103}, {1, 1}};
  for (const auto &shape : shapes) {
    const int w = shape[0], h = shape[1];
    const auto in = image(w, h, 3);
    for (int tile : {0, 128}) {
      std::vector<float> out;
      fdikp::RunInfo info;
      const auto status = run(options_for(fixture("identity.pt"), tile), in, &out, w, h, 3, &info);
      CHECK(status.ok());
      CHECK(equal_within(in, out, 2e-6));
    }
  }
}

TEST(parameters_at_and_beyond_their_bounds) {
  const int w = 33, h = 21;
  const auto in = image(w, h, 3);
  std::vector<float> out;
  auto o = options_for(fixture("identity.pt"));
  for (int stages : {FDIKP_STAGES_MIN, FDIKP_STAGES_MAX}) {
    o.stages = stages;
    CHECK(run(o, in, &out, w, h, 3).ok());
  }
  for (int stages : {FDIKP_STAGES_MIN - 1, -1, FDIKP_STAGES_MAX + 1, 1000}) {
    o.stages = stages;
    CHECK_CONTAINS(run(o, in, &out, w, h, 3).message(),
                   "stages must be from 0 (the model's own) to 5");
  }
  o = options_for(fixture("identity.pt"));
  // Below the stage multiple: raised to it.
  for (int tile : {1, 2, 4, FDIKP_TILE_SIZE_MAX}) {
    o.tile_size = tile;
    CHECK(run(o, in, &out, w, h, 3).ok());
    CHECK(equal_within(in, out, 2e-6));
  }
  for (int tile : {FDIKP_TILE_SIZE_MIN - 1, FDIKP_TILE_SIZE_MAX + 1}) {
    o.tile_size = tile;
    CHECK_CONTAINS(run(o, in, &out, w, h, 3).message(), "tile size must be from 0");
  }
  o = options_for(fixture("identity.pt"), 16);
  // Clamped to a third of the tile.
  for (int overlap : {FDIKP_TILE_OVERLAP_MIN, 1, 15, FDIKP_TILE_OVERLAP_MAX}) {
    o.tile_overlap = overlap;
    fdikp::RunInfo info;
    CHECK(run(o, in, &out, w, h, 3, &info).ok());
    CHECK(info.tile_overlap <= 16 / 3);
    CHECK(equal_within(in, out, 2e-6));
  }
  for (int overlap : {FDIKP_TILE_OVERLAP_MIN - 1, FDIKP_TILE_OVERLAP_MAX + 1}) {
    o.tile_overlap = overlap;
    CHECK_CONTAINS(run(o, in, &out, w, h, 3).message(), "tile overlap must be from -1");
  }
  o = options_for(fixture("identity.pt"));
  CHECK_CONTAINS(run_interleaved(o, in.data(), out.data(), w, h, 2, {}).message(),
                 "at least 3 channels");
  CHECK_CONTAINS(run(o, in, &out, w, -3, 3).message(), "empty");
}

TEST(a_model_file_replaced_in_place_is_reloaded) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("fdikp-reload-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "model.pt").string();
  const int w = 30, h = 20;
  const auto in = image(w, h, 3);
  std::vector<float> first, second;
  fs::copy_file(fixture("identity.pt"), path, fs::copy_options::overwrite_existing);
  CHECK(run(options_for(path), in, &first, w, h, 3).ok());
  CHECK(equal_within(in, first, 2e-6));
  fs::copy_file(fixture("blur.pt"), path, fs::copy_options::overwrite_existing);
  CHECK(run(options_for(path), in, &second, w, h, 3).ok());
  CHECK(!equal_within(in, second, 1e-3));
  fs::remove(path);
  CHECK_CONTAINS(run(options_for(path), in, &second, w, h, 3).message(), "does not exist");
  fs::remove_all(dir);
}

TEST(failing_and_working_models_side_by_side_in_threads) {
  const int w = 120, h = 90;
  const auto in = image(w, h, 3);
  std::vector<std::string> messages(6);
  std::vector<bool> exact(6, false);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      std::vector<float> out;
      const char *model = t % 3 == 0 ? "identity.pt" : t % 3 == 1 ? "throws-large.pt" : "nan.pt";
      const auto status = run(options_for(fixture(model), 96), in, &out, w, h, 3);
      messages[t] = status.message();
      exact[t] = status.ok() && equal_within(in, out, 2e-6);
    });
  for (auto &thread : threads) thread.join();
  for (int t = 0; t < 6; ++t) {
    if (t % 3 == 0) CHECK(exact[t]);
    if (t % 3 == 1) CHECK_CONTAINS(messages[t], "fixture model failure on a large tile");
    if (t % 3 == 2) CHECK_CONTAINS(messages[t], "NaN");
  }
}

// 100 megapixels streamed through the engine: the input is computed on
// demand and the output checked as it arrives, so the process holds no
// image, and peak memory shows what the engine itself needs.
TEST(a_100_megapixel_image_runs_in_bounded_memory) {
  const char *env = std::getenv("FDIKP_BIG_SIDE");
  const int side = env ? std::atoi(env) : 10000;
  const long before = peak_rss_kib();
  fdikp::Pixels pixels;
  pixels.width = side;
  pixels.height = side;
  pixels.read = [](const fdikp::Rect &r, float *rgb) {
    for (int y = r.y; y < r.y + r.height; ++y)
      for (int x = r.x; x < r.x + r.width; ++x)
        for (int c = 0; c < 3; ++c) *rgb++ = pattern(x, y, c);
  };
  long long written = 0;
  double worst = 0;
  pixels.write = [&](const fdikp::Rect &r, const float *rgb) {
    for (int y = r.y; y < r.y + r.height; ++y)
      for (int x = r.x; x < r.x + r.width; ++x)
        for (int c = 0; c < 3; ++c)
          worst = std::max(worst, std::fabs(*rgb++ - (double)pattern(x, y, c)));
    written += static_cast<long long>(r.width) * r.height;
  };
  fdikp::RunInfo info;
  const auto start = std::chrono::steady_clock::now();
  const auto status = fdikp::run(options_for(fixture("identity.pt"), 512, 64), pixels, {}, &info);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long growth_mib = (peak_rss_kib() - before) / 1024;
  std::printf("%d x %d (%.0f MP): %d tiles of %d px, %.1f s, peak RSS %ld MiB (+%ld MiB)\n", side,
              side, side * (double)side / 1e6, info.tiles, info.tile_size, seconds,
              peak_rss_kib() / 1024, growth_mib);
  CHECK(status.ok());
  CHECK_EQ(written, static_cast<long long>(side) * side);  // every pixel exactly once
  CHECK(worst < 2e-6);
  // One band of rows (512 x side x RGB float = 61 MiB at 10000 px) plus tile
  // buffers; the image itself would be 1.1 GiB in and as much out.
  CHECK(growth_mib < 400);
}

CHECK_MAIN()
