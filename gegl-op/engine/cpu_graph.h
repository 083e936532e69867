// The engine's CPU rewrite of a frozen TorchScript graph: convolutions fused
// with the activation that follows them and run on channels-last (NHWC)
// tensors through oneDNN, so that no layout conversion happens between
// layers. Part of the engine: includes LibTorch.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_CPU_GRAPH_H
#define FDIKP_CPU_GRAPH_H

#include <string>

#include <torch/script.h>

namespace fdikp {

struct CpuGraphReport {
  int fused_convolutions = 0;   // conv2d + activation (or + residual add) -> one oneDNN call
  int plain_convolutions = 0;   // conv2d left alone (their inputs are channels-last too)
  int channels_last_weights = 0;
  int views_to_reshapes = 0;
};

// True when this LibTorch has oneDNN and its fused convolution operator.
bool cpu_graph_supported();

// Rewrites module's forward graph in place. The module must be frozen (its
// weights are constants of the graph) and must not mutate tensors in place;
// returns false with *why, leaving the module unchanged, when it is not.
// Inputs should then be passed channels-last (see channels_last_input).
bool rewrite_for_cpu(torch::jit::Module &module, CpuGraphReport *report, std::string *why);

}  // namespace fdikp

#endif  // FDIKP_CPU_GRAPH_H
