#include "json.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "error.h"

namespace alm {

class JsonParser {
 public:
  JsonParser(const std::string& s, const std::string& what) : s_(s), what_(what) {}

  Json parse_document() {
    Json v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected trailing characters");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 64;

  [[noreturn]] void error(const char* msg) {
    fail(ErrorKind::InvalidModel, what_, ": invalid JSON at byte ", pos_, ": ", msg);
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == c) { ++pos_; return true; }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) error((std::string("expected '") + c + "'").c_str());
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) error("nesting too deep");
    skip_ws();
    if (pos_ >= s_.size()) error("unexpected end of input");
    char c = s_[pos_];
    Json v;
    if (c == '{') {
      ++pos_;
      v.type_ = Json::Type::Object;
      if (eat('}')) return v;
      do {
        skip_ws();
        std::string key = parse_string();
        expect(':');
        v.object_.emplace_back(std::move(key), parse_value(depth + 1));
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++pos_;
      v.type_ = Json::Type::Array;
      if (eat(']')) return v;
      do {
        v.array_.push_back(parse_value(depth + 1));
      } while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.type_ = Json::Type::String;
      v.string_ = parse_string();
    } else if (s_.compare(pos_, 4, "true") == 0) {
      pos_ += 4; v.type_ = Json::Type::Bool; v.bool_ = true;
    } else if (s_.compare(pos_, 5, "false") == 0) {
      pos_ += 5; v.type_ = Json::Type::Bool; v.bool_ = false;
    } else if (s_.compare(pos_, 4, "null") == 0) {
      pos_ += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.type_ = Json::Type::Number;
      v.number_ = parse_number();
    } else {
      error("unexpected character");
    }
    return v;
  }

  double parse_number() {
    size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    auto digits = [&] { size_t b = pos_; while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_; return pos_ > b; };
    if (!digits()) error("bad number");
    if (pos_ < s_.size() && s_[pos_] == '.') { ++pos_; if (!digits()) error("bad number"); }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) error("bad number");
    }
    std::string tok = s_.substr(start, pos_ - start);
    return std::strtod(tok.c_str(), nullptr);
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += char(cp);
    else if (cp < 0x800) { out += char(0xc0 | (cp >> 6)); out += char(0x80 | (cp & 0x3f)); }
    else if (cp < 0x10000) { out += char(0xe0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3f)); out += char(0x80 | (cp & 0x3f)); }
    else { out += char(0xf0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3f)); out += char(0x80 | ((cp >> 6) & 0x3f)); out += char(0x80 | (cp & 0x3f)); }
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > s_.size()) error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else error("bad \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string");
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error("unterminated string");
      char c = s_[pos_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (c != '\\') { out += c; continue; }
      if (pos_ >= s_.size()) error("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && pos_ + 6 <= s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
            pos_ += 2;
            uint32_t lo = parse_hex4();
            if (lo >= 0xdc00 && lo < 0xe000) cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            else error("bad surrogate pair");
          }
          put_utf8(out, cp);
          break;
        }
        default: error("bad escape");
      }
    }
    return out;
  }

  const std::string& s_;
  std::string what_;
  size_t pos_ = 0;
};

Json Json::parse(const std::string& text, const std::string& what) { return JsonParser(text, what).parse_document(); }

static const char* type_name(Json::Type t) {
  switch (t) {
    case Json::Type::Null: return "null";
    case Json::Type::Bool: return "a boolean";
    case Json::Type::Number: return "a number";
    case Json::Type::String: return "a string";
    case Json::Type::Array: return "an array";
    case Json::Type::Object: return "an object";
  }
  return "?";
}

#define ALM_JSON_EXPECT(T, name)                                                              \
  if (type_ != Type::T)                                                                       \
    fail(ErrorKind::InvalidModel, "expected ", name, " for ", what, " but found ", type_name(type_))

double Json::number(const std::string& what) const { ALM_JSON_EXPECT(Number, "a number"); return number_; }
int64_t Json::integer(const std::string& what) const {
  ALM_JSON_EXPECT(Number, "an integer");
  if (!(std::fabs(number_) <= 9007199254740992.0) || std::floor(number_) != number_)
    fail(ErrorKind::InvalidModel, "expected an integer for ", what, " but found ", number_);
  return static_cast<int64_t>(number_);
}
bool Json::boolean(const std::string& what) const { ALM_JSON_EXPECT(Bool, "a boolean"); return bool_; }
const std::string& Json::string(const std::string& what) const { ALM_JSON_EXPECT(String, "a string"); return string_; }
const std::vector<Json>& Json::array(const std::string& what) const { ALM_JSON_EXPECT(Array, "an array"); return array_; }
const std::vector<std::pair<std::string, Json>>& Json::object(const std::string& what) const {
  ALM_JSON_EXPECT(Object, "an object");
  return object_;
}

const Json* Json::find(const std::string& key) const {
  if (type_ != Type::Object) return nullptr;
  for (auto& kv : object_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}
int64_t Json::get_int(const std::string& key, int64_t def) const {
  const Json* v = find(key);
  return v && !v->is_null() ? v->integer("config." + key) : def;
}
double Json::get_number(const std::string& key, double def) const {
  const Json* v = find(key);
  return v && !v->is_null() ? v->number("config." + key) : def;
}
bool Json::get_bool(const std::string& key, bool def) const {
  const Json* v = find(key);
  return v && !v->is_null() ? v->boolean("config." + key) : def;
}
std::string Json::get_string(const std::string& key, const std::string& def) const {
  const Json* v = find(key);
  return v && !v->is_null() ? v->string("config." + key) : def;
}
std::vector<int64_t> Json::get_int_array(const std::string& key, const std::vector<int64_t>& def) const {
  const Json* v = find(key);
  if (!v || v->is_null()) return def;
  std::vector<int64_t> out;
  for (auto& e : v->array("config." + key)) out.push_back(e.integer("config." + key + "[]"));
  return out;
}

}  // namespace alm
