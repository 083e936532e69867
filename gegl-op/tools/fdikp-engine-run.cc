// Runs the engine on a float32 .npy image: the engine without GEGL, for
// Python tests, benchmarks and GPU machines that have only PyTorch.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/engine.h"
#include "npy.h"

namespace {

const char kUsage[] =
    "usage: fdikp-engine-run --model FILE [--stages N] [--tile-size PX] [--tile-overlap PX]\n"
    "                        [--device auto|cpu|cuda] [--memory-budget-mb MB] [--threads N]\n"
    "                        [--repeat N] IN.npy OUT.npy\n"
    "       fdikp-engine-run --model FILE --inspect\n"
    "       fdikp-engine-run --runtime\n"
    "IN.npy/OUT.npy: float32 arrays H x W x C (C = 3 or 4, sRGB values in [0, 1]).\n"
    "--repeat N runs N times (the first includes loading and warm-up) and prints each time.\n";

bool parse_int(const char *text, int *value) {
  char *end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (!*text || *end || v < -1000000000L || v > 1000000000L) return false;
  *value = static_cast<int>(v);
  return true;
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
    } else if (arg == "--model" && has_value) {
      options.model_path = argv[++i];
    } else if (arg == "--device" && has_value) {
      if (!fdikp::parse_device(argv[++i], &options.device))
        return usage_error(std::string("unknown device '") + argv[i] + "'");
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
    std::printf("architecture=%s version=%s default_stages=%d max_stages=%d base_multiple=%d "
                "recommended_tile_size=%d recommended_tile_overlap=%d parameters=%lld\n",
                info.architecture.c_str(), info.version.c_str(), info.default_stages,
                info.max_stages, info.base_multiple, info.recommended_tile_size,
                info.recommended_tile_overlap, info.parameters);
    return 0;
  }
  if (npositional != 2) return usage_error("expected IN.npy and OUT.npy");

  fdikp::FloatImage image;
  std::string error;
  if (!fdikp::read_npy(positional[0], &image, &error)) {
    std::fprintf(stderr, "fdikp-engine-run: %s\n", error.c_str());
    return 1;
  }
  if (image.channels < 3) {
    std::fprintf(stderr, "fdikp-engine-run: %s: expected 3 or 4 channels\n", positional[0].c_str());
    return 1;
  }
  fdikp::FloatImage result = image;
  for (int run = 0; run < repeat; ++run) {
    fdikp::RunInfo info;
    const auto start = std::chrono::steady_clock::now();
    const fdikp::Status status = fdikp::run_interleaved(options, image.values.data(), result.values.data(),
                                                        image.width, image.height, image.channels, {}, &info);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const std::string &warning : info.warnings)
      std::fprintf(stderr, "fdikp-engine-run: warning: %s\n", warning.c_str());
    if (!status.ok()) {
      std::fprintf(stderr, "fdikp-engine-run: %s\n", status.message().c_str());
      return 1;
    }
    std::printf("device=%s tile_size=%d tile_overlap=%d tiles=%d seconds=%.3f\n",
                fdikp::device_name(info.device), info.tile_size, info.tile_overlap, info.tiles, seconds);
    std::fflush(stdout);
  }
  if (!fdikp::write_npy(positional[1], result, &error)) {
    std::fprintf(stderr, "fdikp-engine-run: %s\n", error.c_str());
    return 1;
  }
  return 0;
}
