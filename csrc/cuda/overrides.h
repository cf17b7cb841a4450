// overrides.h — the torch-free CUDA launchers of the masked forward-pass overrides (SPEC.md
// 10.11 embed_synth, 10.12 router_override): raw device pointers and a stream, no
// synchronisation (cuda/overrides.cu; wrapped as torch ops in bind/overrides.cpp). Every per-row value
// (mask, seeds, steps, previous indices) is read from device memory, so a captured CUDA graph
// replays with whatever was last written there. out may be x (the in-place forms).
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels.h"

namespace pocrand {
namespace cuda {

// x and out [rows, hidden] of out_type; base, step, prev, mask [>= rows]; embeds [>= rows,
// hidden] of embeds_type (10.11).
cudaError_t launch_embed_synth(const void* x, void* out, FloatType out_type, int64_t rows,
                               int64_t hidden, const int64_t* base, const int64_t* step,
                               const int64_t* prev, const void* embeds, FloatType embeds_type,
                               const bool* mask, uint32_t salt, cudaStream_t stream);
// logits and out [rows, n_experts] of type; route_seeds, step, mask [>= rows] (10.12).
cudaError_t launch_router_override(const void* logits, void* out, FloatType type, int64_t rows,
                                   int64_t n_experts, const int64_t* route_seeds,
                                   const int64_t* step, const bool* mask, int64_t top_k,
                                   int64_t ladder_base, cudaStream_t stream);

}  // namespace cuda
}  // namespace pocrand
