// OperatorTrace: LibTorch's profiler around a stretch of engine work, for
// the benchmarks that ask where a tile's time goes (engine.h).
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <torch/csrc/autograd/profiler_legacy.h>

#include "engine/engine.h"

namespace fdikp {

struct OperatorTrace::Recorder {
  explicit Recorder(const std::string &path) : profile(path) {}
  torch::autograd::profiler::RecordProfile profile;
};

OperatorTrace::OperatorTrace(const std::string &trace_path)
    : recorder_(std::make_unique<Recorder>(trace_path)) {}

OperatorTrace::~OperatorTrace() = default;

}  // namespace fdikp
