// storage_round.cuh — the device's hardware form of the reflect_rows roundings (SPEC.md 10.10):
// st(a) (core round_to_storage) between the steps of the stepwise rounding, and the store of a
// row's outputs (core section 6 after canonicalize_nan). The core's functions stay the
// definition; these compute the same bits with fewer instructions and are used by both
// reflect_rows kernels (reflect_rows.cu, reflect_rows_chunk.cuh).
//
// Why they are the same bits:
//  - cvt.rn.f16.f32 and cvt.rn.bf16.f32 (__float2half_rn, __float2bfloat16_rn) are IEEE
//    round-to-nearest-even conversions, subnormals kept, overflow to Inf: the core's portable
//    float_to_half_bits_portable / float_to_bf16_bits_portable for every input but NaN, and
//    widening back (cvt.f32.f16, bf16 << 16) is exact. tests/cpp/storage_round_gpu.cu checks
//    this over all 2^32 float32 bit patterns, and the stepwise steps below against the core's
//    over a large sample. The one difference is NaN: the core makes it canonical first, the
//    hardware gives some NaN. So st_fast(a) is round_to_storage(a, s) for every non-NaN a and a
//    NaN for a NaN, and a NaN stays a NaN through every later step (IEEE + - *), never read back
//    but as "is it NaN": a payload cannot reach an output, whose NaN is made canonical below.
//  - The row's store: y = st(u) is delivered as its storage bits, and u -> bits(st(u)) is the
//    store's own rounding of u (rounding a value already in the storage type changes nothing),
//    so the kernels store encode(canonicalize_nan(u)) of the unrounded last step u in both modes.
//    When the row's coefficient c is finite no u is NaN (see no_nan_outputs), and the store is the
//    bare hardware conversion, two elements an instruction (pack_fast).
#pragma once

#include <stdint.h>

#include "../core/pocrand_core.h"
#include "device_common.cuh"

namespace pocrand {
namespace cuda {
namespace {

// st(a) of 10.10 for a non-NaN a (a NaN gives a NaN of any payload); F32: the identity.
template <typename E> __device__ __forceinline__ float st_fast(float a);
template <> __device__ __forceinline__ float st_fast<F32>(float a) { return a; }
template <> __device__ __forceinline__ float st_fast<F16>(float a) {
  return __half2float(__float2half_rn(a));
}
template <> __device__ __forceinline__ float st_fast<BF16>(float a) {
#if __CUDA_ARCH__ >= 800
  return __bfloat162float(__float2bfloat16_rn(a));
#else
  return round_to_storage(a, kStorageBFloat16);  // no bf16 conversion instruction before sm_80
#endif
}

// Two 16-bit elements of a 32-bit word widened exactly (the low half first): E::arith of each,
// with integer operations on the word itself for bf16 (extracting each half first costs one more).
template <typename E> __device__ __forceinline__ float2 widen2(uint32_t w);
template <> __device__ __forceinline__ float2 widen2<F16>(uint32_t w) {
  __half2 h;
  memcpy(&h, &w, 4);
  return __half22float2(h);
}
template <> __device__ __forceinline__ float2 widen2<BF16>(uint32_t w) {
  return make_float2(pr_from_bits(w << 16), pr_from_bits(w & 0xffff0000u));
}

// st_fast of two values at once (one conversion instruction for both where the device has it).
template <typename E> __device__ __forceinline__ float2 st_fast2(float a, float b) {
  return make_float2(st_fast<E>(a), st_fast<E>(b));
}
template <> __device__ __forceinline__ float2 st_fast2<F16>(float a, float b) {
  return __half22float2(__floats2half2_rn(a, b));
}
// Widened by bits (exact), not by cvt: ptxas turns a cvt there and back into F2F.BF16.F32, one
// value an instruction, where F2FP packs two and the widening is one integer operation each.
template <> __device__ __forceinline__ float2 st_fast2<BF16>(float a, float b) {
#if __CUDA_ARCH__ >= 800
  const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  uint32_t w;
  memcpy(&w, &h, 4);
  return make_float2(pr_from_bits(w << 16), pr_from_bits(w & 0xffff0000u));
#else
  return make_float2(st_fast<BF16>(a), st_fast<BF16>(b));
#endif
}

// The storage bits of two 16-bit elements, a in the low half: encode(a) | encode(b) << 16 for
// non-NaN a and b (the core's encode(canonicalize_nan(.)) for them).
template <typename E> __device__ __forceinline__ uint32_t pack_fast(float a, float b);
template <> __device__ __forceinline__ uint32_t pack_fast<F16>(float a, float b) {
  const __half2 h = __floats2half2_rn(a, b);
  uint32_t w;
  memcpy(&w, &h, 4);
  return w;
}
template <> __device__ __forceinline__ uint32_t pack_fast<BF16>(float a, float b) {
#if __CUDA_ARCH__ >= 800
  const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  uint32_t w;
  memcpy(&w, &h, 4);
  return w;
#else
  return uint32_t{float_to_bf16_bits(a)} | uint32_t{float_to_bf16_bits(b)} << 16;
#endif
}

// One element's storage bits, for a non-NaN a (the core's encode(canonicalize_nan(a)) for it).
template <typename E> __device__ __forceinline__ typename E::Bits encode_fast(float a);
template <> __device__ __forceinline__ float encode_fast<F32>(float a) { return a; }
template <> __device__ __forceinline__ uint16_t encode_fast<F16>(float a) {
  return __half_as_ushort(__float2half_rn(a));
}
template <> __device__ __forceinline__ uint16_t encode_fast<BF16>(float a) {
#if __CUDA_ARCH__ >= 800
  return __bfloat16_as_ushort(__float2bfloat16_rn(a));
#else
  return float_to_bf16_bits(a);
#endif
}

// The stepwise steps of 10.10 (core stepwise_product, stepwise_coefficient, stepwise_update) with
// st_fast: the same bits for every input whose result is not NaN, a NaN otherwise.
template <typename E> __device__ __forceinline__ float stepwise_product_fast(float x, float v) {
  return st_fast<E>(pr_mul(x, v));
}
template <typename E> __device__ __forceinline__ float stepwise_coefficient_fast(float sum) {
  return st_fast<E>(pr_mul(2.0f, st_fast<E>(sum)));
}
// stepwise_update without its last st (the store rounds): x - st(c * v), of one element and of
// two.
template <typename E>
__device__ __forceinline__ float stepwise_update_unrounded(float x, float c, float v) {
  return pr_sub(x, st_fast<E>(pr_mul(c, v)));
}
template <typename E>
__device__ __forceinline__ float2 stepwise_update_unrounded2(float x0, float x1, float c, float v0,
                                                             float v1) {
  const float2 t = st_fast2<E>(pr_mul(c, v0), pr_mul(c, v1));
  return make_float2(pr_sub(x0, t.x), pr_sub(x1, t.y));
}

// Whether a reflected row's outputs are all non-NaN, from its coefficient alone (the same in every
// thread, so the kernels branch on it without divergence). A finite c = 2·d (either mode) needs a
// finite dot d, and a finite dot needs every product finite (a NaN term makes the sum NaN and an
// infinite one makes it infinite or NaN), so every x[i] and v[i] is finite: then c·v[i] is finite
// or ±Inf, st keeps that, and x[i] − (finite or ±Inf) is finite or ±Inf, never NaN.
__device__ __forceinline__ bool no_nan_outputs(float c) {
  return (pr_bits(c) & 0x7f800000u) != 0x7f800000u;
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
