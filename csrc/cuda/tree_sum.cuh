// tree_sum.cuh — the fixed-order sum of core section 7 on the device, written once: chunk_tree,
// the tree over one chunk of 1024 terms by any layout of threads, and the sums every kernel uses
// (one warp per chunk, a warp's small sums, a block per chunk, a block over any number of terms),
// each an instantiation of it. The host's version is tree_sum in csrc/core/pocrand_core.h.
//
// The one specialised copy is chunk_dot in chunk_dot.cuh (the reflection's chunk kernel,
// near its memory floor): it equals chunk_tree<32, 1, TreeResult::kEveryLane> over the same
// products, which tests/cpp/tree_sum_gpu.cu checks bit for bit.
#pragma once

#include <stdint.h>

#include "../core/pocrand_core.h"
#include "device_common.cuh"

namespace pocrand {
namespace cuda {
namespace {

// Where chunk_tree leaves the chunk's sum: in thread 0 (lane 0 of a warp), in every lane through
// a broadcast from lane 0, or in every lane by butterflies (lane l adds lane l ^ w: for the lane
// whose bit w is clear that is the tree's pair (l, l + w); for its partner the same pair added in
// the other order, and IEEE addition is commutative).
enum class TreeResult { kThread0, kBroadcast, kEveryLane };

// a[k] = a[k] + a[k + H] for k < H, then the same for H/2, ..., 1: the tree's widths inside a
// thread. (A template, not a loop over H: the code of every instantiation is then the same as that of
// the hand-written sums it replaced; a loop, or a lambda for the terms, gave ptxas other code.)
template <int H, int N>
__device__ __forceinline__ void halve(float (&a)[N]) {
  if constexpr (H >= 1) {
#pragma unroll
    for (int k = 0; k < H; ++k) a[k] = pr_add(a[k], a[k + H]);
    halve<H / 2>(a);
  }
}

// The tree of core section 7 over one chunk, by Warps warps (T = 32 Warps threads, threadIdx.x
// 0 .. T-1 for Warps > 1, any one warp for Warps = 1) holding K terms each (K a power of two):
// thread t holds terms t + T k (k = 0 .. K-1) of the chunk, `first` being its term 0's index and
// terms(i) the terms; indices at or beyond n are the +0.0 padding. The layout covers K T <= 1024
// terms; the tree's widths fall on it in this order:
//   512 .. K T   each held term against padding: term + 0.0 (only when K T < 1024; once is
//                enough, as x + 0.0 + 0.0 = x + 0.0 for every x: only -0 changes, to +0);
//   K T/2 .. T   terms k and k + w/T of a thread, in registers (the first as the terms arrive:
//                only K/2 partial sums are live, so more loads can be in flight);
//   T/2 .. 32    threads t and t + w through `partial` (T floats of shared memory, a barrier a
//                width; every thread of the block must call);
//   16 .. 1      lanes l and l + w of warp 0 through shuffles.
// Exactly the pairing of the section 7 tree, so every layout gives the same bits.
template <int K, int Warps, TreeResult R = TreeResult::kThread0, typename Terms, typename Index>
__device__ __forceinline__ float chunk_tree(const Terms& terms, Index first, Index n,
                                            float* partial = nullptr) {
  constexpr int T = 32 * Warps;
  constexpr bool kPadded = K * T < kChunk;
  static_assert(K >= 1 && (K & (K - 1)) == 0 && K * T <= kChunk, "a power-of-two layout of a chunk");
  static_assert(Warps == 1 || R == TreeResult::kThread0, "a block's sum is left in thread 0");
  float v;
  if constexpr (K == 1) {
    v = first < n ? (kPadded ? pr_add(terms(first), 0.0f) : terms(first)) : 0.0f;
  } else {
    float a[K / 2];
#pragma unroll
    for (int k = 0; k < K / 2; ++k)
      a[k] = first + T * k < n ? (kPadded ? pr_add(terms(first + T * k), 0.0f) : terms(first + T * k))
                               : 0.0f;
#pragma unroll
    for (int k = 0; k < K / 2; ++k) {
      const Index i = first + T * (k + K / 2);
      a[k] = pr_add(a[k], i < n ? (kPadded ? pr_add(terms(i), 0.0f) : terms(i)) : 0.0f);
    }
    halve<K / 4>(a);
    v = a[0];
  }
  if constexpr (Warps > 1) {
    const int t = threadIdx.x;
    partial[t] = v;
    __syncthreads();
#pragma unroll
    for (int w = T / 2; w >= 32; w /= 2) {
      if (t < w) partial[t] = pr_add(partial[t], partial[t + w]);
      __syncthreads();
    }
    v = t < 32 ? partial[t] : 0.0f;
    if (t < 32) {
#pragma unroll
      for (int w = 16; w >= 1; w /= 2) v = pr_add(v, __shfl_down_sync(0xffffffffu, v, w));
    }
    __syncthreads();  // partial is free again
    return v;
  } else if constexpr (R == TreeResult::kEveryLane) {
#pragma unroll
    for (int w = 16; w >= 1; w /= 2) v = pr_add(v, __shfl_xor_sync(0xffffffffu, v, w));
    return v;
  } else {
#pragma unroll
    for (int w = 16; w >= 1; w /= 2) v = pr_add(v, __shfl_down_sync(0xffffffffu, v, w));
    return R == TreeResult::kBroadcast ? __shfl_sync(0xffffffffu, v, 0) : v;
  }
}

// ---- the instantiations the kernels use ----

constexpr int kTreeWarps = 8;  // chunks (warps) per block of the launch-level tree

// The sum of chunk c of n terms, by one whole warp (lane l holds terms l + 32k, k = 0..31: no
// shared memory, no barrier); the result is in lane 0.
template <typename Terms>
__device__ __forceinline__ float warp_chunk_sum(const Terms& terms, int64_t n, int64_t c) {
  return chunk_tree<32, 1>(terms, c * kChunk + (threadIdx.x & 31), n);
}

// The same sum for n <= 32 terms by one warp, lane l holding term l (lanes >= n ignored); every
// lane gets the result.
__device__ __forceinline__ float warp_small_sum(float term, int n) {
  return chunk_tree<1, 1, TreeResult::kBroadcast>([&](int) { return term; },
                                                  static_cast<int>(threadIdx.x & 31), n);
}

// The chunk sum by a block of kChunkThreads threads, four terms each, for terms that are costly
// to compute (a warp would evaluate 32 of them one after another). Result in thread 0.
constexpr int kChunkThreads = kChunk / 4;
template <typename Terms>
__device__ float block_chunk_sum(const Terms& terms, int64_t n, int64_t c, float* partial) {
  return chunk_tree<4, kChunkThreads / 32>(terms, c * kChunk + threadIdx.x, n, partial);
}

// The last tree level over a row's (at most 1024) chunk sums, by one warp (core section 7); the
// result is in lane 0. A single chunk sum is already the row's sum.
__device__ float last_level_sum(const float* sums, int64_t chunks) {
  return chunks == 1 ? sums[0] : warp_chunk_sum(RowTerms<F32, false>{sums}, chunks, 0);
}

// Sum of terms(0 .. n-1) (n >= 1) in the order of core section 7 by the whole block (blockDim.x
// a multiple of 32, every thread calling): warp w sums chunks w, w + warps, ... of each level
// (warp_chunk_sum), the levels meeting in `scratch` (block_tree_scratch(n) floats of global
// memory owned by this block). Every thread gets the result. Ends with a barrier, so the caller
// may overwrite what the terms read.
__host__ __device__ inline int64_t block_tree_scratch(int64_t n) { return tree_scratch(n); }

template <typename Terms>
__device__ float block_tree_sum(const Terms& terms, int64_t n, float* scratch) {
  __shared__ float result;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  int64_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks == 1) {  // one chunk: warp 0's sum, handed to the block through shared memory
    if (warp == 0) {
      const float v = warp_chunk_sum(terms, n, 0);
      if (lane == 0) result = v;
    }
  } else {
    for (int64_t c = warp; c < chunks; c += warps) {
      const float v = warp_chunk_sum(terms, n, c);
      if (lane == 0) scratch[c] = v;
    }
    __syncthreads();
    float* level = scratch;
    while (chunks > 1) {
      const int64_t next = (chunks + kChunk - 1) / kChunk;
      float* sums = level + chunks;
      for (int64_t c = warp; c < next; c += warps) {
        const float v = warp_chunk_sum(RowTerms<F32, false>{level}, chunks, c);
        if (lane == 0) sums[c] = v;
      }
      __syncthreads();
      level = sums;
      chunks = next;
    }
    if (threadIdx.x == 0) result = level[0];
  }
  __syncthreads();
  const float total = result;
  __syncthreads();  // `result` and the scratch are free again
  return total;
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
