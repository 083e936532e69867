// libFuzzer target: the ZIP reader that finds a model's metadata in any file
// found in a model folder must never crash, never read outside the bytes
// it was given, and say why it refused.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/catalog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fdikp::ByteSource source;
  source.size = size;
  source.read = [data, size](std::uint64_t offset, std::size_t n, char *out) {
    if (offset > size || n > size - offset) std::abort();  // the reader checks first
    std::memcpy(out, data + offset, n);
    return true;
  };
  std::string json, error;
  if (fdikp::read_archive_metadata(source, &json, &error)) {
    if (json.size() > size) std::abort();
  } else if (error.empty()) {
    std::abort();
  }
  return 0;
}
