// pick.cu — pick_indices on the GPU (SPEC.md 9.4): one block per row runs block_pick_row.
#include <algorithm>

#include "kernels.h"
#include "launch_util.cuh"
#include "pick_row.cuh"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kPickThreads = 256;

__global__ void __launch_bounds__(kPickThreads)
pick_kernel(const int64_t* seeds, int64_t rows, int64_t dim, int64_t k, int64_t* out) {
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x)
    block_pick_row(static_cast<uint32_t>(seeds[row]), dim, k, out + row * k);
}

}  // namespace

cudaError_t launch_pick(const int64_t* seeds, int64_t rows, int64_t dim, int64_t k, int64_t* out,
                        cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(std::min(rows, kMaxGridX));
  pick_kernel<<<blocks, kPickThreads, 0, stream>>>(seeds, rows, dim, k, out);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace pocrand
