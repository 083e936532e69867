// The JSON reader for model metadata: a flat object of strings, numbers,
// booleans and nulls, parsed from any bytes with the reason for a refusal.
//
// Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.

#include "metadata.h"

#include <cmath>
#include <cstdlib>

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

}  // namespace

bool parse_flat_json(const std::string &json, std::map<std::string, MetadataValue> *out,
                     std::string *error) {
  Parser parser(json);
  out->clear();
  if (parser.object(out)) return true;
  *error = parser.error();
  return false;
}

}  // namespace fdikp
