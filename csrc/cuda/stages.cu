// stages.cu — the core's scalar stages elementwise on the GPU, for verification (the ops that
// expose uniform_from_hash, the Box-Muller radius and angle, log, sincos and the output rounding).
#include "../core/pocrand_core.h"
#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"

namespace pocrand {
namespace cuda {
namespace {

// ------------------------------------------------------------------------------------------
// Scalar stages
// ------------------------------------------------------------------------------------------
__global__ void core_stages_kernel(const int64_t* h, int64_t n, float* u, float* r, float* c,
                                   float* s) {
  for (int64_t i = global_thread(); i < n; i += thread_stride()) {
    const float ui = uniform_from_hash(static_cast<uint32_t>(h[i]));
    u[i] = ui;
    r[i] = box_muller_radius(ui);
    float si, ci;
    sincos_reduced(box_muller_angle(ui), &si, &ci);
    s[i] = si;
    c[i] = ci;
  }
}

__global__ void core_log_kernel(const float* x, int64_t n, float* out) {
  for (int64_t i = global_thread(); i < n; i += thread_stride()) out[i] = log_positive(x[i]);
}

__global__ void core_sincos_kernel(const float* t, int64_t n, float* s, float* c) {
  for (int64_t i = global_thread(); i < n; i += thread_stride()) {
    float si, ci;
    sincos_reduced(t[i], &si, &ci);
    s[i] = si;
    c[i] = ci;
  }
}

template <typename Store>
__global__ void core_round_kernel(const float* x, int64_t n, Store store) {
  for (int64_t i = global_thread(); i < n; i += thread_stride()) store(i, x[i]);
}

}  // namespace

cudaError_t launch_core_stages(const int64_t* hashes, int64_t n, float* u, float* r, float* c,
                               float* s, cudaStream_t stream) {
  core_stages_kernel<<<grid_for(n, 1), kThreads, 0, stream>>>(hashes, n, u, r, c, s);
  return cudaGetLastError();
}

cudaError_t launch_core_log(const float* x, int64_t n, float* out, cudaStream_t stream) {
  core_log_kernel<<<grid_for(n, 1), kThreads, 0, stream>>>(x, n, out);
  return cudaGetLastError();
}

cudaError_t launch_core_sincos(const float* theta, int64_t n, float* s, float* c,
                               cudaStream_t stream) {
  core_sincos_kernel<<<grid_for(n, 1), kThreads, 0, stream>>>(theta, n, s, c);
  return cudaGetLastError();
}

cudaError_t launch_core_round(const float* x, int64_t n, FloatType out_type, void* out,
                              cudaStream_t stream) {
  return with_store(out_type, out, [&](auto store) {
    core_round_kernel<<<grid_for(n, 1), kThreads, 0, stream>>>(x, n, store);
  });
}

}  // namespace cuda
}  // namespace pocrand
