// device_common.cuh — what the CUDA kernel files share: output stores and stored element types
// (core section 6), and the terms of a row that the fixed-order sums (tree_sum.cuh) add. Plumbing
// over csrc/core/pocrand_core.h; no arithmetic of its own.
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

// Terms of a fixed-order sum (tree_sum.cuh): term(i) of a row.
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

}  // namespace
}  // namespace cuda
}  // namespace pocrand
