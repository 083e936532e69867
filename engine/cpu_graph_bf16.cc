// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.
//
// Why: on a CPU with bfloat16 instructions (AVX512-BF16, AMX) oneDNN's
// convolutions on channels-last bfloat16 tensors take about half the time of
// float32 ones (FDIKP-S's layers, 1 thread, AMD EPYC: 0.38-0.59x). LibTorch's
// autocast cannot reach the fused convolutions of the rewritten graph
// (cpu_graph.cc), so the engine converts them itself: each one takes its
// weights in bfloat16 and its input cast down, and gives back float32, so
// that everything between convolutions (attention, FFTs, PAC, the
// elementwise operators) stays as it was. A cast back up that only feeds a
// cast down again is dropped (bfloat16 -> float32 -> bfloat16 is exact).

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <vector>

#include "cpu_graph.h"

namespace fdikp {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

const c10::Symbol &to_symbol() {
  static const c10::Symbol symbol = c10::Symbol::fromQualString("aten::to");
  return symbol;
}

// A constant tensor input of `node` replaced by its bfloat16 copy; false if
// the input is not a constant tensor (nothing changed).
bool constant_to_bf16(Graph &graph, Node *node, std::size_t index) {
  const auto value = torch::jit::toIValue(node->input(index));
  if (!value || !value->isTensor()) return false;
  const at::Tensor tensor = value->toTensor();
  if (tensor.scalar_type() != at::kFloat) return false;
  const at::Tensor converted = tensor.to(at::kBFloat16).clone(tensor.suggest_memory_format());
  torch::jit::WithInsertPoint guard(node);
  node->replaceInput(index, graph.insertConstant(converted));
  return true;
}

// x cast to `type` (aten::to.dtype), inserted before `before`.
Value *cast(Graph &graph, Value *x, at::ScalarType type, Node *before) {
  torch::jit::WithInsertPoint guard(before);
  return graph.insert(to_symbol(), {x, type, false, false});
}

// The value this float32 -> bfloat16 cast gets back exactly, when its input
// is an inserted bfloat16 -> float32 cast; else nullptr.
Value *exact_round_trip(Node *down) {
  Node *up = down->input(0)->node();
  if (up->kind() != to_symbol() || up->inputs().size() < 2) return nullptr;
  const auto up_type = torch::jit::toIValue(up->input(1));
  if (!up_type || !up_type->isInt() || up_type->toInt() != static_cast<int64_t>(at::kFloat))
    return nullptr;
  Node *source = up->input(0)->node();
  return is_fused_convolution(source) ? up->input(0) : nullptr;
}

}  // namespace

int convolutions_to_bf16(const std::shared_ptr<Graph> &graph) {
  std::vector<Node *> convolutions;  // in every block (the stages are a loop)
  for_each_node(graph->block(), [&](Node *node) {
    if (is_fused_convolution(node)) convolutions.push_back(node);
  });
  std::vector<Node *> downs;
  int converted = 0;
  for (Node *node : convolutions) {
    // Weight (1) and bias (2, or None) must be constants: frozen.
    if (!constant_to_bf16(*graph, node, 1)) continue;
    constant_to_bf16(*graph, node, 2);
    Value *down = cast(*graph, node->input(0), at::kBFloat16, node);
    downs.push_back(down->node());
    node->replaceInput(0, down);
    Value *output = node->output();
    Value *up = cast(*graph, output, at::kFloat, node->next());
    output->replaceAllUsesAfterNodeWith(up->node(), up);
    ++converted;
  }
  for (Node *down : downs) {
    if (Value *exact = exact_round_trip(down)) down->output()->replaceAllUsesWith(exact);
  }
  torch::jit::EliminateDeadCode(graph);
  return converted;
}

}  // namespace fdikp
