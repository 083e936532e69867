// The engine: the only code that includes LibTorch. It loads and checks
// TorchScript models, chooses the device, and runs the model on each tile
// that the streaming (streaming.h, torch-free) hands it. Every LibTorch or
// C++ exception stops here and becomes a Status message.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "engine.h"

#include <dlfcn.h>
#include <link.h>
#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <sstream>
#include <utility>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include "cpu_graph.h"
#include "file_version.h"
#include "metadata.h"
#include "streaming.h"
#include "tiling.h"

namespace fdikp {

bool parse_device(const std::string &text, Device *device) {
  if (text == "auto") *device = Device::Auto;
  else if (text == "cpu") *device = Device::Cpu;
  else if (text == "cuda") *device = Device::Cuda;
  else return false;
  return true;
}

const char *device_name(Device device) {
  switch (device) {
    case Device::Auto: return "auto";
    case Device::Cpu: return "cpu";
    case Device::Cuda: return "cuda";
  }
  return "?";
}

namespace {

constexpr int kProbeMinSide = 8;
constexpr int kMinTile = 64;
// Peak working memory per input pixel when a model does not say (measured on
// an FDIKP prototype: 1680 x 1120 at 3 stages took ~4.5 GB on the CPU).
constexpr double kDefaultBytesPerPixel = 2500.0;
constexpr std::size_t kCpuBudgetCap = std::size_t(1536) << 20;
constexpr std::size_t kCpuBudgetFloor = std::size_t(256) << 20;
constexpr std::size_t kCudaBudget = std::size_t(6) << 30;

// LibTorch messages carry C++ and TorchScript tracebacks; the user needs the
// line that says what went wrong.
std::string summarize(const std::string &what) {
  std::istringstream lines(what);
  std::string line, last, first;
  bool traceback = false;
  while (std::getline(lines, line)) {
    const auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    line = line.substr(b);
    if (first.empty()) first = line;
    if (line.rfind("Traceback", 0) == 0 || line.rfind("The following operation failed", 0) == 0)
      traceback = true;
    last = line;
  }
  std::string text = traceback ? last : first;
  if (text.size() > 400) text = text.substr(0, 397) + "...";
  return text.empty() ? std::string("unknown error") : text;
}

bool mentions_out_of_memory(const std::string &what) {
  std::string lower(what);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("out of memory") != std::string::npos ||
         lower.find("failed to allocate") != std::string::npos;
}

struct LoadedModel {
  // forward() is not const in the API, but running it does not change the
  // module: several threads run one cached model at once.
  mutable torch::jit::Module module;
  ModelInfo info;
  torch::Device device = torch::kCPU;
  // The graph was rewritten for channels-last inputs (cpu_graph.h).
  bool channels_last = false;
  std::string graph;  // how the graph was optimised for the device, for RunInfo
  // Different for every load: the tile memo's key (a replaced file loads
  // as a new model, whose tiles never match the old one's).
  std::uint64_t id = 0;
};

std::atomic<std::uint64_t> models_loaded{0};

// Tiles along the edges of the regions a host asks for one after another
// (streaming::TileMemo): about 50 tiles of 320 px. A whole-image run
// stores none.
streaming::TileMemo tile_memo(std::size_t(128) << 20);

// Layout of an N x 3 x H x W input for the model: channels-last for a
// rewritten graph (free when the data is interleaved RGB already).
torch::Tensor model_layout(const torch::Tensor &x, const LoadedModel &model) {
  return x.contiguous(model.channels_last ? at::MemoryFormat::ChannelsLast
                                          : at::MemoryFormat::Contiguous);
}

struct CacheEntry {
  FileVersion version;
  std::shared_ptr<const LoadedModel> model;
};

std::mutex cache_mutex;
std::map<std::pair<std::string, std::string>, CacheEntry> model_cache;

std::string quoted(const std::string &path) { return "'" + path + "'"; }

Status check_file(const std::string &path, struct stat *st) {
  if (path.empty()) return Status::failure("no model file given");
  if (::stat(path.c_str(), st) != 0) {
    if (errno == ENOENT) return Status::failure("model file " + quoted(path) + " does not exist");
    return Status::failure("cannot read model file " + quoted(path) + ": " + std::strerror(errno));
  }
  if (S_ISDIR(st->st_mode))
    return Status::failure("model file " + quoted(path) +
                           " is a directory, not a TorchScript file");
  if (st->st_size == 0)
    return Status::failure("model file " + quoted(path) + " is empty, not a TorchScript file");
  std::ifstream probe(path, std::ios::binary);
  if (!probe)
    return Status::failure("cannot read model file " + quoted(path) + ": " + std::strerror(errno));
  return Status::success();
}

std::string describe_schema(const torch::jit::Method &forward) {
  std::ostringstream out;
  out << forward.function().getSchema();
  return out.str();
}

// The contract: forward(self, image: Tensor, stages: int) -> Tensor of the
// image's shape, float, finite, for any batch of 3-channel images whose
// sides are multiples of base_multiple * 2^(stages - 1).
Status check_contract(const std::string &path, LoadedModel *model) {
  const auto forward = model->module.find_method("forward");
  if (!forward)
    return Status::failure(quoted(path) + " has no forward method, so it is not a model");
  const auto &schema = forward->function().getSchema();
  const auto &args = schema.arguments();
  const bool signature_ok = args.size() == 3 &&
                            args[1].type()->kind() == c10::TypeKind::TensorType &&
                            args[2].type()->kind() == c10::TypeKind::IntType;
  if (!signature_ok) {
    return Status::failure(quoted(path) +
                           " does not follow the model contract: forward must take (image: Tensor, "
                           "stages: int), but it is " +
                           describe_schema(*forward));
  }
  const ModelInfo &info = model->info;
  const int side = std::max(kProbeMinSide, size_multiple(info.base_multiple, info.default_stages));
  const auto options = torch::TensorOptions().dtype(torch::kFloat32);
  // A smooth, non-constant probe: constant images hide channel mix-ups.
  const auto ramp = torch::linspace(0.1, 0.9, side, options);
  auto probe = torch::stack({ramp.view({side, 1}).expand({side, side}),
                             ramp.view({1, side}).expand({side, side}),
                             (ramp.view({side, 1}) * ramp.view({1, side}))})
                   .unsqueeze(0)
                   .to(model->device);
  probe = model_layout(probe, *model);
  torch::jit::IValue result;
  try {
    c10::InferenceMode guard;
    result = model->module.forward({probe, static_cast<int64_t>(info.default_stages)});
  } catch (const c10::Error &e) {
    return Status::failure(quoted(path) + " failed on a " + std::to_string(side) + "x" +
                           std::to_string(side) +
                           " test image: " + summarize(e.what_without_backtrace()));
  } catch (const std::exception &e) {
    return Status::failure(quoted(path) + " failed on a " + std::to_string(side) + "x" +
                           std::to_string(side) + " test image: " + summarize(e.what()));
  }
  if (!result.isTensor())
    return Status::failure(quoted(path) + " does not follow the model contract: forward returned " +
                           result.tagKind() + ", not a Tensor");
  const auto out = result.toTensor();
  if (out.sizes() != probe.sizes()) {
    std::ostringstream why;
    why << quoted(path) << " does not follow the model contract: for an input of shape "
        << probe.sizes() << " it returned shape " << out.sizes() << " (it must be the same)";
    return Status::failure(why.str());
  }
  if (out.scalar_type() != torch::kFloat32)
    return Status::failure(quoted(path) + " does not follow the model contract: it returned " +
                           std::string(c10::toString(out.scalar_type())) + ", not float32");
  if (!torch::isfinite(out).all().item<bool>())
    return Status::failure(quoted(path) + " returned NaN or infinite values on a test image");
  return Status::success();
}

// Which CPU graph optimisation a load uses: FDIKP_CPU_GRAPH=fused (the
// default: cpu_graph.h), oneDNN (LibTorch's optimize_for_inference) or plain
// (the graph as saved). For benchmarks, and a way out should a LibTorch
// build mis-handle the fused graph.
enum class CpuGraph { Fused, OneDnn, Plain };

CpuGraph cpu_graph_choice() {
  const char *env = std::getenv("FDIKP_CPU_GRAPH");
  const std::string choice = env ? env : "";
  if (choice == "oneDNN" || choice == "onednn") return CpuGraph::OneDnn;
  if (choice == "plain") return CpuGraph::Plain;
  return CpuGraph::Fused;
}

Status load_module(const std::string &path, torch::Device device, LoadedModel *model,
                   torch::jit::ExtraFilesMap *extra) {
  try {
    model->module = torch::jit::load(path, device, *extra);
    model->module.eval();
  } catch (const c10::Error &e) {
    const std::string why = e.what_without_backtrace();
    if (device.is_cuda() && !mentions_out_of_memory(why) &&
        why.find("PytorchStreamReader") == std::string::npos)
      return Status::failure("could not load " + quoted(path) + " onto CUDA: " + summarize(why));
    return Status::failure(quoted(path) +
                           " is not a TorchScript model file (LibTorch: " + summarize(why) + ")");
  } catch (const std::exception &e) {
    return Status::failure(quoted(path) + " is not a TorchScript model file (" +
                           summarize(e.what()) + ")");
  }
  return Status::success();
}

// Optimises a freshly loaded module for the CPU. A model a step cannot
// handle still runs as it is.
void optimize_cpu_graph(LoadedModel *model, CpuGraph choice) {
  model->channels_last = false;
  model->graph = "plain";
  std::string refused;  // why the fused graph was not used, when it was wanted
  if (choice == CpuGraph::Fused) {
    CpuGraphReport report;
    try {
      if (rewrite_for_cpu(model->module, &report, &refused)) {
        model->channels_last = true;
        model->graph = "fused: " + std::to_string(report.fused_convolutions) + " fused and " +
                       std::to_string(report.plain_convolutions) +
                       " plain channels-last oneDNN convolutions";
        return;
      }
    } catch (const std::exception &e) {
      refused = e.what();
    }
  }
  if (choice != CpuGraph::Plain) {
    // Folds what freezing left and pre-packs convolution weights for oneDNN
    // in its blocked layout: measured 1.3-1.7x faster than the plain graph
    // for FDIKP at tiles up to 320 px.
    try {
      model->module = torch::jit::optimize_for_inference(model->module);
      model->graph = "oneDNN (optimize_for_inference)";
    } catch (const std::exception &) {
    }
  }
  if (!refused.empty()) model->graph += "; the fused graph was not used: " + summarize(refused);
}

Status load_uncached(const std::string &path, torch::Device device,
                     std::shared_ptr<const LoadedModel> *out) {
  auto model = std::make_shared<LoadedModel>();
  model->device = device;
  model->id = ++models_loaded;
  torch::jit::ExtraFilesMap extra{{kMetadataEntry, ""}};
  Status loaded = load_module(path, device, model.get(), &extra);
  if (!loaded.ok()) return loaded;
  const std::string &json = extra[kMetadataEntry];
  if (!json.empty()) {
    std::string why;
    if (!read_model_metadata(json, &model->info, &why))
      return Status::failure(quoted(path) + ": " + why);
  }
  if (device.is_cuda()) model->graph = "as saved (CUDA)";
  else optimize_cpu_graph(model.get(), cpu_graph_choice());
  Status contract = check_contract(path, model.get());
  if (!contract.ok() && model->channels_last) {
    // The rewritten graph failed where the saved one may not: load the file
    // again and take LibTorch's own optimisation instead.
    loaded = load_module(path, device, model.get(), &extra);
    if (!loaded.ok()) return loaded;
    optimize_cpu_graph(model.get(), CpuGraph::OneDnn);
    model->graph += "; the fused graph failed its test: " + contract.message();
    contract = check_contract(path, model.get());
  }
  if (!contract.ok()) return contract;
  *out = std::move(model);
  return Status::success();
}

// TorchScript's default (profiling) executor specialises a model for the
// input shapes of its first runs and runs any other shape on an unoptimised
// fallback path: after the 16 x 16 contract probe, every tile ran about 1.6x
// slower (FDIKP, 256-px tiles, CPU). The simple executor optimises once for
// all shapes, which suits a filter that sees a new image size every run.
void use_simple_executor() {
  static std::once_flag once;
  std::call_once(once, [] { torch::jit::getProfilingMode() = false; });
}

Status load_model(const std::string &path, torch::Device device,
                  std::shared_ptr<const LoadedModel> *out) {
  use_simple_executor();
  struct stat st{};
  Status file = check_file(path, &st);
  if (!file.ok()) return file;
  const FileVersion version = file_version(st);
  const auto key = std::make_pair(path, device.str());
  std::lock_guard<std::mutex> lock(cache_mutex);
  const auto hit = model_cache.find(key);
  if (hit != model_cache.end() && hit->second.version == version) {
    *out = hit->second.model;
    return Status::success();
  }
  model_cache.erase(key);
  Status loaded = load_uncached(path, device, out);
  if (loaded.ok()) model_cache[key] = CacheEntry{version, *out};
  return loaded;
}

// LibTorch may start with a single intra-op thread (its core count comes
// from cpuinfo, which some virtual machines leave at 1), which halves the
// speed on two cores. Unless the user chose (OMP_NUM_THREADS, or
// set_cpu_threads), use every CPU this process may run on: the op runs
// unthreaded in GEGL, so nothing else competes for them meanwhile.
std::once_flag threads_once;
std::atomic<bool> threads_chosen{false};

//
// OpenBLAS keeps its own pool of threads, which spin after each matrix
// product and then compete with LibTorch's threads for the same cores:
// measured 23.6 s -> 15.6 s for a 640 x 640 image (FDIKP, 320-px tiles,
// 2 cores) with OpenBLAS held to one thread. LibTorch's threads already
// cover the cores, so OpenBLAS gets one (unless OPENBLAS_NUM_THREADS says).
void default_threads() {
  std::call_once(threads_once, [] {
    if (!std::getenv("OPENBLAS_NUM_THREADS")) {
      using SetThreads = void (*)(int);
      if (auto set_blas_threads =
              reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
        set_blas_threads(1);
    }
    if (threads_chosen || std::getenv("OMP_NUM_THREADS")) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    const int cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
    if (cpus > at::get_num_threads()) at::set_num_threads(cpus);
  });
}

bool cuda_available() {
  try {
    return torch::cuda::is_available();
  } catch (...) {
    return false;
  }
}

std::size_t available_host_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::size_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::size_t(4) << 30;
}

int automatic_tile(const ModelInfo &info, torch::Device device, std::size_t budget, int multiple) {
  if (budget == 0) {
    budget = device.is_cuda()
                 ? kCudaBudget
                 : std::clamp(available_host_memory() / 4, kCpuBudgetFloor, kCpuBudgetCap);
  }
  const double bytes_per_pixel =
      info.memory_bytes_per_pixel > 0 ? info.memory_bytes_per_pixel : kDefaultBytesPerPixel;
  int side = static_cast<int>(std::sqrt(static_cast<double>(budget) / bytes_per_pixel));
  // On the CPU, bigger is not faster: once a tile's feature maps outgrow the
  // caches, time per pixel jumps (FDIKP on 2 cores: 27 s/MP at 256 px,
  // 32 at 320, 66 at 384, 87 at 512). The model's recommended tile is that
  // sweet spot; the memory budget only caps it.
  if (!device.is_cuda()) side = std::min(side, info.recommended_tile_size);
  return std::clamp(tiling::round_down(side, multiple), tiling::round_up(kMinTile, multiple),
                    tiling::round_down(FDIKP_TILE_SIZE_AUTOMATIC_MAX, multiple));
}

using streaming::Outcome;
using streaming::PassResult;

PassResult classify(const std::string &what, const LoadedModel &model, const std::string &path) {
  if (mentions_out_of_memory(what)) return {Outcome::OutOfMemory, summarize(what)};
  if (model.device.is_cuda() &&
      (what.find("CUDA") != std::string::npos || what.find("cuda") != std::string::npos))
    return {Outcome::DeviceFault, summarize(what)};
  return {Outcome::Failed, quoted(path) + " failed: " + summarize(what)};
}

// Runs the model on one tile of interleaved RGB (streaming::Infer).
PassResult infer_tile(const LoadedModel &model, int stages, const std::string &path,
                      const float *input, int width, int height, std::vector<float> *output) {
  try {
    c10::InferenceMode guard;
    // Interleaved RGB is channels-last already: a rewritten CPU graph
    // takes it without a copy. from_blob wants a mutable pointer; the
    // buffer is the streaming's scratch copy of the tile, never the image.
    auto x = model_layout(torch::from_blob(const_cast<float *>(input), {1, height, width, 3},
                                           torch::kFloat32)
                              .permute({0, 3, 1, 2}),
                          model)
                 .to(model.device);
    const auto result = model.module.forward({x, static_cast<int64_t>(stages)});
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
  } catch (const c10::OutOfMemoryError &e) {
    return {Outcome::OutOfMemory, summarize(e.what_without_backtrace())};
  } catch (const std::bad_alloc &) {
    return {Outcome::OutOfMemory, "out of memory"};
  } catch (const c10::Error &e) {
    return classify(e.what_without_backtrace(), model, path);
  } catch (const std::exception &e) {
    return classify(e.what(), model, path);
  }
  return {};
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
                           " to " + std::to_string(FDIKP_TILE_OVERLAP_MAX) + " pixels (got " +
                           std::to_string(options.tile_overlap) + ")");
  if (pixels.width <= 0 || pixels.height <= 0)
    return Status::failure("the image is empty (" + std::to_string(pixels.width) + "x" +
                           std::to_string(pixels.height) + ")");
  if (!pixels.read || !pixels.write)
    return Status::failure("internal error: no pixel access given");
  return Status::success();
}

Status resolve_device(Device requested, torch::Device *device) {
  const bool have_cuda = cuda_available();
  switch (requested) {
    case Device::Cpu: *device = torch::kCPU; return Status::success();
    case Device::Auto:
      *device = have_cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
      return Status::success();
    case Device::Cuda:
      if (!have_cuda)
        return Status::failure("device 'cuda' was requested, but CUDA is not available here (" +
                               std::string(torch::cuda::device_count() == 0
                                               ? "no CUDA device or no CUDA-enabled LibTorch"
                                               : "CUDA failed to start") +
                               "); choose device 'auto' or 'cpu'");
      *device = torch::kCUDA;
      return Status::success();
  }
  return Status::failure("unknown device");
}

std::string blas_library() {
  std::string found;
  dl_iterate_phdr(
      [](struct dl_phdr_info *info, size_t, void *data) {
        const std::string name = info->dlpi_name ? info->dlpi_name : "";
        if (name.find("blas") == std::string::npos && name.find("mkl") == std::string::npos)
          return 0;
        char resolved[PATH_MAX];
        auto *out = static_cast<std::string *>(data);
        *out = ::realpath(name.c_str(), resolved) ? resolved : name;
        return 1;
      },
      &found);
  return found;
}

bool reference_blas_loaded() {
  const std::string lib = blas_library();
  return lib.find("/blas/") != std::string::npos && lib.find("openblas") == std::string::npos;
}

}  // namespace

Status inspect_model(const std::string &path, Device device, ModelInfo *info) {
  torch::Device where = torch::kCPU;
  Status status = resolve_device(device, &where);
  if (!status.ok()) return status;
  std::shared_ptr<const LoadedModel> model;
  try {
    status = load_model(path, where, &model);
  } catch (const std::exception &e) {
    return Status::failure(quoted(path) + ": " + summarize(e.what()));
  }
  if (status.ok()) *info = model->info;
  return status;
}

void clear_model_cache() {
  tile_memo.clear();
  std::lock_guard<std::mutex> lock(cache_mutex);
  model_cache.clear();
}

namespace {

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

// plan() with what run() needs beyond it: the loaded model.
struct Prepared {
  torch::Device device = torch::kCPU;
  std::shared_ptr<const LoadedModel> model;
  int stages = 0;
  int multiple = 1;
  int tile = 0;
};

Status prepare(const Options &options, Prepared *out, std::vector<std::string> *warnings) {
  Status status = resolve_device(options.device, &out->device);
  if (!status.ok()) return status;
  status = load_model(options.model_path, out->device, &out->model);
  if (!status.ok() && out->device.is_cuda()) {
    if (warnings) warnings->push_back(status.message() + "; running on the CPU instead");
    out->device = torch::kCPU;
    status = load_model(options.model_path, out->device, &out->model);
  }
  if (!status.ok()) return status;
  const ModelInfo &info = out->model->info;
  if (options.stages > info.max_stages)
    return Status::failure(quoted(options.model_path) + " supports at most " +
                           std::to_string(info.max_stages) + " stages (got " +
                           std::to_string(options.stages) + ")");
  out->stages = options.stages == FDIKP_STAGES_AUTOMATIC ? info.default_stages : options.stages;
  out->multiple = size_multiple(info.base_multiple, out->stages);
  out->tile = options.tile_size > 0
                  ? std::max(out->multiple, tiling::round_down(options.tile_size, out->multiple))
                  : automatic_tile(info, out->device, options.memory_budget_bytes, out->multiple);
  return Status::success();
}

}  // namespace

Status plan(const Options &options, Plan *plan, std::vector<std::string> *warnings) {
  if (options.model_path.empty()) return Status::failure("no model file given");
  default_threads();
  return guarded([&] {
    Prepared prepared;
    const Status status = prepare(options, &prepared, warnings);
    if (!status.ok()) return status;
    plan->device = prepared.device.is_cuda() ? Device::Cuda : Device::Cpu;
    plan->stages = prepared.stages;
    plan->tile_size = prepared.tile;
    plan->multiple = prepared.multiple;
    plan->tile_automatic = options.tile_size == 0;
    return status;
  });
}

namespace {

std::atomic<int> injected_device_faults{0};

// Takes one injected fault, if any is left.
bool take_injected_fault() {
  int left = injected_device_faults.load();
  while (left > 0)
    if (injected_device_faults.compare_exchange_weak(left, left - 1)) return true;
  return false;
}

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
  return guarded([&]() -> Status {
    Prepared prepared;
    Status status = prepare(options, &prepared, &ri.warnings);
    if (!status.ok()) return status;
    bool automatic = options.tile_size == 0;
    if (start) {
      if (start->multiple != prepared.multiple || start->tile_size % prepared.multiple != 0)
        return Status::failure("internal error: the plan was made for other options");
      prepared.tile = start->tile_size;
      automatic = start->tile_automatic;
    }
    torch::Device device = prepared.device;
    std::shared_ptr<const LoadedModel> model = prepared.model;
    const int multiple = prepared.multiple;
    const int stages = prepared.stages;
    ri.stages = stages;
    int tile = prepared.tile;
    const int smallest = std::max(multiple, tiling::round_up(kMinTile, multiple));
    for (;;) {
      ri.device = device.is_cuda() ? Device::Cuda : Device::Cpu;
      ri.graph = model->graph;
      ri.tile_size = tile;
      ri.tile_overlap = tiling::effective_overlap(std::max(pixels.width, pixels.height), tile,
                                                  options.tile_overlap);
      const LoadedModel &loaded = *model;
      const streaming::Infer infer = [&](const float *input, int width, int height,
                                         std::vector<float> *output) {
        return infer_tile(loaded, stages, options.model_path, input, width, height, output);
      };
      // The memo's key: the model and the stage count (tile inputs fix the
      // rest).
      const streaming::Reuse reuse{&tile_memo, model->id * 8 + static_cast<std::uint64_t>(stages)};
      const PassResult result =
          take_injected_fault()
              ? PassResult{Outcome::DeviceFault, "injected device fault (test)"}
              : streaming::run_tiled(pixels, callbacks, tile, options.tile_overlap, multiple, infer,
                                     &ri.tiles, reuse, &ri.tiles_reused);
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
          status = load_model(options.model_path, device, &model);
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
  Pixels pixels;
  pixels.width = width;
  pixels.height = height;
  const std::size_t row = static_cast<std::size_t>(width) * channels;
  pixels.read = [&](const Rect &r, float *rgb) {
    for (int y = 0; y < r.height; ++y) {
      const float *src = in + (r.y + y) * row + static_cast<std::size_t>(r.x) * channels;
      for (int x = 0; x < r.width; ++x, src += channels, rgb += 3) std::copy(src, src + 3, rgb);
    }
  };
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

void set_cpu_threads(int threads) {
  if (threads <= 0) return;
  threads_chosen = true;
  default_threads();
  at::set_num_threads(threads);
}

std::string runtime_summary() {
  default_threads();
  std::ostringstream out;
  out << "LibTorch " << TORCH_VERSION << ", " << at::get_num_threads() << " threads";
  const std::string blas = blas_library();
  out << ", BLAS: " << (blas.empty() ? std::string("built in") : blas);
  if (reference_blas_loaded()) out << " (reference BLAS: slow)";
  const bool cuda = cuda_available();
  out << ", CUDA: "
      << (cuda ? std::to_string(torch::cuda::device_count()) + " device(s)" : "not available");
  return out.str();
}

}  // namespace fdikp
