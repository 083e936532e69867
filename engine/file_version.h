// Which version of a file a cache holds: its size and its modification time
// to the nanosecond. The engine's model cache and the model catalogue both
// ask "is this still the file I read?" by it. Torch-free, header only.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_FILE_VERSION_H
#define FDIKP_FILE_VERSION_H

#include <sys/stat.h>

namespace fdikp {

struct FileVersion {
  long long size = -1;
  long long mtime_ns = -1;

  bool operator==(const FileVersion &other) const {
    return size == other.size && mtime_ns == other.mtime_ns;
  }
  bool operator!=(const FileVersion &other) const { return !(*this == other); }
};

inline FileVersion file_version(const struct stat &st) {
  FileVersion version;
  version.size = static_cast<long long>(st.st_size);
  version.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return version;
}

}  // namespace fdikp

#endif  // FDIKP_FILE_VERSION_H
