// Reads the metadata a model file carries (the `fdikp.json` entry of the
// TorchScript archive): a flat JSON object of strings, numbers and booleans.
// The bytes come from a file the user picked, so the parser accepts any
// input without crashing and says what is wrong; it has no LibTorch types,
// so it is fuzzed on its own.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#ifndef FDIKP_METADATA_H
#define FDIKP_METADATA_H

#include <map>
#include <string>

#include "model_info.h"

namespace fdikp {

// A JSON value reduced to what the metadata uses.
struct MetadataValue {
  enum class Kind { String, Number, Boolean, Null } kind = Kind::Null;
  std::string text;     // Kind::String
  double number = 0.0;  // Kind::Number, and 0/1 for Kind::Boolean
};

// Parses a flat JSON object into key -> value. Nested objects and arrays are
// refused. Returns false with *error set on any malformed input.
bool parse_flat_json(const std::string &json, std::map<std::string, MetadataValue> *out,
                     std::string *error);

// Fills the metadata fields of *info from the `fdikp.json` text, checking
// types and ranges (unknown keys are ignored, so newer exporters can add
// keys). Returns false with *error naming the offending key.
bool read_model_metadata(const std::string &json, ModelInfo *info, std::string *error);

// The name of the metadata entry inside a TorchScript archive.
constexpr const char *kMetadataEntry = "fdikp.json";

}  // namespace fdikp

#endif  // FDIKP_METADATA_H
