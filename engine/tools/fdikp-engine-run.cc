// Runs the engine on a float32 .npy image: the engine without GEGL, for
// Python tests, benchmarks and GPU machines that have only PyTorch.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/catalog.h"
#include "engine/engine.h"
#include "npy.h"

namespace {

const char kUsage[] =
    "usage: fdikp-engine-run --model MODEL [--stages N] [--tile-size PX] [--tile-overlap PX]\n"
    "                        [--device auto|cpu|cuda] [--precision auto|fp32|bf16]\n"
    "                        [--memory-budget-mb MB] [--threads N]\n"
    "                        [--repeat N] [--profile TRACE.json] [--defocus-map MAP.npy]\n"
    "                        IN.npy [OUT.npy]\n"
    "       fdikp-engine-run --model MODEL --inspect\n"
    "       fdikp-engine-run --runtime\n"
    "MODEL: a model file, or an installed model's name or title, found as the filter finds\n"
    "it ($FDIKP_MODEL_PATH, else the user's and the system's model folders).\n"
    "IN.npy/OUT.npy: float32 arrays H x W x C (C = 3 or 4, sRGB values in [0, 1]).\n"
    "--repeat N runs N times (the first includes loading and warm-up) and prints each time.\n"
    "--profile TRACE.json records every operator of the last run (LibTorch's profiler, which\n"
    "slows it) and writes them as a Chrome trace.\n"
    "--defocus-map MAP.npy writes the model's defocus map, float32 H x W x 1, the blur radius\n"
    "in pixels (a model exported with a map); OUT.npy, the deblurred image, is then optional.\n";

bool parse_int(const char *text, int *value) {
  char *end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (!*text || *end || v < -1000000000L || v > 1000000000L) return false;
  *value = static_cast<int>(v);
  return true;
}

// This process's peak resident memory. VmHWM belongs to the process's own
// address space; getrusage's ru_maxrss also counts what the parent had
// resident when it forked us (Linux keeps that high-water mark across exec).
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      status >> kib;
      return kib / 1024.0;
    }
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return -1;
}

int usage_error(const std::string &why) {
  std::fprintf(stderr, "fdikp-engine-run: %s\n%s", why.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  fdikp::Options options;
  std::string positional[2];
  int npositional = 0;
  bool inspect = false;
  int repeat = 1;
  std::string profile_path;
  std::string map_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    int number = 0;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--runtime") {
      std::printf("%s\n", fdikp::runtime_summary().c_str());
      return 0;
    } else if (arg == "--inspect") {
      inspect = true;
    } else if (arg == "--defocus-map" && has_value) {
      map_path = argv[++i];
    } else if (arg == "--model" && has_value) {
      // A name or title through the catalogue, as the filter resolves it; a
      // path stays a path ("" stays "": no model given).
      std::string error;
      if (*argv[++i] && !fdikp::find_model(argv[i], &options.model_path, &error)) {
        std::fprintf(stderr, "fdikp-engine-run: %s\n", error.c_str());
        return 1;
      }
    } else if (arg == "--device" && has_value) {
      if (!fdikp::parse_device(argv[++i], &options.device))
        return usage_error(std::string("unknown device '") + argv[i] + "'");
    } else if (arg == "--profile" && has_value) {
      profile_path = argv[++i];
    } else if (arg == "--precision" && has_value) {
      if (!fdikp::parse_precision(argv[++i], &options.precision))
        return usage_error(std::string("unknown precision '") + argv[i] + "'");
    } else if ((arg == "--stages" || arg == "--tile-size" || arg == "--tile-overlap" ||
                arg == "--memory-budget-mb" || arg == "--threads" || arg == "--repeat") &&
               has_value) {
      if (!parse_int(argv[++i], &number)) return usage_error("bad number for " + arg);
      if (arg == "--stages") options.stages = number;
      else if (arg == "--threads" && number >= 1) fdikp::set_cpu_threads(number);
      else if (arg == "--threads") return usage_error("--threads must be >= 1");
      else if (arg == "--repeat" && number >= 1) repeat = number;
      else if (arg == "--repeat") return usage_error("--repeat must be >= 1");
      else if (arg == "--tile-size") options.tile_size = number;
      else if (arg == "--tile-overlap") options.tile_overlap = number;
      else if (number < 0) return usage_error("--memory-budget-mb must be >= 0");
      else options.memory_budget_bytes = static_cast<std::size_t>(number) << 20;
    } else if (!arg.empty() && arg[0] == '-') {
      return usage_error("unknown or incomplete option " + arg);
    } else if (npositional < 2) {
      positional[npositional++] = arg;
    } else {
      return usage_error("too many arguments");
    }
  }
  if (inspect) {
    fdikp::ModelInfo info;
    const fdikp::Status status = fdikp::inspect_model(options.model_path, options.device, &info);
    if (!status.ok()) {
      std::fprintf(stderr, "fdikp-engine-run: %s\n", status.message().c_str());
      return 1;
    }
    std::printf(
        "name=%s title=\"%s\" speed_class=%s "
        "architecture=%s version=%s default_stages=%d max_stages=%d base_multiple=%d "
        "recommended_tile_size=%d recommended_tile_overlap=%d parameters=%lld "
        "bf16_psnr_change_db=%g cpu_bf16=%s "
        "defocus_map=%d defocus_map_unit=%s defocus_map_multiple=%d\n",
        info.name.c_str(), info.title.c_str(), info.speed_class.c_str(), info.architecture.c_str(),
        info.version.c_str(), info.default_stages, info.max_stages, info.base_multiple,
        info.recommended_tile_size, info.recommended_tile_overlap, info.parameters,
        info.bf16_psnr_change_db, fdikp::cpu_has_bf16() ? "yes" : "no", info.defocus_map ? 1 : 0,
        info.defocus_map_unit.c_str(), info.defocus_map_multiple);
    return 0;
  }
  if (npositional != 2 && !(npositional == 1 && !map_path.empty()))
    return usage_error(map_path.empty() ? "expected IN.npy and OUT.npy" : "expected IN.npy");

  // Both images stay on disk and stream through the engine a tile at a time,
  // as GEGL buffers do in the filter: the process holds only the tiles' work.
  fdikp::NpyFile input, output, map;
  std::string error;
  if (!input.open(positional[0], &error)) {
    std::fprintf(stderr, "fdikp-engine-run: %s\n", error.c_str());
    return 1;
  }
  const fdikp::NpyHeader shape = input.header();
  if (shape.channels < 3) {
    std::fprintf(stderr, "fdikp-engine-run: %s: expected 3 or 4 channels\n", positional[0].c_str());
    return 1;
  }
  const bool deblur = npositional == 2;
  if ((deblur &&
       !output.create(positional[1], shape.height, shape.width, shape.channels, &error)) ||
      (!map_path.empty() && !map.create(map_path, shape.height, shape.width, 1, &error))) {
    std::fprintf(stderr, "fdikp-engine-run: %s\n", error.c_str());
    return 1;
  }
  std::atomic<bool> io_failed{false};
  fdikp::Pixels pixels;
  pixels.width = shape.width;
  pixels.height = shape.height;
  const int channels = shape.channels;
  pixels.read = [&](const fdikp::Rect &rect, float *rgb) {
    std::vector<float> row(static_cast<std::size_t>(rect.width) * channels);
    for (int y = 0; y < rect.height; ++y) {
      if (!input.read_run(rect.x, rect.y + y, rect.width, row.data())) io_failed = true;
      float *dst = rgb + static_cast<std::size_t>(y) * rect.width * 3;
      for (int x = 0; x < rect.width; ++x)
        std::memcpy(dst + 3 * x, row.data() + static_cast<std::size_t>(x) * channels,
                    3 * sizeof(float));
    }
  };
  pixels.write = [&](const fdikp::Rect &rect, const float *rgb) {
    std::vector<float> row(static_cast<std::size_t>(rect.width) * channels);
    for (int y = 0; y < rect.height; ++y) {
      // Channels after the third (alpha) come from the input unchanged.
      if (channels > 3 && !input.read_run(rect.x, rect.y + y, rect.width, row.data()))
        io_failed = true;
      const float *src = rgb + static_cast<std::size_t>(y) * rect.width * 3;
      for (int x = 0; x < rect.width; ++x)
        std::memcpy(row.data() + static_cast<std::size_t>(x) * channels, src + 3 * x,
                    3 * sizeof(float));
      if (!output.write_run(rect.x, rect.y + y, rect.width, row.data())) io_failed = true;
    }
  };
  fdikp::Pixels map_pixels = pixels;
  map_pixels.write = [&](const fdikp::Rect &rect, const float *radii) {
    for (int y = 0; y < rect.height; ++y)
      if (!map.write_run(rect.x, rect.y + y, rect.width, radii + std::size_t(y) * rect.width))
        io_failed = true;
  };
  fdikp::Options map_options = options;
  map_options.output = fdikp::Output::DefocusMap;
  const int runs = repeat * (deblur + !map_path.empty());
  for (int run = 0; run < runs; ++run) {
    const bool of_map = !deblur || run >= repeat;
    fdikp::RunInfo info;
    std::unique_ptr<fdikp::OperatorTrace> trace;
    if (!profile_path.empty() && run == runs - 1) {
      std::remove(profile_path.c_str());  // an old trace must not pass for this one
      trace = std::make_unique<fdikp::OperatorTrace>(profile_path);
    }
    const auto start = std::chrono::steady_clock::now();
    const fdikp::Status status = of_map ? fdikp::run(map_options, map_pixels, {}, &info)
                                        : fdikp::run(options, pixels, {}, &info);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (trace) {
      trace.reset();  // writes the trace
      if (!std::ifstream(profile_path).good()) {
        std::fprintf(stderr, "fdikp-engine-run: could not write %s\n", profile_path.c_str());
        return 1;
      }
    }
    for (const std::string &warning : info.warnings)
      std::fprintf(stderr, "fdikp-engine-run: warning: %s\n", warning.c_str());
    if (!status.ok()) {
      std::fprintf(stderr, "fdikp-engine-run: %s\n", status.message().c_str());
      return 1;
    }
    if (io_failed) {
      std::fprintf(stderr, "fdikp-engine-run: reading %s or writing %s failed\n",
                   positional[0].c_str(), of_map ? map_path.c_str() : positional[1].c_str());
      return 1;
    }
    std::printf(
        "%sdevice=%s precision=%s tile_size=%d tile_overlap=%d tiles=%d tile_lanes=%d "
        "seconds=%.3f\n",
        of_map ? "defocus_map: " : "", fdikp::device_name(info.device),
        fdikp::precision_name(info.precision), info.tile_size, info.tile_overlap, info.tiles,
        info.tile_lanes, seconds);
    if (run == 0) std::printf("graph: %s\n", info.graph.c_str());
    std::fflush(stdout);
  }
  std::printf("peak_rss_mib=%.1f\n", peak_rss_mib());
  return 0;
}
