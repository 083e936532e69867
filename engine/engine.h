// FDIKP defocus-deblur engine: runs a TorchScript deblurring model over an
// image in tiles. This header is the engine's whole public surface; it has no
// LibTorch, GLib or GEGL types, so GEGL and GIMP code can include it freely
// (LibTorch's headers clash with glib's gettext macros).
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_ENGINE_H
#define FDIKP_ENGINE_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/option_limits.h"
#include "model_info.h"
#include "pixels.h"

namespace fdikp {

enum class Device { Auto, Cpu, Cuda };

// Parses "auto", "cpu" or "cuda"; returns false for anything else.
bool parse_device(const std::string &text, Device *device);
const char *device_name(Device device);

// The network's arithmetic. Auto takes Bf16 on a CPU with bfloat16
// instructions (AVX512-BF16 or AMX) when the model's metadata records that
// bfloat16 kept its output within FDIKP_BF16_TOLERANCE_MILLIDB of float32,
// and Fp32 everywhere else (CUDA included). Bf16 runs the network under
// LibTorch's autocast: convolutions and matrix products in bfloat16, the
// FFTs and the output in float32.
enum class Precision { Auto, Fp32, Bf16 };

// Parses "auto", "fp32" or "bf16"; returns false for anything else.
bool parse_precision(const std::string &text, Precision *precision);
const char *precision_name(Precision precision);

// Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX-BF16, and
// an OS that saves their registers). FDIKP_CPU_BF16=yes|no overrides the
// answer (tests, and a way out should a CPU mis-report).
bool cpu_has_bf16();

// What a run computes from the image.
enum class Output {
  // The deblurred image: Pixels::write gets 3 floats (R'G'B') per pixel.
  Deblurred,
  // The model's defocus map: Pixels::write gets 1 float per pixel, the
  // radius of the blur disc there in pixels (>= 0). Only a model whose
  // metadata says it has one (ModelInfo::defocus_map); the others fail with
  // a message naming the file. Stages do not apply (the run's are 0).
  DefocusMap,
};

struct Options {
  std::string model_path;  // TorchScript file; must be set
  Output output = Output::Deblurred;
  // Scale-recurrent stages, 1..FDIKP_STAGES_MAX, or FDIKP_STAGES_AUTOMATIC
  // (0, the default): the model's own default_stages (option_limits.h).
  int stages = FDIKP_STAGES_DEFAULT;
  // Pixels per tile side, up to FDIKP_TILE_SIZE_MAX; 0 = automatic: on the
  // CPU the model's recommended (cache-friendly) tile capped by the memory
  // budget, on CUDA the largest tile the budget allows (at most
  // FDIKP_TILE_SIZE_AUTOMATIC_MAX).
  int tile_size = FDIKP_TILE_SIZE_DEFAULT;
  // Pixels shared by neighbouring tiles, up to FDIKP_TILE_OVERLAP_MAX, or
  // FDIKP_TILE_OVERLAP_AUTOMATIC (-1, the default): the model's
  // recommended_tile_overlap (64 for a file that does not name one).
  int tile_overlap = FDIKP_TILE_OVERLAP_DEFAULT;
  Device device = Device::Auto;
  Precision precision = Precision::Auto;
  // Working-memory budget for one tile's inference, 0 = automatic
  // (a share of free memory). Used only when tile_size is 0.
  std::size_t memory_budget_bytes = 0;
};

// What the engine decided and measured for one run.
struct RunInfo {
  Device device = Device::Cpu;            // the device that produced the output
  Precision precision = Precision::Fp32;  // the arithmetic it ran in (never Auto)
  int stages = 0;                         // the stages run (the model's own when asked for 0)
  int tile_size = 0;                      // the tile side finally used
  int tile_overlap = 0;
  int tiles = 0;       // tiles processed
  int tile_lanes = 1;  // tiles inferred side by side (one thread each on the CPU)
  // Of those, tiles found ready: computed by an earlier run for a region
  // next to this one (streaming::TileMemo), bit-identical.
  int tiles_reused = 0;
  std::string graph;  // how the model's graph was optimised for the device
  std::vector<std::string> warnings;
};

// The decisions a run starts from (plan()).
struct Plan {
  Device device = Device::Cpu;            // where the model runs
  Precision precision = Precision::Fp32;  // its arithmetic there (never Auto)
  int stages = 0;                         // the stages it runs (the model's own for 0)
  int tile_size = 0;                      // the tile side a run starts with
  int tile_overlap = 0;                   // the overlap it asks for (the model's for -1)
  int multiple = 1;                       // tile sides are multiples of this
  // The engine chose the tile for this device (Options::tile_size 0): a
  // run that falls back from CUDA to the CPU chooses it again for the CPU.
  bool tile_automatic = false;
};

// Errors are values: ok(), cancelled(), or a failure with a message meant
// for the user.
class Status {
 public:
  static Status success() { return Status(Code::Ok, {}); }
  static Status failure(std::string message) { return Status(Code::Failed, std::move(message)); }
  static Status cancellation() { return Status(Code::Cancelled, "cancelled"); }
  bool ok() const { return code_ == Code::Ok; }
  bool cancelled() const { return code_ == Code::Cancelled; }
  const std::string &message() const { return message_; }

 private:
  enum class Code { Ok, Failed, Cancelled };
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_;
  std::string message_;
};

// Deblurs the image (pixels.h: how it is read, written and reported on; a
// cancelled run returns Status::cancellation()). Safe to call from several
// threads at once; the loaded model is cached (by path, size and
// modification time) and shared.
Status run(const Options &options, const Pixels &pixels, const Callbacks &callbacks,
           RunInfo *info = nullptr);

// run() from a plan that plan() made with the same options: it starts with
// the plan's tile, so a host that asked for the input
// streaming::input_needed(width, height, plan.tile_size, region) gets
// exactly the reads it covered. When CUDA fails and the run continues on
// the CPU, an automatic tile is chosen again for the CPU (its memory
// budget and cache-friendly size), never larger than the plan's, which
// keeps the reads inside the input asked for; a tile the user set stays.
Status run(const Options &options, const Plan &plan, const Pixels &pixels,
           const Callbacks &callbacks, RunInfo *info = nullptr);

// What run() would start from with these options: the device (CUDA
// falling back to the CPU when the model does not load there), the tile
// and the size multiple, loading the model into the cache. A host that
// computes part of an image (Pixels::region) asks for the input
// streaming::input_needed(width, height, plan.tile_size, region) and runs
// from the plan (run() with a Plan), so the two agree.
Status plan(const Options &options, Plan *plan, std::vector<std::string> *warnings = nullptr);

// Convenience over run() for a contiguous interleaved float image with
// `channels` (3 or 4) values per pixel; channels after the third are copied
// from in to out unchanged. in and out must not overlap.
Status run_interleaved(const Options &options, const float *in, float *out, int width, int height,
                       int channels, const Callbacks &callbacks, RunInfo *info = nullptr);

// run() with options.output = Output::DefocusMap over a contiguous
// interleaved float image with `channels` (3 or 4) values per pixel: `map`
// gets width * height blur radii in pixels, row by row.
Status defocus_map_interleaved(const Options &options, const float *in, float *map, int width,
                               int height, int channels, const Callbacks &callbacks,
                               RunInfo *info = nullptr);

// Loads (or finds in the cache) the model and checks its contract; *info
// gets the facts about it (model_info.h) without running an image through it.
Status inspect_model(const std::string &path, Device device, ModelInfo *info);

// Drops every cached model and kept tile (tests, or after the user replaced a file in place
// within the same second).
void clear_model_cache();

namespace testing {
// Fault injection for tests: the next `passes` tiled passes fail as a CUDA
// fault would, on whatever device they run (the CPU-only machines the
// tests run on have no CUDA to fail).
void inject_device_faults(int passes);
// How many times this process has loaded (read, rewritten and tested) a
// model graph: the cache's misses.
std::uint64_t graphs_loaded();
}  // namespace testing

// While one lives, LibTorch records every operator the engine runs, on
// every thread, with its start and duration; its destructor writes them to
// `trace_path` as a Chrome trace ("traceEvents", times in microseconds).
// For benchmarks (fdikp-engine-run --profile, tests/bench/profile.py
// --engine-groups): recording slows the run.
class OperatorTrace {
 public:
  explicit OperatorTrace(const std::string &trace_path);
  ~OperatorTrace();
  OperatorTrace(const OperatorTrace &) = delete;
  OperatorTrace &operator=(const OperatorTrace &) = delete;

 private:
  struct Recorder;
  std::unique_ptr<Recorder> recorder_;
};

// One line about the LibTorch runtime: version, threads, BLAS in use, CUDA.
std::string runtime_summary();

// Sets LibTorch's CPU threads for the whole process (0 leaves its default,
// one per core). Hosts that run several filters at once share these.
void set_cpu_threads(int threads);

}  // namespace fdikp

#endif  // FDIKP_ENGINE_H
