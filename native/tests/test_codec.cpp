// The codec model against Meta's EnCodec reference (test/fixtures/encodec/{causal,noncausal}:
// random weights and inputs from make_encodec_fixtures.py; engine.safetensors is the checkpoint
// through our converter, from make_engine_codecs.mjs): encoder output, codes and decoded audio,
// on the backend that "cpu" names (AUDIOLM_BACKEND=strict or cuda runs it elsewhere unchanged).
#include <filesystem>

#include "harness.h"
#include "models/codec.h"
#include "npy.h"

using namespace alm;
namespace fs = std::filesystem;

namespace {

constexpr double kTol = 1e-5;  // relative L2 of the encoder output and the decoded audio

std::string dir_of(const std::string& name) {
  const char* env = std::getenv("AUDIOLM_FIXTURES");
  const std::string d = std::string(env ? env : "test/fixtures") + "/encodec/" + name;
  if (!fs::exists(d + "/engine.safetensors")) throw alm_test::Failure{"no " + d + "/engine.safetensors (run from the repo root)"};
  return d;
}

void check_config(const std::string& name, const std::vector<int64_t>& levels) {
  const std::string d = dir_of(name);
  auto codec = CodecModel::load(d + "/engine.safetensors", backend_named("cpu"));
  std::printf("     %s on the %s backend\n", name.c_str(), codec->backend().name());
  for (int item = 0; fs::exists(d + "/input_" + std::to_string(item) + ".npy"); ++item) {
    const std::string it = std::to_string(item);
    const auto wav = alm_test::read_npy(d + "/input_" + it + ".npy").f32();
    const auto emb_ref = alm_test::read_npy(d + "/emb_" + it + ".npy").f32();
    Tensor emb = codec->embed(wav.data(), int64_t(wav.size()));
    EXPECT_MSG(size_t(emb.numel()) == emb_ref.size(), name + " input " + it + ": encoder output size");
    EXPECT_CLOSE(emb.data(), emb_ref.data(), emb_ref.size(), kTol);
    for (int64_t nq : levels) {
      const std::string tag = it + "_" + std::to_string(nq);
      const auto want = alm_test::read_npy(d + "/codes_" + tag + ".npy");
      const std::vector<int32_t> ref = want.i32();
      int64_t frames = 0;
      const std::vector<int32_t> codes = codec->encode(wav.data(), int64_t(wav.size()), nq, &frames);
      EXPECT_MSG(codes.size() == ref.size(), name + " codes " + tag + ": size");
      size_t equal = 0;
      for (size_t i = 0; i < ref.size(); ++i) equal += codes[i] == ref[i];
      // As the API test: a code may flip where two codes are equally near in float.
      EXPECT_MSG(double(equal) >= 0.999 * double(ref.size()), name + " codes " + tag + ": " + std::to_string(ref.size() - equal) +
                                                                  " of " + std::to_string(ref.size()) + " differ");
      const auto dec_ref = alm_test::read_npy(d + "/decoded_" + tag + ".npy").f32();
      Tensor audio = codec->decode(ref.data(), nq, int64_t(ref.size()) / nq);
      EXPECT_MSG(size_t(audio.numel()) == dec_ref.size(), name + " decoded " + tag + ": size");
      EXPECT_CLOSE(audio.data(), dec_ref.data(), dec_ref.size(), kTol);
    }
  }
}

}  // namespace

TEST(causal_codec_matches_the_reference) { check_config("causal", {2, 4}); }
TEST(noncausal_codec_matches_the_reference) { check_config("noncausal", {2, 3}); }

TEST(bad_codes_and_inputs_are_clear_errors) {
  auto codec = CodecModel::load(dir_of("causal") + "/engine.safetensors", backend_named("cpu"));
  const std::vector<int32_t> bad = {0, 1, 99999, 2};
  EXPECT_THROWS_CODE(codec->decode(bad.data(), 2, 2), "ERR_AUDIOLM_INVALID_ARGUMENT");
  std::vector<float> wav(100, 0.1f);
  wav[17] = std::nanf("");
  int64_t frames = 0;
  EXPECT_THROWS_CODE(codec->encode(wav.data(), 100, 2, &frames), "ERR_AUDIOLM_INVALID_ARGUMENT");
  EXPECT_THROWS_CODE(codec->encode(wav.data(), 100, 99, &frames), "ERR_AUDIOLM_INVALID_ARGUMENT");
}

TEST_MAIN()
