// pick_row.h — pick(seed, dim, k) of SPEC.md 9.4 for one row on the CPU, torch-free, the row's
// indices split between threads (cpu::parallel_for). Used by the pick op, the artifacts and the
// snap. In an anonymous namespace: each kernel file gets its own copy.
#pragma once

#include <stdint.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "../core/pocrand_core.h"
#include "parallel.h"

namespace pocrand {
namespace cpu {
namespace {

// pick(seed, dim, k) (9.4) into out[0..k). The k-th smallest score T is found digit by digit
// (8 bits at a time, most significant first: count the scores that share the digits found so
// far, by their next digit, and take the digit where the k-th of them falls); then the scores
// below T are listed in ascending index order and T's index goes last. Counting is
// order-independent, so splitting the indices between threads changes nothing.
void pick_row(uint32_t seed, int64_t dim, int64_t k, int64_t* out) {
  constexpr int64_t kPickGrain = int64_t{1} << 16;
  uint32_t prefix = 0, mask = 0;
  int64_t rank = k;  // 1-based rank of T among the scores that match prefix
  for (int shift = 24; shift >= 0; shift -= 8) {
    int64_t hist[256] = {0};
    std::mutex merge;
    parallel_for(0, dim, kPickGrain, [&](int64_t i0, int64_t i1) {
      int64_t local[256] = {0};
      for (int64_t i = i0; i < i1; ++i) {
        const uint32_t s = pick_score(static_cast<uint32_t>(i), seed);
        if ((s & mask) == prefix) ++local[(s >> shift) & 255u];
      }
      const std::lock_guard<std::mutex> lock(merge);
      for (int d = 0; d < 256; ++d) hist[d] += local[d];
    });
    uint32_t digit = 0;
    while (rank > hist[digit]) rank -= hist[digit++];
    prefix |= digit << shift;
    mask |= 255u << shift;
  }
  const uint32_t T = prefix;
  // Scores below T, in index order: count per block, then each block writes at its offset.
  const int64_t blocks = (dim + kPickGrain - 1) / kPickGrain;
  std::vector<int64_t> below(blocks + 1, 0);
  parallel_for(0, blocks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t hi = std::min(dim, (c + 1) * kPickGrain);
      for (int64_t i = c * kPickGrain; i < hi; ++i) {
        const uint32_t s = pick_score(static_cast<uint32_t>(i), seed);
        if (s < T) ++below[c + 1];
        if (s == T) out[k - 1] = i;
      }
    }
  });
  for (int64_t c = 0; c < blocks; ++c) below[c + 1] += below[c];
  parallel_for(0, blocks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      int64_t at_ = below[c];
      const int64_t hi = std::min(dim, (c + 1) * kPickGrain);
      for (int64_t i = c * kPickGrain; i < hi; ++i)
        if (pick_score(static_cast<uint32_t>(i), seed) < T) out[at_++] = i;
    }
  });
}

}  // namespace
}  // namespace cpu

using cpu::pick_row;

}  // namespace pocrand
