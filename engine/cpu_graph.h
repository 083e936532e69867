// The engine's CPU rewrite of a frozen TorchScript graph: convolutions fused
// with the activation that follows them and run on channels-last (NHWC)
// tensors through oneDNN, so that no layout conversion happens between
// layers. Part of the engine: includes LibTorch.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_CPU_GRAPH_H
#define FDIKP_CPU_GRAPH_H

#include <functional>
#include <string>

#include <torch/script.h>

namespace fdikp {

// Visits every node of block and of the blocks inside its nodes (loops).
void for_each_node(torch::jit::Block *block, const std::function<void(torch::jit::Node *)> &visit);
// mkldnn::_convolution_pointwise and mkldnn::_convolution_transpose_pointwise,
// the fused convolutions the rewrite emits.
c10::Symbol fused_symbol();
c10::Symbol fused_transposed_symbol();
bool is_fused_convolution(torch::jit::Node *node);

struct CpuGraphReport {
  int fused_convolutions = 0;    // conv2d (transposed too) + LeakyReLU or ReLU -> one oneDNN call
  int plain_convolutions = 0;    // conv2d (transposed too) -> one oneDNN call without a post-op
  int aten_convolutions = 0;     // left to LibTorch (runtime weights; channels-last)
  int trimmed_convolutions = 0;  // of the fused ones, run without the model's zero channels
  int folded_batch_norms = 0;    // batch norms folded into the convolution before them
};

// Rewrites module's forward graph in place. The module must be frozen (its
// weights are constants of the graph) and must not mutate tensors in place,
// and this LibTorch must have oneDNN's fused convolution; otherwise returns
// false with *why, leaving the module unchanged. Inputs must then be passed
// channels-last.
bool rewrite_for_cpu(torch::jit::Module &module, CpuGraphReport *report, std::string *why);

// In a rewritten graph, the zero channels the model pads some convolutions'
// input and output with (fdikp.layers.BlockAlignedConv2d, a fault of
// another oneDNN path) taken out (cpu_graph_trim.cc): the input's padding
// and the weights' padded input channels dropped, the output cut to the
// channels the model keeps. The same numbers. Then an inference batch norm
// a convolution now feeds directly is folded into it (and a ReLU after it
// into its post-op); *folded says how many. Returns how many convolutions
// lost zero channels.
int trim_channel_padding(const std::shared_ptr<torch::jit::Graph> &graph, int *folded = nullptr);

// In a rewritten graph, every fused convolution with constant weights runs
// in bfloat16 (cpu_graph_bf16.cc): weights converted, input cast down,
// output cast back to float32, and the cheap operators between them whose
// inputs are all such maps (residual adds, activations, pooling,
// concatenation) on the bfloat16 maps; *operators says how many of those.
// Returns how many convolutions were converted.
int convolutions_to_bf16(const std::shared_ptr<torch::jit::Graph> &graph, int *operators = nullptr);

// Which CPU graph optimisation a load uses: FDIKP_CPU_GRAPH=fused (the
// default: rewrite_for_cpu), oneDNN (LibTorch's optimize_for_inference) or
// plain (the graph as saved). For benchmarks, and a way out should a
// LibTorch build mis-handle the fused graph.
enum class CpuGraph { Fused, OneDnn, Plain };
CpuGraph cpu_graph_choice();

// Optimises a freshly loaded module for the CPU as `choice` says, falling
// back to the next simpler graph when a step cannot handle the model (it
// still runs as it is). Returns how the graph ended, for RunInfo;
// *channels_last says whether inputs must now be channels-last.
// With bf16_convolutions, a fused graph's convolutions then run in bfloat16
// (convolutions_to_bf16), and *bf16_done says whether that happened (not
// when the fused graph was refused).
std::string optimize_cpu_graph(torch::jit::Module &module, CpuGraph choice, bool *channels_last,
                               bool bf16_convolutions = false, bool *bf16_done = nullptr);

}  // namespace fdikp

#endif  // FDIKP_CPU_GRAPH_H
