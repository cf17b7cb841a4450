// haar.cu — the Haar rotation and the artifacts on the GPU (SPEC.md 9.10, 9.11), and the artifact
// seeds derived on the device. One block per row (one warp for k <= 32); every sum is
// block_tree_sum or warp_small_sum (the fixed tree of core section 7, whatever the block or grid
// size), and every element step is the core's. Rows being rotated live in global scratch
// (float32), so any length works; a row's data stays in the block's L1/L2 between passes.
#include <algorithm>

#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"
#include "tree_sum.cuh"
#include "pick_row.cuh"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kRowThreads = 256;

int64_t row_blocks(int64_t rows) { return std::min(rows, kMaxGridX); }

// ---- the Haar chain of one row (9.10), shared by haar_rotate and artifacts ----
// y[0..k) (float32, already widened) is reflected by the unit vectors of seeds[0 .. k-2] in
// order, each vector and each result delivered in E's type; v: k floats of scratch.
template <typename E>
__device__ void block_haar_row(float* y, int64_t k, const int64_t* seeds, float* v, float* tree) {
  const auto k32 = static_cast<uint32_t>(k);
  for (int64_t j = 0; j + 1 < k; ++j) {
    const auto seed = static_cast<uint32_t>(seeds[j]);
    for (int64_t i = threadIdx.x; i < k; i += blockDim.x)
      v[i] = normal_element(static_cast<uint32_t>(i), k32, seed);
    __syncthreads();
    const float d = unit_vector_divisor(block_tree_sum(RowTerms<F32, true>{v}, k, tree));
    for (int64_t i = threadIdx.x; i < k; i += blockDim.x) v[i] = through_storage<E>(pr_div(v[i], d));
    __syncthreads();
    const float c = householder_coefficient(block_tree_sum(ProductTerms<F32, F32>{y, v}, k, tree));
    for (int64_t i = threadIdx.x; i < k; i += blockDim.x)
      y[i] = through_storage<E>(householder_update(y[i], c, v[i]));
    __syncthreads();
  }
}

// The same chain by one warp for k <= 32 (kWarpHaar): lane l holds y[l] and computes v[l]; the
// sums are warp_small_sum, so no barrier is involved. Returns lane l's result (lanes >= k: 0).
constexpr int kWarpHaar = 32;

// Lane l's element of unit_vector(seed, k) delivered in E's type (9.2, 9.10), by one warp.
template <typename E>
__device__ float warp_unit_vector(uint32_t seed, int k) {
  const int lane = threadIdx.x & 31;
  const float t = lane < k ? normal_element(lane, static_cast<uint32_t>(k), seed) : 0.0f;
  const float d = unit_vector_divisor(warp_small_sum(square(t), k));
  return through_storage<E>(pr_div(t, d));
}

// y reflected by v (lane l holding element l of each), delivered in E's type (9.3).
template <typename E>
__device__ float warp_reflect(float y, float v, int k) {
  const float c = householder_coefficient(warp_small_sum(pr_mul(y, v), k));
  return through_storage<E>(householder_update(y, c, v));
}

template <typename E>
__device__ float warp_haar_lane(float y, int k, const int64_t* seeds) {
  const int lane = threadIdx.x & 31;
  for (int j = 0; j + 1 < k; ++j)
    y = warp_reflect<E>(y, warp_unit_vector<E>(static_cast<uint32_t>(seeds[j]), k), k);
  return lane < k ? y : 0.0f;
}

// Scratch of one block for the Haar chain: y and v (k each) and the tree's levels.
__host__ __device__ int64_t haar_block_floats(int64_t k) { return 2 * k + block_tree_scratch(k); }

// k <= 32: one warp per row.
template <typename E, typename Store>
__global__ void __launch_bounds__(kRowThreads)
haar_warp_kernel(const typename E::Bits* x, const int64_t* seeds, int64_t rows, int k,
                 Store store) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; row < rows;
       row += warps) {
    const float x_l = lane < k ? E::widen(x[row * k + lane]) : 0.0f;
    const float y = warp_haar_lane<E>(x_l, k, seeds + row * (k - 1));
    if (lane < k) store(row * k + lane, canonicalize_nan(y));
  }
}

template <typename E, typename Store>
__global__ void __launch_bounds__(kRowThreads)
haar_kernel(const typename E::Bits* x, const int64_t* seeds, int64_t rows, int64_t k, Store store,
            float* scratch) {
  float* y = scratch + blockIdx.x * haar_block_floats(k);
  float* v = y + k;
  float* tree = v + k;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    for (int64_t i = threadIdx.x; i < k; i += blockDim.x) y[i] = E::widen(x[row * k + i]);
    __syncthreads();
    block_haar_row<E>(y, k, seeds + row * (k - 1), v, tree);
    for (int64_t i = threadIdx.x; i < k; i += blockDim.x) store(row * k + i, canonicalize_nan(y[i]));
    __syncthreads();
  }
}

// ---- artifacts (9.11) ----
// Scratch of one block: the k picked indices (int64, first, so they stay 8-byte aligned), the
// Haar chain's and the hidden row's tree; an even count keeps the next block aligned too.
__host__ __device__ int64_t artifact_block_floats(int64_t H, int64_t k) {
  const int64_t n = 2 * k + haar_block_floats(k) + block_tree_scratch(H);
  return n + (n & 1);
}

constexpr int kArtifactThreads = 1024;  // the pick's passes over H go 1024 indices at a time

template <typename E>
__global__ void __launch_bounds__(kArtifactThreads)
artifacts_kernel(const typename E::Bits* hidden, const int64_t* seeds, int64_t rows, int64_t H,
                 int64_t k, uint16_t* out, bool* flags, float* scratch) {
  __shared__ float haar_v[kWarpHaar][32];  // k <= 32: the Haar vectors, one a warp
  auto* idx = reinterpret_cast<int64_t*>(scratch + blockIdx.x * artifact_block_floats(H, k));
  float* g = reinterpret_cast<float*>(idx + k);
  float* v = g + k;
  float* tree = v + k;
  float* tree_h = tree + block_tree_scratch(k);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const auto* h = hidden + row * H;
    const float sum_sq = block_tree_sum(RowTerms<E, true>{h}, H, tree_h);
    const float nx = pr_sqrt(sum_sq);
    if (!(nx <= 0x1.fffffep127f)) {  // NaN or Inf (the same value in every thread)
      for (int64_t m = threadIdx.x; m < k; m += blockDim.x) out[row * k + m] = 0x7e00u;
      if (threadIdx.x == 0) flags[row] = true;
      continue;
    }
    const float d1 = artifact_divisor(sum_sq);
    block_pick_row(static_cast<uint32_t>(seeds[row * k]), H, k, idx);
    __syncthreads();
    if (k <= kWarpHaar) {
      // The k - 1 Haar vectors do not depend on g: warp w makes vector w, all at once; then
      // warp 0 alone runs the chain of reflections and the final norm in registers.
      const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, k32 = static_cast<int>(k);
      if (warp + 1 < k32)
        haar_v[warp][lane] = warp_unit_vector<F32>(static_cast<uint32_t>(seeds[row * k + 1 + warp]), k32);
      __syncthreads();
      if (warp == 0) {
        float y = lane < k32 ? pr_div(E::widen(h[idx[lane]]), d1) : 0.0f;
        for (int j = 0; j + 1 < k32; ++j) y = warp_reflect<F32>(y, haar_v[j][lane], k32);
        y = lane < k32 ? y : 0.0f;
        const float d2 = artifact_divisor(warp_small_sum(square(y), k32));
        if (lane < k32) out[row * k + lane] = float_to_half_bits(canonicalize_nan(pr_div(y, d2)));
        if (lane == 0) flags[row] = false;
      }
      __syncthreads();  // idx and haar_v are rewritten for the next row
      continue;
    }
    for (int64_t m = threadIdx.x; m < k; m += blockDim.x) g[m] = pr_div(E::widen(h[idx[m]]), d1);
    __syncthreads();
    block_haar_row<F32>(g, k, seeds + row * k + 1, v, tree);
    const float d2 = artifact_divisor(block_tree_sum(RowTerms<F32, true>{g}, k, tree));
    for (int64_t m = threadIdx.x; m < k; m += blockDim.x)
      out[row * k + m] = float_to_half_bits(canonicalize_nan(pr_div(g[m], d2)));
    if (threadIdx.x == 0) flags[row] = false;
    __syncthreads();  // g and idx are rewritten for the next row
  }
}

// One thread a seed: SHA-256 of the seed string's tail after the shared prefix.
__global__ void artifact_seeds_kernel(const __grid_constant__ ArtifactSeedSpec spec, int64_t rows,
                                      int64_t k, int64_t* out) {
  for (int64_t t = global_thread(); t < rows * k; t += thread_stride()) {
    const int64_t r = t / k, c = t % k;
    out[t] = c == 0 ? spec.pick.seed(spec.nonces[r], 0) : spec.haar.seed(spec.nonces[r], c - 1);
  }
}

}  // namespace

cudaError_t launch_artifact_seeds(const ArtifactSeedSpec& spec, int64_t rows, int64_t k,
                                  int64_t* out, cudaStream_t stream) {
  if (rows > kInlineNonces) return cudaErrorInvalidValue;
  artifact_seeds_kernel<<<grid_for(rows * k, 1, 128), 128, 0, stream>>>(spec, rows, k, out);
  return cudaGetLastError();
}

size_t haar_scratch_floats(int64_t rows, int64_t k) {
  return static_cast<size_t>(row_blocks(rows) * haar_block_floats(k));
}

cudaError_t launch_haar_rotate(const void* x, FloatType type, const int64_t* seeds, int64_t rows,
                               int64_t k, void* out, float* scratch, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(row_blocks(rows));
  with_element_type(type, [&](auto e) {
    using E = decltype(e);
    with_store(type, out, [&](auto store) {
      const auto* xe = static_cast<const typename E::Bits*>(x);
      if (k <= kWarpHaar) {
        const int64_t warps_per_block = kRowThreads / 32;
        const auto warp_blocks = static_cast<unsigned>(
            std::min((rows + warps_per_block - 1) / warps_per_block, kMaxGridX));
        haar_warp_kernel<E><<<warp_blocks, kRowThreads, 0, stream>>>(xe, seeds, rows,
                                                                    static_cast<int>(k), store);
      } else {
        haar_kernel<E><<<blocks, kRowThreads, 0, stream>>>(xe, seeds, rows, k, store, scratch);
      }
    });
  });
  return cudaGetLastError();
}

size_t artifact_scratch_floats(int64_t rows, int64_t H, int64_t k) {
  return static_cast<size_t>(row_blocks(rows) * artifact_block_floats(H, k));
}

cudaError_t launch_artifacts(const void* hidden, FloatType type, const int64_t* seeds,
                             int64_t rows, int64_t H, int64_t k, uint16_t* out, bool* flags,
                             float* scratch, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(row_blocks(rows));
  with_element_type(type, [&](auto e) {
    using E = decltype(e);
    artifacts_kernel<E><<<blocks, kArtifactThreads, 0, stream>>>(
        static_cast<const typename E::Bits*>(hidden), seeds, rows, H, k, out, flags, scratch);
  });
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace pocrand
