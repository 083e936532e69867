// The model contract of a loaded file's forward: it is checked on a probe
// image when the file is loaded (loader.cc), with the probe image the map's
// check also uses (defocus_map.cc).
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <algorithm>
#include <sstream>

#include <c10/core/InferenceMode.h>

#include "engine_internal.h"

namespace fdikp {
namespace internal {

namespace {

constexpr int kProbeMinSide = 8;

std::string describe_schema(const torch::jit::Method &forward) {
  std::ostringstream out;
  out << forward.function().getSchema();
  return out.str();
}

}  // namespace

// The contract: forward(self, image: Tensor, stages: int) -> Tensor of the
// image's shape, float, finite, for any batch of 3-channel images whose
// sides are multiples of base_multiple * 2^(stages - 1).
Status check_contract(const std::string &path, const LoadedModel &model) {
  const auto forward = model.module.find_method("forward");
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
  const ModelInfo &info = model.info;
  const int side = std::max(kProbeMinSide, size_multiple(info.base_multiple, info.default_stages));
  const auto probe = model_layout(probe_image(side, model.device), model);
  torch::jit::IValue result;
  try {
    c10::InferenceMode guard;
    result = run_forward(model, probe, info.default_stages);
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

torch::Tensor probe_image(int side, torch::Device device) {
  const auto ramp = torch::linspace(0.1, 0.9, side, torch::TensorOptions().dtype(torch::kFloat32));
  return torch::stack({ramp.view({side, 1}).expand({side, side}),
                       ramp.view({1, side}).expand({side, side}),
                       (ramp.view({side, 1}) * ramp.view({1, side}))})
      .unsqueeze(0)
      .to(device);
}

}  // namespace internal
}  // namespace fdikp
