// The installed models, chosen by name: the model folders are listed and
// each model's metadata (`fdikp.json`) is read straight from its archive,
// without LibTorch and without loading the network, so that a dialog, a
// PDB argument's help or `--list-models` can name every model at once.
// Every host (the GEGL op, and through it the plug-in and the batch command;
// fdikp-engine-run) finds its models here, in the same folders and with the
// same default. Torch-free and GLib-free, so it is tested and fuzzed on its
// own: catalog.cc lists and resolves, catalog_lookup.cc is the hosts' model
// folders, default and listing, catalog_archive.cc reads the archives.
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

// Where hosts find models (catalog_lookup.cc).

// The model folders, in the order their models are listed: the folders of
// $FDIKP_MODEL_PATH (separated by ':' as in PATH; empty parts skipped) when
// it is set, even to "", otherwise the user's own folder
// ($XDG_DATA_HOME, else ~/.local/share, then fdikp-deblur/models) and then
// the system's, where the filter installs its models (FDIKP_MODEL_DIR at
// build time).
std::vector<std::string> model_folders();

// What an empty model choice runs: $FDIKP_DEFAULT_MODEL (an installed
// model's name or title, or a path) when set and not empty, otherwise the
// model installed with the filter (FDIKP_DEFAULT_MODEL at build time).
std::string default_model_spec();

// The file a user's model choice names, as every host resolves it: ""
// stands for default_model_spec(); text with '/' is a path, taken as it is;
// anything else is resolved by resolve_model() among the models of
// model_folders() (listed through list_models_cached()).
bool find_model(const std::string &given, std::string *path, std::string *error);

// One installed model as menus show it.
struct ListedModel {
  std::string name;   // what scripts give as "model"
  std::string label;  // what menus show: "FDIKP-S (fast)"
  std::string path;
  bool is_default = false;  // the file an empty choice runs
};

// The host's words for a model's speed class ("fast", "quality"): its
// translation of "fast" and "best quality"; "" leaves the class out of the
// label. No words given: the English ones.
using SpeedWords = std::function<std::string(const std::string &speed_class)>;

// A model's label: its title (else its name), then its speed class in
// words in parentheses: "FDIKP-S (fast)", "plain".
std::string model_label(const InstalledModel &model, const SpeedWords &words = {});

struct Listing {
  // In the catalogue's order; a model whose path holds a tab or a newline
  // is left out (the listing's text could not carry it).
  std::vector<ListedModel> models;
  std::vector<std::string> problems;  // the catalogue's: "FILE: why"
};

// The models of model_folders() (through list_models_cached()), each with
// its label, and the one default_model_spec() names marked.
Listing listing(const SpeedWords &words = {});

// A listing as the text hosts publish and read (the op's
// FDIKP_DEBLUR_MODELS_KEY, gegl-op/defocus-deblur.h): one line per model of
// four tab-separated fields: name, label, file, and "default" for the
// default model (else empty).
std::string listing_text(const Listing &listing);

// The model archives (catalog_archive.cc).

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
