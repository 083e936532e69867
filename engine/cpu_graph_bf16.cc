// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.
//
// Why: on a CPU with bfloat16 instructions (AVX512-BF16, AMX) oneDNN's
// convolutions on channels-last bfloat16 tensors take about half the time of
// float32 ones (FDIKP-S's layers, 1 thread, AMD EPYC: 0.38-0.59x). LibTorch's
// autocast cannot reach the fused convolutions of the rewritten graph
// (cpu_graph.cc), so the engine converts them itself: each one takes its
// weights in bfloat16 and its input cast down, and gives back float32.
//
// Between convolutions the maps then went down and up again for every
// residual add, activation, pooling and concatenation (a pass over memory
// each, and float32 maps twice the size in the caches). So the cheap
// operators whose every tensor input is a bfloat16 map cast up run on the
// bfloat16 map itself (bfloat16_operators), and a cast up that only feeds
// a cast down again is dropped (bfloat16 -> float32 -> bfloat16 is exact).
// Attention, FFTs, PAC, normalisation and whatever mixes a float32 map in
// stay float32.

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <unordered_map>
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

// The bfloat16 values the pass made, each with its cast up to float32: the
// up-cast's output -> the bfloat16 value.
using Bf16Sources = std::unordered_map<Value *, Value *>;

// A convolution's input cast down to bfloat16, inserted before it, laid out
// channels-last: an input that is not (PAC's features) is converted in the
// same pass instead of again inside oneDNN.
Value *cast_down(Graph &graph, Value *x, Node *before) {
  torch::jit::WithInsertPoint guard(before);
  return graph.insert(to_symbol(),
                      {x, at::kBFloat16, false, false, c10::MemoryFormat::ChannelsLast});
}

// bf16's cast up to float32 inserted after its node, taking every later use.
void cast_up(Graph &graph, Value *bf16, Bf16Sources *sources) {
  Node *producer = bf16->node();
  torch::jit::WithInsertPoint guard(producer->next());
  Value *up = graph.insert(to_symbol(), {bf16, at::kFloat, false, false});
  bf16->replaceAllUsesAfterNodeWith(up->node(), up);
  (*sources)[up] = bf16;
}

bool is_tensor(const Value *v) { return v->type()->isSubtypeOf(*c10::TensorType::get()); }

// Operators that give the same result, to bfloat16 rounding, on bfloat16
// maps, and that FDIKP runs between its convolutions. Each input listed is
// a tensor the operator reads; the rest are scalars or shapes.
bool cheap_in_bf16(const Node *node) {
  static const std::vector<c10::Symbol> kinds = {
      c10::Symbol::fromQualString("aten::add"),
      c10::Symbol::fromQualString("aten::leaky_relu"),
      c10::Symbol::fromQualString("aten::relu"),
      c10::Symbol::fromQualString("aten::avg_pool2d"),
      c10::Symbol::fromQualString("aten::cat"),
      // The kernel predictors' pooling of their 11 x 11 convolution (a whole
      // map cast up for 9 or 5 means); LibTorch sums bfloat16 in float32.
      c10::Symbol::fromQualString("aten::adaptive_avg_pool2d"),
  };
  // Not views such as aten::slice: casting a strided view up costs more
  // than casting the whole map it views (measured: the padded channels'
  // slices after BlockAlignedConv2d).
  if (node->outputs().size() != 1 || !is_tensor(node->output())) return false;
  for (const c10::Symbol &kind : kinds)
    if (node->kind() == kind) return true;
  return false;
}

// The tensor inputs of `node` (for aten::cat, the list's items), each
// paired with what to replace it by: its bfloat16 source. Empty if any is
// not a cast-up bfloat16 map, or the list is shared.
std::vector<std::pair<Value *, Value *>> bf16_inputs(Node *node, const Bf16Sources &sources) {
  std::vector<Value *> tensors;
  if (node->kind() == c10::aten::cat) {
    Node *list = node->input(0)->node();
    if (list->kind() != c10::prim::ListConstruct || node->input(0)->uses().size() != 1) return {};
    for (Value *item : list->inputs()) tensors.push_back(item);
  } else {
    for (Value *input : node->inputs())
      if (is_tensor(input)) tensors.push_back(input);
  }
  std::vector<std::pair<Value *, Value *>> pairs;
  for (Value *tensor : tensors) {
    const auto found = sources.find(tensor);
    if (found == sources.end()) return {};
    pairs.emplace_back(tensor, found->second);
  }
  return pairs;
}

// Runs each cheap operator (program order, so chains follow) on the
// bfloat16 maps its inputs were cast up from; returns how many.
int bfloat16_operators(Graph &graph, Bf16Sources *sources) {
  std::vector<Node *> nodes;
  for_each_node(graph.block(), [&](Node *node) {
    if (cheap_in_bf16(node)) nodes.push_back(node);
  });
  int moved = 0;
  for (Node *node : nodes) {
    const auto pairs = bf16_inputs(node, *sources);
    if (pairs.empty()) continue;
    Node *owner = node->kind() == c10::aten::cat ? node->input(0)->node() : node;
    for (const auto &[up, bf16] : pairs) owner->replaceInputWith(up, bf16);
    cast_up(graph, node->output(), sources);
    ++moved;
  }
  return moved;
}

}  // namespace

int convolutions_to_bf16(const std::shared_ptr<Graph> &graph, int *operators) {
  std::vector<Node *> convolutions;  // in every block (the stages are a loop)
  for_each_node(graph->block(), [&](Node *node) {
    if (is_fused_convolution(node)) convolutions.push_back(node);
  });
  Bf16Sources sources;
  std::vector<Node *> downs;
  int converted = 0;
  for (Node *node : convolutions) {
    // Weight (1) and bias (2, or None) must be constants: frozen.
    if (!constant_to_bf16(*graph, node, 1)) continue;
    constant_to_bf16(*graph, node, 2);
    Value *down = cast_down(*graph, node->input(0), node);
    downs.push_back(down->node());
    node->replaceInput(0, down);
    cast_up(*graph, node->output(), &sources);
    ++converted;
  }
  const int moved = converted > 0 ? bfloat16_operators(*graph, &sources) : 0;
  if (operators) *operators = moved;
  // A cast down of a cast up the pass made gets the bfloat16 value back.
  for (Node *down : downs) {
    const auto found = sources.find(down->input(0));
    if (found != sources.end()) down->output()->replaceAllUsesWith(found->second);
  }
  torch::jit::EliminateDeadCode(graph);
  return converted;
}

}  // namespace fdikp
