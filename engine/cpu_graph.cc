// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.
//
// Why: LibTorch's optimize_for_inference runs oneDNN convolutions on its own
// blocked tensors and converts every activation to and from that layout
// around each run of convolutions, because LeakyReLU, GELU, residual adds,
// attention and the FFTs cannot take it. For FDIKP those conversions, and
// the separate passes over memory for each activation, cost as much as the
// convolutions. oneDNN computes directly on channels-last tensors, and
// LibTorch exposes its fused "convolution + post-op" primitive as
// mkldnn::_convolution_pointwise: with every weight channels-last, every
// activation stays channels-last from the first convolution to the last and
// nothing is converted.

#include "cpu_graph.h"

#include <ATen/Context.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/subgraph_matcher.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/subgraph_rewrite.h>
#include <torch/csrc/jit/runtime/operator.h>

#include <functional>
#include <unordered_map>

namespace fdikp {

void for_each_node(torch::jit::Block *block, const std::function<void(torch::jit::Node *)> &visit) {
  for (torch::jit::Node *node : block->nodes()) {
    visit(node);
    for (torch::jit::Block *inner : node->blocks()) for_each_node(inner, visit);
  }
}

c10::Symbol fused_symbol() {
  static const c10::Symbol fused = c10::Symbol::fromQualString("mkldnn::_convolution_pointwise");
  return fused;
}

c10::Symbol fused_transposed_symbol() {
  static const c10::Symbol fused =
      c10::Symbol::fromQualString("mkldnn::_convolution_transpose_pointwise");
  return fused;
}

bool is_fused_convolution(torch::jit::Node *node) {
  return node->kind() == fused_symbol() || node->kind() == fused_transposed_symbol();
}

namespace {

using torch::jit::Graph;
using torch::jit::Match;
using torch::jit::Node;
using torch::jit::Value;

// A conv2d whose stride, padding and dilation are int lists (not the
// padding="same" overload).
bool plain_conv_match(const Match &match, const std::unordered_map<std::string, Value *> &vmap) {
  const auto graph_value = [&](const char *name) -> Value * {
    const auto it = vmap.find(name);
    if (it == vmap.end()) return nullptr;
    const auto found = match.values_map.find(it->second);
    return found == match.values_map.end() ? nullptr : found->second;
  };
  for (const char *name : {"s", "p", "d"}) {
    Value *v = graph_value(name);
    if (!v || !v->type()->isSubtypeOf(*c10::ListType::ofInts())) return false;
  }
  return true;
}

struct Rewrite {
  const char *pattern;
  const char *replacement;
};

// The activation after a convolution becomes a oneDNN post-op. Not fused:
// residual adds as binary post-ops (measured no faster, and oneDNN refuses
// them on the 1 x 1 maps of a small tile's coarsest stage) and GELU (its
// post-op differed from aten::gelu by 3e-4 on a briefly trained FDIKP).
const Rewrite kRewrites[] = {
    {R"IR(
graph(%x, %w, %b, %s, %p, %d, %g, %slope):
  %y = aten::conv2d(%x, %w, %b, %s, %p, %d, %g)
  %r = aten::leaky_relu(%y, %slope)
  return (%r))IR",
     R"IR(
graph(%x, %w, %b, %s, %p, %d, %g, %slope):
  %attr : str = prim::Constant[value="leaky_relu"]()
  %none : NoneType = prim::Constant()
  %scalars : Scalar?[] = prim::ListConstruct(%slope)
  %r = mkldnn::_convolution_pointwise(%x, %w, %b, %p, %s, %d, %g, %attr, %scalars, %none)
  return (%r))IR"},
    {R"IR(
graph(%x, %w, %b, %s, %p, %d, %g):
  %y = aten::conv2d(%x, %w, %b, %s, %p, %d, %g)
  %r = aten::relu(%y)
  return (%r))IR",
     R"IR(
graph(%x, %w, %b, %s, %p, %d, %g):
  %attr : str = prim::Constant[value="relu"]()
  %none : NoneType = prim::Constant()
  %scalars : Scalar?[] = prim::ListConstruct()
  %r = mkldnn::_convolution_pointwise(%x, %w, %b, %p, %s, %d, %g, %attr, %scalars, %none)
  return (%r))IR"},
    // Last, every other convolution goes to oneDNN too, as a fused call with
    // no post-op: LibTorch sent them there already (the same output bit for
    // bit, and as fast), and one kind of node is what convolutions_to_bf16
    // converts.
    {R"IR(
graph(%x, %w, %b, %s, %p, %d, %g):
  %y = aten::conv2d(%x, %w, %b, %s, %p, %d, %g)
  return (%y))IR",
     R"IR(
graph(%x, %w, %b, %s, %p, %d, %g):
  %attr : str = prim::Constant[value="none"]()
  %none : NoneType = prim::Constant()
  %scalars : Scalar?[] = prim::ListConstruct()
  %y = mkldnn::_convolution_pointwise(%x, %w, %b, %p, %s, %d, %g, %attr, %scalars, %none)
  return (%y))IR"},
};

// Transposed convolutions (the decoder's upsampling) the same way, with
// LeakyReLU fused or no post-op: the same output bit for bit in float32,
// and a node convolutions_to_bf16 converts.
const Rewrite kTransposedRewrites[] = {
    {R"IR(
graph(%x, %w, %b, %s, %p, %op, %g, %d, %slope):
  %y = aten::conv_transpose2d(%x, %w, %b, %s, %p, %op, %g, %d)
  %r = aten::leaky_relu(%y, %slope)
  return (%r))IR",
     R"IR(
graph(%x, %w, %b, %s, %p, %op, %g, %d, %slope):
  %attr : str = prim::Constant[value="leaky_relu"]()
  %none : NoneType = prim::Constant()
  %scalars : Scalar?[] = prim::ListConstruct(%slope)
  %r = mkldnn::_convolution_transpose_pointwise(%x, %w, %b, %p, %op, %s, %d, %g, %attr, %scalars, %none)
  return (%r))IR"},
    {R"IR(
graph(%x, %w, %b, %s, %p, %op, %g, %d):
  %y = aten::conv_transpose2d(%x, %w, %b, %s, %p, %op, %g, %d)
  return (%y))IR",
     R"IR(
graph(%x, %w, %b, %s, %p, %op, %g, %d):
  %attr : str = prim::Constant[value="none"]()
  %none : NoneType = prim::Constant()
  %scalars : Scalar?[] = prim::ListConstruct()
  %y = mkldnn::_convolution_transpose_pointwise(%x, %w, %b, %p, %op, %s, %d, %g, %attr, %scalars, %none)
  return (%y))IR"},
};

// A channels-last tensor cannot be view()-ed as if it were contiguous;
// reshape() is the same where a view exists and copies where none does. Safe
// only because the graph mutates nothing (checked first).
const Rewrite kViewToReshape = {R"IR(
graph(%x, %size):
  %y = aten::view(%x, %size)
  return (%y))IR",
                                R"IR(
graph(%x, %size):
  %y = aten::reshape(%x, %size)
  return (%y))IR"};

bool mutates_tensors(Node *node) {
  // aten::add_, aten::copy_, ... (but not aten::__getitem__).
  if (node->kind().ns() != c10::Symbol::fromQualString("namespaces::aten")) return false;
  const std::string name = node->kind().toUnqualString();
  return name.size() > 1 && name.back() == '_' && name[name.size() - 2] != '_';
}

// Every convolution in the graph; input 1 is its weight.
bool is_convolution(Node *node) {
  static const c10::Symbol conv = c10::Symbol::fromQualString("aten::conv2d");
  static const c10::Symbol transposed = c10::Symbol::fromQualString("aten::conv_transpose2d");
  return node->kind() == conv || node->kind() == transposed || is_fused_convolution(node);
}

// A fused convolution whose post-op is an activation (not "none").
bool with_post_op(Node *node) {
  if (!is_fused_convolution(node)) return false;
  // The transposed call has output_padding before stride: one input more.
  const auto attr = torch::jit::toIValue(node->input(node->kind() == fused_symbol() ? 7 : 8));
  return !attr || !attr->isString() || attr->toStringRef() != "none";
}

// One pattern rewritten wherever it matches (and `filter` accepts).
void apply(const Rewrite &rewrite, std::shared_ptr<Graph> &graph,
           const torch::jit::MatchFilter &filter = nullptr) {
  torch::jit::SubgraphRewriter rewriter;
  rewriter.RegisterRewritePattern(rewrite.pattern, rewrite.replacement);
  if (filter) rewriter.runOnGraph(graph, filter);
  else rewriter.runOnGraph(graph);
}

bool available(c10::Symbol symbol) {
  return at::hasMKLDNN() && !torch::jit::getAllOperatorsFor(symbol).empty();
}

}  // namespace

bool rewrite_for_cpu(torch::jit::Module &module, CpuGraphReport *report, std::string *why) {
  *report = CpuGraphReport{};
  if (!available(fused_symbol())) {
    *why = "this LibTorch has no oneDNN fused convolution";
    return false;
  }
  const auto forward = module.find_method("forward");
  if (!forward) {
    *why = "no forward method";
    return false;
  }
  std::shared_ptr<Graph> graph = forward->graph();
  bool frozen = true, mutating = false;
  for_each_node(graph->block(), [&](Node *node) {
    if (node->kind() == c10::prim::GetAttr || node->kind() == c10::prim::CallMethod) frozen = false;
    if (mutates_tensors(node)) mutating = true;
  });
  if (!frozen || mutating) {
    *why = !frozen ? "the model is not frozen" : "the model changes tensors in place";
    return false;
  }

  for (const Rewrite &rewrite : kRewrites) apply(rewrite, graph, plain_conv_match);
  if (available(fused_transposed_symbol()))
    for (const Rewrite &rewrite : kTransposedRewrites) apply(rewrite, graph, plain_conv_match);
  apply(kViewToReshape, graph);
  report->trimmed_convolutions = trim_channel_padding(graph, &report->folded_batch_norms);

  for_each_node(graph->block(), [&](Node *node) {
    if (!is_convolution(node)) return;
    if (!is_fused_convolution(node)) report->aten_convolutions += 1;
    else (with_post_op(node) ? report->fused_convolutions : report->plain_convolutions) += 1;
    Node *weight = node->input(1)->node();
    if (weight->kind() != c10::prim::Constant || !weight->hasAttribute(c10::attr::value) ||
        weight->kindOf(c10::attr::value) != torch::jit::AttributeKind::t)
      return;
    const at::Tensor tensor = weight->t(c10::attr::value);
    if (tensor.dim() != 4) return;
    // A weight with channels-last strides makes LibTorch run its convolution
    // channels-last whatever the input's layout (a 1 x 1 kernel is both
    // layouts at once, so set the strides explicitly), and the output is
    // channels-last: the layout cannot drift back after attention or FFTs.
    const at::Tensor channels_last = tensor.clone(at::MemoryFormat::ChannelsLast);
    if (channels_last.strides() == tensor.strides()) return;
    weight->t_(c10::attr::value, channels_last);
  });
  torch::jit::EliminateDeadCode(graph);
  return true;
}

}  // namespace fdikp
