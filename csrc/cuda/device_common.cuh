// device_common.cuh — what the CUDA kernel files share: output stores and stored element types
// (core section 6), and the fixed-order sum of core section 7 by a warp (one chunk) or by a whole
// block (any number of terms). Plumbing over csrc/core/pocrand_core.h; no arithmetic of its own.
#pragma once

#include <stdint.h>

#include "../core/pocrand_core.h"
#include "kernels.h"

namespace pocrand {
namespace cuda {
namespace {

// Output stores (core section 6).
struct StoreF32 {
  float* p;
  __device__ void operator()(int64_t i, float v) const { p[i] = v; }
};
struct StoreF16 {
  uint16_t* p;
  __device__ void operator()(int64_t i, float v) const { p[i] = float_to_half_bits(v); }
};
struct StoreBF16 {
  uint16_t* p;
  __device__ void operator()(int64_t i, float v) const { p[i] = float_to_bf16_bits(v); }
};

template <typename Fn>
cudaError_t with_store(FloatType type, void* out, Fn&& fn) {
  switch (type) {
    case FloatType::kFloat32: fn(StoreF32{static_cast<float*>(out)}); break;
    case FloatType::kFloat16: fn(StoreF16{static_cast<uint16_t*>(out)}); break;
    case FloatType::kBFloat16: fn(StoreBF16{static_cast<uint16_t*>(out)}); break;
  }
  return cudaGetLastError();
}

// Stored element types and their exact widening to binary32. They are template parameters of
// the reduction terms, not runtime values: a per-element switch on the type kept the compiler
// from issuing a chunk's loads together.
//
// `arith` is the widening for arithmetic whose NaN results are canonicalized before they are
// stored (canonicalize_nan), as the Householder kernels' are: equal to `widen` for every number,
// while a NaN may come out with another payload. For fp16 it is the device's cvt.f32.f16, one
// instruction where `widen` spells the payload out bit by bit.
struct F32 {
  using Bits = float;
  __device__ static float widen(float v) { return v; }
  __device__ static float arith(float v) { return v; }
  __device__ static float deliver(float v) { return v; }  // NaN already canonical
  __device__ static float encode(float v) { return v; }
};
struct F16 {
  using Bits = uint16_t;
  __device__ static float widen(uint16_t v) { return half_bits_to_float(v); }
  __device__ static float arith(uint16_t v) { return __half2float(__ushort_as_half(v)); }
  __device__ static float deliver(float v) { return half_bits_to_float(float_to_half_bits(v)); }
  __device__ static uint16_t encode(float v) { return float_to_half_bits(v); }
};
struct BF16 {
  using Bits = uint16_t;
  __device__ static float widen(uint16_t v) { return bf16_bits_to_float(v); }
  __device__ static float arith(uint16_t v) { return bf16_bits_to_float(v); }
  __device__ static float deliver(float v) { return bf16_bits_to_float(float_to_bf16_bits(v)); }
  __device__ static uint16_t encode(float v) { return float_to_bf16_bits(v); }
};

template <typename Fn>
void with_element_type(FloatType type, Fn&& fn) {
  switch (type) {
    case FloatType::kFloat32: fn(F32{}); break;
    case FloatType::kFloat16: fn(F16{}); break;
    case FloatType::kBFloat16: fn(BF16{}); break;
  }
}

// A float32 value delivered in E's stored type and widened back (core section 6, NaN made
// canonical first): what a value becomes when it is kept in that type between steps.
template <typename E>
__device__ __forceinline__ float through_storage(float v) {
  return E::deliver(canonicalize_nan(v));
}

// ------------------------------------------------------------------------------------------
// Fixed-order reductions (core section 7)
// ------------------------------------------------------------------------------------------
constexpr int kTreeWarps = 8;  // chunks (warps) per block

// Sums of each chunk of 1024 terms of each row: out[row * chunks + c]. One warp per chunk: lane l
// takes terms l + 32k (k = 0..31), so the tree's widths 512 .. 32 pair terms k and k + w/32
// inside each lane, and widths 16 .. 1 pair lanes through shuffles (lane l adds lane l + w) —
// exactly the pairing of core section 7, with no shared memory and no barrier. term.row(r)
// gives the terms of row r; terms at or beyond n are the +0.0 padding.
template <int W>
__device__ __forceinline__ void tree_step(float (&a)[16]) {
#pragma unroll
  for (int k = 0; k < W; ++k) a[k] = pr_add(a[k], a[k + W]);
}

// The sum of chunk c of n terms, by one whole warp; the result is in lane 0.
template <typename Terms>
__device__ __forceinline__ float warp_chunk_sum(const Terms& terms, int64_t n, int64_t c) {
  const int64_t base = c * kChunk + (threadIdx.x & 31);
  // Width 512 as the terms arrive: a[k] = term(k) + term(k + 16), so only 16 partial sums are
  // live and more loads can be in flight.
  float a[16];
#pragma unroll
  for (int k = 0; k < 16; ++k) a[k] = base + 32 * k < n ? terms(base + 32 * k) : 0.0f;
#pragma unroll
  for (int k = 0; k < 16; ++k) {
    const int64_t i = base + 32 * (k + 16);
    a[k] = pr_add(a[k], i < n ? terms(i) : 0.0f);
  }
  tree_step<8>(a);
  tree_step<4>(a);
  tree_step<2>(a);
  tree_step<1>(a);
  float v = a[0];
#pragma unroll
  for (int w = 16; w >= 1; w /= 2) v = pr_add(v, __shfl_down_sync(0xffffffffu, v, w));
  return v;
}

template <typename E, bool Square>
struct RowTerms {  // terms of one row: its elements widened, squared or not
  const typename E::Bits* x;
  __device__ float operator()(int64_t i) const {
    const float v = E::widen(x[i]);
    return Square ? square(v) : v;
  }
};

template <typename A, typename B>
struct ProductTerms {  // a[i] * b[i], both widened
  const typename A::Bits* a;
  const typename B::Bits* b;
  __device__ float operator()(int64_t i) const { return pr_mul(A::widen(a[i]), B::widen(b[i])); }
};

// The last tree level over a row's (at most 1024) chunk sums, by one warp (core section 7); the
// result is in lane 0. A single chunk sum is already the row's sum.
__device__ float last_level_sum(const float* sums, int64_t chunks) {
  return chunks == 1 ? sums[0] : warp_chunk_sum(RowTerms<F32, false>{sums}, chunks, 0);
}


// Sum of terms(0 .. n-1) (n >= 1) in the order of core section 7 by the whole block (blockDim.x
// a multiple of 32, every thread calling): warp w sums chunks w, w + warps, ... of each level
// (warp_chunk_sum), the levels meeting in `scratch` (block_tree_scratch(n) floats of global
// memory owned by this block). Every thread gets the result. Ends with a barrier, so the caller
// may overwrite what the terms read.
__host__ __device__ inline int64_t block_tree_scratch(int64_t n) {
  int64_t total = 0;
  do {
    n = (n + kChunk - 1) / kChunk;
    total += n;
  } while (n > 1);
  return total;
}

// The same sum for n <= 32 terms by one warp, lane l holding term l (lanes >= n ignored); every
// lane gets the result. Equal to warp_chunk_sum: in the 1024-term tree each of these terms only
// meets +0.0 padding at widths 512 .. 32 (which turns -0 into +0, hence the + 0.0f), then the
// shuffles 16 .. 1 pair the lanes.
__device__ __forceinline__ float warp_small_sum(float term, int n) {
  float v = static_cast<int>(threadIdx.x & 31) < n ? pr_add(term, 0.0f) : 0.0f;
#pragma unroll
  for (int w = 16; w >= 1; w /= 2) v = pr_add(v, __shfl_down_sync(0xffffffffu, v, w));
  return __shfl_sync(0xffffffffu, v, 0);
}

template <typename Terms>
__device__ float block_tree_sum(const Terms& terms, int64_t n, float* scratch) {
  __shared__ float result;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  int64_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks == 1) {  // one chunk: warp 0's sum, handed to the block through shared memory
    if (warp == 0) {
      const float v = warp_chunk_sum(terms, n, 0);
      if (lane == 0) result = v;
    }
  } else {
    for (int64_t c = warp; c < chunks; c += warps) {
      const float v = warp_chunk_sum(terms, n, c);
      if (lane == 0) scratch[c] = v;
    }
    __syncthreads();
    float* level = scratch;
    while (chunks > 1) {
      const int64_t next = (chunks + kChunk - 1) / kChunk;
      float* sums = level + chunks;
      for (int64_t c = warp; c < next; c += warps) {
        const float v = warp_chunk_sum(RowTerms<F32, false>{level}, chunks, c);
        if (lane == 0) sums[c] = v;
      }
      __syncthreads();
      level = sums;
      chunks = next;
    }
    if (threadIdx.x == 0) result = level[0];
  }
  __syncthreads();
  const float total = result;
  __syncthreads();  // `result` and the scratch are free again
  return total;
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
