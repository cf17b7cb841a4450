// launch_util.cuh — grid shapes and thread indexing shared by the CUDA kernel files.
#pragma once

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include <algorithm>

namespace pocrand {
namespace cuda {

constexpr int kThreads = 256;
constexpr int64_t kMaxGridX = 1 << 20;   // grid-stride beyond this many blocks
constexpr int64_t kMaxGridY = 65535;     // rows beyond this are walked by a y-stride loop

inline dim3 grid_for(int64_t items, int64_t rows, int threads = kThreads) {
  const int64_t x = std::max<int64_t>(1, std::min((items + threads - 1) / threads, kMaxGridX));
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(std::min(rows, kMaxGridY)));
}

inline size_t align_up(size_t x) { return (x + 255) & ~size_t{255}; }

__device__ __forceinline__ int64_t global_thread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

}  // namespace cuda
}  // namespace pocrand
