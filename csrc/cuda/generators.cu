// generators.cu — the stream generators on the GPU (SPEC.md sections 1-5, 8 and 9.1): murmur3,
// uniform, normal (whole rows or a range of elements) and the PoC v2 concat rows. Thin loops over
// csrc/core/pocrand_core.h (torch-free): a kernel differs from its CPU twin only in how it walks
// the elements.
#include "../core/pocrand_core.h"
#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"
#include "normal_rows.cuh"

namespace pocrand {
namespace cuda {
namespace {

// ------------------------------------------------------------------------------------------
// Generators
// ------------------------------------------------------------------------------------------
__global__ void murmur3_kernel(const int64_t* keys, int64_t n, uint32_t seed, int64_t* out) {
  for (int64_t i = global_thread(); i < n; i += thread_stride())
    out[i] = murmur3(static_cast<uint32_t>(keys[i]), seed);
}

__global__ void uniform_kernel(const int64_t* seeds, int64_t rows, int64_t n, float* out) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    for (int64_t i = global_thread(); i < n; i += thread_stride())
      out[row * n + i] = uniform(static_cast<uint32_t>(i), seed);
  }
}

// Elements [start, start + m) of each row, one thread an element.
template <typename Store>
__global__ void normal_range_kernel(const int64_t* seeds, int64_t rows, int64_t n, int64_t start,
                                    int64_t m, Store store) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    for (int64_t i = global_thread(); i < m; i += thread_stride())
      store(row * m + i, normal_element(static_cast<uint32_t>(start + i), static_cast<uint32_t>(n), seed));
  }
}

// Concat inputs (core 9.1): words(row, j) is sub-seed j of a row, from a [rows, 8] array or the
// launch parameters (kInlineSeeds / 8 rows).
struct WordArray {
  const int64_t* p;
  __device__ uint32_t operator()(int64_t row, uint32_t j) const {
    return static_cast<uint32_t>(p[row * 8 + j]);
  }
};
struct WordValues {
  InlineSeeds s;
  __device__ uint32_t operator()(int64_t row, uint32_t j) const { return s.v[row * 8 + j]; }
};

// Whole rows, one thread per Box-Muller pair of a segment: blockIdx.z is the segment j (each a
// normal(word, its length) of its own, written at row * n + j * L), blockIdx.y walks the rows.
// The segment length L is passed in, so no thread divides.
template <typename Words, typename Store>
__global__ void concat_normal_kernel(const __grid_constant__ Words words, int64_t rows, int64_t n,
                                     uint32_t L, Store store) {
  const uint32_t j = blockIdx.z;
  const uint32_t len = min(L, static_cast<uint32_t>(n) - j * L);
  const auto p = static_cast<uint32_t>(normal_pair_count(len));
  const uint32_t stride = gridDim.x * blockDim.x;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y)
    thread_pairs(words(row, j), p, len, row * n + static_cast<int64_t>(j) * L, stride, store);
}

// Elements [start, start + m) of each row, one thread an element (random access).
template <typename Store>
__global__ void concat_range_kernel(const int64_t* words, int64_t rows, int64_t n, int64_t start,
                                    int64_t m, Store store) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    uint32_t w[8];
    for (int j = 0; j < 8; ++j) w[j] = static_cast<uint32_t>(words[row * 8 + j]);
    for (int64_t i = global_thread(); i < m; i += thread_stride())
      store(row * m + i, concat_normal_element(static_cast<uint32_t>(start + i),
                                               static_cast<uint32_t>(n), w));
  }
}

}  // namespace

cudaError_t launch_murmur3(const int64_t* keys, int64_t n, uint32_t seed, int64_t* out,
                           cudaStream_t stream) {
  murmur3_kernel<<<grid_for(n, 1), kThreads, 0, stream>>>(keys, n, seed, out);
  return cudaGetLastError();
}

cudaError_t launch_uniform(const int64_t* seeds, int64_t rows, int64_t n, float* out,
                           cudaStream_t stream) {
  uniform_kernel<<<grid_for(n, rows), kThreads, 0, stream>>>(seeds, rows, n, out);
  return cudaGetLastError();
}

template <typename Words>
cudaError_t concat_normal(const Words& words, int64_t rows, int64_t n, FloatType out_type,
                          void* out, cudaStream_t stream) {
  const auto n32 = static_cast<uint32_t>(n);
  const uint32_t L = concat_segment_length(n32);
  dim3 grid = grid_for(static_cast<int64_t>(normal_pair_count(L)), rows);
  grid.z = concat_segment_count(n32);  // at most 8
  return with_store(out_type, out, [&](auto store) {
    concat_normal_kernel<<<grid, kThreads, 0, stream>>>(words, rows, n, L, store);
  });
}

cudaError_t launch_normal(const int64_t* seeds, int64_t rows, int64_t n, FloatType out_type,
                          void* out, cudaStream_t stream) {
  return normal(SeedArray{seeds}, rows, n, out_type, out, stream);
}

cudaError_t launch_normal(const InlineSeeds& seeds, int64_t rows, int64_t n, FloatType out_type,
                          void* out, cudaStream_t stream) {
  if (rows > kInlineSeeds) return cudaErrorInvalidValue;
  return normal(SeedValues{seeds}, rows, n, out_type, out, stream);
}

cudaError_t launch_normal_range(const int64_t* seeds, int64_t rows, int64_t n, int64_t start,
                                int64_t end, FloatType out_type, void* out, cudaStream_t stream) {
  const int64_t m = end - start;
  return with_store(out_type, out, [&](auto store) {
    normal_range_kernel<<<grid_for(m, rows), kThreads, 0, stream>>>(seeds, rows, n, start, m, store);
  });
}

// ------------------------------------------------------------------------------------------
// Concat inputs (core 9.1)
// ------------------------------------------------------------------------------------------
cudaError_t launch_concat_normal(const int64_t* words, int64_t rows, int64_t n, int64_t start,
                                 int64_t end, FloatType out_type, void* out, cudaStream_t stream) {
  if (start == 0 && end == n) return concat_normal(WordArray{words}, rows, n, out_type, out, stream);
  const int64_t m = end - start;
  return with_store(out_type, out, [&](auto store) {
    concat_range_kernel<<<grid_for(m, rows), kThreads, 0, stream>>>(words, rows, n, start, m, store);
  });
}

cudaError_t launch_concat_normal(const InlineSeeds& words, int64_t rows, int64_t n,
                                 FloatType out_type, void* out, cudaStream_t stream) {
  if (rows * 8 > kInlineSeeds) return cudaErrorInvalidValue;
  return concat_normal(WordValues{words}, rows, n, out_type, out, stream);
}

}  // namespace cuda
}  // namespace pocrand
