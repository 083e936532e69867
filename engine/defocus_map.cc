// A model's defocus map (Output::DefocusMap): the contract of its
// defocus_map method, checked on a probe when the model is loaded, and the
// map of one tile, which the runner streams through the same tiles, devices
// and recoveries as the deblurred image (one channel instead of three).
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <vector>

#include <c10/core/InferenceMode.h>

#include "engine_internal.h"
#include "tiling.h"

namespace fdikp {

namespace {

using internal::LoadedModel;
using internal::quoted;
using internal::summarize;
using streaming::Outcome;
using streaming::PassResult;

using internal::kDefocusMapMethod;
constexpr int kProbeMinSide = 16;

// What is wrong with a map for an input of `height` x `width`, or "".
std::string map_problem(const torch::Tensor &map, int height, int width) {
  std::ostringstream why;
  const std::vector<int64_t> wanted{1, 1, height, width};
  if (map.sizes() != torch::IntArrayRef(wanted))
    why << "returned shape " << map.sizes() << " for an image of " << width << "x" << height
        << " (it must be [1, 1, " << height << ", " << width << "])";
  else if (map.scalar_type() != torch::kFloat32)
    why << "returned " << c10::toString(map.scalar_type()) << ", not float32";
  else if (!torch::isfinite(map).all().item<bool>()) why << "returned NaN or infinite values";
  return why.str();
}

}  // namespace

namespace internal {

// The contract: defocus_map(self, image: Tensor) -> Tensor, for a batch of
// 3-channel images N x 3 x H x W in [0, 1] whose sides are multiples of
// defocus_map_multiple, a map N x 1 x H x W, float32, finite, >= 0: the
// radius of the blur disc in pixels.
Status check_map_contract(const std::string &path, const LoadedModel &model) {
  const std::string claim = quoted(path) + " says it has a defocus map, but ";
  const auto method = model.module.find_method(kDefocusMapMethod);
  if (!method) return Status::failure(claim + "it has no defocus_map method");
  const auto &args = method->function().getSchema().arguments();
  if (args.size() != 2 || args[1].type()->kind() != c10::TypeKind::TensorType) {
    std::ostringstream schema;
    schema << method->function().getSchema();
    return Status::failure(claim + "defocus_map must take (image: Tensor), and it is " +
                           schema.str());
  }
  const int side = tiling::round_up(kProbeMinSide, model.info.defocus_map_multiple);
  const std::string probe_name = std::to_string(side) + "x" + std::to_string(side);
  torch::jit::IValue result;
  try {
    c10::InferenceMode guard;
    result = (*method)({probe_image(side, model.device)});
  } catch (const c10::Error &e) {
    return Status::failure(claim + "its map failed on a " + probe_name +
                           " test image: " + summarize(e.what_without_backtrace()));
  } catch (const std::exception &e) {
    return Status::failure(claim + "its map failed on a " + probe_name +
                           " test image: " + summarize(e.what()));
  }
  if (!result.isTensor())
    return Status::failure(claim + "defocus_map returned " + result.tagKind() + ", not a Tensor");
  const torch::Tensor map = result.toTensor();
  std::string problem = map_problem(map, side, side);
  if (problem.empty() && (map < 0).any().item<bool>()) problem = "returned negative radii";
  if (!problem.empty())
    return Status::failure(claim + "on a " + probe_name + " test image its map " + problem);
  return Status::success();
}

PassResult infer_map_tile(const LoadedModel &model, const std::string &path, const float *input,
                          int width, int height, std::vector<float> *output) {
  return guarded_tile(model, path, [&]() -> PassResult {
    c10::InferenceMode guard;
    // Interleaved RGB -> N x 3 x H x W, contiguous: only forward's graph is
    // rewritten for channels-last inputs (cpu_graph.h). from_blob wants a
    // mutable pointer; the buffer is the streaming's copy of the tile.
    const auto x =
        torch::from_blob(const_cast<float *>(input), {1, height, width, 3}, torch::kFloat32)
            .permute({0, 3, 1, 2})
            .contiguous()
            .to(model.device);
    const auto result = model.module.get_method(kDefocusMapMethod)({x});
    if (!result.isTensor())
      return {Outcome::Failed,
              quoted(path) + "'s defocus map returned " + result.tagKind() + ", not a Tensor"};
    torch::Tensor map = result.toTensor();
    const std::string problem = map_problem(map, height, width);
    if (!problem.empty()) return {Outcome::Failed, quoted(path) + "'s defocus map " + problem};
    map = map.clamp_min(0.0).contiguous().to(torch::kCPU);
    output->assign(map.data_ptr<float>(), map.data_ptr<float>() + map.numel());
    return {};
  });
}

}  // namespace internal

Status defocus_map_interleaved(const Options &options, const float *in, float *map, int width,
                               int height, int channels, const Callbacks &callbacks,
                               RunInfo *info) {
  if (channels < 3) return Status::failure("the image needs at least 3 channels");
  Pixels pixels = internal::interleaved_pixels(in, width, height, channels);
  pixels.write = [map, width](const Rect &r, const float *radii) {
    for (int y = 0; y < r.height; ++y, radii += r.width)
      std::copy(radii, radii + r.width, map + static_cast<std::size_t>(r.y + y) * width + r.x);
  };
  Options map_options = options;
  map_options.output = Output::DefocusMap;
  return run(map_options, pixels, callbacks, info);
}

}  // namespace fdikp
