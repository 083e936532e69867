// The loader owns model files: it loads a TorchScript file onto a device,
// reads its metadata, optimises its CPU graph, has the model contract
// checked (model_contract.cc), and caches the result by path, device and
// file version.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>

#include <torch/csrc/jit/passes/autocast.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include "cpu_graph.h"
#include "engine_internal.h"
#include "file_version.h"
#include "metadata.h"

namespace fdikp {
namespace internal {

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

// Layout of an N x 3 x H x W input for the model: channels-last for a
// rewritten graph (free when the data is interleaved RGB already).
torch::Tensor model_layout(const torch::Tensor &x, const LoadedModel &model) {
  return x.contiguous(model.channels_last ? at::MemoryFormat::ChannelsLast
                                          : at::MemoryFormat::Contiguous);
}

}  // namespace internal

namespace {

using internal::LoadedModel;
using internal::mentions_out_of_memory;
using internal::model_layout;
using internal::quoted;
using internal::summarize;

std::atomic<std::uint64_t> models_loaded{0};

struct CacheEntry {
  FileVersion version;
  std::shared_ptr<const LoadedModel> model;
};

std::mutex cache_mutex;
// By path, and device and precision ("cpu/bf16").
std::map<std::pair<std::string, std::string>, CacheEntry> model_cache;

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

Status load_uncached(const std::string &path, torch::Device device, Precision precision,
                     std::shared_ptr<const LoadedModel> *out) {
  auto model = std::make_shared<LoadedModel>();
  model->device = device;
  model->precision = precision;
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
  // Autocast cannot reach inside oneDNN's fused or pre-packed convolutions,
  // and channels-last aten::conv2d in bfloat16 ran over 100x slower here
  // (LibTorch 2.6, AVX512-BF16): a bfloat16 model on the CPU takes the
  // fused graph with its convolutions converted (cpu_graph_bf16.cc), else
  // the plain graph under autocast (and on CUDA, the saved one).
  const bool bf16 = precision == Precision::Bf16;
  model->autocast = bf16;
  if (device.is_cuda()) {
    model->graph = "as saved (CUDA)";
  } else {
    bool converted = false;
    const CpuGraph choice = cpu_graph_choice();
    const CpuGraph first = bf16 && choice != CpuGraph::Fused ? CpuGraph::Plain : choice;
    model->graph =
        optimize_cpu_graph(model->module, first, &model->channels_last, bf16, &converted);
    if (bf16 && !converted && first != CpuGraph::Plain) {
      // Not converted (the fused graph refused, or no convolution to
      // convert): reload and take the plain graph, which autocast reaches.
      loaded = load_module(path, device, model.get(), &extra);
      if (!loaded.ok()) return loaded;
      model->graph = optimize_cpu_graph(model->module, CpuGraph::Plain, &model->channels_last);
    }
    if (converted) model->autocast = false;
  }
  Status contract = internal::check_contract(path, *model);
  if (!contract.ok() && model->channels_last) {
    // The rewritten graph failed where the saved one may not: load the file
    // again and take LibTorch's own optimisation instead.
    loaded = load_module(path, device, model.get(), &extra);
    if (!loaded.ok()) return loaded;
    // (A bfloat16 model: the plain graph under autocast.)
    model->autocast = bf16;
    model->graph = optimize_cpu_graph(model->module, bf16 ? CpuGraph::Plain : CpuGraph::OneDnn,
                                      &model->channels_last);
    model->graph += "; the fused graph failed its test: " + contract.message();
    contract = internal::check_contract(path, *model);
  }
  if (!contract.ok()) return contract;
  if (model->info.defocus_map) {
    contract = internal::check_map_contract(path, *model);
    if (!contract.ok()) return contract;
  }
  *out = std::move(model);
  return Status::success();
}

// TorchScript's default (profiling) executor specialises a model for the
// input shapes of its first runs and runs any other shape on an unoptimised
// fallback path: after the 16 x 16 contract probe, every tile ran about 1.6x
// slower (FDIKP, 256-px tiles, CPU). The simple executor optimises once for
// all shapes, which suits a filter that sees a new image size every run.
//
// TorchScript's own autocast pass bakes the autocast state of a graph's
// first run into the graph; the engine's bfloat16 is LibTorch's eager
// autocast around each forward (PrecisionScope), so the pass is off.
void use_simple_executor() {
  static std::once_flag once;
  std::call_once(once, [] {
    torch::jit::getProfilingMode() = false;
    torch::jit::setAutocastMode(false);
  });
}

}  // namespace

namespace internal {

torch::jit::IValue run_forward(const LoadedModel &model, const torch::Tensor &x, int64_t stages) {
  torch::jit::IValue result;
  {
    const PrecisionScope precision(model.autocast ? Precision::Bf16 : Precision::Fp32,
                                   model.device);
    result = model.module.forward({x, stages});
  }
  // Under autocast a model's last operator may leave bfloat16.
  if (model.precision == Precision::Bf16 && result.isTensor() &&
      result.toTensor().scalar_type() == torch::kBFloat16)
    result = result.toTensor().to(torch::kFloat32);
  return result;
}

Status load_model(const std::string &path, torch::Device device, Precision precision,
                  std::shared_ptr<const LoadedModel> *out) {
  use_simple_executor();
  struct stat st{};
  Status file = check_file(path, &st);
  if (!file.ok()) return file;
  const FileVersion version = file_version(st);
  if (precision == Precision::Auto) precision = Precision::Fp32;
  const auto key = std::make_pair(path, device.str() + "/" + precision_name(precision));
  std::lock_guard<std::mutex> lock(cache_mutex);
  const auto hit = model_cache.find(key);
  if (hit != model_cache.end() && hit->second.version == version) {
    *out = hit->second.model;
    return Status::success();
  }
  model_cache.erase(key);
  Status loaded = load_uncached(path, device, precision, out);
  if (loaded.ok()) model_cache[key] = CacheEntry{version, *out};
  return loaded;
}

}  // namespace internal

Status inspect_model(const std::string &path, Device device, ModelInfo *info) {
  torch::Device where = torch::kCPU;
  Status status = internal::resolve_device(device, &where);
  if (!status.ok()) return status;
  std::shared_ptr<const LoadedModel> model;
  try {
    status = internal::load_model(path, where, Precision::Fp32, &model);
  } catch (const std::exception &e) {
    return Status::failure(quoted(path) + ": " + summarize(e.what()));
  }
  if (status.ok()) *info = model->info;
  return status;
}

namespace testing {
std::uint64_t graphs_loaded() { return models_loaded.load(); }
}  // namespace testing

void clear_model_cache() {
  internal::clear_tile_memo();
  std::lock_guard<std::mutex> lock(cache_mutex);
  model_cache.clear();
}

}  // namespace fdikp
