// pick_row.cuh — pick(seed, dim, k) of core 9.4 by one thread block, for the pick and artifact
// kernels and the snap of rows longer than 16384 (snap.cu; shorter rows take snap_pick.cuh).
// Integer work only: counting and ordered compaction, no float arithmetic.
#pragma once

#include <stdint.h>

#include "../core/pocrand_core.h"

namespace pocrand {
namespace cuda {
namespace {

// The k-th smallest score T is found digit by digit, 8 bits at a time from the top: the block
// counts, by their next digit, the scores that share the digits found so far (shared-memory
// atomics: a count does not depend on the order of the additions), and the digit where the k-th
// of them falls is T's. Then tiles of blockDim.x indices are compacted in index order (a ballot
// and a prefix count per warp): the scores below T in ascending index order, and T's index at
// out[k - 1]. Every thread of the block calls it; blockDim.x is a multiple of 32, at most 1024.
__device__ void block_pick_row(uint32_t seed, int64_t dim, int64_t k, int64_t* out) {
  __shared__ unsigned int hist[256];
  __shared__ uint32_t found_prefix;
  __shared__ int64_t found_rank;
  __shared__ int warp_count[32];
  uint32_t prefix = 0, mask = 0;
  int64_t rank = k;  // 1-based rank of T among the scores that match `prefix` under `mask`
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int d = threadIdx.x; d < 256; d += blockDim.x) hist[d] = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
      const uint32_t s = pick_score(static_cast<uint32_t>(i), seed);
      if ((s & mask) == prefix) atomicAdd(&hist[(s >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (threadIdx.x < 32) {  // warp 0 finds the digit: lane l counts digits 8l .. 8l + 7
      const int lane = threadIdx.x;
      int64_t own = 0;
      for (int d = 0; d < 8; ++d) own += hist[8 * lane + d];
      int64_t below = own;  // inclusive prefix count over the lanes
      for (int w = 1; w < 32; w *= 2) {
        const int64_t other = __shfl_up_sync(0xffffffffu, below, w);
        if (lane >= w) below += other;
      }
      below -= own;  // scores in the lanes before this one
      const unsigned here = __ballot_sync(0xffffffffu, below < rank && rank <= below + own);
      if (lane == __ffs(here) - 1) {  // the one lane whose digits hold the rank-th score
        uint32_t digit = 8 * lane;
        int64_t r = rank - below;
        while (r > hist[digit]) r -= hist[digit++];
        found_prefix = prefix | (digit << shift);
        found_rank = r;
      }
    }
    __syncthreads();
    prefix = found_prefix;
    rank = found_rank;
    mask |= 255u << shift;
  }
  const uint32_t T = prefix;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  int64_t base = 0;  // indices below T listed so far
  for (int64_t tile = 0; tile < dim; tile += blockDim.x) {
    const int64_t i = tile + threadIdx.x;
    const uint32_t s = i < dim ? pick_score(static_cast<uint32_t>(i), seed) : 0xffffffffu;
    const bool below = i < dim && s < T;
    if (i < dim && s == T) out[k - 1] = i;
    const unsigned ballot = __ballot_sync(0xffffffffu, below);
    if (lane == 0) warp_count[warp] = __popc(ballot);
    __syncthreads();
    int64_t before = 0, total = 0;
    for (int w = 0; w < warps; ++w) {
      before += w < warp ? warp_count[w] : 0;
      total += warp_count[w];
    }
    if (below) out[base + before + __popc(ballot & ((1u << lane) - 1u))] = i;
    base += total;
    __syncthreads();  // warp_count is rewritten by the next tile
  }
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
