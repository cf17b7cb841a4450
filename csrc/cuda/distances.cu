// distances.cu — the Phase-2 distances on the GPU (SPEC.md section 8): for each row,
// norm(x[perm] / norm(x) - target), two fixed-order sums over the row (tree_launch.cuh). Rows of at
// most 1024 chunks finish each sum in the kernel that needs it: four launches in all.
#include <algorithm>

#include "../core/pocrand_core.h"
#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"
#include "tree_launch.cuh"

namespace pocrand {
namespace cuda {
namespace {

template <typename L, typename T>
struct DistanceRow {
  const typename L::Bits* logits;  // this row
  const int64_t* perm;             // this row
  const typename T::Bits* target;
  float nx;
  int64_t V;
  int64_t row_offset;             // row * V, for error reporting
  unsigned long long* first_bad;  // this row's smallest out-of-range flat index
  __device__ float operator()(int64_t i) const {
    const int64_t p = perm[i];
    if (p < 0 || p >= V) {
      atomicMin(first_bad, static_cast<unsigned long long>(row_offset + i));
      return 0.0f;
    }
    const float y = pr_div(L::widen(logits[p]), nx);
    return square(pr_sub(y, T::widen(target[i])));
  }
};

template <typename L, typename T>
struct DistanceTerm {
  const void* logits;
  const int64_t* perm;
  const void* target;
  const float* norm_sq;  // [rows] sum of x^2
  int64_t V;
  unsigned long long* first_bad;  // [rows]
  __device__ DistanceRow<L, T> row(int64_t r) const {
    return {static_cast<const typename L::Bits*>(logits) + r * V, perm + r * V,
            static_cast<const typename T::Bits*>(target), pr_sqrt(norm_sq[r]), V, r * V,
            first_bad + r};
  }
};

// The distance of a row from its two sums: NaN unless the norm is not zero, Inf or NaN and every
// permutation entry of the row was in range.
__device__ float distance_verdict(float norm_sq, float dist_sq, unsigned long long first_bad) {
  const float nx = pr_sqrt(norm_sq);
  const bool valid = nx > 0.0f && nx <= 0x1.fffffep127f && first_bad == ~0ull;
  return valid ? canonicalize_nan(pr_sqrt(dist_sq)) : pr_from_bits(kCanonicalNaN);
}

__global__ void distance_finish_kernel(const float* norm_sq, const float* dist_sq,
                                       const unsigned long long* first_bad, int64_t rows,
                                       float* out) {
  for (int64_t row = global_thread(); row < rows; row += thread_stride())
    out[row] = distance_verdict(norm_sq[row], dist_sq[row], first_bad[row]);
}

// Rows of at most 1024 chunks (V <= 2^20) finish their sums in the kernels that need them, one
// warp per row, instead of in a separate tree level each: four launches in all, not six.
__device__ __forceinline__ int64_t warp_global() {
  return (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
}
__device__ __forceinline__ int64_t warp_stride() {
  return (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
}

// norm_sq[row] from the norm pass's chunk sums; also resets first_bad for the distance pass.
__global__ void norm_finish_kernel(const float* chunk_sums, int64_t rows, int64_t chunks,
                                   float* norm_sq, unsigned long long* first_bad) {
  for (int64_t row = warp_global(); row < rows; row += warp_stride()) {
    const float s = last_level_sum(chunk_sums + row * chunks, chunks);
    if ((threadIdx.x & 31) == 0) {
      norm_sq[row] = s;
      first_bad[row] = ~0ull;
    }
  }
}

__global__ void distance_finish_from_chunks_kernel(const float* norm_sq, const float* chunk_sums,
                                                   int64_t chunks,
                                                   const unsigned long long* first_bad,
                                                   int64_t rows, float* out) {
  for (int64_t row = warp_global(); row < rows; row += warp_stride()) {
    const float d = last_level_sum(chunk_sums + row * chunks, chunks);
    if ((threadIdx.x & 31) == 0) out[row] = distance_verdict(norm_sq[row], d, first_bad[row]);
  }
}

}  // namespace

size_t distance_scratch_floats(int64_t rows, int64_t V) {
  const size_t fused = static_cast<size_t>(rows * (2 * chunk_count(V) + 1));
  return std::max(2 * reduction_workspace_floats(rows, V), fused);
}

cudaError_t launch_distances(const void* logits, FloatType logits_type, const int64_t* perm,
                             const void* target, FloatType target_type, int64_t rows, int64_t V,
                             float* out, float* scratch, unsigned long long* first_bad,
                             cudaStream_t stream) {
  float* work = scratch;
  const size_t per_pass = reduction_workspace_floats(rows, V);
  const int64_t chunks = chunk_count(V);
  const dim3 warp_per_row = grid_for(rows * 32, 1);
  if (chunks <= kChunk) {  // the pass's chunk sums, then the last level where it is needed
    float* norm_chunks = work;                   // [rows, chunks]
    float* norm_sq = norm_chunks + rows * chunks;  // [rows]
    float* dist_chunks = norm_sq + rows;           // [rows, chunks]
    with_element_type(logits_type, [&](auto l) {
      using L = decltype(l);
      chunk_tree_kernel<<<tree_grid(chunks, rows), kTreeWarps * 32, 0, stream>>>(
          rows, V, chunks, SquareTerm<L>{logits, V}, norm_chunks);
      norm_finish_kernel<<<warp_per_row, kThreads, 0, stream>>>(norm_chunks, rows, chunks, norm_sq,
                                                               first_bad);
      with_element_type(target_type, [&](auto t) {
        const DistanceTerm<L, decltype(t)> term{logits, perm, target, norm_sq, V, first_bad};
        chunk_tree_kernel<<<tree_grid(chunks, rows), kTreeWarps * 32, 0, stream>>>(
            rows, V, chunks, term, dist_chunks);
      });
    });
    distance_finish_from_chunks_kernel<<<warp_per_row, kThreads, 0, stream>>>(
        norm_sq, dist_chunks, chunks, first_bad, rows, out);
    return cudaGetLastError();
  }
  cudaError_t err = cudaMemsetAsync(first_bad, 0xff, rows * sizeof(unsigned long long), stream);
  if (err != cudaSuccess) return err;
  const float* norm_sq = nullptr;
  const float* dist_sq = nullptr;
  with_element_type(logits_type, [&](auto l) {
    using L = decltype(l);
    norm_sq = fixed_order_sums(rows, V, SquareTerm<L>{logits, V}, work, stream);
    with_element_type(target_type, [&](auto t) {
      const DistanceTerm<L, decltype(t)> term{logits, perm, target, norm_sq, V, first_bad};
      dist_sq = fixed_order_sums(rows, V, term, work + per_pass, stream);
    });
  });
  distance_finish_kernel<<<grid_for(rows, 1), kThreads, 0, stream>>>(norm_sq, dist_sq, first_bad,
                                                                     rows, out);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace pocrand
