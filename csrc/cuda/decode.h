// decode.h — the torch-free CUDA launchers of the gonka-poc ops (SPEC.md section 10): raw device
// pointers and a stream, no synchronisation (cuda/decode.cu; wrapped as torch ops in
// bind/decode.cpp). Every per-row value (base seed, previous index, step) is read from device
// memory, so a captured CUDA graph replays with whatever was last written there.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels.h"

namespace pocrand {
namespace cuda {

// A row's step: steps[r] when steps is not null, else `step` (low 32 bits of either).
struct StepArg {
  const int64_t* steps;  // [rows] or null
  uint32_t step;
};

// base [rows], prev [rows] -> int64 [rows]: step_seed(base, prev, step, salt) (10.1).
cudaError_t launch_step_seeds(const int64_t* base, const int64_t* prev, StepArg step,
                              uint32_t salt, int64_t rows, int64_t* out, cudaStream_t stream);
// -> out_type [rows, n]: normal(step seed of row r, n) (10.3).
cudaError_t launch_step_normal(const int64_t* base, const int64_t* prev, StepArg step,
                               uint32_t salt, int64_t rows, int64_t n, FloatType out_type,
                               void* out, cudaStream_t stream);
// seeds [rows] -> int32 [rows, n]: hash(i, seed) mod m (10.2).
cudaError_t launch_hash_mod(const int64_t* seeds, int64_t rows, int64_t n, uint32_t m,
                            int32_t* out, cudaStream_t stream);
// seeds [rows] -> out_type [rows, n_experts] (10.4); fold: the route seed is hash(step, seed).
cudaError_t launch_forced_logits(const int64_t* seeds, StepArg step, bool fold, int64_t rows,
                                 int64_t n_experts, int64_t top_k, int64_t ladder_base,
                                 FloatType out_type, void* out, cudaStream_t stream);

}  // namespace cuda
}  // namespace pocrand
