// decode.cu — the gonka-poc ops on the GPU (SPEC.md section 10): thin kernels over core
// section 10, the twins of cpu/decode.cpp. The decode normals derive each row's step seed in
// the kernel (a few integer operations per thread) so that the embeddings of a decode step are
// one launch that only writes its output.
#include <algorithm>

#include "../core/pocrand_core.h"
#include "decode.h"
#include "device_common.cuh"
#include "launch_util.cuh"

namespace pocrand {
namespace cuda {
namespace {

__device__ __forceinline__ uint32_t row_step(const StepArg& s, int64_t r) {
  return s.steps ? static_cast<uint32_t>(s.steps[r]) : s.step;
}

__device__ __forceinline__ uint32_t row_step_seed(const int64_t* base, const int64_t* prev,
                                                  const StepArg& s, uint32_t salt, int64_t r) {
  return step_seed(static_cast<uint32_t>(base[r]), static_cast<uint32_t>(prev[r]), row_step(s, r),
                   salt);
}

__global__ void step_seeds_kernel(const int64_t* base, const int64_t* prev, StepArg step,
                                  uint32_t salt, int64_t rows, int64_t* out) {
  for (int64_t r = global_thread(); r < rows; r += thread_stride())
    out[r] = row_step_seed(base, prev, step, salt, r);
}

// One thread per Box-Muller pair j of a row (grid x), rows along grid y: out[j], out[p + j].
template <typename Store>
__global__ void step_normal_kernel(const int64_t* base, const int64_t* prev, StepArg step,
                                   uint32_t salt, int64_t rows, int64_t n, Store store) {
  const auto p = static_cast<uint32_t>(normal_pair_count(static_cast<uint64_t>(n)));
  const auto n32 = static_cast<uint32_t>(n);
  const uint32_t stride = gridDim.x * blockDim.x;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const uint32_t seed = row_step_seed(base, prev, step, salt, row);
    const int64_t at = row * n;
    for (uint32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < p; j += stride) {
      const NormalPair v = normal_pair(j, p, seed);
      store(at + j, v.first);
      if (p + j < n32) store(at + p + j, v.second);
    }
  }
}

__global__ void hash_mod_kernel(const int64_t* seeds, int64_t rows, int64_t n, uint32_t m,
                                int32_t* out) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    for (int64_t i = global_thread(); i < n; i += thread_stride())
      out[row * n + i] = static_cast<int32_t>(hash_mod(static_cast<uint32_t>(i), seed, m));
  }
}

// A short-row launch (launch_util.cuh): each thread derives its rows' route starts (a few
// integer operations) and writes its experts' logits, with no 64-bit division per element.
template <typename Store>
__global__ void forced_logits_kernel(const int64_t* seeds, StepArg step, bool fold, int64_t rows,
                                     int64_t E, uint32_t top_k, int32_t ladder_base,
                                     uint32_t per_lane, Store store) {
  const auto e32 = static_cast<uint32_t>(E);
  for (int64_t r = short_row_first(); r < rows; r += short_row_stride()) {
    const auto s = static_cast<uint32_t>(seeds[r]);
    const uint32_t start = route_start(fold ? murmur3(row_step(step, r), s) : s, e32);
    short_row_cols(e32, per_lane, [&](uint32_t e) {
      store(r * E + e, forced_logit(e, start, e32, top_k, ladder_base));
    });
  }
}

}  // namespace

cudaError_t launch_step_seeds(const int64_t* base, const int64_t* prev, StepArg step,
                              uint32_t salt, int64_t rows, int64_t* out, cudaStream_t stream) {
  step_seeds_kernel<<<grid_for(rows, 1), kThreads, 0, stream>>>(base, prev, step, salt, rows, out);
  return cudaGetLastError();
}

cudaError_t launch_step_normal(const int64_t* base, const int64_t* prev, StepArg step,
                               uint32_t salt, int64_t rows, int64_t n, FloatType out_type,
                               void* out, cudaStream_t stream) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  return with_store(out_type, out, [&](auto store) {
    step_normal_kernel<<<grid_for(p, rows), kThreads, 0, stream>>>(base, prev, step, salt, rows,
                                                                    n, store);
  });
}

cudaError_t launch_hash_mod(const int64_t* seeds, int64_t rows, int64_t n, uint32_t m,
                            int32_t* out, cudaStream_t stream) {
  hash_mod_kernel<<<grid_for(n, rows), kThreads, 0, stream>>>(seeds, rows, n, m, out);
  return cudaGetLastError();
}

cudaError_t launch_forced_logits(const int64_t* seeds, StepArg step, bool fold, int64_t rows,
                                 int64_t n_experts, int64_t top_k, int64_t ladder_base,
                                 FloatType out_type, void* out, cudaStream_t stream) {
  return with_store(out_type, out, [&](auto store) {
    const ShortRowGrid g = short_row_grid(n_experts, rows);
    forced_logits_kernel<<<g.grid, g.block, 0, stream>>>(
        seeds, step, fold, rows, n_experts, static_cast<uint32_t>(top_k),
        static_cast<int32_t>(ladder_base), g.per_lane, store);
  });
}

}  // namespace cuda
}  // namespace pocrand
