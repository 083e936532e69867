// The engine end to end with fixture TorchScript models: exact results,
// tiling, padding, progress, cancellation, and every bad-model message.

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>
#include <tuple>

#include "../check.h"
#include "engine/catalog.h"
#include "engine/engine.h"
#include "engine/metadata.h"

namespace {

std::string fixture(const std::string &name) {
  const char *dir = std::getenv("FDIKP_FIXTURES");
  return std::string(dir ? dir : "fixtures") + "/" + name;
}

// A deterministic image with detail at every scale, values in [0, 1].
std::vector<float> test_image(int width, int height, int channels) {
  std::vector<float> v(static_cast<std::size_t>(width) * height * channels);
  unsigned state = 12345;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) {
        state = state * 1664525u + 1013904223u;
        const float noise = (state >> 8) / 16777216.0f;
        const float smooth = 0.5f + 0.4f * std::sin(0.05f * x + 0.9f * c) * std::cos(0.07f * y);
        v[(static_cast<std::size_t>(y) * width + x) * channels + c] =
            c == 3 ? noise : 0.7f * smooth + 0.3f * noise;
      }
  return v;
}

fdikp::Options options_for(const std::string &model, int tile = 0, int overlap = 16) {
  fdikp::Options o;
  o.model_path = fixture(model);
  o.tile_size = tile;
  o.tile_overlap = overlap;
  o.device = fdikp::Device::Cpu;
  return o;
}

double max_difference(const std::vector<float> &a, const std::vector<float> &b, int width,
                      int height, int channels, int margin = 0, int only_channel = -1) {
  double worst = 0;
  for (int y = margin; y < height - margin; ++y)
    for (int x = margin; x < width - margin; ++x)
      for (int c = 0; c < channels; ++c) {
        if (only_channel >= 0 && c != only_channel) continue;
        const std::size_t i = (static_cast<std::size_t>(y) * width + x) * channels + c;
        worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
      }
  return worst;
}

fdikp::Status run_image(const fdikp::Options &o, const std::vector<float> &in,
                        std::vector<float> *out, int width, int height, int channels,
                        fdikp::RunInfo *info = nullptr, const fdikp::Callbacks &callbacks = {}) {
  out->assign(in.size(), -1.0f);
  return fdikp::run_interleaved(o, in.data(), out->data(), width, height, channels, callbacks,
                                info);
}

// Pixels over interleaved RGB: reads from in, writes into *out.
fdikp::Pixels rgb_pixels(const std::vector<float> &in, std::vector<float> *out, int w, int h) {
  fdikp::Pixels pixels;
  pixels.width = w;
  pixels.height = h;
  pixels.read = [&in, w](const fdikp::Rect &r, float *rgb) {
    for (int y = 0; y < r.height; ++y)
      for (int x = 0; x < r.width * 3; ++x) *rgb++ = in[(std::size_t(r.y + y) * w + r.x) * 3 + x];
  };
  pixels.write = [out, w](const fdikp::Rect &r, const float *rgb) {
    for (int y = 0; y < r.height; ++y)
      for (int x = 0; x < r.width * 3; ++x)
        (*out)[(std::size_t(r.y + y) * w + r.x) * 3 + x] = *rgb++;
  };
  return pixels;
}

// A 3x3 sharpen applied directly, replicating borders: what the fixture
// model computes on the whole image.
std::vector<float> sharpen_reference(const std::vector<float> &in, int width, int height,
                                     int channels) {
  std::vector<float> out(in);
  auto at = [&](int x, int y, int c) {
    x = std::clamp(x, 0, width - 1);
    y = std::clamp(y, 0, height - 1);
    return in[(static_cast<std::size_t>(y) * width + x) * channels + c];
  };
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v =
            5 * at(x, y, c) - at(x - 1, y, c) - at(x + 1, y, c) - at(x, y - 1, c) - at(x, y + 1, c);
        out[(static_cast<std::size_t>(y) * width + x) * channels + c] = std::clamp(v, 0.0f, 1.0f);
      }
  return out;
}

}  // namespace

TEST(identity_model_reproduces_the_image_through_many_tiles) {
  const int w = 301, h = 203, ch = 4;
  const auto in = test_image(w, h, ch);
  std::vector<float> out;
  fdikp::RunInfo info;
  const auto status = run_image(options_for("identity.pt", 64, 16), in, &out, w, h, ch, &info);
  CHECK(status.ok());
  CHECK_EQ(status.message(), "");
  CHECK(info.tiles > 12);
  CHECK_EQ(info.tile_size, 64);
  CHECK_NEAR(max_difference(in, out, w, h, ch), 0.0, 2e-6);
  CHECK_EQ(max_difference(in, out, w, h, ch, 0, 3), 0.0);  // alpha untouched, bit for bit
}

TEST(sharpen_model_gives_the_same_result_tiled_and_untiled_away_from_borders) {
  const int w = 257, h = 190, ch = 3;
  const auto in = test_image(w, h, ch);
  const auto reference = sharpen_reference(in, w, h, ch);
  std::vector<float> whole, tiled;
  CHECK(run_image(options_for("sharpen.pt", 1024), in, &whole, w, h, ch).ok());
  // The engine pads tiles by reflection (here to the stage multiple, 4), the
  // fixture by replication: only the outermost pixels may differ.
  CHECK_NEAR(max_difference(reference, whole, w, h, ch, 1), 0.0, 1e-5);
  fdikp::RunInfo info;
  CHECK(run_image(options_for("sharpen.pt", 64, 16), in, &tiled, w, h, ch, &info).ok());
  CHECK(info.tiles >= 20);
  CHECK_NEAR(max_difference(reference, tiled, w, h, ch, 1), 0.0, 1e-5);
  // And the blur model really changes the image (so the checks above mean something).
  std::vector<float> blurred;
  CHECK(run_image(options_for("blur.pt", 64, 16), in, &blurred, w, h, ch).ok());
  CHECK(max_difference(in, blurred, w, h, ch) > 0.1);
}

TEST(tiny_and_odd_sizes_work) {
  const int sizes[][2] = {{1, 1}, {1, 9}, {9, 1}, {2, 3}, {17, 23}, {7, 300}, {131, 5}};
  for (const auto &size : sizes) {
    const int w = size[0], h = size[1];
    const auto in = test_image(w, h, 3);
    std::vector<float> out;
    for (int tile : {0, 64}) {
      const auto status = run_image(options_for("identity.pt", tile), in, &out, w, h, 3);
      CHECK(status.ok());
      CHECK_NEAR(max_difference(in, out, w, h, 3), 0.0, 2e-6);
    }
  }
}

TEST(tiles_are_padded_to_the_models_stage_multiple) {
  const int w = 45, h = 77;
  const auto in = test_image(w, h, 3);
  for (int stages = FDIKP_NETWORK_STAGES_MIN; stages <= FDIKP_STAGES_MAX; ++stages) {
    std::vector<float> out;
    auto o = options_for("needs-multiple.pt", 64, 16);
    o.stages = stages;
    fdikp::RunInfo info;
    const auto status = run_image(o, in, &out, w, h, 3, &info);
    CHECK(status.ok());
    // The fixture's base multiple is 4; a tile smaller than the multiple is
    // raised to it.
    CHECK_EQ(info.tile_size % fdikp::size_multiple(4, stages), 0);
    if (!status.ok()) std::fprintf(stderr, "  stages %d: %s\n", stages, status.message().c_str());
    CHECK_NEAR(max_difference(in, out, w, h, 3), 0.0, 2e-6);
  }
}

TEST(the_plan_is_what_a_run_starts_from) {
  const int w = 130, h = 90;
  const auto in = test_image(w, h, 3);
  for (int tile : {0, 50, 64}) {
    for (int stages : {1, 3}) {
      auto o = options_for("needs-multiple.pt", tile, 16);
      o.stages = stages;
      fdikp::Plan plan;
      CHECK(fdikp::plan(o, &plan).ok());
      std::vector<float> out;
      fdikp::RunInfo info;
      CHECK(run_image(o, in, &out, w, h, 3, &info).ok());
      CHECK_EQ(plan.tile_size, info.tile_size);
      CHECK(plan.device == info.device);
      CHECK_EQ(plan.multiple, fdikp::size_multiple(4, stages));
      CHECK_EQ(plan.tile_size % plan.multiple, 0);
    }
  }
  fdikp::Plan plan;
  CHECK_CONTAINS(fdikp::plan(options_for("no-such-model.pt"), &plan).message(), "does not exist");
  auto too_many = options_for("needs-multiple.pt");
  too_many.stages = FDIKP_STAGES_MAX + 1;
  CHECK(!fdikp::plan(too_many, &plan).ok());
}

TEST(overlap_minus_1_takes_the_models_own_and_a_set_overlap_stays) {
  const int w = 200, h = 120;
  const auto in = test_image(w, h, 3);
  std::vector<float> own, set;
  for (const auto &[model, overlap, want] :
       {std::tuple<const char *, int, int>{"sharpen-overlap24.pt", FDIKP_TILE_OVERLAP_AUTOMATIC,
                                           24},
        {"sharpen-overlap24.pt", 8, 8},
        {"sharpen.pt", FDIKP_TILE_OVERLAP_AUTOMATIC, 64},           // metadata without the key
        {"identity-bare.pt", FDIKP_TILE_OVERLAP_AUTOMATIC, 64}}) {  // no metadata
    auto o = options_for(model, 192, overlap);
    fdikp::Plan plan;
    CHECK(fdikp::plan(o, &plan).ok());
    CHECK_EQ(plan.tile_overlap, want);
    fdikp::RunInfo info;
    CHECK(run_image(o, in, &own, w, h, 3, &info).ok());
    CHECK_EQ(info.tile_overlap, want);  // under a third of the tile: used as it is
    // The same pixels as asking for that overlap by number.
    CHECK(run_image(options_for(model, 192, want), in, &set, w, h, 3).ok());
    CHECK(own == set);
  }
  CHECK_EQ(fdikp::Options().tile_overlap, FDIKP_TILE_OVERLAP_AUTOMATIC);  // the default
}

TEST(regions_asked_for_one_after_another_reuse_the_tiles_on_their_edges) {
  const int w = 150, h = 100;
  const auto in = test_image(w, h, 3);
  std::vector<float> whole;
  const auto o = options_for("sharpen.pt", 48, 12);
  CHECK(run_image(o, in, &whole, w, h, 3).ok());
  std::vector<float> out(in.size(), -1.0f);
  fdikp::Pixels pixels = rgb_pixels(in, &out, w, h);
  int reused = 0;
  for (const fdikp::Rect region : {fdikp::Rect{0, 0, 75, 100}, fdikp::Rect{75, 0, 75, 100}}) {
    pixels.region = region;
    fdikp::RunInfo info;
    CHECK(fdikp::run(o, pixels, {}, &info).ok());
    reused += info.tiles_reused;
  }
  CHECK(reused > 0);
  CHECK(out == whole);
}

TEST(stages_0_runs_the_models_own_default_stages) {
  const int w = 45, h = 37;
  const auto in = test_image(w, h, 3);
  std::vector<float> out;
  for (const auto &[model, own] : {std::pair<const char *, int>{"needs-multiple.pt", 3},
                                   {"one-stage.pt", 1},
                                   {"identity-bare.pt", FDIKP_TRAINED_STAGES}}) {
    auto o = options_for(model, 64, 16);
    CHECK_EQ(o.stages, FDIKP_STAGES_AUTOMATIC);  // the default
    fdikp::RunInfo info;
    CHECK(run_image(o, in, &out, w, h, 3, &info).ok());
    CHECK_EQ(info.stages, own);
    fdikp::Plan plan;
    CHECK(fdikp::plan(o, &plan).ok());
    CHECK_EQ(plan.stages, own);
    CHECK_NEAR(max_difference(in, out, w, h, 3), 0.0, 2e-6);
  }
  // A stage count the model does not take is refused with its limit.
  auto o = options_for("one-stage.pt");
  o.stages = 2;
  CHECK_CONTAINS(run_image(o, in, &out, w, h, 3).message(), "supports at most 1 stages");
}

TEST(progress_rises_to_one_and_cancellation_stops_between_tiles) {
  const int w = 200, h = 200;
  const auto in = test_image(w, h, 3);
  std::vector<float> out;
  std::vector<double> seen;
  fdikp::Callbacks callbacks;
  callbacks.progress = [&](double f) { seen.push_back(f); };
  fdikp::RunInfo info;
  CHECK(run_image(options_for("identity.pt", 64, 16), in, &out, w, h, 3, &info, callbacks).ok());
  CHECK_EQ(static_cast<int>(seen.size()), info.tiles);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK_NEAR(seen.back(), 1.0, 1e-12);

  int polls = 0;
  callbacks.progress = nullptr;
  callbacks.cancelled = [&] { return ++polls > 3; };
  const auto status =
      run_image(options_for("identity.pt", 64, 16), in, &out, w, h, 3, &info, callbacks);
  CHECK(status.cancelled());
  CHECK(!status.ok());
  CHECK_EQ(info.tiles, 3);
}

TEST(bad_models_give_clear_messages) {
  struct Case {
    const char *file;
    const char *message;
  } cases[] = {
      {"no-such-model.pt", "does not exist"},
      {"empty.pt", "is empty"},
      {"random.pt", "is not a TorchScript model file"},
      {"truncated.pt", "is not a TorchScript model file"},
      {"throws.pt", "fixture model failure"},
      {"wrong-shape.pt", "it must be the same"},
      {"wrong-channels.pt", "it must be the same"},
      {"nan.pt", "NaN"},
      {"no-stages.pt", "forward must take (image: Tensor, stages: int)"},
      {"bad-metadata.pt", "metadata is not valid JSON"},
      {"future-metadata.pt", "newer than this filter reads"},
      {"throws-large.pt", "fixture model failure on a large tile"},
  };
  const int w = 150, h = 100;
  const auto in = test_image(w, h, 3);
  for (const Case &c : cases) {
    std::vector<float> out;
    const auto status = run_image(options_for(c.file, 128), in, &out, w, h, 3);
    CHECK(!status.ok());
    CHECK(!status.cancelled());
    CHECK_CONTAINS(status.message(), c.message);
    if (std::string(c.file) != "no-such-model.pt") CHECK_CONTAINS(status.message(), c.file);
  }
  std::vector<float> out;
  auto o = options_for("identity.pt");
  o.model_path = fixture("");
  CHECK_CONTAINS(run_image(o, in, &out, w, h, 3).message(), "is a directory");
  o.model_path.clear();
  CHECK_CONTAINS(run_image(o, in, &out, w, h, 3).message(), "no model file given");
}

TEST(the_next_run_after_a_failure_works) {
  const int w = 90, h = 70;
  const auto in = test_image(w, h, 3);
  std::vector<float> out;
  CHECK(!run_image(options_for("throws.pt"), in, &out, w, h, 3).ok());
  CHECK(run_image(options_for("identity.pt"), in, &out, w, h, 3).ok());
  CHECK_NEAR(max_difference(in, out, w, h, 3), 0.0, 2e-6);
}

TEST(bad_options_are_refused) {
  const int w = 20, h = 20;
  const auto in = test_image(w, h, 3);
  std::vector<float> out;
  auto o = options_for("identity.pt");
  o.stages = -1;
  CHECK_CONTAINS(run_image(o, in, &out, w, h, 3).message(),
                 "stages must be from 0 (the model's own) to 5");
  o.stages = 6;
  CHECK_CONTAINS(run_image(o, in, &out, w, h, 3).message(),
                 "stages must be from 0 (the model's own) to 5");
  o = options_for("identity.pt");
  o.tile_size = -1;
  CHECK_CONTAINS(run_image(o, in, &out, w, h, 3).message(), "tile size");
  o = options_for("identity.pt");
  o.tile_overlap = -5;
  CHECK_CONTAINS(run_image(o, in, &out, w, h, 3).message(),
                 "tile overlap must be from -1 (the model's own) to 1024");
  o = options_for("identity.pt");
  CHECK_CONTAINS(run_image(o, in, &out, 0, h, 3).message(), "empty");
}

TEST(cuda_requested_without_cuda_is_an_error_and_auto_falls_to_cpu) {
  if (fdikp::runtime_summary().find("CUDA: not available") == std::string::npos) {
    std::fprintf(stderr, "  (CUDA present: skipped)\n");
    return;
  }
  const int w = 20, h = 20;
  const auto in = test_image(w, h, 3);
  std::vector<float> out;
  auto o = options_for("identity.pt");
  o.device = fdikp::Device::Cuda;
  CHECK_CONTAINS(run_image(o, in, &out, w, h, 3).message(), "CUDA is not available");
  o.device = fdikp::Device::Auto;
  fdikp::RunInfo info;
  CHECK(run_image(o, in, &out, w, h, 3, &info).ok());
  CHECK(info.device == fdikp::Device::Cpu);
}

TEST(out_of_memory_halves_the_tile_and_retries) {
  const int w = 300, h = 300;
  const auto in = test_image(w, h, 3);
  std::vector<float> out;
  fdikp::RunInfo info;
  const auto status = run_image(options_for("oom-large.pt", 256, 16), in, &out, w, h, 3, &info);
  CHECK(status.ok());
  CHECK_EQ(info.tile_size, 64);
  CHECK_EQ(info.warnings.size(), 2u);
  if (!info.warnings.empty()) CHECK_CONTAINS(info.warnings[0], "retrying with 128-pixel tiles");
  CHECK_NEAR(max_difference(in, out, w, h, 3), 0.0, 2e-6);
}

// A host that runs from a plan made for the GPU (a tile far beyond the
// CPU's): when CUDA fails mid-run the engine continues on the CPU with a
// tile chosen for the CPU, not the GPU-sized one; a tile the user set stays.
TEST(a_cuda_fault_replans_an_automatic_tile_for_the_cpu) {
  const int w = 200, h = 150;
  const auto in = test_image(w, h, 3);
  const auto o = options_for("sharpen.pt", 0, 16);
  fdikp::Plan cpu;
  CHECK(fdikp::plan(o, &cpu).ok());
  CHECK(cpu.tile_automatic);
  fdikp::Plan gpu_sized = cpu;
  gpu_sized.tile_size = 4 * cpu.tile_size;
  std::vector<float> out(in.size(), -1.0f);
  const fdikp::Pixels pixels = rgb_pixels(in, &out, w, h);
  fdikp::RunInfo info;
  fdikp::testing::inject_device_faults(1);
  CHECK(fdikp::run(o, gpu_sized, pixels, {}, &info).ok());
  CHECK_EQ(info.tile_size, cpu.tile_size);
  CHECK(info.device == fdikp::Device::Cpu);
  CHECK_EQ(info.warnings.size(), 1u);
  if (!info.warnings.empty()) CHECK_CONTAINS(info.warnings[0], "running on the CPU instead");
  std::vector<float> direct;
  CHECK(run_image(options_for("sharpen.pt", 0, 16), in, &direct, w, h, 3).ok());
  CHECK_NEAR(max_difference(direct, out, w, h, 3), 0.0, 1e-6);

  // Without a fault the run keeps the plan's tile; a tile the user set
  // survives the fall back.
  CHECK(fdikp::run(o, gpu_sized, pixels, {}, &info).ok());
  CHECK_EQ(info.tile_size, gpu_sized.tile_size);
  auto fixed = options_for("sharpen.pt", 96, 16);
  fdikp::Plan user;
  CHECK(fdikp::plan(fixed, &user).ok());
  CHECK(!user.tile_automatic);
  fdikp::testing::inject_device_faults(1);
  CHECK(fdikp::run(fixed, user, pixels, {}, &info).ok());
  CHECK_EQ(info.tile_size, 96);
  // A plan made for other options is refused, not run.
  fdikp::Plan other = cpu;
  other.multiple = 7;
  CHECK_CONTAINS(fdikp::run(o, other, pixels, {}, &info).message(), "plan was made for other");
}

TEST(concurrent_runs_share_the_model_safely) {
  const int w = 160, h = 120;
  const auto in = test_image(w, h, 3);
  const auto reference = sharpen_reference(in, w, h, 3);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<float> out;
      const auto status =
          run_image(options_for("sharpen.pt", 64 + 32 * (t % 2), 16), in, &out, w, h, 3);
      if (status.ok() && max_difference(reference, out, w, h, 3, 1) < 1e-5) ++good;
    });
  for (auto &thread : threads) thread.join();
  CHECK_EQ(good.load(), 4);
}

TEST(metadata_is_read_and_default_for_bare_models) {
  fdikp::ModelInfo info;
  CHECK(fdikp::inspect_model(fixture("needs-multiple.pt"), fdikp::Device::Cpu, &info).ok());
  CHECK_EQ(info.base_multiple, 4);
  CHECK_EQ(info.architecture, "fixture");
  fdikp::ModelInfo bare;
  CHECK(fdikp::inspect_model(fixture("identity-bare.pt"), fdikp::Device::Cpu, &bare).ok());
  CHECK_EQ(bare.architecture, "");
  CHECK_EQ(bare.base_multiple, 1);
}

TEST(the_catalog_reads_what_libtorch_reads_from_real_archives) {
  // TorchScript's own archives, read without LibTorch, give the metadata
  // LibTorch gives; a truncated one is named, not listed.
  for (const char *name : {"needs-multiple.pt", "one-stage.pt", "identity-bare.pt"}) {
    fdikp::ModelInfo loaded, listed;
    CHECK(fdikp::inspect_model(fixture(name), fdikp::Device::Cpu, &loaded).ok());
    std::string json, error;
    CHECK(fdikp::read_archive_metadata_file(fixture(name), &json, &error));
    CHECK_EQ(error, "");
    CHECK(json.empty() || fdikp::read_model_metadata(json, &listed, &error));
    CHECK_EQ(listed.architecture, loaded.architecture);
    CHECK_EQ(listed.max_stages, loaded.max_stages);
    CHECK_EQ(listed.base_multiple, loaded.base_multiple);
  }
  const fdikp::Catalog catalog = fdikp::list_models({fixture("models")});
  std::string names;
  for (const auto &model : catalog.models)
    names += model.name + "|" + model.info.title + "|" + model.info.speed_class + " ";
  CHECK_EQ(names, "plain|| test-identity|Test Identity|fast test-sharpen|Test Sharpen|quality ");
  CHECK_EQ(catalog.problems.size(), 1u);
  CHECK_CONTAINS(catalog.problems.at(0), "broken.pt: ");
  // Chosen by name, the file runs.
  std::string path, error;
  CHECK(fdikp::resolve_model("Test Sharpen", catalog, &path, &error));
  fdikp::ModelInfo info;
  CHECK(fdikp::inspect_model(path, fdikp::Device::Cpu, &info).ok());
  CHECK_EQ(info.title, "Test Sharpen");
}

TEST(precision_names_parse_and_bad_ones_are_refused) {
  fdikp::Precision p = fdikp::Precision::Auto;
  CHECK(fdikp::parse_precision("bf16", &p));
  CHECK(p == fdikp::Precision::Bf16);
  CHECK(fdikp::parse_precision("fp32", &p));
  CHECK(p == fdikp::Precision::Fp32);
  CHECK(fdikp::parse_precision("auto", &p));
  CHECK(p == fdikp::Precision::Auto);
  CHECK(!fdikp::parse_precision("fp16", &p));
  CHECK(!fdikp::parse_precision("", &p));
  CHECK(p == fdikp::Precision::Auto);  // unchanged by a refusal
  CHECK_EQ(std::string(fdikp::precision_name(fdikp::Precision::Bf16)), "bf16");
}

constexpr double kBf16SharpenTolerance = 0.03;

TEST(bf16_runs_the_network_in_bfloat16_close_to_fp32) {
  const int w = 96, h = 80;
  const auto in = test_image(w, h, 3);
  std::vector<float> fp32, bf16;
  auto o = options_for("sharpen.pt", 64, 16);
  o.precision = fdikp::Precision::Fp32;
  fdikp::RunInfo info;
  CHECK(run_image(o, in, &fp32, w, h, 3, &info).ok());
  CHECK(info.precision == fdikp::Precision::Fp32);
  o.precision = fdikp::Precision::Bf16;
  CHECK(run_image(o, in, &bf16, w, h, 3, &info).ok());
  CHECK(info.precision == fdikp::Precision::Bf16);
  // bfloat16 keeps 8 bits of mantissa: each input in [0, 1] rounds by up
  // to 2^-9, the sharpen's weights (exact in bfloat16) sum to 9 in
  // magnitude, and its output, up to 5, rounds by up to 2^-7: about 0.026
  // at most. It must move, and no further.
  const double diff = max_difference(fp32, bf16, w, h, 3);
  CHECK(diff > 0);
  CHECK(diff < kBf16SharpenTolerance);
}

TEST(bf16_on_a_frozen_network_runs_its_fused_convolutions_in_bfloat16) {
  // The shipped file: frozen, so its CPU graph is the fused one, and a
  // bfloat16 run converts that graph's convolutions (cpu_graph_bf16.cc)
  // instead of taking the plain graph under autocast.
  const char *shipped = std::getenv("FDIKP_SHIPPED_MODEL");
  fdikp::Options o;
  o.model_path = shipped ? shipped : "../data/fdikp-default.pt";
  o.device = fdikp::Device::Cpu;
  const int w = 96, h = 64;
  const auto in = test_image(w, h, 3);
  std::vector<float> fp32, bf16;
  fdikp::RunInfo info;
  o.precision = fdikp::Precision::Fp32;
  CHECK(run_image(o, in, &fp32, w, h, 3, &info).ok());
  CHECK(info.graph.find("bfloat16") == std::string::npos);
  // PAC's refinement, the LSTM gates and the small outputs run without the
  // zero channels the model pads them with, and the APU's batch norm is
  // folded into its convolution (cpu_graph_trim.cc).
  CHECK_CONTAINS(info.graph, "(8 without their zero channels, 1 with a batch norm folded in)");
  o.precision = fdikp::Precision::Bf16;
  CHECK(run_image(o, in, &bf16, w, h, 3, &info).ok());
  CHECK(info.precision == fdikp::Precision::Bf16);
  CHECK_CONTAINS(info.graph, "in bfloat16");
  // The residual adds, activations and concatenations between them run on
  // the bfloat16 maps too (no cast up and down again).
  CHECK_CONTAINS(info.graph, "operators between them");
  CHECK(info.graph.find("with 0 operators") == std::string::npos);
  // On a 1 MP dev photo the two differ by at most about 0.7 levels of 255
  // (p99.9 0.26): here, moved, and by less than 3 levels.
  const double diff = max_difference(fp32, bf16, w, h, 3);
  std::printf("shipped model, bf16 against fp32: max |difference| %.4f\n", diff);
  CHECK(diff > 0);
  CHECK(diff < 3.0 / 255);
}

TEST(a_bf16_run_loads_only_its_own_graph) {
  // The precision comes from the metadata in the archive, so an automatic
  // bfloat16 run loads, rewrites and tests the bfloat16 graph alone, not a
  // float32 one first.
  const char *shipped = std::getenv("FDIKP_SHIPPED_MODEL");
  fdikp::Options o;
  o.model_path = shipped ? shipped : "../data/fdikp-default.pt";
  o.device = fdikp::Device::Cpu;
  o.precision = fdikp::Precision::Auto;
  setenv("FDIKP_CPU_BF16", "yes", 1);
  fdikp::clear_model_cache();
  const std::uint64_t before = fdikp::testing::graphs_loaded();
  const int w = 48, h = 32;
  std::vector<float> out;
  fdikp::RunInfo info;
  CHECK(run_image(o, test_image(w, h, 3), &out, w, h, 3, &info).ok());
  unsetenv("FDIKP_CPU_BF16");
  CHECK(info.precision == fdikp::Precision::Bf16);
  CHECK_EQ(fdikp::testing::graphs_loaded() - before, 1u);
}

TEST(auto_precision_takes_bf16_only_where_checked_and_the_cpu_has_it) {
  const int w = 64, h = 48;
  const auto in = test_image(w, h, 3);
  std::vector<float> fp32, out;
  auto o = options_for("sharpen.pt", 0, 16);
  o.precision = fdikp::Precision::Fp32;
  CHECK(run_image(o, in, &fp32, w, h, 3).ok());
  fdikp::RunInfo info;
  // A model without the check runs float32, bit for bit, on any CPU.
  setenv("FDIKP_CPU_BF16", "yes", 1);
  o.precision = fdikp::Precision::Auto;
  CHECK(run_image(o, in, &out, w, h, 3, &info).ok());
  CHECK(info.precision == fdikp::Precision::Fp32);
  CHECK_EQ(max_difference(fp32, out, w, h, 3), 0.0);
  // A model whose check failed runs float32.
  o.model_path = fixture("sharpen-bf16-failed.pt");
  CHECK(run_image(o, in, &out, w, h, 3, &info).ok());
  CHECK(info.precision == fdikp::Precision::Fp32);
  // A checked model takes bfloat16 on a CPU that has it, and not on one
  // that lacks it.
  o.model_path = fixture("sharpen-bf16-checked.pt");
  CHECK(run_image(o, in, &out, w, h, 3, &info).ok());
  CHECK(info.precision == fdikp::Precision::Bf16);
  CHECK(max_difference(fp32, out, w, h, 3) < kBf16SharpenTolerance);
  setenv("FDIKP_CPU_BF16", "no", 1);
  CHECK(run_image(o, in, &out, w, h, 3, &info).ok());
  CHECK(info.precision == fdikp::Precision::Fp32);
  CHECK_EQ(max_difference(fp32, out, w, h, 3), 0.0);
  // Asked for explicitly on such a CPU, bf16 runs, with a warning.
  o.precision = fdikp::Precision::Bf16;
  CHECK(run_image(o, in, &out, w, h, 3, &info).ok());
  CHECK(info.precision == fdikp::Precision::Bf16);
  std::string warnings;
  for (const auto &warning : info.warnings) warnings += warning + "\n";
  CHECK_CONTAINS(warnings, "no bfloat16 instructions");
  unsetenv("FDIKP_CPU_BF16");
  // The metadata key reads back.
  fdikp::ModelInfo checked, bare;
  CHECK(
      fdikp::inspect_model(fixture("sharpen-bf16-checked.pt"), fdikp::Device::Cpu, &checked).ok());
  CHECK(std::fabs(checked.bf16_psnr_change_db - 0.004) < 1e-9);
  CHECK(fdikp::inspect_model(fixture("sharpen.pt"), fdikp::Device::Cpu, &bare).ok());
  CHECK(bare.bf16_psnr_change_db < 0);
}

TEST(runtime_summary_names_the_blas) {
  const std::string summary = fdikp::runtime_summary();
  std::fprintf(stderr, "  %s\n", summary.c_str());
  CHECK_CONTAINS(summary, "LibTorch");
  CHECK_CONTAINS(summary, "BLAS");
}

CHECK_MAIN()
