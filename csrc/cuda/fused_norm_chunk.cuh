// fused_norm_chunk.cuh — the one-pass fused_add_rms_norm_reflect kernel (SPEC.md 10.14) for
// 16-bit rows that split into whole 16-byte vectors at 16-byte aligned addresses and fit on chip
// (kWarps chunks of 1024 terms). fused_norm.cu launches it when it applies and its generic
// kernel otherwise.
//
// Why a second kernel: the generic one (256 threads a unit) reads each row three times (the
// dots, the sum, the norm). Here a block of one warp per 1024-term chunk loads the unit's x, its
// residual and its slot's v into registers (the weight is loaded when the norm needs it):
//   1. a reflected unit's two dots by chunk_dot (the tree of core section 7, the same pairing as
//      tree_sum.cuh's), the chunk sums meeting in shared memory (one barrier);
//   2. s = st(a + b) of the two reflected (or plain) values, kept as the storage words (a
//      reflected unit reads its x, residual and v again here, from L1 or L2, so that 80
//      registers hold the kernel; see fused_chunk_min_blocks);
//   3. the sum of squares of s by chunk_dot again (one more barrier), the inverse RMS;
//   4. residual <- s and x <- st(st(s * inv) * w) written from the registers.
// Each element is read from memory once (a reflected unit's again from L1 or L2) and written
// once. The roundings are storage_round.cuh's hardware forms, and a step whose operands are both
// values of the storage type is that type's own arithmetic, two elements an instruction (st_*2):
// the same bits as the core's for every non-NaN value. A NaN stays a NaN through every step and
// is stored as the core's canonical NaN (canonical_nan_halves: for the output always, for s,
// whose NaNs are known only after step 3, when there are any), so the bits are the CPU's.
#pragma once

#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "../core/pocrand_core.h"
#include "chunk_dot.cuh"
#include "device_common.cuh"
#include "launch_util.cuh"
#include "reflect_rows_chunk.cuh"
#include "storage_round.cuh"
#include "tree_sum.cuh"

namespace pocrand {
namespace cuda {
namespace {

// The core's stored NaN of a 16-bit type: encode(canonicalize_nan(NaN)).
template <typename E>
constexpr uint32_t kStoredNaN = std::is_same<E, F16>::value ? 0x7e00u : 0x7fc0u;

// A word of two storage elements with the core's stored NaN in place of each NaN half: the
// core's encode(canonicalize_nan(.)) of both, from a word that holds some NaN where a value is
// NaN (pack_fast's, st_mul2's).
template <typename E>
__device__ __forceinline__ uint32_t canonical_nan_halves(uint32_t w) {
  constexpr uint32_t kInf = std::is_same<E, F16>::value ? 0x7c00u : 0x7f80u;
  if ((w & 0x7fffu) > kInf) w = (w & 0xffff0000u) | kStoredNaN<E>;
  if ((w >> 16 & 0x7fffu) > kInf) w = (w & 0x0000ffffu) | kStoredNaN<E> << 16;
  return w;
}

// Whether the sums s of a unit are all finite, from their sum of squares alone (the same in
// every thread): a NaN s makes it NaN and an infinite one infinite or NaN. Until this is known
// the sums are kept as st_add2 made them; only a unit with a NaN or Inf among them has its
// NaN halves made canonical afterwards (rows of numbers skip eight compares a vector).
__device__ __forceinline__ bool finite_sums(float sum_of_squares) {
  return (pr_bits(sum_of_squares) & 0x7f800000u) != 0x7f800000u;
}

// The sum of squares' term (10.14): s[i] * s[i] of the stored residual, two at a time for
// chunk_dot's pair path (+0.0 for the zero words beyond the row, its padding). The second
// operand is unused: chunk_dot passes the same words twice.
template <typename E>
struct SquareProduct {
  __device__ __forceinline__ float operator()(typename E::Bits s, typename E::Bits) const {
    const float si = E::arith(s);
    return pr_mul(si, si);
  }
  __device__ __forceinline__ float2 pair(uint32_t sw, uint32_t) const {
    const float2 s = widen2<E>(sw);
    return make_float2(pr_mul(s.x, s.x), pr_mul(s.y, s.y));
  }
};

// One 16-byte vector of s = st(a + b), a and b the vectors of x and residual each reflected by v
// with its coefficient as reflect_rows stores it: st(x - st(c*v)) (stepwise, every step in the
// storage type's own arithmetic: storage_round.cuh's st_*2) or st(x - c*v) ("once").
template <typename E, bool Stepwise>
__device__ __forceinline__ uint4 reflected_sum(const uint4& x, const uint4& r, const uint4& v,
                                               float cx, float cr) {
  uint32_t xw[4], rw[4], vw[4], s[4];
  memcpy(xw, &x, 16);
  memcpy(rw, &r, 16);
  memcpy(vw, &v, 16);
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    uint32_t a, b;  // the two reflected words, as reflect_rows stores them
    if constexpr (Stepwise) {
      a = stepwise_update2<E>(xw[k], splat2<E>(cx), vw[k]);
      b = stepwise_update2<E>(rw[k], splat2<E>(cr), vw[k]);
    } else {
      const float2 xs = widen2<E>(xw[k]), rs = widen2<E>(rw[k]), vs = widen2<E>(vw[k]);
      a = pack_fast<E>(householder_update(xs.x, cx, vs.x), householder_update(xs.y, cx, vs.y));
      b = pack_fast<E>(householder_update(rs.x, cr, vs.x), householder_update(rs.y, cr, vs.y));
    }
    s[k] = st_add2<E>(a, b);  // NaN: see finite_sums
  }
  uint4 out;
  memcpy(&out, s, 16);
  return out;
}

// One vector of s = st(x + residual) (a row not reflected).
template <typename E>
__device__ __forceinline__ uint4 plain_sum(const uint4& x, const uint4& r) {
  uint32_t xw[4], rw[4], s[4];
  memcpy(xw, &x, 16);
  memcpy(rw, &r, 16);
#pragma unroll
  for (int k = 0; k < 4; ++k) s[k] = st_add2<E>(xw[k], rw[k]);  // NaN: see finite_sums
  uint4 out;
  memcpy(&out, s, 16);
  return out;
}

// One vector of the norm's output y = st(st(s * inv) * w): st(s * inv) in binary32 (inv is not a
// value of the storage type), its product with w in the storage type's arithmetic.
template <typename E>
__device__ __forceinline__ uint4 normed(const uint4& s, const uint4& w, float inv) {
  uint32_t sw[4], ww[4], y[4];
  memcpy(sw, &s, 16);
  memcpy(ww, &w, 16);
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const float2 ss = widen2<E>(sw[k]);
    const uint32_t t = pack_fast<E>(pr_mul(ss.x, inv), pr_mul(ss.y, inv));
    y[k] = canonical_nan_halves<E>(st_mul2<E>(t, ww[k]));
  }
  uint4 out;
  memcpy(&out, y, 16);
  return out;
}

// The row's sums from this warp's chunk sums a[k] (core section 7's last level over the block's
// chunks, each warp summing them itself), through sums[k] (kWarps floats each): one barrier for
// all N. With one chunk a chunk sum is already the row's sum.
template <int kWarps, int N>
__device__ __forceinline__ void row_sums(float (&a)[N], float (&sums)[N][kWarps], int chunks) {
  if (chunks == 1) return;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) {
#pragma unroll
    for (int k = 0; k < N; ++k) sums[k][warp] = a[k];
  }
  __syncthreads();
#pragma unroll
  for (int k = 0; k < N; ++k)
    a[k] = chunk_tree<1, 1, TreeResult::kEveryLane>([&](int c) { return sums[k][c]; }, lane, chunks);
}

// Blocks a multiprocessor for rows of up to 8 chunks: three from sm_90 on (80 registers a thread,
// without spills there; at 3072 eight blocks of 3 warps then fit, so every one of 1024 rows has a
// block at once), two before (80 registers spill 12-36 bytes a thread on sm_75 and sm_80); one
// for 16. Only the device passes see __CUDA_ARCH__: the launch asks the occupancy of the
// compiled kernel (resident_grid), never this bound.
template <int kWarps>
constexpr int fused_chunk_min_blocks() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
  return kWarps <= 8 ? 2 : 1;
#else
  return kWarps <= 8 ? 3 : 1;
#endif
}

template <typename E, bool Stepwise, int kWarps>
__global__ void __launch_bounds__(kWarps * 32, (fused_chunk_min_blocks<kWarps>()))
fused_norm_chunk_kernel(typename E::Bits* x_all, typename E::Bits* res_all,
                        const typename E::Bits* weight, float eps, int64_t units, int64_t copies,
                        int hidden, const typename E::Bits* table, int64_t slots,
                        const int64_t* row_group, const bool* mask) {
  static_assert(sizeof(typename E::Bits) == 2, "16-bit elements: two a 32-bit word");
  using Bits = typename E::Bits;
  constexpr int P = ChunkShape<E>::kPerLane;
  // The chunk sums of alternate units: [parity] the two dots, and the sum of squares. A unit's
  // buffers are written again two units later, after every warp passed the barrier of the unit
  // between (every unit of several chunks has one), so no reader is overtaken.
  __shared__ float dots[2][2][kWarps];
  __shared__ float squares[2][1][kWarps];
  const int lane = threadIdx.x & 31;
  const int chunks = blockDim.x >> 5;
  const int vectors = hidden / ChunkShape<E>::kVec;
  const int base = (threadIdx.x >> 5) * (kChunk / ChunkShape<E>::kVec);  // this warp's first vector
  const float h = static_cast<float>(hidden);  // exact: hidden <= 2^24
  int parity = 0;
  for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const int64_t r = copies == 1 ? u : u / copies;  // a 64-bit division is slow
    const UnitSlot slot = row_slot(r, slots, row_group, mask);
    const bool reflect = slot.m && slot.g >= 0 && slot.g < slots;  // the same in every thread
    uint4* x = reinterpret_cast<uint4*>(x_all + u * hidden);
    uint4* res = reinterpret_cast<uint4*>(res_all + u * hidden);
    uint4 xs[P], rs[P], s[P];
    load_chunk<E>(reinterpret_cast<const Bits*>(x), base, vectors, xs);
    load_chunk<E>(reinterpret_cast<const Bits*>(res), base, vectors, rs);
    if (reflect) {
      const uint4* vrow = reinterpret_cast<const uint4*>(table + slot.g * hidden);
      float d[2];
      {
        uint4 vs[P];
        load_chunk<E>(table + slot.g * hidden, base, vectors, vs);
        const ReflectProduct<E, Stepwise> product;
        d[0] = chunk_dot<E>(xs, vs, base, vectors, product);
        d[1] = chunk_dot<E>(rs, vs, base, vectors, product);
      }
      row_sums(d, dots[parity], chunks);
      const float cx = Stepwise ? stepwise_coefficient_fast<E>(d[0]) : householder_coefficient(d[0]);
      const float cr = Stepwise ? stepwise_coefficient_fast<E>(d[1]) : householder_coefficient(d[1]);
      // x, residual and v are read again here (the lines this thread loaded above, from L1 or
      // L2) instead of held across the dots and their barrier: holding all three there took
      // more than 80 registers (about 170 bytes of spills a thread on sm_90; 78 registers this
      // way).
#pragma unroll
      for (int m = 0; m < P; ++m) {
        const int q = base + lane + 32 * m;
        const uint4 xm = q < vectors ? x[q] : make_uint4(0, 0, 0, 0);
        const uint4 rm = q < vectors ? res[q] : make_uint4(0, 0, 0, 0);
        const uint4 vm = q < vectors ? vrow[q] : make_uint4(0, 0, 0, 0);
        s[m] = reflected_sum<E, Stepwise>(xm, rm, vm, cx, cr);
      }
    } else {
#pragma unroll
      for (int m = 0; m < P; ++m) s[m] = plain_sum<E>(xs[m], rs[m]);
    }
#pragma unroll
    for (int m = 0; m < P; ++m)  // beyond the row: the sum of squares' +0.0 padding
      if (base + lane + 32 * m >= vectors) s[m] = make_uint4(0, 0, 0, 0);
    float ss[1] = {chunk_dot<E>(s, s, base, vectors, SquareProduct<E>{})};
    row_sums(ss, squares[parity], chunks);
    if (!finite_sums(ss[0])) {
#pragma unroll
      for (int m = 0; m < P; ++m) {
        uint32_t w[4];
        memcpy(w, &s[m], 16);
#pragma unroll
        for (int k = 0; k < 4; ++k) w[k] = canonical_nan_halves<E>(w[k]);
        memcpy(&s[m], w, 16);
      }
    }
    parity ^= 1;
    const float inv = rms_inverse(ss[0], h, eps);
    uint4 w[P];  // loaded a unit at a time (from L1 or L2): held across the loop it cost spills
    load_chunk<E>(weight, base, vectors, w);
#pragma unroll
    for (int m = 0; m < P; ++m) {
      const int q = base + lane + 32 * m;
      if (q < vectors) {
        res[q] = s[m];
        x[q] = normed<E>(s[m], w[m], inv);
      }
    }
  }
}

// The one-pass kernel over rows * copies units of hidden <= kWarps * kChunk elements, one warp a
// chunk, as many blocks as fit on the device (each walking units gridDim.x apart).
template <typename E, bool Stepwise, int kWarps>
void launch_fused_norm_chunk(typename E::Bits* x, typename E::Bits* residual,
                             const typename E::Bits* weight, float eps, int64_t units,
                             int64_t copies, int64_t hidden, const typename E::Bits* table,
                             int64_t slots, const int64_t* row_group, const bool* mask,
                             cudaStream_t stream) {
  const int warps = static_cast<int>((hidden + kChunk - 1) / kChunk);
  const unsigned blocks =
      resident_grid<fused_norm_chunk_kernel<E, Stepwise, kWarps>, kWarps>(warps, units);
  fused_norm_chunk_kernel<E, Stepwise, kWarps><<<blocks, warps * 32, 0, stream>>>(
      x, residual, weight, eps, units, copies, static_cast<int>(hidden), table, slots, row_group,
      mask);
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
