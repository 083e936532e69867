// The runner owns a run: it streams the image through the planned tiles
// (streaming.h), runs the model on each, and recovers from what a pass
// reports: out of memory (halve the tile), a CUDA fault (continue on the
// CPU with the planner's CPU tile), cancellation and failure.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <sstream>

#include <c10/core/InferenceMode.h>

#include "engine_internal.h"
#include "streaming.h"
#include "tiling.h"

namespace fdikp {

namespace {

using internal::automatic_tile;
using internal::check_options;
using internal::default_threads;
using internal::guarded;
using internal::guarded_tile;
using internal::kMinTile;
using internal::load_model;
using internal::LoadedModel;
using internal::mentions_out_of_memory;
using internal::model_layout;
using internal::prepare;
using internal::Prepared;
using internal::quoted;
using internal::reference_blas_loaded;
using internal::resolve_precision;
using internal::summarize;
using streaming::Outcome;
using streaming::PassResult;

// Tiles along the edges of the regions a host asks for one after another
// (streaming::TileMemo): about 50 tiles of 320 px. A whole-image run
// stores none.
streaming::TileMemo tile_memo(std::size_t(128) << 20);

// Runs the model on one tile of interleaved RGB (streaming::Infer).
PassResult infer_tile(const LoadedModel &model, int stages, const std::string &path,
                      const float *input, int width, int height, std::vector<float> *output) {
  return guarded_tile(model, path, [&]() -> PassResult {
    c10::InferenceMode guard;
    // Interleaved RGB is channels-last already: a rewritten CPU graph
    // takes it without a copy. from_blob wants a mutable pointer; the
    // buffer is the streaming's scratch copy of the tile, never the image.
    auto x = model_layout(torch::from_blob(const_cast<float *>(input), {1, height, width, 3},
                                           torch::kFloat32)
                              .permute({0, 3, 1, 2}),
                          model)
                 .to(model.device);
    const auto result = internal::run_forward(model, x, stages);
    if (!result.isTensor())
      return {Outcome::Failed, quoted(path) + " returned " + result.tagKind() + ", not a Tensor"};
    auto y = result.toTensor();
    if (y.sizes() != x.sizes() || y.scalar_type() != torch::kFloat32) {
      std::ostringstream why;
      why << quoted(path) << " returned shape " << y.sizes() << " for a tile of shape " << x.sizes()
          << " (it must be the same, float32)";
      return {Outcome::Failed, why.str()};
    }
    if (!torch::isfinite(y).all().item<bool>())
      return {Outcome::Failed, quoted(path) + " produced NaN or infinite values"};
    y = y.clamp(0.0, 1.0).permute({0, 2, 3, 1}).contiguous().to(torch::kCPU);
    output->assign(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
    return {};
  });
}

std::atomic<int> injected_device_faults{0};

// Takes one injected fault, if any is left.
bool take_injected_fault() {
  int left = injected_device_faults.load();
  while (left > 0)
    if (injected_device_faults.compare_exchange_weak(left, left - 1)) return true;
  return false;
}

// Freed memory stays in the process while runs are going on, and goes back
// to the system when the last one ends. glibc hands a tile's large blocks
// back to the kernel as soon as they are freed and takes fresh, zeroed pages
// for the next tile: measured on a 1024 x 1024 photo (2 cores, 320-px
// tiles), 1.65 million minor page faults and 20 % of the time
// (tests/bench/profile.py --faults). FDIKP_MALLOC=system leaves glibc's
// policy alone, for comparisons.
class KeepFreedMemory {
 public:
  KeepFreedMemory() {
    static const bool wanted = [] {
      const char *env = std::getenv("FDIKP_MALLOC");
      if (env && std::strcmp(env, "system") == 0) return false;
      // Blocks up to glibc's largest threshold (32 MiB on 64-bit) come
      // from the heap and are reused; the heap is not trimmed on free.
      mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024 * static_cast<int>(sizeof(long)));
      mallopt(M_TRIM_THRESHOLD, INT_MAX);
      return true;
    }();
    active_ = wanted;
    if (active_) ++running_;
  }
  ~KeepFreedMemory() {
    if (active_ && --running_ == 0) malloc_trim(0);
  }
  KeepFreedMemory(const KeepFreedMemory &) = delete;
  KeepFreedMemory &operator=(const KeepFreedMemory &) = delete;

 private:
  static std::atomic<int> running_;
  bool active_ = false;
};
std::atomic<int> KeepFreedMemory::running_{0};

// run() and run(plan): from `start`, a tile chosen for the device (or the
// options' own tile when automatic is false).
Status run_from(const Options &options, const Plan *start, const Pixels &pixels,
                const Callbacks &callbacks, RunInfo *info) {
  RunInfo local;
  RunInfo &ri = info ? *info : local;
  ri = RunInfo();
  Status status = check_options(options, pixels);
  if (!status.ok()) return status;
  default_threads();
  static std::once_flag blas_check;
  std::call_once(blas_check, [&ri] {
    if (reference_blas_loaded())
      ri.warnings.push_back(
          "LibTorch is using the reference BLAS, which makes deblurring about 3x slower: install "
          "OpenBLAS (Debian: libopenblas0-pthread)");
  });
  const KeepFreedMemory keep;
  return guarded([&]() -> Status {
    Prepared prepared;
    Status status = prepare(options, &prepared, &ri.warnings);
    if (!status.ok()) return status;
    bool automatic = options.tile_size == 0;
    if (start) {
      if (start->multiple != prepared.multiple || start->tile_size % prepared.multiple != 0)
        return Status::failure("internal error: the plan was made for other options");
      prepared.tile = start->tile_size;
      prepared.overlap = start->tile_overlap;
      automatic = start->tile_automatic;
    }
    torch::Device device = prepared.device;
    std::shared_ptr<const LoadedModel> model = prepared.model;
    const int multiple = prepared.multiple;
    const int stages = prepared.stages;
    const bool map = options.output == Output::DefocusMap;
    ri.stages = stages;
    int tile = prepared.tile;
    const int smallest = std::max(multiple, tiling::round_up(kMinTile, multiple));
    for (;;) {
      ri.device = device.is_cuda() ? Device::Cuda : Device::Cpu;
      ri.precision = model->precision;
      ri.graph = model->graph;
      ri.tile_size = tile;
      ri.tile_overlap =
          tiling::effective_overlap(std::max(pixels.width, pixels.height), tile, prepared.overlap);
      ri.tile_lanes = internal::tile_lanes(model->info, device, options.memory_budget_bytes, tile);
      const LoadedModel &loaded = *model;
      const streaming::Infer infer = [&](const float *input, int width, int height,
                                         std::vector<float> *output) {
        return map ? internal::infer_map_tile(loaded, options.model_path, input, width, height,
                                              output)
                   : infer_tile(loaded, stages, options.model_path, input, width, height, output);
      };
      // The memo's key: the model and the stage count, 0 for its map (tile
      // inputs fix the rest).
      const streaming::Reuse reuse{&tile_memo, model->id * 8 + static_cast<std::uint64_t>(stages)};
      const PassResult result =
          take_injected_fault()
              ? PassResult{Outcome::DeviceFault, "injected device fault (test)"}
              : streaming::run_tiled(pixels, callbacks, tile, prepared.overlap, multiple, infer,
                                     &ri.tiles, reuse, &ri.tiles_reused, map ? 1 : 3,
                                     internal::side_by_side(ri.tile_lanes));
      switch (result.outcome) {
        case Outcome::Done: return Status::success();
        case Outcome::Cancelled: return Status::cancellation();
        case Outcome::Failed: return Status::failure(result.message);
        case Outcome::OutOfMemory: {
          const int smaller = std::max(multiple, tiling::round_down(tile / 2, multiple));
          if (tile <= smallest || smaller == tile)
            return Status::failure("out of memory even with " + std::to_string(tile) + "x" +
                                   std::to_string(tile) + " tiles on the " + device.str() + " (" +
                                   result.message + ")");
          ri.warnings.push_back("out of memory with " + std::to_string(tile) +
                                "-pixel tiles on the " + device.str() + "; retrying with " +
                                std::to_string(smaller) + "-pixel tiles");
          tile = smaller;
          break;
        }
        case Outcome::DeviceFault:
          ri.warnings.push_back("CUDA failed (" + result.message + "); running on the CPU instead");
          device = torch::kCPU;
          status =
              load_model(options.model_path, device,
                         resolve_precision(options, device, model->info, &ri.warnings), &model);
          if (!status.ok()) return status;
          // The tile was sized for the GPU; the CPU's is smaller (never
          // larger: a host asked for the input the planned tile reads).
          if (automatic)
            tile = std::min(
                tile, automatic_tile(model->info, device, options.memory_budget_bytes, multiple));
          break;
      }
    }
  });
}

}  // namespace

Status run(const Options &options, const Pixels &pixels, const Callbacks &callbacks,
           RunInfo *info) {
  return run_from(options, nullptr, pixels, callbacks, info);
}

Status run(const Options &options, const Plan &plan, const Pixels &pixels,
           const Callbacks &callbacks, RunInfo *info) {
  return run_from(options, &plan, pixels, callbacks, info);
}

namespace testing {
void inject_device_faults(int passes) { injected_device_faults.store(std::max(0, passes)); }
}  // namespace testing

Status run_interleaved(const Options &options, const float *in, float *out, int width, int height,
                       int channels, const Callbacks &callbacks, RunInfo *info) {
  if (channels < 3) return Status::failure("the image needs at least 3 channels");
  Pixels pixels = internal::interleaved_pixels(in, width, height, channels);
  const std::size_t row = static_cast<std::size_t>(width) * channels;
  pixels.write = [&](const Rect &r, const float *rgb) {
    for (int y = 0; y < r.height; ++y) {
      const std::size_t offset = (r.y + y) * row + static_cast<std::size_t>(r.x) * channels;
      const float *src = in + offset;
      float *dst = out + offset;
      for (int x = 0; x < r.width; ++x, src += channels, dst += channels, rgb += 3) {
        std::copy(rgb, rgb + 3, dst);
        std::copy(src + 3, src + channels, dst + 3);
      }
    }
  };
  return run(options, pixels, callbacks, info);
}

namespace internal {
void clear_tile_memo() { tile_memo.clear(); }

Pixels interleaved_pixels(const float *in, int width, int height, int channels) {
  Pixels pixels;
  pixels.width = width;
  pixels.height = height;
  const std::size_t row = static_cast<std::size_t>(width) * channels;
  pixels.read = [in, row, channels](const Rect &r, float *rgb) {
    for (int y = 0; y < r.height; ++y) {
      const float *src = in + (r.y + y) * row + static_cast<std::size_t>(r.x) * channels;
      for (int x = 0; x < r.width; ++x, src += channels, rgb += 3) std::copy(src, src + 3, rgb);
    }
  };
  return pixels;
}

PassResult classify(const std::string &what, const LoadedModel &model, const std::string &path) {
  if (mentions_out_of_memory(what)) return {Outcome::OutOfMemory, summarize(what)};
  if (model.device.is_cuda() &&
      (what.find("CUDA") != std::string::npos || what.find("cuda") != std::string::npos))
    return {Outcome::DeviceFault, summarize(what)};
  return {Outcome::Failed, quoted(path) + " failed: " + summarize(what)};
}
}  // namespace internal

}  // namespace fdikp
