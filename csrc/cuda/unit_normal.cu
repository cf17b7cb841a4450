// unit_normal.cu — unit-normal rows on the GPU: normal(seed, V) / (norm + norm_offset), the
// Phase-2 target (offset 0, SPEC.md section 8) and PoC v2's unit vectors (offset TINY, 9.2). By
// row length: one block per row in shared memory (V <= 8192), two launches that recompute the
// normals (V <= 2^20, small outputs), or the stored row and the launch-level tree (tree_launch.cuh).
#include <algorithm>

#include "../core/pocrand_core.h"
#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"
#include "tree_sum.cuh"
#include "normal_rows.cuh"
#include "tree_launch.cuh"

namespace pocrand {
namespace cuda {
namespace {


// normal(seed_r, n)[i]^2, each element computed where it is needed (random access, core
// section 5), so the unit-normal path never stores the unnormalised row.
struct NormalSquareRow {
  uint32_t seed, n;
  __device__ float operator()(int64_t i) const {
    return square(normal_element(static_cast<uint32_t>(i), n, seed));
  }
};
template <typename Seeds>
struct NormalSquareTerm {
  Seeds seeds;
  int64_t n;
  __device__ NormalSquareRow row(int64_t r) const { return {seeds(r), static_cast<uint32_t>(n)}; }
};

// out[row, i] = t[row, i] / sqrt(sums[row]), rounded to the output type.
template <typename Store>
__global__ void normalise_kernel(const float* t, const float* sums, int64_t rows, int64_t V,
                                 float norm_offset, Store store) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const float nrm = pr_add(pr_sqrt(sums[row]), norm_offset);
    for (int64_t i = global_thread(); i < V; i += thread_stride())
      store(row * V + i, canonicalize_nan(pr_div(t[row * V + i], nrm)));
  }
}

// The unit-normal path for V <= 2^20 (at most 1024 chunk sums, so one more tree level gives the
// sum), after chunk_sums_by_block_kernel over the squared normals: every block finishes each
// row's sum of squares from its chunk sums itself (a warp's work), then writes
// normal(seed, V)[i] / norm, recomputing the normals. Two launches in all.
template <typename Seeds, typename Store>
__global__ void normalise_from_chunks_kernel(const __grid_constant__ Seeds seeds, int64_t rows,
                                             int64_t V, const float* chunk_sums, int64_t chunks,
                                             float norm_offset, Store store) {
  __shared__ float norm;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    if (threadIdx.x < 32) {
      const float total = last_level_sum(chunk_sums + row * chunks, chunks);
      if (threadIdx.x == 0) norm = pr_add(pr_sqrt(total), norm_offset);
    }
    const uint32_t seed = seeds(row);
    const auto n32 = static_cast<uint32_t>(V);
    const int64_t first = global_thread();  // its normal is computed while warp 0 finds the norm
    const float t_first = first < V ? normal_element(static_cast<uint32_t>(first), n32, seed) : 0.0f;
    __syncthreads();
    const float nrm = norm;
    for (int64_t i = first; i < V; i += thread_stride()) {
      const float t = i == first ? t_first : normal_element(static_cast<uint32_t>(i), n32, seed);
      store(row * V + i, canonicalize_nan(pr_div(t, nrm)));
    }
    __syncthreads();  // norm is rewritten for the next row
  }
}

// Rows of at most kUnitRowMax elements (the layer vectors, Haar vectors, small targets): one
// block per row holds normal(seed, V) in shared memory, sums its squares with block_tree_sum and
// writes t / (norm + norm_offset). One launch, each normal computed once.
constexpr int kUnitRowMax = 8192;
constexpr int kUnitRowThreads = 1024;

template <typename Seeds, typename Store>
__global__ void __launch_bounds__(kUnitRowThreads)
unit_row_kernel(const __grid_constant__ Seeds seeds, int64_t rows, int64_t V, float norm_offset,
                Store store) {
  __shared__ float t[kUnitRowMax];
  __shared__ float levels[16];  // block_tree_scratch(kUnitRowMax) = 9 chunk and level sums
  const auto v32 = static_cast<uint32_t>(V);
  const auto p = static_cast<uint32_t>(normal_pair_count(v32));
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const uint32_t seed = seeds(row);
    for (uint32_t q = threadIdx.x; q < p; q += blockDim.x) {
      const NormalPair v = normal_pair(q, p, seed);
      t[q] = v.first;
      if (p + q < v32) t[p + q] = v.second;
    }
    __syncthreads();
    const float d = pr_add(pr_sqrt(block_tree_sum(RowTerms<F32, true>{t}, V, levels)), norm_offset);
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x)
      store(row * V + i, canonicalize_nan(pr_div(t[i], d)));
    __syncthreads();  // t is rewritten for the next row
  }
}

// (x[perm[i]] / nx - target[i])^2 for distances; records out-of-range permutation entries.
}  // namespace

size_t reduction_workspace_floats(int64_t rows, int64_t n) {
  return static_cast<size_t>(rows) * workspace_floats_one_row(n);
}

// The two-launch path recomputes every normal twice (squares, then the quotient): cheaper than a
// store and reload while the launches dominate, so it is taken for small outputs only.
bool unit_normal_fused(int64_t rows, int64_t V) {
  return V <= kChunk * kChunk && rows * V <= (int64_t{1} << 22);
}

size_t unit_normal_scratch_floats(int64_t rows, int64_t V) {
  if (V <= kUnitRowMax) return 0;  // unit_row_kernel: shared memory only
  if (unit_normal_fused(rows, V)) return static_cast<size_t>(rows * chunk_count(V));
  return static_cast<size_t>(rows * V) + reduction_workspace_floats(rows, V);
}

template <typename Seeds>
cudaError_t unit_normal(const Seeds& seeds, int64_t rows, int64_t V, float norm_offset,
                        FloatType out_type, void* out, float* scratch, cudaStream_t stream) {
  if (V <= kUnitRowMax) {
    return with_store(out_type, out, [&](auto store) {
      unit_row_kernel<<<static_cast<unsigned>(std::min(rows, kMaxGridX)), kUnitRowThreads, 0,
                        stream>>>(seeds, rows, V, norm_offset, store);
    });
  }
  if (unit_normal_fused(rows, V)) {
    const int64_t chunks = chunk_count(V);
    const dim3 grid(static_cast<unsigned>(std::min(chunks, kMaxGridX)),
                    static_cast<unsigned>(std::min(rows, kMaxGridY)));
    chunk_sums_by_block_kernel<<<grid, kChunkThreads, 0, stream>>>(
        rows, V, chunks, NormalSquareTerm<Seeds>{seeds, V}, scratch);
    return with_store(out_type, out, [&](auto store) {
      normalise_from_chunks_kernel<<<grid_for(V, rows), kThreads, 0, stream>>>(
          seeds, rows, V, scratch, chunks, norm_offset, store);
    });
  }
  float* t = scratch;
  cudaError_t err = normal(seeds, rows, V, FloatType::kFloat32, t, stream);
  if (err != cudaSuccess) return err;
  const float* sums = fixed_order_sums(rows, V, SquareTerm<F32>{t, V}, t + rows * V, stream);
  return with_store(out_type, out, [&](auto store) {
    normalise_kernel<<<grid_for(V, rows), kThreads, 0, stream>>>(t, sums, rows, V, norm_offset,
                                                                 store);
  });
}

cudaError_t launch_unit_normal(const int64_t* seeds, int64_t rows, int64_t V, float norm_offset,
                               FloatType out_type, void* out, float* scratch, cudaStream_t stream) {
  return unit_normal(SeedArray{seeds}, rows, V, norm_offset, out_type, out, scratch, stream);
}

cudaError_t launch_unit_normal(const InlineSeeds& seeds, int64_t rows, int64_t V,
                               float norm_offset, FloatType out_type, void* out, float* scratch,
                               cudaStream_t stream) {
  if (rows > kInlineSeeds) return cudaErrorInvalidValue;
  return unit_normal(SeedValues{seeds}, rows, V, norm_offset, out_type, out, scratch, stream);
}

}  // namespace cuda
}  // namespace pocrand
