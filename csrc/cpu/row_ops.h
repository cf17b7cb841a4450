// row_ops.h — the PoC v2 steps on one row, on the calling thread (SPEC.md 9.3, 9.4, 9.10, 9.11):
// the CPU kernels run them in loops that are parallel over rows. Plumbing over the core; the
// arithmetic is pocrand_core.h's.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <mutex>
#include <vector>

#include "cpu_common.h"
#include "fp_mode.h"

namespace pocrand {
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
    ieee_parallel_for(0, dim, kPickGrain, [&](int64_t i0, int64_t i1) {
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
  ieee_parallel_for(0, blocks, 1, [&](int64_t c0, int64_t c1) {
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
  ieee_parallel_for(0, blocks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      int64_t at_ = below[c];
      const int64_t hi = std::min(dim, (c + 1) * kPickGrain);
      for (int64_t i = c * kPickGrain; i < hi; ++i)
        if (pick_score(static_cast<uint32_t>(i), seed) < T) out[at_++] = i;
    }
  });
}

// Householder reflection of y[0..dim) by v (both binary32, 9.3), each result delivered in
// `storage` and widened back.
inline void reflect_row(float* y, const float* v, int64_t dim, at::ScalarType storage) {
  const float dot = tree_sum_serial([&](int64_t i) { return pr_mul(y[i], v[i]); }, dim);
  const float c = householder_coefficient(dot);
  for (int64_t i = 0; i < dim; ++i) y[i] = through_storage(householder_update(y[i], c, v[i]), storage);
}

// unit_vector(seed, dim) (9.2) into v[0..dim), each element delivered in `storage` and widened
// back; t is scratch of dim floats.
inline void unit_vector_row(uint32_t seed, int64_t dim, at::ScalarType storage, float* v, float* t) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(dim)));
  normal_pairs(seed, dim, 0, p, 0, [t](int64_t i, float x) { t[i] = x; });
  const float d = unit_vector_divisor(tree_sum_serial([&](int64_t i) { return square(t[i]); }, dim));
  for (int64_t i = 0; i < dim; ++i) v[i] = through_storage(pr_div(t[i], d), storage);
}

// haar_rotate of one row (9.10): y[0..k) (already widened) reflected by the unit vectors of
// seeds[0 .. k - 2] in order, every step delivered in `storage`. v and t: scratch of k floats.
inline void haar_row(float* y, int64_t k, const int64_t* seeds, at::ScalarType storage, float* v,
                     float* t) {
  for (int64_t j = 0; j + 1 < k; ++j) {
    unit_vector_row(static_cast<uint32_t>(seeds[j]), k, storage, v, t);
    reflect_row(y, v, k, storage);
  }
}

}  // namespace
}  // namespace pocrand
