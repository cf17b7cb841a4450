// murmur3_rows.cu — murmur3 of a [rows, n] key tensor with one seed per row, read from device
// memory (the deployed module's _batched_murmur3_32): one launch, no host round trip.
#include "../core/pocrand_core.h"
#include "kernels.h"
#include "launch_util.cuh"

namespace pocrand {
namespace cuda {
namespace {

__global__ void murmur3_rows_kernel(const int64_t* keys, const int64_t* seeds, int64_t rows,
                                    int64_t n, int64_t* out) {  // keys, out: [rows, n]
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    for (int64_t i = global_thread(); i < n; i += thread_stride())
      out[row * n + i] = murmur3(static_cast<uint32_t>(keys[row * n + i]), seed);
  }
}

}  // namespace

cudaError_t launch_murmur3_rows(const int64_t* keys, const int64_t* seeds, int64_t rows,
                                int64_t n, int64_t* out, cudaStream_t stream) {
  murmur3_rows_kernel<<<grid_for(n, rows), kThreads, 0, stream>>>(keys, seeds, rows, n, out);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace pocrand
