// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "metadata.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace fdikp {
namespace {

class Parser {
 public:
  explicit Parser(const std::string &text) : s_(text) {}

  bool object(std::map<std::string, MetadataValue> *out) {
    skip_space();
    if (!take('{')) return fail("expected '{' at the start");
    skip_space();
    if (take('}')) return end();
    for (;;) {
      std::string key;
      skip_space();
      if (!string(&key)) return false;
      skip_space();
      if (!take(':')) return fail("expected ':' after key \"" + key + "\"");
      skip_space();
      MetadataValue value;
      if (!scalar(&value, key)) return false;
      (*out)[key] = value;
      skip_space();
      if (take(',')) continue;
      if (take('}')) return end();
      return fail("expected ',' or '}' after the value of \"" + key + "\"");
    }
  }

  const std::string &error() const { return error_; }

 private:
  bool end() {
    skip_space();
    return pos_ == s_.size() ? true : fail("unexpected text after the closing '}'");
  }

  bool scalar(MetadataValue *value, const std::string &key) {
    if (pos_ >= s_.size()) return fail("missing value for \"" + key + "\"");
    const char c = s_[pos_];
    if (c == '"') {
      value->kind = MetadataValue::Kind::String;
      return string(&value->text);
    }
    if (c == '{' || c == '[') return fail("\"" + key + "\" must be a string, number or boolean");
    if (word("true")) {
      value->kind = MetadataValue::Kind::Boolean;
      value->number = 1.0;
      return true;
    }
    if (word("false")) {
      value->kind = MetadataValue::Kind::Boolean;
      return true;
    }
    if (word("null")) {
      value->kind = MetadataValue::Kind::Null;
      return true;
    }
    return number(&value->number, key) ? (value->kind = MetadataValue::Kind::Number, true) : false;
  }

  bool number(double *out, const std::string &key) {
    // JSON's number grammar, checked by hand: strtod alone would accept
    // "inf", "nan", hex and leading '+'.
    const std::size_t begin = pos_;
    if (peek('-')) ++pos_;
    if (!digit()) return fail("bad value for \"" + key + "\"");
    if (peek('0')) {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    if (peek('.')) {
      ++pos_;
      if (!digit()) return fail("bad number for \"" + key + "\"");
      while (digit()) ++pos_;
    }
    if (peek('e') || peek('E')) {
      ++pos_;
      if (peek('+') || peek('-')) ++pos_;
      if (!digit()) return fail("bad number for \"" + key + "\"");
      while (digit()) ++pos_;
    }
    const std::string text = s_.substr(begin, pos_ - begin);
    *out = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(*out)) return fail("number out of range for \"" + key + "\"");
    return true;
  }

  bool string(std::string *out) {
    if (!take('"')) return fail("expected a string");
    out->clear();
    while (pos_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        continue;
      }
      if (pos_ >= s_.size()) break;
      const char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/': out->push_back(e); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          unsigned code = 0;
          if (!hex4(&code)) return fail("bad \\u escape");
          if (code >= 0xD800 && code <= 0xDBFF) {
            unsigned low = 0;
            if (!(take('\\') && take('u') && hex4(&low) && low >= 0xDC00 && low <= 0xDFFF))
              return fail("unpaired surrogate in a string");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            return fail("unpaired surrogate in a string");
          }
          utf8(code, out);
          break;
        }
        default: return fail("bad escape in a string");
      }
    }
    return fail("unterminated string");
  }

  bool hex4(unsigned *code) {
    if (s_.size() - pos_ < 4) return false;
    *code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      unsigned v;
      if (c >= '0' && c <= '9') v = c - '0';
      else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
      else return false;
      *code = *code * 16 + v;
    }
    return true;
  }

  static void utf8(unsigned code, std::string *out) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  bool word(const char *w) {
    std::size_t n = 0;
    while (w[n]) ++n;
    if (s_.compare(pos_, n, w) != 0) return false;
    pos_ += n;
    return true;
  }
  bool digit() const { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; }
  bool peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  bool take(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  void skip_space() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool fail(const std::string &why) {
    if (error_.empty()) error_ = why + " (at byte " + std::to_string(pos_) + ")";
    return false;
  }

  const std::string &s_;
  std::size_t pos_ = 0;
  std::string error_;
};

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

bool parse_flat_json(const std::string &json, std::map<std::string, MetadataValue> *out,
                     std::string *error) {
  Parser parser(json);
  out->clear();
  if (parser.object(out)) return true;
  *error = parser.error();
  return false;
}

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
  fields.take("memory_bytes_per_pixel", &read.memory_bytes_per_pixel);
  fields.take("parameters", &read.parameters);
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
