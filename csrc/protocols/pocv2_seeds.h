// pocv2_seeds.h — the PoC v2 seed strings that C++ completes itself (SPEC.md 9.5): a nonce's pick
// and Haar strings, from the prefix "{block_hash}_{public_key}_nonce_" the Python layer
// (pocrand_ext/protocols/pocv2.py) passes to the artifacts_nonces op:
//
//   pick of k                prefix + str(nonce) + "_pick_" + str(k)
//   Haar reflection j of k   prefix + str(nonce) + "_haar_hh_" + str(k) + "_" + str(j)
//
// The patterns are generic SeedPatterns (core/sha256.h), so the CPU op and the CUDA kernels
// finish the same strings, each where it uses the seeds. Every other seed string of every
// generation is built in Python (pocrand_ext/protocols/) and reaches C++ as a prefix and suffix.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "../cpu/seeds.h"

namespace pocrand {

// The two seed families of a nonce's artifact of k values.
struct ArtifactPatterns {
  SeedPattern pick;  // prefix + str(nonce) + "_pick_{k}"
  SeedPattern haar;  // prefix + str(nonce) + "_haar_hh_{k}_" + str(j)
};

inline ArtifactPatterns artifact_patterns(c10::string_view prefix, int64_t k) {
  const std::string pick = "_pick_" + std::to_string(k), haar = "_haar_hh_" + std::to_string(k) + "_";
  return {seed_pattern(prefix, pick, false), seed_pattern(prefix, haar, true)};
}

// [len(nonces), k]: column 0 the pick seed, column c >= 1 the Haar seed j = c - 1.
inline at::Tensor derive_artifact_seeds(c10::string_view prefix, at::IntArrayRef nonces,
                                        int64_t k) {
  const ArtifactPatterns p = artifact_patterns(prefix, k);
  return derive_seed_columns(p.pick, p.haar, nonces, k);
}

}  // namespace pocrand
