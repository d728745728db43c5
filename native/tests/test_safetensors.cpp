// The safetensors loader against well-formed and hostile files.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/safetensors.h"
#include "harness.h"

using namespace alm;

namespace {

std::string tmp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/alm_st_" + std::to_string(::getpid()) + "_" + name;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char((n >> (8 * i)) & 0xff);
  return s;
}

std::string make_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::string write_tmp(const std::string& name, const std::string& bytes) {
  std::string p = tmp_path(name);
  write_file(p, bytes);
  return p;
}

}  // namespace

TEST(loads_f32_f16_bf16_and_metadata) {
  std::vector<float> a = alm_test::random_vec(6, 1);
  std::vector<float> b = alm_test::random_vec(4, 2);
  std::string f16, bf16;
  for (float v : b) {
    uint16_t h = f32_to_f16(v), g = f32_to_bf16(v);
    f16.append(reinterpret_cast<const char*>(&h), 2);
    bf16.append(reinterpret_cast<const char*>(&g), 2);
  }
  std::string header =
      R"({"__metadata__":{"audiolm.config":"{\"family\":\"test\",\"n\":3}"},)"
      R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
      R"("h":{"dtype":"F16","shape":[4],"data_offsets":[24,32]},)"
      R"("g":{"dtype":"BF16","shape":[2,2],"data_offsets":[32,40]}})";
  auto path = write_tmp("ok.safetensors", make_file(header, floats(a) + f16 + bf16));
  auto wf = WeightsFile::open(path);
  EXPECT(wf->config().get_string("family", "") == "test");
  EXPECT(wf->config().get_int("n", 0) == 3);
  Tensor ta = wf->f32("a", {2, 3});
  EXPECT(std::memcmp(ta.data(), a.data(), 24) == 0);
  Tensor th = wf->f32("h");
  Tensor tg = wf->f32("g", {2, 2});
  EXPECT_CLOSE(th.data(), b.data(), 4, 1e-3);  // f16 keeps ~11 bits
  EXPECT_CLOSE(tg.data(), b.data(), 4, 1e-2);  // bf16 keeps ~8 bits
  EXPECT_THROWS_CODE(wf->f32("a", {3, 2}), "ERR_AUDIOLM_INVALID_MODEL");
  EXPECT_THROWS_CODE(wf->f32("missing"), "ERR_AUDIOLM_INVALID_MODEL");
  std::remove(path.c_str());
}

TEST(rejects_missing_and_non_regular_files) {
  EXPECT_THROWS_CODE(WeightsFile::open("/nonexistent/x.safetensors"), "ERR_AUDIOLM_IO");
  EXPECT_THROWS_CODE(WeightsFile::open("/tmp"), "ERR_AUDIOLM_IO");
}

TEST(rejects_hostile_headers) {
  std::string good = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string data = floats({1.5f, -2.5f});
  struct Case { const char* name; std::string bytes; };
  std::vector<Case> cases = {
      {"empty", ""},
      {"short", std::string("\x05\x00\x00", 3)},
      {"truncated", make_file(good, data).substr(0, 8 + good.size() + 3)},
      {"header_past_end", le64(1000) + good + data},
      {"header_huge", le64(uint64_t(1) << 62) + good},
      {"bad_json", make_file(R"({"a":{"dtype":"F32",)", data)},
      {"not_object", make_file(R"([1,2,3])", data)},
      {"unknown_dtype", make_file(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", data)},
      {"size_mismatch", make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data)},
      {"out_of_bounds", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", data)},
      {"negative_offset", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", data)},
      {"reversed_offsets", make_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data)},
      {"negative_dim", make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data)},
      {"overlap", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data)},
      {"duplicate", make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                              R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data)},
      {"deep_nesting", make_file(std::string(200, '[') + std::string(200, ']'), data)},
      {"metadata_not_strings", make_file(R"({"__metadata__":{"k":5}})", data)},
  };
  for (auto& c : cases) {
    auto path = write_tmp(c.name, c.bytes);
    bool threw = false;
    try {
      WeightsFile::open(path);
    } catch (const Error& e) {
      threw = true;
      EXPECT_MSG(std::string(e.code()) == "ERR_AUDIOLM_INVALID_MODEL",
                 std::string(c.name) + ": wrong code " + e.code() + ": " + e.what());
      EXPECT_MSG(std::string(e.what()).find(path) != std::string::npos, std::string(c.name) + ": message lacks the path");
    }
    std::remove(path.c_str());
    EXPECT_MSG(threw, std::string("no error for ") + c.name);
  }
}

TEST(integer_tensor_is_not_float) {
  auto path = write_tmp("int.safetensors",
                        make_file(R"({"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\1')));
  auto wf = WeightsFile::open(path);
  EXPECT_THROWS_CODE(wf->f32("a"), "ERR_AUDIOLM_INVALID_MODEL");
  EXPECT_THROWS_CODE(wf->config(), "ERR_AUDIOLM_INVALID_MODEL");
  std::remove(path.c_str());
}

TEST(f16_round_trip_is_exact_for_representable_values) {
  for (uint32_t h = 0; h < 0x7c00; h += 7) {
    float f = f16_to_f32(uint16_t(h));
    EXPECT(f32_to_f16(f) == uint16_t(h));
  }
}

TEST_MAIN()
