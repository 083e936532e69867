// libFuzzer target: the .npy reader of fdikp-engine-run must refuse any
// malformed file with a message and never read past the bytes it was given.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/tools/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string bytes(reinterpret_cast<const char *>(data), size);
  fdikp::FloatImage image;
  std::string error;
  if (fdikp::parse_npy(bytes, &image, &error)) {
    const size_t expected = static_cast<size_t>(image.width) * image.height * image.channels;
    if (image.width < 1 || image.height < 1 || image.channels < 1 || image.channels > 4 ||
        image.values.size() != expected)
      std::abort();
  } else if (error.empty()) {
    std::abort();
  }
  return 0;
}
