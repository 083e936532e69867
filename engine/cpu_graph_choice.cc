// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.
//
// Which CPU graph a freshly loaded model runs: the fused channels-last
// rewrite (cpu_graph.cc), with its convolutions in bfloat16 when asked
// (cpu_graph_bf16.cc), else LibTorch's optimize_for_inference, else the
// graph as saved; each step falls back to the next when it cannot handle
// the model, and the report says which one ran and why.

#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "cpu_graph.h"
#include "engine_internal.h"

namespace fdikp {

CpuGraph cpu_graph_choice() {
  const char *env = std::getenv("FDIKP_CPU_GRAPH");
  const std::string choice = env ? env : "";
  if (choice == "oneDNN" || choice == "onednn") return CpuGraph::OneDnn;
  if (choice == "plain") return CpuGraph::Plain;
  return CpuGraph::Fused;
}

std::string optimize_cpu_graph(torch::jit::Module &module, CpuGraph choice, bool *channels_last,
                               bool bf16_convolutions, bool *bf16_done) {
  *channels_last = false;
  if (bf16_done) *bf16_done = false;
  std::string graph = "plain";
  std::string refused;  // why the fused graph was not used, when it was wanted
  if (choice == CpuGraph::Fused) {
    CpuGraphReport report;
    try {
      if (rewrite_for_cpu(module, &report, &refused)) {
        *channels_last = true;
        std::string bf16;
        if (bf16_convolutions) {
          int operators = 0;
          const int converted =
              convolutions_to_bf16(module.get_method("forward").graph(), &operators);
          if (bf16_done) *bf16_done = converted > 0;
          bf16 = " (" + std::to_string(converted) + " in bfloat16, with " +
                 std::to_string(operators) + " operators between them)";
        }
        return "fused: " + std::to_string(report.fused_convolutions) + " fused and " +
               std::to_string(report.plain_convolutions) +
               " plain channels-last oneDNN convolutions" +
               (report.trimmed_convolutions
                    ? " (" + std::to_string(report.trimmed_convolutions) +
                          " without their zero channels" +
                          (report.folded_batch_norms
                               ? ", " + std::to_string(report.folded_batch_norms) +
                                     " with a batch norm folded in"
                               : std::string()) +
                          ")"
                    : std::string()) +
               bf16 +
               (report.aten_convolutions
                    ? ", " + std::to_string(report.aten_convolutions) + " left to LibTorch"
                    : std::string());
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
      // It freezes a module that is not frozen yet keeping forward alone: a
      // defocus map (engine_internal.h) is kept by freezing it first.
      if (module.type()->hasAttribute("training") &&
          module.find_method(internal::kDefocusMapMethod))
        module = torch::jit::freeze(module, std::vector<std::string>{internal::kDefocusMapMethod});
      module = torch::jit::optimize_for_inference(module);
      graph = "oneDNN (optimize_for_inference)";
    } catch (const std::exception &) {
    }
  }
  if (!refused.empty()) graph += "; the fused graph was not used: " + internal::summarize(refused);
  return graph;
}

}  // namespace fdikp
