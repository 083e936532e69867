// Channel padding taken out of the fused CPU graph (cpu_graph.h:
// trim_channel_padding).
//
// The model pads some convolutions' channels with zeros to whole 16-channel
// blocks (fdikp.layers.BlockAlignedConv2d): on LibTorch's own oneDNN path
// those convolutions return wrong values, or wrong gradients, when a block
// is partly empty. The fused graph's channels-last oneDNN calls do not have
// that fault (model/tests/test_onednn_trim.py checks every block-aligned
// shape of FDIKP and DeepRFTv2 against float64, in float32 and bfloat16), so
// there the padding is only cost: the zero input channels are multiplied
// like the others (PAC's 18 channels padded to 32 take 1.8x the time of
// 18), padded maps are written and cast, and the output channels cut off
// again are computed, cast and sliced for nothing.
// The same numbers: a zero channel adds nothing to any sum.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "cpu_graph.h"

namespace fdikp {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

std::optional<at::Tensor> constant_tensor(Value *v) {
  const auto value = torch::jit::toIValue(v);
  if (!value || !value->isTensor()) return std::nullopt;
  return value->toTensor();
}

std::optional<std::int64_t> constant_int(Value *v) {
  const auto value = torch::jit::toIValue(v);
  if (!value || !value->isInt()) return std::nullopt;
  return value->toInt();
}

// A list of ints known when the graph is rewritten: a constant, or a
// prim::ListConstruct of constants (how TorchScript writes [0, 0, p]).
std::optional<std::vector<std::int64_t>> constant_ints(Value *v) {
  if (const auto value = torch::jit::toIValue(v)) {
    if (!value->isIntList()) return std::nullopt;
    return value->toIntVector();
  }
  if (v->node()->kind() != c10::prim::ListConstruct) return std::nullopt;
  std::vector<std::int64_t> ints;
  for (Value *item : v->node()->inputs()) {
    const auto i = constant_int(item);
    if (!i) return std::nullopt;
    ints.push_back(*i);
  }
  return ints;
}

// The zero channels `pad` appends to its input, or 0 when it is not a
// constant-zero padding of the channels alone (aten::pad(x, [0, 0, 0, 0, 0,
// p], "constant", None or 0) of a 4-D map, as F.pad writes it).
std::int64_t appended_channels(Node *pad) {
  if (pad->kind() != c10::aten::pad || pad->inputs().size() != 4) return 0;
  const auto widths = constant_ints(pad->input(1));
  const auto mode = torch::jit::toIValue(pad->input(2));
  const auto value = torch::jit::toIValue(pad->input(3));
  if (!widths || !mode || !mode->isString() || !value) return 0;
  const std::vector<std::int64_t> &w = *widths;
  if (w.size() != 6 || w[0] || w[1] || w[2] || w[3] || w[4] || w[5] <= 0) return 0;
  if (mode->toStringRef() != "constant") return 0;
  if (!value->isNone() && !(value->isDouble() && value->toDouble() == 0.0)) return 0;
  return w[5];
}

// slice(x, dim, start, end, 1) with start 0 or None: the end (INT64_MAX
// for None), or nothing when it is another slice.
std::optional<std::int64_t> leading_slice(Node *node, std::int64_t dim) {
  if (node->kind() != c10::aten::slice || node->inputs().size() != 5) return std::nullopt;
  if (constant_int(node->input(1)) != dim || constant_int(node->input(4)) != 1) return std::nullopt;
  const auto start = torch::jit::toIValue(node->input(2));
  const auto end = torch::jit::toIValue(node->input(3));
  if (!start || !end || !(start->isNone() || (start->isInt() && start->toInt() == 0)))
    return std::nullopt;
  if (end->isNone()) return std::numeric_limits<std::int64_t>::max();
  if (!end->isInt()) return std::nullopt;
  return end->toInt();
}

// The only use of v, or nullptr.
Node *only_user(Value *v) { return v->uses().size() == 1 ? v->uses()[0].user : nullptr; }

// y[:, :n] after a convolution (slice of the batch, whole, then of the
// channels, each the only use of what it slices): the channel slice and
// n, when n is fewer than the `channels` y has.
Node *channel_cut(Value *y, std::int64_t channels, std::int64_t *n) {
  Node *node = only_user(y);
  if (node && leading_slice(node, 0) == std::numeric_limits<std::int64_t>::max())
    node = only_user(node->output());
  if (!node) return nullptr;
  const auto end = leading_slice(node, 1);
  if (!end || *end <= 0 || *end >= channels) return nullptr;
  *n = *end;
  return node;
}

// A string constant input, when it is one.
std::optional<std::string> constant_string(Value *v) {
  const auto value = torch::jit::toIValue(v);
  if (!value || !value->isString()) return std::nullopt;
  return value->toStringRef();
}

// The uses of v other than asking for its shape (aten::dim and aten::size,
// as BatchNorm2d checks its input with).
std::vector<Node *> data_users(Value *v) {
  std::vector<Node *> users;
  for (const torch::jit::Use &use : v->uses())
    if (use.user->kind() != c10::aten::dim && use.user->kind() != c10::aten::size)
      users.push_back(use.user);
  return users;
}

// Folds an inference batch norm that takes a fused convolution's output
// alone into that convolution (its weights and bias scaled and shifted),
// and a ReLU after it into the convolution's post-op. The model has one:
// the APU's Conv3x3 -> BatchNorm -> ReLU, which freezing could not fold
// while the block-aligned slice stood between them. True when folded.
bool fold_batch_norm(Graph &graph, Node *norm) {
  // batch_norm(input, weight, bias, running_mean, running_var, training,
  // momentum, eps, cudnn_enabled)
  if (norm->inputs().size() != 9) return false;
  Node *conv = norm->input(0)->node();
  if (conv->kind() != fused_symbol() || conv->inputs().size() != 10 ||
      data_users(conv->output()).size() != 1 || constant_string(conv->input(7)) != "none")
    return false;
  const auto training = torch::jit::toIValue(norm->input(5));
  const auto eps = torch::jit::toIValue(norm->input(7));
  const auto mean = constant_tensor(norm->input(3));
  const auto var = constant_tensor(norm->input(4));
  auto weight = constant_tensor(conv->input(1));
  if (!training || !training->isBool() || training->toBool() || !eps || !eps->isDouble() || !mean ||
      !var || !weight)
    return false;
  const std::int64_t channels = weight->size(0);
  const auto gamma = constant_tensor(norm->input(1));
  const auto beta = constant_tensor(norm->input(2));
  const auto bias = constant_tensor(conv->input(2));
  const at::TensorOptions f64 = at::TensorOptions().dtype(at::kDouble);
  // In float64, then back: the folded weights are as close as float32 gets.
  const at::Tensor scale = (gamma ? gamma->to(at::kDouble) : at::ones({channels}, f64)) /
                           (var->to(at::kDouble) + eps->toDouble()).sqrt();
  const at::Tensor shift =
      (beta ? beta->to(at::kDouble) : at::zeros({channels}, f64)) - mean->to(at::kDouble) * scale;
  const at::Tensor b = bias ? bias->to(at::kDouble) : at::zeros({channels}, f64);
  torch::jit::WithInsertPoint guard(conv);
  conv->replaceInput(1, graph.insertConstant((weight->to(at::kDouble) * scale.view({-1, 1, 1, 1}))
                                                 .to(weight->scalar_type())
                                                 .clone(at::MemoryFormat::ChannelsLast)));
  conv->replaceInput(2, graph.insertConstant((b * scale + shift).to(weight->scalar_type())));
  norm->output()->replaceAllUsesWith(conv->output());
  std::vector<Node *> users = data_users(conv->output());
  users.erase(std::remove(users.begin(), users.end(), norm), users.end());  // dead now
  if (users.size() == 1 && users[0]->kind() == c10::aten::relu) {
    Node *relu = users[0];
    conv->replaceInput(7, graph.insertConstant(std::string("relu")));
    relu->output()->replaceAllUsesWith(conv->output());
  }
  return true;
}

}  // namespace

int trim_channel_padding(const std::shared_ptr<Graph> &graph, int *folded) {
  std::vector<Node *> convolutions;
  for_each_node(graph->block(), [&](Node *node) {
    if (node->kind() == fused_symbol()) convolutions.push_back(node);
  });
  int trimmed = 0;
  for (Node *node : convolutions) {
    // (x, weight, bias, padding, stride, dilation, groups, attr, scalars,
    // algorithm): constant weights, one group.
    if (node->inputs().size() != 10 || constant_int(node->input(6)) != 1) continue;
    auto weight = constant_tensor(node->input(1));
    if (!weight || weight->dim() != 4) continue;
    auto bias = constant_tensor(node->input(2));
    const bool no_bias = torch::jit::toIValue(node->input(2)).has_value() &&
                         torch::jit::toIValue(node->input(2))->isNone();
    if (!bias && !no_bias) continue;
    at::Tensor w = *weight;
    Node *pad = node->input(0)->node();
    const std::int64_t appended = appended_channels(pad);
    const bool cut_input =
        appended > 0 && appended < w.size(1) && node->input(0)->uses().size() == 1;
    std::int64_t kept = 0;
    Node *cut = channel_cut(node->output(), w.size(0), &kept);
    if (!cut_input && !cut) continue;
    torch::jit::WithInsertPoint guard(node);
    if (cut_input) {
      w = w.narrow(1, 0, w.size(1) - appended);
      node->replaceInput(0, pad->input(0));
    }
    if (cut) {
      w = w.narrow(0, 0, kept);
      if (bias) node->replaceInput(2, graph->insertConstant(bias->narrow(0, 0, kept).clone()));
      cut->output()->replaceAllUsesWith(node->output());
    }
    node->replaceInput(1, graph->insertConstant(w.clone(at::MemoryFormat::ChannelsLast)));
    ++trimmed;
  }
  // A convolution that lost its slice may now feed a batch norm directly
  // (once the slices, now unused, are gone).
  torch::jit::EliminateDeadCode(graph);
  std::vector<Node *> norms;
  for_each_node(graph->block(), [&](Node *node) {
    if (node->kind() == c10::aten::batch_norm) norms.push_back(node);
  });
  int count = 0;
  for (Node *norm : norms) count += fold_batch_norm(*graph, norm) ? 1 : 0;
  if (folded) *folded = count;
  torch::jit::EliminateDeadCode(graph);
  return trimmed;
}

}  // namespace fdikp
