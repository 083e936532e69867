// OperatorTrace: LibTorch's profiler around a stretch of engine work, for
// the benchmarks that ask where a tile's time goes (engine.h). The trace
// is a Chrome trace with every operator's input shapes, so that a
// benchmark can tell one convolution from another.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <torch/csrc/autograd/profiler_kineto.h>

#include "engine/engine.h"

namespace fdikp {

namespace {

namespace profiler = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

}  // namespace

struct OperatorTrace::Recorder {
  explicit Recorder(std::string trace_path) : path(std::move(trace_path)) {
    const ProfilerConfig config(ProfilerState::KINETO, /*report_input_shapes=*/true);
    const std::set<ActivityType> activities{ActivityType::CPU};
    profiler::prepareProfiler(config, activities);
    profiler::enableProfiler(config, activities);
  }
  ~Recorder() {
    try {
      profiler::disableProfiler()->save(path);
    } catch (...) {
      // A trace is a benchmark's aid: failing to write it (the caller
      // checks that the file exists) must not end the run.
    }
  }
  std::string path;
};

OperatorTrace::OperatorTrace(const std::string &trace_path)
    : recorder_(std::make_unique<Recorder>(trace_path)) {}

OperatorTrace::~OperatorTrace() = default;

}  // namespace fdikp
