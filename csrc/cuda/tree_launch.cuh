// tree_launch.cuh — the fixed-order sum of core section 7 over whole rows in global memory, by
// launches: one kernel per tree level (chunk_tree_kernel, one warp per chunk: warp_chunk_sum), or
// one block per chunk for terms that are costly to compute (chunk_sums_by_block_kernel:
// block_chunk_sum); both sums are instantiations of tree_sum.cuh's chunk_tree. Used by the
// unit-normal rows (unit_normal.cu) and the distances (distances.cu).
#pragma once

#include <algorithm>

#include "../core/pocrand_core.h"
#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"
#include "tree_sum.cuh"

namespace pocrand {
namespace cuda {
namespace {

// out[row * chunks + c] = sum of chunk c of row `row`, one block (kChunkThreads) per chunk.
template <typename Term>
__global__ void __launch_bounds__(kChunkThreads)
chunk_sums_by_block_kernel(int64_t rows, int64_t n, int64_t chunks,
                           const __grid_constant__ Term term, float* out) {
  __shared__ float partial[kChunkThreads];
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto terms = term.row(row);
    for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
      const float v = block_chunk_sum(terms, n, c, partial);
      if (threadIdx.x == 0) out[row * chunks + c] = v;
    }
  }
}

template <typename Term>
__global__ void __launch_bounds__(kTreeWarps * 32)
chunk_tree_kernel(int64_t rows, int64_t n, int64_t chunks, const __grid_constant__ Term term,
                  float* out) {
  const int64_t first_chunk = static_cast<int64_t>(blockIdx.x) * kTreeWarps + (threadIdx.x >> 5);
  const int64_t chunk_stride = static_cast<int64_t>(gridDim.x) * kTreeWarps;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto terms = term.row(row);
    for (int64_t c = first_chunk; c < chunks; c += chunk_stride) {
      const float v = warp_chunk_sum(terms, n, c);
      if ((threadIdx.x & 31) == 0) out[row * chunks + c] = v;
    }
  }
}

struct PlainTerm {  // the previous level's chunk sums
  const float* in;
  int64_t row_stride;
  __device__ RowTerms<F32, false> row(int64_t r) const { return {in + r * row_stride}; }
};

template <typename E>
struct SquareTerm {  // x^2 of a float32 / fp16 / bf16 row
  const void* x;
  int64_t row_stride;
  __device__ RowTerms<E, true> row(int64_t r) const {
    return {static_cast<const typename E::Bits*>(x) + r * row_stride};
  }
};

int64_t chunk_count(int64_t n) { return (n + kChunk - 1) / kChunk; }

size_t workspace_floats_one_row(int64_t n) {
  size_t total = 0;
  do {
    n = chunk_count(n);
    total += static_cast<size_t>(n);
  } while (n > 1);
  return total;
}

dim3 tree_grid(int64_t chunks, int64_t rows) {
  return dim3(static_cast<unsigned>(std::min((chunks + kTreeWarps - 1) / kTreeWarps, kMaxGridX)),
              static_cast<unsigned>(std::min(rows, kMaxGridY)));
}

// Runs every level of the tree for `rows` sums of n terms; returns a pointer to the rows final
// sums (inside `work`, which holds reduction_workspace_floats(rows, n) floats).
template <typename Term>
float* fixed_order_sums(int64_t rows, int64_t n, Term first, float* work, cudaStream_t stream) {
  int64_t chunks = chunk_count(n);
  float* level = work;
  chunk_tree_kernel<<<tree_grid(chunks, rows), kTreeWarps * 32, 0, stream>>>(rows, n, chunks,
                                                                            first, level);
  while (chunks > 1) {
    const int64_t next = chunk_count(chunks);
    float* out = level + rows * chunks;
    chunk_tree_kernel<<<tree_grid(next, rows), kTreeWarps * 32, 0, stream>>>(
        rows, chunks, next, PlainTerm{level, chunks}, out);
    level = out;
    chunks = next;
  }
  return level;  // [rows], one sum per row
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
