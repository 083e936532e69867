// The installed models, chosen by name: the model folders are listed and
// each model's metadata (`fdikp.json`) is read straight from its archive,
// without LibTorch and without loading the network, so that a dialog, a
// PDB argument's help or `--list-models` can name every model at once.
// Torch-free, so it is tested and fuzzed on its own.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_CATALOG_H
#define FDIKP_CATALOG_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model_info.h"

namespace fdikp {

// One model file found in a model folder.
struct InstalledModel {
  // What scripts choose it by: its metadata's "name", or for a file without
  // one, the file name without ".pt".
  std::string name;
  std::string path;
  ModelInfo info;  // title, speed_class, architecture, training, ...
};

struct Catalog {
  // In the order of the folders given, then by file name; each name once
  // (the first folder wins: a user's folder before the system's).
  std::vector<InstalledModel> models;
  // One line per *.pt file that is not listed: "FILE: why".
  std::vector<std::string> problems;
};

// Lists the *.pt files of each folder; a missing folder is skipped.
Catalog list_models(const std::vector<std::string> &folders);

// The same for a caller that lists the same folders again and again (the op
// resolves a model name for every region it computes): the folders are
// listed each time, but a file's metadata is read again only when its size
// or modification time changed, as the engine's own model cache decides.
// Thread-safe.
Catalog list_models_cached(const std::vector<std::string> &folders);

// The model a user asked for, as a file path:
//  - "" stays "" (the caller's default model);
//  - text containing '/' is a path;
//  - an installed model's name or title (ASCII letters in any case) is its
//    file;
//  - anything else is a path if such a file exists. Otherwise returns false
//    with *error naming the installed models.
bool resolve_model(const std::string &given, const Catalog &catalog, std::string *path,
                   std::string *error);

// A random-access view of a file's bytes: read(offset, n, out) fills out
// with n bytes or returns false.
struct ByteSource {
  std::uint64_t size = 0;
  std::function<bool(std::uint64_t offset, std::size_t n, char *out)> read;
};

// Reads the metadata entry (`<archive>/extra/fdikp.json`) of a TorchScript
// archive (a ZIP file, zip64 included) into *json, which is left empty for
// an archive without one. Returns false with *error for a file that is not
// such an archive, or stores the entry compressed, truncated or with a
// wrong checksum. Any bytes are safe to give.
bool read_archive_metadata(const ByteSource &source, std::string *json, std::string *error);

// The same, on a file.
bool read_archive_metadata_file(const std::string &path, std::string *json, std::string *error);

}  // namespace fdikp

#endif  // FDIKP_CATALOG_H
