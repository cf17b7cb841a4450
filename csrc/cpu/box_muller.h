// box_muller.h — normal rows on the CPU, torch-free: Box-Muller pairs of core section 5 computed a
// block at a time in simple loops that the compiler vectorises, written through a store. Plumbing
// over csrc/core/pocrand_core.h; no arithmetic of its own. In an anonymous namespace: each kernel
// file gets its own copy (target_clones functions must not be merged across files).
#pragma once

#include <stdint.h>

#include <algorithm>

#include "../core/pocrand_core.h"
#include "storage.h"

namespace pocrand {
namespace cpu {
namespace {

constexpr int64_t kGrain = 4096;  // elements per task: large enough to hide scheduling
constexpr int kPairBlock = 256;   // Box-Muller pairs computed per vectorised block

// Box-Muller pairs j0 .. j0 + count - 1 (count <= kPairBlock) of a row with p pairs: the stages
// of core section 5 as separate simple loops, each of which the compiler vectorises.
POCRAND_CPU_CLONES
void normal_pair_block(uint32_t seed, uint32_t p, uint32_t j0, int count, float* __restrict first,
                       float* __restrict second) {
  float r[kPairBlock], theta[kPairBlock], s[kPairBlock], c[kPairBlock];
  for (int k = 0; k < count; ++k) r[k] = box_muller_radius(uniform(j0 + static_cast<uint32_t>(k), seed));
  for (int k = 0; k < count; ++k)
    theta[k] = box_muller_angle(uniform(p + j0 + static_cast<uint32_t>(k), seed));
  for (int k = 0; k < count; ++k) sincos_reduced(theta[k], &s[k], &c[k]);
  for (int k = 0; k < count; ++k) {
    first[k] = pr_mul(r[k], c[k]);
    second[k] = pr_mul(r[k], s[k]);
  }
}

// Box-Muller pairs [j0, j1) of normal(seed, n), written through store at base + index.
template <typename Store>
void normal_pairs(uint32_t seed, int64_t n, int64_t j0, int64_t j1, int64_t base, const Store& store) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  float first[kPairBlock], second[kPairBlock];
  for (int64_t jb = j0; jb < j1; jb += kPairBlock) {
    const int count = static_cast<int>(std::min<int64_t>(kPairBlock, j1 - jb));
    normal_pair_block(seed, static_cast<uint32_t>(p), static_cast<uint32_t>(jb), count, first, second);
    // out[j] for every pair, out[p + j] only while p + j < n (an odd n drops the last one).
    const int seconds = static_cast<int>(std::min<int64_t>(count, n - p - jb));
    for (int k = 0; k < count; ++k) store(base + jb + k, first[k]);
    for (int k = 0; k < seconds; ++k) store(base + p + jb + k, second[k]);
  }
}

}  // namespace
}  // namespace cpu
}  // namespace pocrand
