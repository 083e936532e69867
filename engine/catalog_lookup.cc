// Where every host finds its models: the model folders, the default model,
// a user's model choice resolved to its file, and the listing of installed
// models that menus show; the folders and the default come from the
// environment and from the build (engine/catalog_config.h).
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "catalog.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "engine/catalog_config.h"

namespace fdikp {
namespace {

// A variable of the environment; "" when unset or empty.
std::string environment(const char *name) {
  const char *value = std::getenv(name);
  return value ? value : "";
}

// The user's data folder as GLib's g_get_user_data_dir() finds it:
// $XDG_DATA_HOME, else the home folder's .local/share ("" when there is no
// home folder).
std::string user_data_dir() {
  const std::string data = environment("XDG_DATA_HOME");
  if (!data.empty()) return data;
  std::string home = environment("HOME");
  if (home.empty()) {
    struct passwd entry, *found = nullptr;
    char buffer[4096];
    if (getpwuid_r(getuid(), &entry, buffer, sizeof buffer, &found) == 0 && found && found->pw_dir)
      home = found->pw_dir;
  }
  if (home.empty()) return "";
  return (std::filesystem::path(home) / ".local" / "share").string();
}

std::string english_speed_words(const std::string &speed_class) {
  if (speed_class == "fast") return "fast";
  if (speed_class == "quality") return "best quality";
  return "";
}

bool same_file(const std::string &a, const std::string &b) {
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec) && !ec;
}

}  // namespace

std::vector<std::string> model_folders() {
  std::vector<std::string> folders;
  if (const char *path = std::getenv("FDIKP_MODEL_PATH")) {
    const std::string text = path;
    std::size_t start = 0;
    for (;;) {
      const std::size_t end = text.find(':', start);
      const std::string part = text.substr(start, end == std::string::npos ? end : end - start);
      if (!part.empty()) folders.push_back(part);
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return folders;
  }
  const std::string data = user_data_dir();
  if (!data.empty())
    folders.push_back((std::filesystem::path(data) / FDIKP_PACKAGE / "models").string());
  folders.push_back(FDIKP_MODEL_DIR);
  return folders;
}

std::string default_model_spec() {
  const std::string chosen = environment("FDIKP_DEFAULT_MODEL");
  return chosen.empty() ? FDIKP_DEFAULT_MODEL : chosen;
}

bool find_model(const std::string &given, std::string *path, std::string *error) {
  const std::string wanted = given.empty() ? default_model_spec() : given;
  // A path needs no listing.
  if (wanted.find('/') != std::string::npos) {
    *path = wanted;
    return true;
  }
  return resolve_model(wanted, list_models_cached(model_folders()), path, error);
}

std::string model_label(const InstalledModel &model, const SpeedWords &words) {
  std::string label = model.info.title.empty() ? model.name : model.info.title;
  const std::string speed =
      words ? words(model.info.speed_class) : english_speed_words(model.info.speed_class);
  if (!speed.empty()) label += " (" + speed + ")";
  return label;
}

Listing listing(const SpeedWords &words) {
  const Catalog catalog = list_models_cached(model_folders());
  Listing result;
  result.problems = catalog.problems;
  // The default among the folders just listed, not listed again.
  std::string default_path, error;
  resolve_model(default_model_spec(), catalog, &default_path, &error);
  for (const InstalledModel &model : catalog.models) {
    // Names and titles have no tab or newline (metadata.cc); a path with
    // one is left out rather than garbled.
    if (model.path.find_first_of("\t\n") != std::string::npos) continue;
    ListedModel listed;
    listed.name = model.name;
    listed.label = model_label(model, words);
    listed.path = model.path;
    listed.is_default = same_file(model.path, default_path);
    result.models.push_back(std::move(listed));
  }
  return result;
}

std::string listing_text(const Listing &listing) {
  std::string text;
  for (const ListedModel &model : listing.models)
    text += model.name + "\t" + model.label + "\t" + model.path + "\t" +
            (model.is_default ? "default" : "") + "\n";
  return text;
}

}  // namespace fdikp
