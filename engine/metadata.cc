// The schema check of model metadata: each key's type and range as
// metadata_schema.h gives them, the format and its version, and the
// checked values read into ModelInfo.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "metadata.h"

#include <cmath>
#include <cstdio>

namespace fdikp {
namespace {

// A number as the schema writes it: 1000000000 as 1e+09, 16 as 16.
std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", value);
  return text;
}

// Checks one value against its schema entry; *error names the key.
bool check_value(const metadata::Key &spec, const MetadataValue &v, std::string *error) {
  const std::string key = std::string("\"") + spec.name + "\"";
  switch (spec.type) {
    case metadata::Type::INT:
      if (v.kind != MetadataValue::Kind::Number || v.number != std::floor(v.number) ||
          v.number < spec.minimum || v.number > spec.maximum) {
        *error = key + " must be a whole number from " + number_text(spec.minimum) + " to " +
                 number_text(spec.maximum);
        return false;
      }
      return true;
    case metadata::Type::NUMBER:
      if (v.kind != MetadataValue::Kind::Number || !(v.number >= spec.minimum) ||
          v.number > spec.maximum) {
        *error = key + " must be a number from " + number_text(spec.minimum) + " to " +
                 number_text(spec.maximum);
        return false;
      }
      return true;
    case metadata::Type::STRING:
      if (v.kind != MetadataValue::Kind::String) {
        *error = key + " must be a string";
        return false;
      }
      return true;
    case metadata::Type::NAME:
    case metadata::Type::LABEL: {
      // Shown in menus and typed in scripts: no control characters; a name
      // also only ASCII letters, digits and - _ . + (no '/', which would
      // make it a path), not starting with '.'.
      const bool name = spec.type == metadata::Type::NAME;
      bool ok = v.kind == MetadataValue::Kind::String && v.text.size() <= spec.longest &&
                !(name && !v.text.empty() && v.text[0] == '.');
      for (const char c : v.text) {
        const unsigned char u = static_cast<unsigned char>(c);
        const bool word = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                          (u >= '0' && u <= '9') || u == '-' || u == '_' || u == '.' || u == '+';
        if (u < 0x20 || u == 0x7F || (name && !word)) ok = false;
      }
      if (!ok)
        *error = key + " must be a string of at most " + std::to_string(spec.longest) +
                 (name ? " letters, digits, '-', '_', '.' or '+', not starting with '.'"
                       : " bytes without control characters");
      return ok;
    }
  }
  return false;
}

// The checked values, read into ModelInfo's fields by key; a key that is
// absent leaves the field as it was.
class Fields {
 public:
  explicit Fields(const std::map<std::string, MetadataValue> &values) : values_(values) {}
  void take(const char *key, std::string *field) const {
    if (const MetadataValue *v = find(key)) *field = v->text;
  }
  template <typename Number>
  void take(const char *key, Number *field) const {
    if (const MetadataValue *v = find(key)) *field = static_cast<Number>(v->number);
  }

 private:
  const MetadataValue *find(const char *key) const {
    const auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, MetadataValue> &values_;
};

}  // namespace

bool read_model_metadata(const std::string &json, ModelInfo *info, std::string *error) {
  std::map<std::string, MetadataValue> values;
  std::string why;
  if (!parse_flat_json(json, &values, &why)) {
    *error = "its metadata is not valid JSON: " + why;
    return false;
  }
  for (const metadata::Key &spec : metadata::kKeys) {
    const auto it = values.find(spec.name);
    if (it != values.end() && !check_value(spec, it->second, &why)) {
      *error = "its metadata is invalid: " + why;
      return false;
    }
  }
  const Fields fields(values);
  std::string format;
  fields.take("format", &format);
  if (!format.empty() && format != FDIKP_METADATA_FORMAT) {
    *error = "its metadata names an unknown format \"" + format + "\"";
    return false;
  }
  int format_version = FDIKP_METADATA_FORMAT_VERSION;
  fields.take("format_version", &format_version);
  if (format_version > FDIKP_METADATA_FORMAT_VERSION) {
    *error = "it was exported in metadata format " + std::to_string(format_version) +
             ", newer than this filter reads (" + std::to_string(FDIKP_METADATA_FORMAT_VERSION) +
             "): update the filter";
    return false;
  }
  ModelInfo read = *info;
  fields.take("architecture", &read.architecture);
  fields.take("name", &read.name);
  fields.take("title", &read.title);
  fields.take("speed_class", &read.speed_class);
  fields.take("version", &read.version);
  fields.take("training", &read.training);
  fields.take("default_stages", &read.default_stages);
  fields.take("max_stages", &read.max_stages);
  fields.take("base_multiple", &read.base_multiple);
  fields.take("recommended_tile_size", &read.recommended_tile_size);
  fields.take("recommended_tile_overlap", &read.recommended_tile_overlap);
  fields.take("memory_bytes_per_pixel", &read.memory_bytes_per_pixel);
  fields.take("bf16_psnr_change_db", &read.bf16_psnr_change_db);
  fields.take("parameters", &read.parameters);
  fields.take("defocus_map", &read.defocus_map);
  fields.take("defocus_map_unit", &read.defocus_map_unit);
  fields.take("defocus_map_multiple", &read.defocus_map_multiple);
  fields.take("defocus_map_training", &read.defocus_map_training);
  if (read.default_stages > read.max_stages) {
    // Either key may be absent, so the ranges alone do not catch this.
    *error = "its metadata is invalid: \"default_stages\" (" + std::to_string(read.default_stages) +
             ") exceeds \"max_stages\" (" + std::to_string(read.max_stages) + ")";
    return false;
  }
  *info = read;
  return true;
}

}  // namespace fdikp
