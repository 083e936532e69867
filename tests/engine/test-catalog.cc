// The catalogue of installed models: the metadata read straight from a
// model archive (plain ZIP and zip64, refused with a reason when damaged),
// model folders listed by name, names, titles and paths resolved to files,
// and where every host finds its models (the folders from the environment
// or the build, the default model, the listing menus show). The archives are written here, byte by
// byte, as TorchScript writes them (stored entries); the fixture models' real archives are read in
// test-engine.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../check.h"
#include "engine/catalog.h"
#include "engine/catalog_config.h"

using fdikp::ByteSource;
using fdikp::Catalog;
using fdikp::find_model;
using fdikp::list_models;
using fdikp::list_models_cached;
using fdikp::read_archive_metadata;
using fdikp::resolve_model;

namespace {

void put(std::string *out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

std::uint32_t crc(const std::string &bytes) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (const char ch : bytes) {
    c ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

struct Entry {
  std::string name, data;
  int method = 0;
};

// A ZIP archive of stored entries; zip64 saturates the end record's
// fields and adds the zip64 records, as writers do past 4 GiB.
std::string archive(const std::vector<Entry> &entries, bool zip64 = false,
                    const std::string &comment = "") {
  std::string out, directory;
  for (const Entry &e : entries) {
    const std::uint64_t local = out.size();
    put(&out, 0x04034b50, 4);
    put(&out, 20, 2);
    put(&out, 0, 2);
    put(&out, e.method, 2);
    put(&out, 0, 4);
    put(&out, crc(e.data), 4);
    put(&out, e.data.size(), 4);
    put(&out, e.data.size(), 4);
    put(&out, e.name.size(), 2);
    put(&out, 0, 2);
    out += e.name + e.data;
    put(&directory, 0x02014b50, 4);
    put(&directory, 20, 2);
    put(&directory, 20, 2);
    put(&directory, 0, 2);
    put(&directory, e.method, 2);
    put(&directory, 0, 4);
    put(&directory, crc(e.data), 4);
    put(&directory, e.data.size(), 4);
    put(&directory, e.data.size(), 4);
    put(&directory, e.name.size(), 2);
    put(&directory, zip64 ? 12 : 0, 2);
    put(&directory, 0, 2);
    put(&directory, 0, 2);
    put(&directory, 0, 2);
    put(&directory, 0, 4);
    put(&directory, zip64 ? 0xFFFFFFFFu : local, 4);
    directory += e.name;
    if (zip64) {  // the offset only: the sizes are not saturated
      put(&directory, 0x0001, 2);
      put(&directory, 8, 2);
      put(&directory, local, 8);
    }
  }
  const std::uint64_t at = out.size();
  out += directory;
  if (zip64) {
    const std::uint64_t record = out.size();
    put(&out, 0x06064b50, 4);
    put(&out, 44, 8);
    put(&out, 45, 2);
    put(&out, 45, 2);
    put(&out, 0, 4);
    put(&out, 0, 4);
    put(&out, entries.size(), 8);
    put(&out, entries.size(), 8);
    put(&out, directory.size(), 8);
    put(&out, at, 8);
    put(&out, 0x07064b50, 4);
    put(&out, 0, 4);
    put(&out, record, 8);
    put(&out, 1, 4);
  }
  put(&out, 0x06054b50, 4);
  put(&out, 0, 2);
  put(&out, 0, 2);
  put(&out, zip64 ? 0xFFFF : entries.size(), 2);
  put(&out, zip64 ? 0xFFFF : entries.size(), 2);
  put(&out, zip64 ? 0xFFFFFFFFu : directory.size(), 4);
  put(&out, zip64 ? 0xFFFFFFFFu : at, 4);
  put(&out, comment.size(), 2);
  return out + comment;
}

ByteSource source_of(const std::string &bytes) {
  ByteSource source;
  source.size = bytes.size();
  source.read = [&bytes](std::uint64_t offset, std::size_t n, char *out) {
    bytes.copy(out, n, offset);
    return true;
  };
  return source;
}

const std::string kMeta =
    R"({"format": "fdikp-deblur-model", "name": "fdikp-s", "title": "FDIKP-S", "speed_class": "fast"})";

std::string metadata_of(const std::string &bytes, std::string *error) {
  std::string json;
  error->clear();
  if (!read_archive_metadata(source_of(bytes), &json, error)) return "<refused>";
  return json;
}

// A fresh folder under the system's temporary folder, removed at exit.
struct Folder {
  std::filesystem::path path;
  Folder() {
    char name[] = "/tmp/fdikp-catalog-XXXXXX";
    path = mkdtemp(name);
  }
  ~Folder() { std::filesystem::remove_all(path); }
  std::string write(const std::string &file, const std::string &bytes) const {
    std::ofstream(path / file, std::ios::binary) << bytes;
    return (path / file).string();
  }
};

std::string model(const std::string &json) {
  std::vector<Entry> entries = {{"m/data.pkl", std::string(100, 'x')}, {"m/version", "3"}};
  if (!json.empty()) entries.insert(entries.begin() + 1, {"m/extra/fdikp.json", json});
  return archive(entries);
}

}  // namespace

TEST(reads_the_stored_metadata_entry) {
  std::string error;
  CHECK_EQ(metadata_of(model(kMeta), &error), kMeta);
  CHECK_EQ(error, "");
  // An archive comment moves the end record; zip64 moves the directory.
  CHECK_EQ(metadata_of(archive({{"a/extra/fdikp.json", kMeta}}, false, "note"), &error), kMeta);
  CHECK_EQ(metadata_of(archive({{"a/x", "1"}, {"a/extra/fdikp.json", kMeta}}, true), &error),
           kMeta);
  CHECK_EQ(error, "");
}

TEST(an_archive_without_metadata_gives_none) {
  std::string error;
  CHECK_EQ(metadata_of(model(""), &error), "");
  CHECK_EQ(error, "");
  // Only the archive's own extra/ folder counts.
  CHECK_EQ(
      metadata_of(archive({{"a/b/extra/fdikp.json", kMeta}, {"extra/fdikp.json", kMeta}}), &error),
      "");
}

TEST(damaged_archives_are_refused_with_a_reason) {
  const std::string good = model(kMeta);
  std::string error;
  CHECK_EQ(metadata_of("", &error), "<refused>");
  CHECK_CONTAINS(error, "too short");
  CHECK_EQ(metadata_of(std::string(4096, 'z'), &error), "<refused>");
  CHECK_CONTAINS(error, "not a model archive");
  // Cut anywhere: refused, or (cut after the whole directory) read whole.
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    const std::string part = good.substr(0, cut);
    CHECK_EQ(metadata_of(part, &error), "<refused>");
    CHECK(!error.empty());
  }
  // A flipped byte in the entry's data fails its checksum.
  std::string flipped = good;
  flipped[flipped.find("fdikp-s")] = 'F';
  CHECK_EQ(metadata_of(flipped, &error), "<refused>");
  CHECK_CONTAINS(error, "checksum");
  // Compressed metadata is named as such.
  Entry deflated{"m/extra/fdikp.json", kMeta, 8};
  CHECK_EQ(metadata_of(archive({deflated}), &error), "<refused>");
  CHECK_CONTAINS(error, "compressed");
}

TEST(folders_are_listed_by_name_title_and_speed) {
  Folder user, system;
  user.write("mine.pt", model(R"({"name": "mine", "title": "My model"})"));
  user.write("bare.pt", model(""));
  user.write("notes.txt", "not a model");
  system.write("fdikp-default.pt", model(kMeta));
  system.write("z-quality.pt",
               model(R"({"name": "fdikp", "title": "FDIKP", "speed_class": "quality"})"));
  system.write("broken.pt", "PK not really");
  system.write("bad-meta.pt", model(R"({"name": "has/slash"})"));
  system.write("again.pt", model(R"({"name": "MINE"})"));
  const Catalog catalog =
      list_models({user.path.string(), "/no/such/folder", "", system.path.string()});
  CHECK_EQ(catalog.models.size(), 4u);
  std::string names;
  for (const auto &m : catalog.models)
    names += m.name + "|" + m.info.title + "|" + m.info.speed_class + " ";
  CHECK_EQ(names, "bare|| mine|My model| fdikp-s|FDIKP-S|fast fdikp|FDIKP|quality ");
  CHECK_EQ(catalog.models[2].path, (system.path / "fdikp-default.pt").string());
  CHECK_EQ(catalog.problems.size(), 3u);
  std::string problems;
  for (const auto &p : catalog.problems) problems += p + "\n";
  CHECK_CONTAINS(problems, "again.pt: the name \"MINE\" is taken");
  CHECK_CONTAINS(problems, "bad-meta.pt: its metadata is invalid: \"name\"");
  CHECK_CONTAINS(problems, "broken.pt: ");
}

TEST(names_titles_and_paths_resolve_to_files) {
  Folder folder;
  const std::string fast = folder.write("fdikp-default.pt", model(kMeta));
  const std::string bare = folder.write("bare.pt", model(""));
  const Catalog catalog = list_models({folder.path.string()});
  std::string path, error;
  CHECK(resolve_model("", catalog, &path, &error));
  CHECK_EQ(path, "");
  CHECK(resolve_model("fdikp-s", catalog, &path, &error));
  CHECK_EQ(path, fast);
  CHECK(resolve_model("FDIKP-s", catalog, &path, &error));
  CHECK_EQ(path, fast);
  CHECK(resolve_model("bare", catalog, &path, &error));
  CHECK_EQ(path, bare);
  // A path is a path, whether the file is there or not (the engine says).
  CHECK(resolve_model("/elsewhere/fdikp-s", catalog, &path, &error));
  CHECK_EQ(path, "/elsewhere/fdikp-s");
  // A bare file name in the working folder works too.
  CHECK(chdir(folder.path.c_str()) == 0);
  CHECK(resolve_model("bare.pt", catalog, &path, &error));
  CHECK_EQ(path, "bare.pt");
  CHECK(!resolve_model("sharpest", catalog, &path, &error));
  CHECK_EQ(error,
           "no installed model is named \"sharpest\", and there is no such file "
           "(installed: bare, fdikp-s)");
  CHECK(!resolve_model("x", list_models({}), &path, &error));
  CHECK_CONTAINS(error, "no model is installed");
}

namespace {

std::string listed_names(const Catalog &catalog) {
  std::string names;
  for (const auto &m : catalog.models) names += m.name + " ";
  for (const auto &p : catalog.problems) names += "[" + p + "] ";
  return names;
}

// Sets a file's modification time (to the nanosecond).
void set_mtime(const std::string &path, std::int64_t seconds, long nanoseconds) {
  const struct timespec times[2] = {{seconds, nanoseconds}, {seconds, nanoseconds}};
  CHECK(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

}  // namespace

TEST(the_cached_listing_rereads_a_file_only_when_it_changed) {
  Folder folder;
  const std::string a = folder.write("a.pt", model(R"({"name": "first"})"));
  set_mtime(a, 1700000000, 5);
  CHECK_EQ(listed_names(list_models_cached({folder.path.string()})), "first ");
  // Same size and time, other bytes: the cached listing has not read it again
  // (the uncached one has).
  std::string other = model(R"({"name": "fresh"})");
  CHECK_EQ(other.size(), model(R"({"name": "first"})").size());
  folder.write("a.pt", other);
  set_mtime(a, 1700000000, 5);
  CHECK_EQ(listed_names(list_models_cached({folder.path.string()})), "first ");
  CHECK_EQ(listed_names(list_models({folder.path.string()})), "fresh ");
  // A newer time (one nanosecond) or another size: read again.
  set_mtime(a, 1700000000, 6);
  CHECK_EQ(listed_names(list_models_cached({folder.path.string()})), "fresh ");
  folder.write("a.pt", model(R"({"name": "longer-name"})"));
  set_mtime(a, 1700000000, 6);
  CHECK_EQ(listed_names(list_models_cached({folder.path.string()})), "longer-name ");
  // Files that come and go are seen at once, damaged ones named.
  folder.write("b.pt", "PK not really");
  const std::string listed = listed_names(list_models_cached({folder.path.string()}));
  CHECK_CONTAINS(listed, "longer-name [");
  CHECK_CONTAINS(listed, "b.pt: ");
  std::filesystem::remove(a);
  std::filesystem::remove(folder.path / "b.pt");
  CHECK_EQ(listed_names(list_models_cached({folder.path.string()})), "");
}

namespace {

// Sets (or, for nullptr, unsets) an environment variable.
void set_env(const char *name, const char *value) {
  if (value) setenv(name, value, 1);
  else unsetenv(name);
}

std::string joined(const std::vector<std::string> &parts) {
  std::string text;
  for (const std::string &part : parts) text += "[" + part + "]";
  return text;
}

}  // namespace

TEST(model_folders_come_from_the_environment_or_the_build) {
  // $FDIKP_MODEL_PATH alone, in its order, empty parts skipped; set to ""
  // it names no folder at all.
  set_env("FDIKP_MODEL_PATH", "/mine:/system::/third:");
  CHECK_EQ(joined(fdikp::model_folders()), "[/mine][/system][/third]");
  set_env("FDIKP_MODEL_PATH", "");
  CHECK_EQ(joined(fdikp::model_folders()), "");
  // Otherwise the user's folder (as GLib finds the user's data folder), then
  // the one the filter installs its models in.
  set_env("FDIKP_MODEL_PATH", nullptr);
  set_env("XDG_DATA_HOME", "/xdg/data");
  CHECK_EQ(joined(fdikp::model_folders()),
           std::string("[/xdg/data/fdikp-deblur/models][") + FDIKP_MODEL_DIR + "]");
  set_env("XDG_DATA_HOME", "");
  set_env("HOME", "/home/someone");
  CHECK_EQ(
      joined(fdikp::model_folders()),
      std::string("[/home/someone/.local/share/fdikp-deblur/models][") + FDIKP_MODEL_DIR + "]");
}

TEST(the_default_model_is_the_installed_one_unless_the_environment_names_one) {
  set_env("FDIKP_DEFAULT_MODEL", nullptr);
  CHECK_EQ(fdikp::default_model_spec(), FDIKP_DEFAULT_MODEL);
  CHECK_CONTAINS(fdikp::default_model_spec(), FDIKP_MODEL_DIR);
  set_env("FDIKP_DEFAULT_MODEL", "");
  CHECK_EQ(fdikp::default_model_spec(), FDIKP_DEFAULT_MODEL);
  set_env("FDIKP_DEFAULT_MODEL", "fdikp-s");
  CHECK_EQ(fdikp::default_model_spec(), "fdikp-s");
}

TEST(hosts_find_models_in_the_folders_in_order) {
  Folder user, system;
  const std::string mine = user.write("mine.pt", model(R"({"name": "fdikp-s", "title": "Mine"})"));
  const std::string shipped = system.write("fdikp-default.pt", model(kMeta));
  const std::string bare = system.write("bare.pt", model(""));
  set_env("FDIKP_MODEL_PATH", (user.path.string() + ":" + system.path.string()).c_str());
  set_env("FDIKP_DEFAULT_MODEL", "bare");
  std::string path, error;
  // The first folder's model wins a name; a title works too.
  CHECK(find_model("FDIKP-S", &path, &error));
  CHECK_EQ(path, mine);
  CHECK(find_model("mine", &path, &error));
  CHECK_EQ(path, mine);
  // "" is the default model, by name here, by path below.
  CHECK(find_model("", &path, &error));
  CHECK_EQ(path, bare);
  set_env("FDIKP_DEFAULT_MODEL", shipped.c_str());
  CHECK(find_model("", &path, &error));
  CHECK_EQ(path, shipped);
  // A path is taken as it is, without listing.
  CHECK(find_model("/elsewhere/model.pt", &path, &error));
  CHECK_EQ(path, "/elsewhere/model.pt");
  CHECK(!find_model("sharpest", &path, &error));
  CHECK_EQ(error,
           "no installed model is named \"sharpest\", and there is no such file "
           "(installed: fdikp-s, bare)");
  // Folders swapped: the system's model has the name now.
  set_env("FDIKP_MODEL_PATH", (system.path.string() + ":" + user.path.string()).c_str());
  CHECK(find_model("fdikp-s", &path, &error));
  CHECK_EQ(path, shipped);
  set_env("FDIKP_MODEL_PATH", nullptr);
  set_env("FDIKP_DEFAULT_MODEL", nullptr);
}

TEST(the_listing_names_labels_files_and_the_default) {
  Folder user, system;
  const std::string mine = user.write("mine.pt", model(R"({"name": "mine", "title": "My model"})"));
  const std::string bare = user.write("bare.pt", model(""));
  const std::string fast = system.write("fdikp-default.pt", model(kMeta));
  const std::string best = system.write(
      "z.pt", model(R"({"name": "fdikp", "title": "FDIKP", "speed_class": "quality"})"));
  system.write("broken.pt", "PK not really");
  set_env("FDIKP_MODEL_PATH", (user.path.string() + ":" + system.path.string()).c_str());
  // The default by path, then by title: the same file is marked.
  for (const std::string &chosen : {fast, std::string("FDIKP-S")}) {
    set_env("FDIKP_DEFAULT_MODEL", chosen.c_str());
    const fdikp::Listing listing = fdikp::listing();
    CHECK_EQ(fdikp::listing_text(listing), "bare\tbare\t" + bare + "\t\n" + "mine\tMy model\t" +
                                               mine + "\t\n" + "fdikp-s\tFDIKP-S (fast)\t" + fast +
                                               "\tdefault\n" + "fdikp\tFDIKP (best quality)\t" +
                                               best + "\t\n");
    CHECK_EQ(listing.problems.size(), 1u);
    CHECK_CONTAINS(listing.problems[0], "broken.pt: ");
  }
  // The host's words for the speed classes (its translation); "" leaves a
  // class out. A default that names nothing installed marks nothing.
  set_env("FDIKP_DEFAULT_MODEL", "/not/installed.pt");
  const fdikp::Listing words = fdikp::listing(
      [](const std::string &speed) { return speed == "fast" ? std::string("schnell") : ""; });
  CHECK_EQ(words.models.size(), 4u);
  CHECK_EQ(words.models[2].label, "FDIKP-S (schnell)");
  CHECK_EQ(words.models[3].label, "FDIKP");
  for (const fdikp::ListedModel &m : words.models) CHECK(!m.is_default);
  // A model whose path has a tab cannot be a line of the listing: left out.
  Folder odd;
  std::filesystem::create_directory(odd.path / "tab\there");
  odd.write("tab\there/odd.pt", model(R"({"name": "odd"})"));
  set_env("FDIKP_MODEL_PATH", (odd.path / "tab\there").c_str());
  CHECK_EQ(fdikp::list_models(fdikp::model_folders()).models.size(), 1u);
  CHECK_EQ(fdikp::listing_text(fdikp::listing()), "");
  set_env("FDIKP_MODEL_PATH", nullptr);
  set_env("FDIKP_DEFAULT_MODEL", nullptr);
}

CHECK_MAIN()
