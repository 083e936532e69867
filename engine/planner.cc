// The planner owns the decisions a run starts from: the stage count, the
// size multiple, the device (CUDA falling back to the CPU when the model
// does not load there) and the tile, from the options, the model's
// metadata and the device's memory budget. Runs and the CUDA->CPU fallback
// ask it for a tile; nothing else chooses one.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "catalog.h"
#include "engine_internal.h"
#include "metadata.h"
#include "tiling.h"

namespace fdikp {

namespace {

// Peak working memory per input pixel when a model does not say (measured on
// an FDIKP prototype: 1680 x 1120 at 3 stages took ~4.5 GB on the CPU).
constexpr double kDefaultBytesPerPixel = 2500.0;
constexpr std::size_t kCpuBudgetCap = std::size_t(1536) << 20;
constexpr std::size_t kCpuBudgetFloor = std::size_t(256) << 20;
constexpr std::size_t kCudaBudget = std::size_t(6) << 30;
// How long a reading of the host's free memory stands: hosts plan every
// region they compute (a GEGL op once per process call), and free memory
// does not need re-reading for each.
constexpr auto kMemoryReadingLifetime = std::chrono::seconds(5);

std::size_t read_available_host_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::size_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::size_t(4) << 30;
}

std::size_t available_host_memory() {
  static std::mutex mutex;
  static std::size_t bytes = 0;
  static std::chrono::steady_clock::time_point read_at;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex);
  if (bytes == 0 || now - read_at > kMemoryReadingLifetime) {
    bytes = read_available_host_memory();
    read_at = now;
  }
  return bytes;
}

}  // namespace

namespace internal {

namespace {

// The memory a run may use on the device: the options' budget, else a share
// of what the host has free (CPU) or a fixed amount (CUDA).
std::size_t memory_budget(torch::Device device, std::size_t budget) {
  if (budget != 0) return budget;
  return device.is_cuda() ? kCudaBudget
                          : std::clamp(available_host_memory() / 4, kCpuBudgetFloor, kCpuBudgetCap);
}

double bytes_per_pixel(const ModelInfo &info) {
  return info.memory_bytes_per_pixel > 0 ? info.memory_bytes_per_pixel : kDefaultBytesPerPixel;
}

}  // namespace

int automatic_tile(const ModelInfo &info, torch::Device device, std::size_t budget, int multiple) {
  budget = memory_budget(device, budget);
  int side = static_cast<int>(std::sqrt(static_cast<double>(budget) / bytes_per_pixel(info)));
  // On the CPU, bigger is not faster: once a tile's feature maps outgrow the
  // caches, time per pixel jumps (FDIKP on 2 cores: 27 s/MP at 256 px,
  // 32 at 320, 66 at 384, 87 at 512). The model's recommended tile is that
  // sweet spot; the memory budget only caps it.
  if (!device.is_cuda()) side = std::min(side, info.recommended_tile_size);
  return std::clamp(tiling::round_down(side, multiple), tiling::round_up(kMinTile, multiple),
                    tiling::round_down(FDIKP_TILE_SIZE_AUTOMATIC_MAX, multiple));
}

int tile_lanes(const ModelInfo &info, torch::Device device, std::size_t budget, int tile) {
  // One tile at a time on a GPU, and on the CPU, one per thread as far as
  // the memory budget holds them: a small network's tile barely spreads
  // over threads (half its operators are too small to split well), while
  // tiles side by side, one thread each, keep every core busy. 1 MP photo,
  // shipped model, 2 cores: 4.0 s against 4.5 s (docs/performance.md).
  if (device.is_cuda()) return 1;
  int lanes = lane_limit();
  if (const char *env = std::getenv("FDIKP_TILE_LANES"))  // benchmarks: 1 = one by one
    lanes = std::min(lanes, std::max(1, std::atoi(env)));
  const double per_tile = bytes_per_pixel(info) * tile * tile;
  const double fits = static_cast<double>(memory_budget(device, budget)) / per_tile;
  return std::max(1, std::min(lanes, static_cast<int>(fits)));
}

Status check_options(const Options &options, const Pixels &pixels) {
  if (options.model_path.empty()) return Status::failure("no model file given");
  if (options.stages < FDIKP_STAGES_MIN || options.stages > FDIKP_STAGES_MAX)
    return Status::failure("stages must be from " + std::to_string(FDIKP_STAGES_MIN) +
                           " (the model's own) to " + std::to_string(FDIKP_STAGES_MAX) + " (got " +
                           std::to_string(options.stages) + ")");
  if (options.tile_size < FDIKP_TILE_SIZE_MIN || options.tile_size > FDIKP_TILE_SIZE_MAX)
    return Status::failure("tile size must be from " + std::to_string(FDIKP_TILE_SIZE_MIN) +
                           " (automatic) to " + std::to_string(FDIKP_TILE_SIZE_MAX) +
                           " pixels (got " + std::to_string(options.tile_size) + ")");
  if (options.tile_overlap < FDIKP_TILE_OVERLAP_MIN ||
      options.tile_overlap > FDIKP_TILE_OVERLAP_MAX)
    return Status::failure("tile overlap must be from " + std::to_string(FDIKP_TILE_OVERLAP_MIN) +
                           " (the model's own) to " + std::to_string(FDIKP_TILE_OVERLAP_MAX) +
                           " pixels (got " + std::to_string(options.tile_overlap) + ")");
  if (pixels.width <= 0 || pixels.height <= 0)
    return Status::failure("the image is empty (" + std::to_string(pixels.width) + "x" +
                           std::to_string(pixels.height) + ")");
  if (!pixels.read || !pixels.write)
    return Status::failure("internal error: no pixel access given");
  return Status::success();
}

// The precision a run on `device` will take, from the metadata read out of
// the archive without LibTorch (catalog.h), so that a bfloat16 run loads,
// rewrites and tests one graph, not a float32 one first (about half a
// second of a process's first photo). Float32 when the archive cannot be
// read that way: the load then says why, and the loaded metadata decides.
Precision precision_from_archive(const Options &options, torch::Device device) {
  std::string json, why;
  ModelInfo info;
  if (!read_archive_metadata_file(options.model_path, &json, &why) ||
      (!json.empty() && !read_model_metadata(json, &info, &why)))
    return Precision::Fp32;
  return resolve_precision(options, device, info, nullptr);
}

Status prepare(const Options &options, Prepared *out, std::vector<std::string> *warnings) {
  Status status = resolve_device(options.device, &out->device);
  if (!status.ok()) return status;
  Precision guess = precision_from_archive(options, out->device);
  status = load_model(options.model_path, out->device, guess, &out->model);
  if (!status.ok() && out->device.is_cuda()) {
    if (warnings) warnings->push_back(status.message() + "; running on the CPU instead");
    out->device = torch::kCPU;
    guess = precision_from_archive(options, out->device);
    status = load_model(options.model_path, out->device, guess, &out->model);
  }
  if (!status.ok()) return status;
  // The loaded metadata decides (and warns); a bfloat16 graph is cached
  // beside the float32 one, so a wrong guess costs a second load only.
  out->precision = resolve_precision(options, out->device, out->model->info, warnings);
  if (out->precision != guess) {
    status = load_model(options.model_path, out->device, out->precision, &out->model);
    if (!status.ok()) return status;
  }
  const ModelInfo &info = out->model->info;
  if (options.output == Output::DefocusMap) {
    if (!info.defocus_map)
      return Status::failure(quoted(options.model_path) +
                             " has no defocus map (its metadata does not say it carries one): "
                             "choose a model exported with one (fdikp.export --defocus-head)");
    if (info.defocus_map_unit != "px")
      return Status::failure(quoted(options.model_path) + " gives its defocus map in \"" +
                             info.defocus_map_unit +
                             "\", a unit this filter does not read ("
                             "it reads \"px\")");
    out->stages = 0;  // the map has none
    out->multiple = info.defocus_map_multiple;
  } else {
    if (options.stages > info.max_stages)
      return Status::failure(quoted(options.model_path) + " supports at most " +
                             std::to_string(info.max_stages) + " stages (got " +
                             std::to_string(options.stages) + ")");
    out->stages = options.stages == FDIKP_STAGES_AUTOMATIC ? info.default_stages : options.stages;
    out->multiple = size_multiple(info.base_multiple, out->stages);
  }
  out->overlap = options.tile_overlap == FDIKP_TILE_OVERLAP_AUTOMATIC
                     ? info.recommended_tile_overlap
                     : options.tile_overlap;
  out->tile = options.tile_size > 0
                  ? std::max(out->multiple, tiling::round_down(options.tile_size, out->multiple))
                  : automatic_tile(info, out->device, options.memory_budget_bytes, out->multiple);
  return Status::success();
}

}  // namespace internal

Status plan(const Options &options, Plan *plan, std::vector<std::string> *warnings) {
  using internal::Prepared;
  if (options.model_path.empty()) return Status::failure("no model file given");
  internal::default_threads();
  return internal::guarded([&] {
    Prepared prepared;
    const Status status = internal::prepare(options, &prepared, warnings);
    if (!status.ok()) return status;
    plan->device = prepared.device.is_cuda() ? Device::Cuda : Device::Cpu;
    plan->precision = prepared.precision;
    plan->stages = prepared.stages;
    plan->tile_size = prepared.tile;
    plan->tile_overlap = prepared.overlap;
    plan->multiple = prepared.multiple;
    plan->tile_automatic = options.tile_size == 0;
    return status;
  });
}

}  // namespace fdikp
