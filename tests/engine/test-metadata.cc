// The model-metadata reader: what a valid fdikp.json yields, and a message
// (never a crash) for everything else.

#include "../check.h"
#include "engine/metadata.h"

using fdikp::ModelInfo;
using fdikp::read_model_metadata;
using fdikp::size_multiple;

TEST(reads_every_field) {
  ModelInfo info;
  std::string error;
  const bool ok = read_model_metadata(
      R"({"format": "fdikp-deblur-model", "format_version": 1, "architecture": "FDIKP",
          "version": "0.1.0", "default_stages": 3, "max_stages": 5, "base_multiple": 4,
          "recommended_tile_size": 512, "recommended_tile_overlap": 24,
          "memory_bytes_per_pixel": 2400.5, "parameters": 5520000,
          "training": "synthetic defocus \u00e9t\u00e9 \ud83d\ude00", "extra": null, "flag": true})",
      &info, &error);
  CHECK(ok);
  CHECK_EQ(error, "");
  CHECK_EQ(info.architecture, "FDIKP");
  CHECK_EQ(info.version, "0.1.0");
  CHECK_EQ(info.default_stages, 3);
  CHECK_EQ(info.max_stages, 5);
  CHECK_EQ(info.base_multiple, 4);
  CHECK_EQ(info.recommended_tile_size, 512);
  CHECK_EQ(info.recommended_tile_overlap, 24);
  CHECK_NEAR(info.memory_bytes_per_pixel, 2400.5, 1e-9);
  CHECK_EQ(info.parameters, 5520000);
  CHECK_EQ(info.training, "synthetic defocus \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(missing_fields_keep_defaults) {
  ModelInfo info;
  std::string error;
  CHECK(read_model_metadata("{}", &info, &error));
  CHECK_EQ(info.default_stages, 3);
  CHECK_EQ(info.base_multiple, 1);
  CHECK_EQ(info.recommended_tile_overlap, 64);
}

TEST(reads_the_defocus_map_keys) {
  ModelInfo info;
  std::string error;
  CHECK(!info.defocus_map);
  CHECK_EQ(info.defocus_map_unit, "px");
  CHECK(read_model_metadata(R"({"defocus_map": 1, "defocus_map_unit": "px",
                                "defocus_map_multiple": 8, "defocus_map_training": "750 steps"})",
                            &info, &error));
  CHECK(info.defocus_map);
  CHECK_EQ(info.defocus_map_multiple, 8);
  CHECK_EQ(info.defocus_map_training, "750 steps");
  for (const char *bad :
       {R"({"defocus_map": 2})", R"({"defocus_map": true})",
        R"({"defocus_map_unit": "pixels of blur"})", R"({"defocus_map_multiple": 0})"}) {
    CHECK(!read_model_metadata(bad, &info, &error));
    CHECK_CONTAINS(error, "\"defocus_map");
  }
}

TEST(keys_the_engine_no_longer_reads_are_ignored) {
  // Models exported before recommended_tile_overlap was dropped still load.
  ModelInfo info;
  std::string error;
  CHECK(read_model_metadata(R"({"recommended_tile_overlap": 64, "max_stages": 4})", &info, &error));
  CHECK_EQ(error, "");
  CHECK_EQ(info.max_stages, 4);
}

TEST(the_size_multiple_doubles_with_each_stage) {
  CHECK_EQ(size_multiple(1, 1), 1);
  CHECK_EQ(size_multiple(4, 1), 4);
  CHECK_EQ(size_multiple(4, 3), 16);
  CHECK_EQ(size_multiple(4, FDIKP_STAGES_MAX), 4 << (FDIKP_STAGES_MAX - 1));
}

TEST(malformed_json_is_refused_with_a_reason) {
  const char *bad[] = {"",
                       "{",
                       "{\"a\":}",
                       "{\"a\" 1}",
                       "[1, 2]",
                       "{\"a\": 01}",
                       "{\"a\": 1,}",
                       "{\"a\": \"x}",
                       "{\"a\": -}",
                       "{\"a\": 1e}",
                       "{\"a\": {}}",
                       "{\"a\": [1]}",
                       "{} extra",
                       "{\"a\": nan}",
                       "{\"a\": \"\\ud800\"}",
                       "{\"a\": 1e999}",
                       "{\"a\": \"\x01\"}"};
  for (const char *text : bad) {
    ModelInfo info;
    std::string error;
    CHECK(!read_model_metadata(text, &info, &error));
    CHECK_CONTAINS(error, "metadata");
  }
}

TEST(out_of_range_values_name_the_key) {
  struct Case {
    const char *json;
    const char *key;
  } cases[] = {
      {R"({"default_stages": 9})", "default_stages"},
      {R"({"max_stages": 3, "default_stages": 4})", "default_stages"},
      {R"({"max_stages": 2})", "exceeds \"max_stages\""},  // found by fuzz-metadata
      {R"({"base_multiple": 0})", "base_multiple"},
      {R"({"base_multiple": 2.5})", "base_multiple"},
      {R"({"recommended_tile_size": "big"})", "recommended_tile_size"},
      {R"({"recommended_tile_overlap": -4})", "recommended_tile_overlap"},
      {R"({"architecture": 5})", "architecture"},
      {R"({"memory_bytes_per_pixel": -1})", "memory_bytes_per_pixel"},
  };
  for (const Case &c : cases) {
    ModelInfo info;
    std::string error;
    CHECK(!read_model_metadata(c.json, &info, &error));
    CHECK_CONTAINS(error, c.key);
  }
}

TEST(unknown_format_and_newer_versions_are_refused) {
  ModelInfo info;
  std::string error;
  CHECK(!read_model_metadata(R"({"format": "other"})", &info, &error));
  CHECK_CONTAINS(error, "unknown format");
  CHECK(!read_model_metadata(R"({"format_version": 2})", &info, &error));
  CHECK_CONTAINS(error, "newer");
}

TEST(names_titles_and_speed_classes_are_checked) {
  ModelInfo info;
  std::string error;
  CHECK(read_model_metadata(
      R"({"name": "fdikp-s", "title": "FDIKP-S \u00e9", "speed_class": "fast"})", &info, &error));
  CHECK_EQ(info.name, "fdikp-s");
  CHECK_EQ(info.title, "FDIKP-S \xc3\xa9");
  CHECK_EQ(info.speed_class, "fast");
  const char *bad[] = {
      R"({"name": "a/b"})",
      R"({"name": ".hidden"})",
      R"({"name": "a b"})",
      R"({"title": "two\nlines"})",
      R"({"speed_class": 3})",
      R"({"name": "0123456789012345678901234567890123456789012345678901234567890123x"})"};
  for (const char *json : bad) {
    ModelInfo other;
    CHECK(!read_model_metadata(json, &other, &error));
    CHECK_CONTAINS(error, "its metadata is invalid");
  }
}

CHECK_MAIN()
