// snap.cu — the decode scheme's snap on the GPU (SPEC.md 10.6, 10.7). One block of 1024 threads
// per row (grid-stride over rows): the row's sum of squares by block_tree_sum, the pick by
// block_pick_row_fast (9.4: block_pick_row's out, each score hashed once), the d picked values and
// q in shared memory, the norm of the picked values and each of the P scores by one warp's
// warp_chunk_sum (d <= 1024: one chunk of core section 7's tree), the argmax by one thread in
// index order. Every sum is section 7's tree and every element step the core's, so the bits equal
// the CPU's whatever the batch, grid or device.
#include <algorithm>

#include "device_common.cuh"
#include "launch_util.cuh"
#include "pick_row.cuh"
#include "tree_sum.cuh"
#include "snap_kernels.h"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kSnapThreads = 1024;  // the pick's passes over H go 1024 indices at a time

int64_t snap_blocks(int64_t rows) { return std::max<int64_t>(1, std::min(rows, kMaxGridX)); }

template <typename E>
__global__ void __launch_bounds__(kSnapThreads)
snap_kernel(const typename E::Bits* h, const int64_t* seeds, const float* codebook, int64_t rows,
            int64_t H, int P, int d, int64_t* k_out, bool* bad_out, float* scores_out,
            float* q_out, float* scratch) {
  __shared__ int64_t idx[kSnapMax];
  __shared__ float q[kSnapMax];
  __shared__ float s[kSnapMax];
  __shared__ float d2_shared;
  float* tree = scratch + blockIdx.x * block_tree_scratch(H);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const auto* hr = h + row * H;
    float* sr = scores_out + row * P;
    float* qr = q_out + row * d;
    const float sum_sq = block_tree_sum(RowTerms<E, true>{hr}, H, tree);  // ends with a barrier
    if (snap_row_bad(pr_sqrt(sum_sq))) {  // the same value in every thread
      for (int j = threadIdx.x; j < P; j += blockDim.x) sr[j] = 0.0f;
      for (int m = threadIdx.x; m < d; m += blockDim.x) qr[m] = 0.0f;
      if (threadIdx.x == 0) {
        k_out[row] = kSnapBadK;
        bad_out[row] = true;
      }
      continue;
    }
    const float d1 = artifact_divisor(sum_sq);
    block_pick_row_fast(static_cast<uint32_t>(seeds[row]), H, d, idx);
    __syncthreads();
    for (int m = threadIdx.x; m < d; m += blockDim.x) q[m] = pr_div(E::widen(hr[idx[m]]), d1);
    __syncthreads();
    if (warp == 0) {
      const float g_sum_sq = warp_chunk_sum(RowTerms<F32, true>{q}, d, 0);
      if (lane == 0) d2_shared = artifact_divisor(g_sum_sq);
    }
    __syncthreads();
    const float d2 = d2_shared;
    for (int m = threadIdx.x; m < d; m += blockDim.x) {
      const float v = pr_div(q[m], d2);
      q[m] = v;
      qr[m] = v;
    }
    __syncthreads();
    for (int j = warp; j < P; j += warps) {
      const float v = warp_chunk_sum(ProductTerms<F32, F32>{q, codebook + static_cast<int64_t>(j) * d}, d, 0);
      if (lane == 0) {
        s[j] = canonicalize_nan(v);
        sr[j] = s[j];
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int best = 0;
      for (int j = 1; j < P; ++j)
        if (snap_better(s[j], s[best])) best = j;
      k_out[row] = best;
      bad_out[row] = false;
    }
    __syncthreads();  // idx, q and s are rewritten for the next row
  }
}

}  // namespace

size_t snap_scratch_floats(int64_t rows, int64_t H) {
  return static_cast<size_t>(snap_blocks(rows) * block_tree_scratch(H));
}

cudaError_t launch_snap(const void* h, FloatType type, const int64_t* seeds, const float* codebook,
                        int64_t rows, int64_t H, int64_t P, int64_t d, int64_t* k, bool* bad,
                        float* scores, float* q, float* scratch, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (P < 1 || P > kSnapMax || d < 1 || d > kSnapMax || d > H) return cudaErrorInvalidValue;
  const auto blocks = static_cast<unsigned>(snap_blocks(rows));
  with_element_type(type, [&](auto e) {
    using E = decltype(e);
    snap_kernel<E><<<blocks, kSnapThreads, 0, stream>>>(
        static_cast<const typename E::Bits*>(h), seeds, codebook, rows, H, static_cast<int>(P),
        static_cast<int>(d), k, bad, scores, q, scratch);
  });
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace pocrand
