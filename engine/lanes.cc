// Tiles inferred side by side, one thread each (streaming::Lanes): see
// internal::side_by_side.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include <dlfcn.h>

#include <exception>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/csrc/profiler/orchestration/observer.h>

#include "engine_internal.h"

namespace fdikp {
namespace internal {

namespace {

using ThreadsFunction = void (*)(int);

// LibTorch's OpenMP runtime keeps the thread count per thread (omp_set_num_threads
// sets the calling thread's own): a lane limits itself without touching the
// count of the host's other threads, as at::set_num_threads would.
ThreadsFunction omp_set_threads() {
  static const auto function =
      reinterpret_cast<ThreadsFunction>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  return function;
}

// Runs job on the calling thread with one thread of LibTorch's (its
// parallel loops and oneDNN's run inline), then gives the thread its count back.
void on_one_thread(const std::function<void(int)> &job, int index) {
  const int before = at::get_num_threads();  // also LibTorch's per-thread set-up
  omp_set_threads()(1);
  try {
    job(index);
  } catch (...) {
    omp_set_threads()(before);
    throw;
  }
  omp_set_threads()(before);
}

}  // namespace

int lane_limit() {
  // Under LibTorch's profiler (fdikp-engine-run --profile) one tile at a
  // time: it records the operators of the thread that started it.
  if (!omp_set_threads() || torch::profiler::impl::profilerEnabled()) return 1;
  return at::get_num_threads();
}

streaming::Lanes side_by_side(int lanes) {
  streaming::Lanes out;
  out.count = lanes;
  if (lanes <= 1 || !omp_set_threads()) {
    out.count = 1;
    return out;
  }
  out.run = [](int count, const std::function<void(int)> &job) {
    std::vector<std::exception_ptr> failures(count);
    const auto lane = [&](int index) {
      try {
        on_one_thread(job, index);
      } catch (...) {
        failures[index] = std::current_exception();
      }
    };
    std::vector<std::thread> threads;
    threads.reserve(count - 1);
    for (int i = 1; i < count; ++i) threads.emplace_back(lane, i);
    lane(0);
    for (std::thread &thread : threads) thread.join();
    for (const std::exception_ptr &failure : failures)
      if (failure) std::rethrow_exception(failure);
  };
  return out;
}

}  // namespace internal
}  // namespace fdikp
