// Reads the small .npy fixtures (little-endian, C order, float32/int32/int64) in native tests.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace alm_test {

struct Npy {
  std::string dtype;  // "<f4", "<i4", "<i8"
  std::vector<int64_t> shape;
  std::vector<char> bytes;
  int64_t numel() const { int64_t n = 1; for (auto d : shape) n *= d; return n; }
  std::vector<float> f32() const {
    if (dtype != "<f4") throw std::runtime_error("npy: expected float32, found " + dtype);
    std::vector<float> v(static_cast<size_t>(numel()));
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
  }
  std::vector<int32_t> i32() const {
    std::vector<int32_t> v(static_cast<size_t>(numel()));
    if (dtype == "<i4") std::memcpy(v.data(), bytes.data(), v.size() * 4);
    else if (dtype == "<i8") for (size_t i = 0; i < v.size(); ++i) { int64_t x; std::memcpy(&x, bytes.data() + 8 * i, 8); v[i] = int32_t(x); }
    else throw std::runtime_error("npy: expected an integer array, found " + dtype);
    return v;
  }
};

inline Npy read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (s.size() < 10 || s.compare(0, 6, "\x93NUMPY") != 0) throw std::runtime_error(path + " is not .npy");
  size_t hlen, hstart;
  if (s[6] == 1) { hlen = uint8_t(s[8]) | (uint8_t(s[9]) << 8); hstart = 10; }
  else { hlen = uint32_t(uint8_t(s[8])) | (uint32_t(uint8_t(s[9])) << 8) | (uint32_t(uint8_t(s[10])) << 16) | (uint32_t(uint8_t(s[11])) << 24); hstart = 12; }
  std::string h = s.substr(hstart, hlen);
  Npy out;
  auto dpos = h.find("'descr': '");
  out.dtype = h.substr(dpos + 10, h.find('\'', dpos + 10) - dpos - 10);
  if (h.find("'fortran_order': True") != std::string::npos) throw std::runtime_error(path + ": fortran order");
  auto sp = h.find('(', h.find("'shape'"));
  auto se = h.find(')', sp);
  std::string dims = h.substr(sp + 1, se - sp - 1);
  std::stringstream ds(dims);
  std::string tok;
  while (std::getline(ds, tok, ',')) if (tok.find_first_not_of(' ') != std::string::npos) out.shape.push_back(std::stoll(tok));
  out.bytes.assign(s.begin() + int64_t(hstart + hlen), s.end());
  return out;
}

}  // namespace alm_test
