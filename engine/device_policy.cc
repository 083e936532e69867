// Device policy: which device a run asks for and gets (CUDA when it is
// there and wanted), how many CPU threads LibTorch and OpenBLAS use, and
// which BLAS this process loaded. No model or image is involved here.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <dlfcn.h>
#include <link.h>
#include <sched.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "engine_internal.h"

namespace fdikp {

bool parse_device(const std::string &text, Device *device) {
  if (text == "auto") *device = Device::Auto;
  else if (text == "cpu") *device = Device::Cpu;
  else if (text == "cuda") *device = Device::Cuda;
  else return false;
  return true;
}

const char *device_name(Device device) {
  switch (device) {
    case Device::Auto: return "auto";
    case Device::Cpu: return "cpu";
    case Device::Cuda: return "cuda";
  }
  return "?";
}

bool parse_precision(const std::string &text, Precision *precision) {
  if (text == "auto") *precision = Precision::Auto;
  else if (text == "fp32") *precision = Precision::Fp32;
  else if (text == "bf16") *precision = Precision::Bf16;
  else return false;
  return true;
}

const char *precision_name(Precision precision) {
  switch (precision) {
    case Precision::Auto: return "auto";
    case Precision::Fp32: return "fp32";
    case Precision::Bf16: return "bf16";
  }
  return "?";
}

namespace {

// AVX512-BF16 (CPUID leaf 7, sub-leaf 1, EAX bit 5), usable only when the
// OS saves the AVX-512 registers (XCR0: SSE, AVX, opmask and both ZMM
// halves). Every CPU with AMX-BF16 has AVX512-BF16 too.
bool cpuid_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
  unsigned xcr0_low = 0, xcr0_high = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  constexpr unsigned kAvx512State = 0xE6;  // bits 1, 2, 5, 6, 7
  if ((xcr0_low & kAvx512State) != kAvx512State) return false;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 16))) return false;  // AVX512F
  if (a < 1) return false;                                                          // no sub-leaf 1
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return (a & (1u << 5)) != 0;
#else
  return false;
#endif
}

}  // namespace

bool cpu_has_bf16() {
  const char *env = std::getenv("FDIKP_CPU_BF16");
  if (env && (std::strcmp(env, "yes") == 0 || std::strcmp(env, "1") == 0)) return true;
  if (env && (std::strcmp(env, "no") == 0 || std::strcmp(env, "0") == 0)) return false;
  static const bool has = cpuid_bf16();
  return has;
}

namespace {

std::once_flag threads_once;
std::atomic<bool> threads_chosen{false};

bool cuda_available() {
  try {
    return torch::cuda::is_available();
  } catch (...) {
    return false;
  }
}

std::string blas_library() {
  std::string found;
  dl_iterate_phdr(
      [](struct dl_phdr_info *info, size_t, void *data) {
        const std::string name = info->dlpi_name ? info->dlpi_name : "";
        if (name.find("blas") == std::string::npos && name.find("mkl") == std::string::npos)
          return 0;
        char resolved[PATH_MAX];
        auto *out = static_cast<std::string *>(data);
        *out = ::realpath(name.c_str(), resolved) ? resolved : name;
        return 1;
      },
      &found);
  return found;
}

}  // namespace

namespace internal {

// LibTorch may start with a single intra-op thread (its core count comes
// from cpuinfo, which some virtual machines leave at 1), which halves the
// speed on two cores. Unless the user chose (OMP_NUM_THREADS, or
// set_cpu_threads), use every CPU this process may run on: the op runs
// unthreaded in GEGL, so nothing else competes for them meanwhile.
//
// OpenBLAS keeps its own pool of threads, which spin after each matrix
// product and then compete with LibTorch's threads for the same cores:
// measured 23.6 s -> 15.6 s for a 640 x 640 image (FDIKP, 320-px tiles,
// 2 cores) with OpenBLAS held to one thread. LibTorch's threads already
// cover the cores, so OpenBLAS gets one (unless OPENBLAS_NUM_THREADS says).
void default_threads() {
  std::call_once(threads_once, [] {
    if (!std::getenv("OPENBLAS_NUM_THREADS")) {
      using SetThreads = void (*)(int);
      if (auto set_blas_threads =
              reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
        set_blas_threads(1);
    }
    if (threads_chosen || std::getenv("OMP_NUM_THREADS")) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    const int cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
    if (cpus > at::get_num_threads()) at::set_num_threads(cpus);
  });
}

Status resolve_device(Device requested, torch::Device *device) {
  const bool have_cuda = cuda_available();
  switch (requested) {
    case Device::Cpu: *device = torch::kCPU; return Status::success();
    case Device::Auto:
      *device = have_cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
      return Status::success();
    case Device::Cuda:
      if (!have_cuda)
        return Status::failure("device 'cuda' was requested, but CUDA is not available here (" +
                               std::string(torch::cuda::device_count() == 0
                                               ? "no CUDA device or no CUDA-enabled LibTorch"
                                               : "CUDA failed to start") +
                               "); choose device 'auto' or 'cpu'");
      *device = torch::kCUDA;
      return Status::success();
  }
  return Status::failure("unknown device");
}

Precision resolve_precision(const Options &options, torch::Device device, const ModelInfo &info,
                            std::vector<std::string> *warnings) {
  const Precision requested = options.precision;
  if (requested == Precision::Fp32 || options.output == Output::DefocusMap) return Precision::Fp32;
  if (requested == Precision::Bf16) {
    if (!device.is_cuda() && !cpu_has_bf16() && warnings)
      warnings->push_back(
          "this CPU has no bfloat16 instructions: bf16 runs emulated, likely slower than fp32");
    return Precision::Bf16;
  }
  const bool checked = info.bf16_psnr_change_db >= 0 &&
                       info.bf16_psnr_change_db * 1000.0 <= FDIKP_BF16_TOLERANCE_MILLIDB;
  return !device.is_cuda() && checked && cpu_has_bf16() ? Precision::Bf16 : Precision::Fp32;
}

PrecisionScope::PrecisionScope(Precision precision, torch::Device device)
    : active_(precision == Precision::Bf16), type_(device.type()) {
  if (!active_) return;
  was_enabled_ = at::autocast::is_autocast_enabled(type_);
  was_dtype_ = at::autocast::get_autocast_dtype(type_);
  at::autocast::set_autocast_dtype(type_, at::kBFloat16);
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::increment_nesting();
}

PrecisionScope::~PrecisionScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(type_, was_enabled_);
  at::autocast::set_autocast_dtype(type_, was_dtype_);
}

bool reference_blas_loaded() {
  const std::string lib = blas_library();
  return lib.find("/blas/") != std::string::npos && lib.find("openblas") == std::string::npos;
}

}  // namespace internal

using internal::default_threads;
using internal::reference_blas_loaded;

void set_cpu_threads(int threads) {
  if (threads <= 0) return;
  threads_chosen = true;
  default_threads();
  at::set_num_threads(threads);
}

std::string runtime_summary() {
  default_threads();
  std::ostringstream out;
  out << "LibTorch " << TORCH_VERSION << ", " << at::get_num_threads() << " threads";
  const std::string blas = blas_library();
  out << ", BLAS: " << (blas.empty() ? std::string("built in") : blas);
  if (reference_blas_loaded()) out << " (reference BLAS: slow)";
  const bool cuda = cuda_available();
  out << ", CUDA: "
      << (cuda ? std::to_string(torch::cuda::device_count()) + " device(s)" : "not available");
  return out.str();
}

}  // namespace fdikp
