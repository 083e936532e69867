// What the engine's own files share (loader, device policy, planner,
// runner): the loaded model and the helpers that turn LibTorch's errors
// into messages. Includes LibTorch: only engine/*.cc include it, never a
// host (hosts include engine.h).
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_ENGINE_INTERNAL_H
#define FDIKP_ENGINE_INTERNAL_H

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <torch/script.h>

#include "engine.h"
#include "streaming.h"

namespace fdikp {
namespace internal {

// The smallest automatic tile side (before rounding to the size multiple).
constexpr int kMinTile = FDIKP_TILE_SIZE_AUTOMATIC_MIN;

// LibTorch messages carry C++ and TorchScript tracebacks; the user needs the
// line that says what went wrong.
std::string summarize(const std::string &what);
bool mentions_out_of_memory(const std::string &what);
inline std::string quoted(const std::string &path) { return "'" + path + "'"; }

struct LoadedModel {
  // forward() is not const in the API, but running it does not change the
  // module: several threads run one cached model at once.
  mutable torch::jit::Module module;
  ModelInfo info;
  torch::Device device = torch::kCPU;
  // The arithmetic the graph was prepared for and runs in.
  Precision precision = Precision::Fp32;
  // A Bf16 model runs under LibTorch's autocast, unless its rewritten CPU
  // graph does its convolutions in bfloat16 itself (cpu_graph_bf16.cc).
  bool autocast = false;
  // The graph was rewritten for channels-last inputs (cpu_graph.h).
  bool channels_last = false;
  std::string graph;  // how the graph was optimised for the device, for RunInfo
  // Different for every load: the tile memo's key (a replaced file loads
  // as a new model, whose tiles never match the old one's).
  std::uint64_t id = 0;
};

// Layout of an N x 3 x H x W input for the model: channels-last for a
// rewritten graph (free when the data is interleaved RGB already).
torch::Tensor model_layout(const torch::Tensor &x, const LoadedModel &model);

// loader.cc: the model for this path, device and precision (Fp32 or
// Bf16), loaded and checked once and cached by path, device, precision and
// file version.
Status load_model(const std::string &path, torch::Device device, Precision precision,
                  std::shared_ptr<const LoadedModel> *out);
// The contract checks' test image: 1 x 3 x side x side, smooth and not
// constant (constant images hide channel mix-ups), in [0.1, 0.9].
torch::Tensor probe_image(int side, torch::Device device);
// model_contract.cc: forward's contract on a probe image (loader.cc calls it
// for every file it loads).
Status check_contract(const std::string &path, const LoadedModel &model);

// The method a model file's defocus map is (ModelInfo::defocus_map).
constexpr const char *kDefocusMapMethod = "defocus_map";

// defocus_map.cc: the map method's contract (ModelInfo::defocus_map) on a
// probe image, and one tile's map (streaming::Infer, one channel).
Status check_map_contract(const std::string &path, const LoadedModel &model);
streaming::PassResult infer_map_tile(const LoadedModel &model, const std::string &path,
                                     const float *input, int width, int height,
                                     std::vector<float> *output);

// device_policy.cc
Status resolve_device(Device requested, torch::Device *device);
// The precision a run of `options` on `device` uses (never Auto); a
// warning when bf16 was asked for on a CPU without bfloat16 instructions.
// A defocus map runs in float32 whatever was asked (its method is outside
// the autocast scope).
Precision resolve_precision(const Options &options, torch::Device device, const ModelInfo &info,
                            std::vector<std::string> *warnings);
void default_threads();  // LibTorch's and OpenBLAS's threads, once
bool reference_blas_loaded();

// While alive, this thread runs LibTorch's operators in `precision` on
// `device`: for Bf16, autocast to bfloat16 (the thread's previous autocast
// state comes back after, and the cast weights are dropped); for Fp32,
// nothing changes.
class PrecisionScope {
 public:
  PrecisionScope(Precision precision, torch::Device device);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope &) = delete;
  PrecisionScope &operator=(const PrecisionScope &) = delete;

 private:
  bool active_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
  bool was_enabled_ = false;
  c10::ScalarType was_dtype_ = c10::ScalarType::Float;
};

// The model's forward on x under its precision (PrecisionScope): a tensor
// it leaves in bfloat16 comes back as float32, the engine's one output
// type. The contract probe and every tile run through here.
torch::jit::IValue run_forward(const LoadedModel &model, const torch::Tensor &x, int64_t stages);

// planner.cc: the tile the engine chooses for a model on a device within a
// memory budget (0: the automatic budget for the device).
int automatic_tile(const ModelInfo &info, torch::Device device, std::size_t budget, int multiple);
// planner.cc: how many tiles of `tile` samples a run infers side by side.
int tile_lanes(const ModelInfo &info, torch::Device device, std::size_t budget, int tile);
// lanes.cc: the most lanes this LibTorch can run (its thread count with an
// OpenMP runtime, else 1), and the lanes themselves for streaming::run_tiled:
// each tile on a thread of its own, which runs it with one thread.
int lane_limit();
streaming::Lanes side_by_side(int lanes);

// plan() with what a run needs beyond it: the loaded model.
struct Prepared {
  torch::Device device = torch::kCPU;
  Precision precision = Precision::Fp32;
  std::shared_ptr<const LoadedModel> model;
  int stages = 0;
  int multiple = 1;
  int tile = 0;
  int overlap = 0;  // the options' overlap, or the model's own for automatic
};
Status check_options(const Options &options, const Pixels &pixels);
Status prepare(const Options &options, Prepared *out, std::vector<std::string> *warnings);

// runner.cc: forgets the tiles kept between runs (clear_model_cache).
void clear_tile_memo();
// Pixels that read interleaved floats with `channels` (>= 3) per pixel;
// write is the caller's.
Pixels interleaved_pixels(const float *in, int width, int height, int channels);
// What a tile's failure means for the run: out of memory, a CUDA fault
// (continue on the CPU) or a failure naming the model file.
streaming::PassResult classify(const std::string &what, const LoadedModel &model,
                               const std::string &path);

// Runs one tile's inference, turning what LibTorch throws into the
// outcome the runner recovers from (runner.cc, defocus_map.cc).
template <typename Body>
streaming::PassResult guarded_tile(const LoadedModel &model, const std::string &path, Body &&body) {
  using streaming::Outcome;
  try {
    return body();
  } catch (const c10::OutOfMemoryError &e) {
    return {Outcome::OutOfMemory, summarize(e.what_without_backtrace())};
  } catch (const std::bad_alloc &) {
    return {Outcome::OutOfMemory, "out of memory"};
  } catch (const c10::Error &e) {
    return classify(e.what_without_backtrace(), model, path);
  } catch (const std::exception &e) {
    return classify(e.what(), model, path);
  }
}

// Runs body, turning what LibTorch or the standard library throws into a
// failure for the user (plan() and run() share it).
template <typename Body>
Status guarded(Body &&body) {
  try {
    return body();
  } catch (const c10::Error &e) {
    return Status::failure(summarize(e.what_without_backtrace()));
  } catch (const std::exception &e) {
    return Status::failure(summarize(e.what()));
  }
}

}  // namespace internal
}  // namespace fdikp

#endif  // FDIKP_ENGINE_INTERNAL_H
