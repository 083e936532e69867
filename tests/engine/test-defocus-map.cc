// The engine's defocus map (Output::DefocusMap) with the map fixtures
// (tests/fixtures/map_fixtures.py): the map's values and unit, tiled
// against untiled, regions, the contract checks and their messages, and
// the recoveries a map run shares with deblurring.

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "../check.h"
#include "engine/engine.h"

namespace {

// Tiled against untiled, measured on this test's 256 x 192 image
// (2026-12-05, CPU): the 3x3 local map differs by float rounding in the
// cross-fades (2.4e-7 px) away from the border pixels, where the fixture
// replicates and the engine's tiles reflect. The shipped file's map
// (data/fdikp-default.pt, its head at step 4700: it uses its whole reach of
// about 250 px, far beyond a 128-px tile with 64 px of overlap; radii
// 0.06-2.3 px here) differs by 1.22 px at most 8 px or more from the
// borders, 0.38 px 32 px or more from them, 2.03 px at them (its
// zero-padded convolutions see the image edge where a border tile sees
// reflected pixels), 0.126 px on average. The bounds below hold those with
// about 30% to spare; a head that changed more than that fails here.
constexpr double kLocalTolerance = 1e-5;
constexpr double kHeadInsideTolerancePx = 1.6;
constexpr double kHeadBorderTolerancePx = 2.6;
constexpr double kHeadMeanTolerancePx = 0.18;

std::string fixture(const std::string &name) {
  const char *dir = std::getenv("FDIKP_FIXTURES");
  return std::string(dir ? dir : "fixtures") + "/" + name;
}

// data/fdikp-default.pt: the map users get, pinned by the file itself.
std::string shipped_model() {
  const char *path = std::getenv("FDIKP_SHIPPED_MODEL");
  return path ? path : "../data/fdikp-default.pt";
}

// Smooth regions, sharp edges and noise, values in [0, 1].
std::vector<float> test_image(int width, int height) {
  std::vector<float> v(static_cast<std::size_t>(width) * height * 3);
  unsigned state = 777;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        state = state * 1664525u + 1013904223u;
        const float noise = (state >> 8) / 16777216.0f;
        const float edge = ((x / 23 + y / 17) % 2) * 0.5f;
        const float smooth = 0.5f + 0.4f * std::sin(0.04f * x + c) * std::cos(0.06f * y);
        v[(static_cast<std::size_t>(y) * width + x) * 3 + c] =
            x < width / 2 ? 0.6f * smooth + 0.4f * edge : 0.5f * edge + 0.5f * noise;
      }
  return v;
}

fdikp::Options map_options(const std::string &model, int tile = 0, int overlap = 16) {
  fdikp::Options o;
  o.model_path = model.find('/') == std::string::npos ? fixture(model) : model;
  o.output = fdikp::Output::DefocusMap;
  o.tile_size = tile;
  o.tile_overlap = overlap;
  o.device = fdikp::Device::Cpu;
  return o;
}

fdikp::Status map_of(const fdikp::Options &o, const std::vector<float> &in, int w, int h,
                     std::vector<float> *map, fdikp::RunInfo *info = nullptr,
                     const fdikp::Callbacks &callbacks = {}) {
  map->assign(static_cast<std::size_t>(w) * h, -1.0f);
  return fdikp::defocus_map_interleaved(o, in.data(), map->data(), w, h, 3, callbacks, info);
}

// The largest |a - b| of two w-wide maps, `margin` pixels from the borders.
double max_difference(const std::vector<float> &a, const std::vector<float> &b, int w,
                      int margin = 0) {
  const int h = static_cast<int>(a.size()) / w;
  double worst = 0;
  for (int y = margin; y < h - margin; ++y)
    for (int x = margin; x < w - margin; ++x) {
      const std::size_t i = std::size_t(y) * w + x;
      worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
    }
  return worst;
}

// map_fixtures.py's LocalMap at (x, y) away from the borders.
float local_map(const std::vector<float> &in, int w, int x, int y) {
  double sum = 0;
  for (int c = 0; c < 3; ++c) {
    double box = 0;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) box += in[((std::size_t(y) + dy) * w + x + dx) * 3 + c];
    sum += std::fabs(in[(std::size_t(y) * w + x) * 3 + c] - box / 9);
  }
  return static_cast<float>(10.0 * sum / 3);
}

}  // namespace

TEST(the_map_is_the_models_radius_in_pixels) {
  const int w = 97, h = 61;  // odd: padded to the map's multiple (4)
  const auto in = test_image(w, h);
  std::vector<float> map;
  fdikp::RunInfo info;
  const auto status = map_of(map_options("map-local.pt"), in, w, h, &map, &info);
  CHECK(status.ok());
  CHECK_EQ(info.stages, 0);
  double worst = 0;
  for (int y = 1; y < h - 1; ++y)
    for (int x = 1; x < w - 1; ++x)
      worst = std::max(worst, std::fabs(static_cast<double>(map[std::size_t(y) * w + x]) -
                                        local_map(in, w, x, y)));
  CHECK(worst < 1e-5);
  CHECK(*std::min_element(map.begin(), map.end()) >= 0.0f);
  CHECK(*std::max_element(map.begin(), map.end()) <= 10.0f);  // |x - mean| <= 1, x 10 px
  CHECK(*std::max_element(map.begin(), map.end()) > 1.0f);

  // A file that is not frozen keeps its map through the CPU graph step.
  std::vector<float> unfrozen;
  CHECK(map_of(map_options("map-unfrozen.pt"), in, w, h, &unfrozen).ok());
  CHECK(unfrozen == map);

  fdikp::ModelInfo model;
  CHECK(fdikp::inspect_model(fixture("map-local.pt"), fdikp::Device::Cpu, &model).ok());
  CHECK(model.defocus_map);
  CHECK_EQ(model.defocus_map_unit, std::string("px"));
  CHECK_EQ(model.defocus_map_multiple, 4);
  CHECK(fdikp::inspect_model(fixture("identity.pt"), fdikp::Device::Cpu, &model).ok());
  CHECK(!model.defocus_map);
}

TEST(a_tiled_map_equals_the_untiled_map_within_tolerance) {
  const int w = 256, h = 192;
  const auto in = test_image(w, h);
  std::vector<float> whole, tiled;
  fdikp::RunInfo info;
  CHECK(map_of(map_options("map-local.pt", 256), in, w, h, &whole, &info).ok());
  CHECK_EQ(info.tiles, 1);
  CHECK(map_of(map_options("map-local.pt", 32, 8), in, w, h, &tiled, &info).ok());
  CHECK(info.tiles > 40);
  const double local = max_difference(whole, tiled, w, 1);
  std::printf(
      "local map, 32-px tiles against one tile: max |difference| %.3g px inside, "
      "%.3g px with the border pixels\n",
      local, max_difference(whole, tiled, w));
  CHECK(local <= kLocalTolerance);

  CHECK(map_of(map_options(shipped_model(), 256), in, w, h, &whole, &info).ok());
  CHECK_EQ(info.tiles, 1);
  CHECK(map_of(map_options(shipped_model(), 128, 64), in, w, h, &tiled, &info).ok());
  CHECK(info.tiles > 1);
  double sum = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) sum += std::fabs(whole[i] - tiled[i]);
  const double head = max_difference(whole, tiled, w), mean = sum / whole.size();
  std::printf(
      "shipped map, 128-px tiles (64 overlap) against one tile: max %.3g px, "
      "%.3g px 8 px from the borders, %.3g px 32 px from them, mean %.3g px; "
      "radii %.2f..%.2f px\n",
      head, max_difference(whole, tiled, w, 8), max_difference(whole, tiled, w, 32), mean,
      *std::min_element(whole.begin(), whole.end()), *std::max_element(whole.begin(), whole.end()));
  CHECK(head <= kHeadBorderTolerancePx);
  CHECK(max_difference(whole, tiled, w, 8) <= kHeadInsideTolerancePx);
  CHECK(mean <= kHeadMeanTolerancePx);
}

TEST(a_region_of_the_map_is_that_region_of_the_whole_map) {
  const int w = 150, h = 110;
  const auto in = test_image(w, h);
  std::vector<float> whole, part(std::size_t(w) * h, -1.0f);
  CHECK(map_of(map_options("map-local.pt", 48, 8), in, w, h, &whole).ok());
  fdikp::Pixels pixels;
  pixels.width = w;
  pixels.height = h;
  pixels.region = {37, 21, 60, 45};
  pixels.read = [&](const fdikp::Rect &r, float *rgb) {
    for (int y = 0; y < r.height; ++y)
      for (int x = 0; x < r.width * 3; ++x) *rgb++ = in[(std::size_t(r.y + y) * w + r.x) * 3 + x];
  };
  pixels.write = [&](const fdikp::Rect &r, const float *radii) {
    for (int y = 0; y < r.height; ++y)
      for (int x = 0; x < r.width; ++x) part[std::size_t(r.y + y) * w + r.x + x] = *radii++;
  };
  // Deblurring the same region first: the kept tiles of the image and of
  // the map never mix.
  fdikp::Options deblur = map_options("map-local.pt", 48, 8);
  deblur.output = fdikp::Output::Deblurred;
  fdikp::Pixels rgb = pixels;
  rgb.write = [&](const fdikp::Rect &, const float *) {};
  CHECK(fdikp::run(deblur, rgb, {}).ok());
  for (int pass = 0; pass < 2; ++pass) {
    CHECK(fdikp::run(map_options("map-local.pt", 48, 8), pixels, {}).ok());
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const bool inside = x >= 37 && x < 97 && y >= 21 && y < 66;
        const float got = part[std::size_t(y) * w + x];
        if (inside && got != whole[std::size_t(y) * w + x]) return CHECK(false);
        if (!inside && got != -1.0f) return CHECK(false);
      }
  }
}

TEST(a_model_without_a_map_is_refused_with_its_name) {
  std::vector<float> map;
  const auto in = test_image(32, 32);
  const auto status = map_of(map_options("identity.pt"), in, 32, 32, &map);
  CHECK(!status.ok());
  CHECK_CONTAINS(status.message(), fixture("identity.pt"));
  CHECK_CONTAINS(status.message(), "has no defocus map");
  fdikp::Plan plan;
  CHECK(!fdikp::plan(map_options("identity-bare.pt"), &plan).ok());
}

TEST(broken_maps_are_refused_naming_the_file_and_the_fault) {
  const struct {
    const char *model, *why;
  } cases[] = {
      {"map-missing.pt", "has no defocus_map method"},
      {"map-negative.pt", "negative radii"},
      {"map-wrong-shape.pt", "returned shape [1, 3, 16, 16]"},
      {"map-nan.pt", "NaN or infinite"},
      {"map-unit-mm.pt", "\"mm\", a unit this filter does not read"},
  };
  const auto in = test_image(40, 24);
  for (const auto &c : cases) {
    std::vector<float> map;
    const auto status = map_of(map_options(c.model), in, 40, 24, &map);
    CHECK(!status.ok());
    CHECK_CONTAINS(status.message(), fixture(c.model));
    CHECK_CONTAINS(status.message(), c.why);
  }
  // A file whose metadata promises a map it does not keep is refused
  // whole; one whose map is in an unknown unit still deblurs.
  std::vector<float> out(in.size());
  fdikp::Options deblur = map_options("map-missing.pt");
  deblur.output = fdikp::Output::Deblurred;
  CHECK(!fdikp::run_interleaved(deblur, in.data(), out.data(), 40, 24, 3, {}).ok());
  deblur.model_path = fixture("map-unit-mm.pt");
  CHECK(fdikp::run_interleaved(deblur, in.data(), out.data(), 40, 24, 3, {}).ok());
  CHECK(out == in);
}

TEST(a_map_run_recovers_as_deblurring_does) {
  const int w = 200, h = 150;
  const auto in = test_image(w, h);
  std::vector<float> map, reference;
  fdikp::RunInfo info;
  // Out of memory above 64 px: the tile is halved until it fits.
  CHECK(map_of(map_options("map-oom-large.pt", 256, 16), in, w, h, &map, &info).ok());
  CHECK(info.tile_size <= 64);
  CHECK(!info.warnings.empty() && info.warnings[0].find("out of memory") != std::string::npos);
  // A device fault continues on the CPU, with the same map.
  CHECK(map_of(map_options("map-local.pt", 64, 16), in, w, h, &reference).ok());
  fdikp::testing::inject_device_faults(1);
  CHECK(map_of(map_options("map-local.pt", 64, 16), in, w, h, &map, &info).ok());
  CHECK(!info.warnings.empty() && info.warnings[0].find("CUDA failed") != std::string::npos);
  CHECK(map == reference);
  // Progress after each tile; cancellation before the next.
  std::vector<double> seen;
  fdikp::Callbacks callbacks;
  callbacks.progress = [&](double f) { seen.push_back(f); };
  CHECK(map_of(map_options("map-local.pt", 64, 16), in, w, h, &map, &info, callbacks).ok());
  CHECK_EQ(static_cast<int>(seen.size()), info.tiles);
  CHECK_NEAR(seen.back(), 1.0, 1e-12);
  int polls = 0;
  callbacks.progress = nullptr;
  callbacks.cancelled = [&] { return ++polls > 2; };
  CHECK(map_of(map_options("map-local.pt", 64, 16), in, w, h, &map, &info, callbacks).cancelled());
  CHECK_EQ(info.tiles, 2);
  // CUDA asked for where there is none: the same message as deblurring.
  fdikp::Options cuda = map_options("map-local.pt");
  cuda.device = fdikp::Device::Cuda;
  const auto status = map_of(cuda, in, w, h, &map);
  CHECK(status.ok() || status.message().find("CUDA is not available") != std::string::npos);
}

CHECK_MAIN()
