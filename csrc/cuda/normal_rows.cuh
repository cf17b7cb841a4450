// normal_rows.cuh — whole rows of normal(seed, n) (core section 5), one thread per Box-Muller
// pair: the generator kernels (generators.cu) and the unit-normal rows that store the normals
// before they are normalised (unit_normal.cu).
#pragma once

#include "../core/pocrand_core.h"
#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"

namespace pocrand {
namespace cuda {
namespace {

// Where a kernel finds row r's seed: an int64 array in device memory (the seeds-tensor ops, which
// CUDA graphs replay with new seeds), or the launch's own parameters (InlineSeeds, no copy).
struct SeedArray {
  const int64_t* p;
  __device__ uint32_t operator()(int64_t r) const { return static_cast<uint32_t>(p[r]); }
};
struct SeedValues {
  InlineSeeds s;
  __device__ uint32_t operator()(int64_t r) const { return s.v[r]; }
};

// This thread's Box-Muller pairs j (its global index, then every `stride`, the grid's width) of
// normal(seed, len) with p pairs: out[base + j] and, while p + j < len, out[base + p + j] (an odd
// len drops the last second value). The device twin of the CPU's normal_pairs (cpu/box_muller.h).
// The caller passes the stride, computed once outside its row loop.
template <typename Store>
__device__ __forceinline__ void thread_pairs(uint32_t seed, uint32_t p, uint32_t len, int64_t base,
                                             uint32_t stride, const Store& store) {
  for (uint32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < p; j += stride) {
    const NormalPair v = normal_pair(j, p, seed);
    store(base + j, v.first);
    if (p + j < len) store(base + p + j, v.second);
  }
}

// One thread per Box-Muller pair j of each row: writes out[j] and out[p + j]. Indices within a
// row are 32-bit (n < 2^31); only the row's base offset is 64-bit.
// (__grid_constant__: the seeds are read in place from the launch parameters, never copied.)
template <typename Seeds, typename Store>
__global__ void normal_kernel(const __grid_constant__ Seeds seeds, int64_t rows, int64_t n,
                              Store store) {
  const auto p = static_cast<uint32_t>(normal_pair_count(static_cast<uint64_t>(n)));
  const auto n32 = static_cast<uint32_t>(n);
  const uint32_t stride = gridDim.x * blockDim.x;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y)
    thread_pairs(seeds(row), p, n32, row * n, stride, store);
}

template <typename Seeds>
cudaError_t normal(const Seeds& seeds, int64_t rows, int64_t n, FloatType out_type, void* out,
                   cudaStream_t stream) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  return with_store(out_type, out, [&](auto store) {
    normal_kernel<<<grid_for(p, rows), kThreads, 0, stream>>>(seeds, rows, n, store);
  });
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
