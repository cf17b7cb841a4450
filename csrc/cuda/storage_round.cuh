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

// ---- The storage type's own arithmetic, two elements a 32-bit word ----
// st(a + b), st(a - b) and st(a * b) of 10.10 and 10.14, for a and b already values of the 16-bit
// storage type, as the storage type's own correctly rounded operation on both halves of a word
// (one instruction for two elements, where widening, the binary32 operation and st take seven).
//
// Why the same bits: the binary32 result of a + b, a - b or a * b for p-bit a and b (p = 11 for
// fp16, 8 for bf16) rounded again to p bits equals the exact result rounded once to p bits,
// since binary32 has 24 >= 2p + 2 bits (double rounding is innocuous then: S. A. Figueroa, "When
// is double rounding innocuous?", SIGNUM Newsletter 30(3), 1995). The exponent range adds no
// exception: fp16 values' nonzero sums and products are binary32 normals, and bf16 shares
// binary32's range (a sum or difference in the subnormal range is exact in binary32; a product
// that binary32 rounds there is, before and after that rounding, at most half bf16's smallest
// subnormal, which rounds to zero). Overflow gives Inf on both paths, and a NaN result is a NaN
// on both (of any payload: the kernels make NaN canonical before they store it).
// tests/cpp/storage_round_gpu.cu checks all three operations over every pair of 16-bit patterns,
// both halves of the word, for both types, against the core's binary32 operation and portable
// rounding; built as sm_90 code it runs the add/sub/mul.rn forms, and as compute_80 or compute_75
// PTX (run on a newer card) sm_80's fma forms or the pre-sm_80 fallback.
//
// The instructions: add/sub/mul.rn.{f16x2,bf16x2} (fma.rn.bf16x2 with 1, -1 or -0 on sm_80 and
// sm_89, a single rounding of the exact result too); .rn also keeps ptxas from contracting a
// product and a sum into one fma. bf16 before sm_80 has no such instruction: binary32 and st.
template <typename E> __device__ __forceinline__ uint32_t st_add2(uint32_t a, uint32_t b);
template <typename E> __device__ __forceinline__ uint32_t st_sub2(uint32_t a, uint32_t b);
template <typename E> __device__ __forceinline__ uint32_t st_mul2(uint32_t a, uint32_t b);

// op on the word's two elements as a pair of the storage type (Pair: __half2, __nv_bfloat162).
template <typename Pair, typename Op>
__device__ __forceinline__ uint32_t in_pairs(uint32_t a, uint32_t b, Op op) {
  Pair x, y;
  memcpy(&x, &a, 4);
  memcpy(&y, &b, 4);
  const Pair r = op(x, y);
  uint32_t w;
  memcpy(&w, &r, 4);
  return w;
}

// bf16 before sm_80 (no bf16 arithmetic there): op in binary32 on each element, then st.
template <typename Op>
__device__ __forceinline__ uint32_t bf16_by_binary32(uint32_t a, uint32_t b, Op op) {
  const float2 x = widen2<BF16>(a), y = widen2<BF16>(b);
  return pack_fast<BF16>(op(x.x, y.x), op(x.y, y.y));
}

template <> __device__ __forceinline__ uint32_t st_add2<F16>(uint32_t a, uint32_t b) {
  return in_pairs<__half2>(a, b, [](__half2 x, __half2 y) { return __hadd2_rn(x, y); });
}
template <> __device__ __forceinline__ uint32_t st_sub2<F16>(uint32_t a, uint32_t b) {
  return in_pairs<__half2>(a, b, [](__half2 x, __half2 y) { return __hsub2_rn(x, y); });
}
template <> __device__ __forceinline__ uint32_t st_mul2<F16>(uint32_t a, uint32_t b) {
  return in_pairs<__half2>(a, b, [](__half2 x, __half2 y) { return __hmul2_rn(x, y); });
}
#if __CUDA_ARCH__ >= 800
#define POCRAND_BF16_OP2(PAIR_OP, FLOAT_OP) \
  in_pairs<__nv_bfloat162>(a, b, [](__nv_bfloat162 x, __nv_bfloat162 y) { return PAIR_OP(x, y); })
#else
#define POCRAND_BF16_OP2(PAIR_OP, FLOAT_OP) \
  bf16_by_binary32(a, b, [](float x, float y) { return FLOAT_OP(x, y); })
#endif
template <> __device__ __forceinline__ uint32_t st_add2<BF16>(uint32_t a, uint32_t b) {
  return POCRAND_BF16_OP2(__hadd2_rn, pr_add);
}
template <> __device__ __forceinline__ uint32_t st_sub2<BF16>(uint32_t a, uint32_t b) {
  return POCRAND_BF16_OP2(__hsub2_rn, pr_sub);
}
template <> __device__ __forceinline__ uint32_t st_mul2<BF16>(uint32_t a, uint32_t b) {
  return POCRAND_BF16_OP2(__hmul2_rn, pr_mul);
}
#undef POCRAND_BF16_OP2

// The word holding a value of the storage type twice (a NaN: some NaN twice), for st_mul2 by a
// row's stepwise coefficient. `a` must already be a value of the storage type (or Inf or NaN):
// any other binary32 value would be rounded here, silently (the "once" coefficient is one).
template <typename E> __device__ __forceinline__ uint32_t splat2(float a) {
  return pack_fast<E>(a, a);
}

// The stored value st(x - st(c*v)) of 10.10's stepwise update for the two elements of a word, in
// the storage type's own arithmetic; cw is splat2(c), c the row's stepwise coefficient.
template <typename E>
__device__ __forceinline__ uint32_t stepwise_update2(uint32_t x, uint32_t cw, uint32_t v) {
  return st_sub2<E>(x, st_mul2<E>(cw, v));
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
