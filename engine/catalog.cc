// The catalogue of installed models: model folders listed (each file's
// metadata read again only when the file changed) and a model's name,
// title or path resolved to its file.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "catalog.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "file_version.h"
#include "metadata.h"

namespace fdikp {
namespace {

std::string lower(std::string text) {
  for (char &c : text)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return text;
}

// What one model file says about itself: its listing, or why it has none.
struct FileEntry {
  bool listed = false;
  InstalledModel model;
  std::string problem;  // "FILE: why" when not listed
};

FileEntry read_file_entry(const std::string &path) {
  FileEntry entry;
  entry.model.path = path;
  std::string json, why;
  // A model file without metadata is listed by its file name (the engine
  // runs such files with default settings).
  if (!read_archive_metadata_file(path, &json, &why) ||
      (!json.empty() && !read_model_metadata(json, &entry.model.info, &why))) {
    entry.problem = path + ": " + why;
    return entry;
  }
  entry.model.name = entry.model.info.name.empty() ? std::filesystem::path(path).stem().string()
                                                   : entry.model.info.name;
  entry.listed = true;
  return entry;
}

// The folders' *.pt files in order, each read by `read`; the first of two
// files with one name (in any case) is listed, the second is a problem.
Catalog list_with(const std::vector<std::string> &folders,
                  const std::function<FileEntry(const std::string &)> &read) {
  namespace fs = std::filesystem;
  Catalog catalog;
  std::set<std::string> names;  // lower case: names are matched in any case
  for (const std::string &folder : folders) {
    std::error_code ec;
    if (folder.empty() || !fs::is_directory(folder, ec)) continue;
    std::vector<std::string> files;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path &file = it->path();
      std::error_code kind;
      if (file.extension() == ".pt" && it->is_regular_file(kind)) files.push_back(file.string());
    }
    std::sort(files.begin(), files.end());
    for (const std::string &path : files) {
      FileEntry entry = read(path);
      if (!entry.listed) {
        catalog.problems.push_back(entry.problem);
        continue;
      }
      if (!names.insert(lower(entry.model.name)).second) {
        catalog.problems.push_back(path + ": the name \"" + entry.model.name +
                                   "\" is taken by a model listed before it; choose this one "
                                   "by its path");
        continue;
      }
      catalog.models.push_back(std::move(entry.model));
    }
  }
  return catalog;
}

}  // namespace

Catalog list_models(const std::vector<std::string> &folders) {
  return list_with(folders, read_file_entry);
}

Catalog list_models_cached(const std::vector<std::string> &folders) {
  struct Cached {
    FileVersion version;
    FileEntry entry;
  };
  static std::mutex mutex;
  static std::map<std::string, Cached> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  return list_with(folders, [](const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return read_file_entry(path);  // gone: say why
    const FileVersion version = file_version(st);
    auto it = cache.find(path);
    if (it == cache.end() || it->second.version != version)
      it = cache.insert_or_assign(path, Cached{version, read_file_entry(path)}).first;
    return it->second.entry;
  });
}

bool resolve_model(const std::string &given, const Catalog &catalog, std::string *path,
                   std::string *error) {
  if (given.empty() || given.find('/') != std::string::npos) {
    *path = given;
    return true;
  }
  const std::string wanted = lower(given);
  for (const InstalledModel &model : catalog.models) {
    if (lower(model.name) == wanted) {
      *path = model.path;
      return true;
    }
  }
  for (const InstalledModel &model : catalog.models) {
    if (!model.info.title.empty() && lower(model.info.title) == wanted) {
      *path = model.path;
      return true;
    }
  }
  std::error_code ec;
  if (std::filesystem::exists(given, ec)) {
    *path = given;
    return true;
  }
  std::string names;
  for (const InstalledModel &model : catalog.models)
    names += (names.empty() ? "" : ", ") + model.name;
  *error = "no installed model is named \"" + given + "\", and there is no such file (" +
           (names.empty() ? std::string("no model is installed") : "installed: " + names) + ")";
  return false;
}

}  // namespace fdikp