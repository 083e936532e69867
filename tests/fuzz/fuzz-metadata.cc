// libFuzzer target: model metadata (the `fdikp.json` entry of a model file
// the user picked) must never crash the parser, and what it accepts must
// satisfy the ranges the engine relies on.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  fdikp::ModelInfo info;
  std::string error;
  if (fdikp::read_model_metadata(text, &info, &error)) {
    if (info.default_stages < 1 || info.default_stages > info.max_stages || info.max_stages > 5 ||
        info.base_multiple < 1 || info.recommended_tile_size < 16 ||
        info.memory_bytes_per_pixel < 0)
      std::abort();
  } else if (error.empty()) {
    std::abort();
  }
  return 0;
}
