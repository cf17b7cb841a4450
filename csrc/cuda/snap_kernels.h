// snap_kernels.h — the torch-free launcher of the decode scheme's snap (SPEC.md 10.6, 10.7), in
// the style of kernels.h: raw device pointers and a stream, no synchronisation.
#pragma once

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

namespace pocrand {
namespace cuda {

// Global scratch (float32 elements) that launch_snap needs for rows rows of H elements.
size_t snap_scratch_floats(int64_t rows, int64_t H);

// h type [rows, H], seeds int64 [rows] (u32 values), codebook float32 [P, d] (d <= min(H, 1024),
// P <= 1024) -> k int64 [rows], bad bool [rows], scores float32 [rows, P], q float32 [rows, d].
cudaError_t launch_snap(const void* h, FloatType type, const int64_t* seeds, const float* codebook,
                        int64_t rows, int64_t H, int64_t P, int64_t d, int64_t* k, bool* bad,
                        float* scores, float* q, float* scratch, cudaStream_t stream);

}  // namespace cuda
}  // namespace pocrand
