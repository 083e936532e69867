// libFuzzer target: the .npy reader as fdikp-engine-run uses it. The bytes
// become a file (an anonymous memory file, opened by its /proc path as the
// tool opens its input), NpyFile::open must refuse any malformed file with a
// message, and a file it accepts must have a sane shape and give every row
// through read_run without reading past its end.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/tools/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const int fd = memfd_create("fuzz-npy", 0);
  if (fd < 0) std::abort();
  if (size && write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  {
    fdikp::NpyFile file;
    std::string error;
    if (file.open(path, &error)) {
      const fdikp::NpyHeader &h = file.header();
      if (h.width < 1 || h.height < 1 || h.channels < 1 || h.channels > 4 ||
          h.data_offset + h.value_count() * sizeof(float) != size)
        std::abort();
      // Rows are read in runs as the streaming reads tiles; a whole image
      // of the fuzzer's few kilobytes is small.
      std::vector<float> row(static_cast<std::size_t>(h.width) * h.channels);
      for (int y = 0; y < h.height; ++y)
        if (!file.read_run(0, y, h.width, row.data())) std::abort();
    } else if (error.empty()) {
      std::abort();
    }
  }
  close(fd);
  return 0;
}
