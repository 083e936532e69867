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

#include <cstdint>
#include <limits>
#include <optional>
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

}  // namespace

int trim_channel_padding(const std::shared_ptr<Graph> &graph) {
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
  torch::jit::EliminateDeadCode(graph);
  return trimmed;
}

}  // namespace fdikp
