#include "core/sampling.h"

namespace alm {
namespace {

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t rng_bits(uint64_t seed, uint64_t counter) {
  const uint64_t key = mix64(seed ^ 0x6a09e667f3bcc909ULL);
  return mix64(key + (counter + 1) * 0x9e3779b97f4a7c15ULL);
}

double rng_uniform(uint64_t seed, uint64_t counter) {
  return double(rng_bits(seed, counter) >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace alm
