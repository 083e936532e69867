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

#include <cstdlib>
#include <functional>
#include <unordered_map>

#include "engine_internal.h"

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
  return node->kind() == conv || node->kind() == transposed || node->kind() == fused_symbol();
}

// A fused convolution whose post-op is an activation (not "none").
bool with_post_op(Node *node) {
  if (node->kind() != fused_symbol()) return false;
  const auto attr = torch::jit::toIValue(node->input(7));
  return !attr || !attr->isString() || attr->toStringRef() != "none";
}

bool fused_convolution_available() {
  return at::hasMKLDNN() && !torch::jit::getAllOperatorsFor(fused_symbol()).empty();
}

}  // namespace

bool rewrite_for_cpu(torch::jit::Module &module, CpuGraphReport *report, std::string *why) {
  *report = CpuGraphReport{};
  if (!fused_convolution_available()) {
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

  for (const Rewrite &rewrite : kRewrites) {
    torch::jit::SubgraphRewriter rewriter;
    rewriter.RegisterRewritePattern(rewrite.pattern, rewrite.replacement);
    rewriter.runOnGraph(graph, plain_conv_match);
  }
  torch::jit::SubgraphRewriter views;
  views.RegisterRewritePattern(kViewToReshape.pattern, kViewToReshape.replacement);
  views.runOnGraph(graph);

  for_each_node(graph->block(), [&](Node *node) {
    if (!is_convolution(node)) return;
    if (node->kind() != fused_symbol()) report->aten_convolutions += 1;
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
          const int converted = convolutions_to_bf16(module.get_method("forward").graph());
          if (bf16_done) *bf16_done = converted > 0;
          bf16 = " (" + std::to_string(converted) + " in bfloat16)";
        }
        return "fused: " + std::to_string(report.fused_convolutions) + " fused and " +
               std::to_string(report.plain_convolutions) +
               " plain channels-last oneDNN convolutions" + bf16 +
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
