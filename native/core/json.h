// A small strict JSON parser for safetensors headers and model configs. Hostile input is
// expected: depth and size are bounded and every error says where parsing stopped.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace alm {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Json() = default;
  static Json parse(const std::string& text, const std::string& what = "JSON");

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }
  bool is_bool() const { return type_ == Type::Bool; }

  // Accessors throw ERR_AUDIOLM_INVALID_MODEL naming `what` when the type is wrong.
  double number(const std::string& what) const;
  int64_t integer(const std::string& what) const;  // must be integral and within ±2^53
  bool boolean(const std::string& what) const;
  const std::string& string(const std::string& what) const;
  const std::vector<Json>& array(const std::string& what) const;
  const std::vector<std::pair<std::string, Json>>& object(const std::string& what) const;

  // Object lookup; nullptr when absent (or when this is not an object).
  const Json* find(const std::string& key) const;
  // Typed lookups with defaults, for configs.
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_number(const std::string& key, double def) const;
  bool get_bool(const std::string& key, bool def) const;
  std::string get_string(const std::string& key, const std::string& def) const;
  std::vector<int64_t> get_int_array(const std::string& key, const std::vector<int64_t>& def) const;

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> array_;
  std::vector<std::pair<std::string, Json>> object_;  // insertion order kept
};

}  // namespace alm
