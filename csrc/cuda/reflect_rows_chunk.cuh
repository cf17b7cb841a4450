// reflect_rows_chunk.cuh — the one-pass reflect_rows kernel (SPEC.md 10.10) for rows that split
// into whole 16-byte vectors at 16-byte aligned addresses and fit on chip (kWarps chunks of 1024
// terms). reflect_rows.cu launches it when it applies and its generic kernel otherwise.
//
// Why a second kernel: the generic one (a block of 256 threads per unit) reads each row twice,
// once for the dot and once for the update. Here a block of one warp per 1024-term chunk holds
// the unit's x and its slot's v in registers, sums the dot by chunk_dot.cuh's chunk_dot
// (the tree of core section 7 in registers and shuffles, the same pairing as tree_sum.cuh's, so
// the bits are the generic kernel's) and writes y from the registers: x is read once. Each block
// walks units gridDim.x apart and loads the next unit's x and v while it sums and writes the
// current one; the grid is as many blocks as fit on the
// device, so several units are in flight per multiprocessor.
#pragma once

#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <type_traits>

#include "../core/pocrand_core.h"
#include "device_common.cuh"
#include "chunk_dot.cuh"
#include "kernels.h"
#include "launch_util.cuh"
#include "storage_round.cuh"
#include "tree_sum.cuh"

namespace pocrand {
namespace cuda {
namespace {

// The dot's term of 10.10: x[i] * v[i] in binary32 ("once") or delivered in the storage type
// (stepwise; two terms an instruction in `pair`, the storage type's own product).
// `arith` is exact for every number; a NaN operand gives a NaN product, which makes the dot NaN
// and the row's coefficient non-finite, so its outputs are stored by the exact path below and
// no payload reaches an output.
template <typename E, bool Stepwise>
struct ReflectProduct {
  __device__ __forceinline__ float operator()(typename E::Bits x, typename E::Bits v) const {
    const float xi = E::arith(x), vi = E::arith(v);
    return Stepwise ? stepwise_product_fast<E>(xi, vi) : pr_mul(xi, vi);
  }
  // Two consecutive 16-bit elements of x and of v, each pair in a 32-bit word (chunk_dot's pair).
  // Stepwise, st(x * v) is the storage type's own product (storage_round.cuh's st_mul2).
  __device__ __forceinline__ float2 pair(uint32_t xw, uint32_t vw) const {
    if constexpr (Stepwise) return widen2<E>(st_mul2<E>(xw, vw));
    const float2 x = widen2<E>(xw), v = widen2<E>(vw);
    return make_float2(pr_mul(x.x, v.x), pr_mul(x.y, v.y));
  }
};

// The dot's terms of a row read from memory (the generic kernels' block_tree_sum): x[i] * v[i]
// in binary32 ("once") or delivered in the storage type (stepwise) by the chunk kernel's product
// (storage_round.cuh's hardware rounding; a NaN term makes the row's coefficient non-finite, and
// its outputs are then stored with NaN made canonical).
template <typename E, bool Stepwise>
struct ReflectTerms {
  const typename E::Bits* x;
  const typename E::Bits* v;
  __device__ float operator()(int64_t i) const { return ReflectProduct<E, Stepwise>{}(x[i], v[i]); }
};

// 10.10's last step for one element before the store's rounding: x - c*v ("once", 9.3) or
// x - st(c*v) (stepwise; the store then rounds, which is the last st). The chunk kernel does two
// elements at a time, the same values: in the storage type's own arithmetic where no output can
// be NaN, by stepwise_update_unrounded2 elsewhere (reflected_vector).
template <typename E, bool Stepwise>
__device__ __forceinline__ float reflect_unrounded(float x, float c, float v) {
  return Stepwise ? stepwise_update_unrounded<E>(x, c, v) : householder_update(x, c, v);
}

// One 16-byte vector of x reflected by the same vector of v with coefficient c, stored as 10.10
// says. Fast: c is finite (no_nan_outputs), so no output is NaN and the hardware conversion is
// the store, two elements an instruction; otherwise each NaN is made canonical first (the
// core's encode, as in the generic kernel).
template <typename E, bool Stepwise, bool Fast>
__device__ __forceinline__ uint4 reflected_vector(const uint4& x, const uint4& v, float c) {
  using Bits = typename E::Bits;
  constexpr int kVec = ChunkShape<E>::kVec;
  if constexpr (Fast && Stepwise && sizeof(Bits) == 2) {
    // st(x - st(c*v)) in the storage type's own arithmetic (storage_round.cuh's st_*2)
    uint32_t xw[kVec / 2], vw[kVec / 2], w[kVec / 2];
    memcpy(xw, &x, 16);
    memcpy(vw, &v, 16);
    const uint32_t cw = splat2<E>(c);
#pragma unroll
    for (int k = 0; k < kVec / 2; ++k) w[k] = stepwise_update2<E>(xw[k], cw, vw[k]);
    uint4 y;
    memcpy(&y, w, 16);
    return y;
  }
  float u[kVec];
  if constexpr (sizeof(Bits) == 2) {  // two elements a 32-bit word
    uint32_t xw[kVec / 2], vw[kVec / 2];
    memcpy(xw, &x, 16);
    memcpy(vw, &v, 16);
#pragma unroll
    for (int k = 0; k < kVec / 2; ++k) {
      const float2 xs = widen2<E>(xw[k]), vs = widen2<E>(vw[k]);
      if constexpr (Stepwise) {  // both products rounded by one conversion
        const float2 y = stepwise_update_unrounded2<E>(xs.x, xs.y, c, vs.x, vs.y);
        u[2 * k] = y.x;
        u[2 * k + 1] = y.y;
      } else {
        u[2 * k] = householder_update(xs.x, c, vs.x);
        u[2 * k + 1] = householder_update(xs.y, c, vs.y);
      }
    }
  } else {
    Bits xb[kVec], vb[kVec];
    memcpy(xb, &x, 16);
    memcpy(vb, &v, 16);
#pragma unroll
    for (int e = 0; e < kVec; ++e)
      u[e] = reflect_unrounded<E, Stepwise>(E::arith(xb[e]), c, E::arith(vb[e]));
  }
  uint4 y;
  if constexpr (Fast && sizeof(Bits) == 2) {
    uint32_t w[kVec / 2];
#pragma unroll
    for (int k = 0; k < kVec / 2; ++k) w[k] = pack_fast<E>(u[2 * k], u[2 * k + 1]);
    memcpy(&y, w, 16);
  } else {
    Bits yb[kVec];
#pragma unroll
    for (int e = 0; e < kVec; ++e) yb[e] = Fast ? E::encode(u[e]) : E::encode(canonicalize_nan(u[e]));
    memcpy(&y, yb, 16);
  }
  return y;
}

// The units of one launch: (tensor, row, copy), numbered tensor-major; unit u of a tensor is its
// rows' u-th [hidden] slice, and row u / copies gives its mask entry and slot.
struct ReflectUnits {
  ReflectSet set[2];
  int64_t per_set;  // rows * copies
  int64_t copies;
  int64_t total;    // per_set * count
};

// Where unit u reads and writes, and its slot's row of the table (nullptr: the unit is copied,
// its row masked off or its slot outside [0, slots)). The same for every thread of the block.
template <typename Bits>
struct ReflectUnit {
  const Bits* x;
  Bits* out;
  const Bits* v;
};

// Unit u's mask entry and slot as loaded, not yet looked at: the kernel loads them a unit before
// the unit's rows, so that the rows' loads wait for no load of their own (the two in a chain took
// two memory latencies a unit, more than a unit's work when a block has few units).
struct UnitSlot {
  int64_t g;
  bool m;
};

__device__ __forceinline__ int64_t unit_local(const ReflectUnits& units, int64_t u) {
  return u < units.per_set ? u : u - units.per_set;
}

// Row r's slot and mask entry: row_group[r], or without row_group (nullptr) slot 0 of a one-row
// table or slot r of an n-row one; without mask (nullptr) every row is reflected.
__device__ __forceinline__ UnitSlot row_slot(int64_t r, int64_t slots, const int64_t* row_group,
                                             const bool* mask) {
  return {row_group != nullptr ? row_group[r] : (slots == 1 ? 0 : r), mask == nullptr || mask[r]};
}

__device__ __forceinline__ UnitSlot unit_slot(const ReflectUnits& units, int64_t u, int64_t slots,
                                              const int64_t* row_group, const bool* mask) {
  if (u >= units.total) return {-1, false};
  const int64_t local = unit_local(units, u);
  const int64_t r = units.copies == 1 ? local : local / units.copies;  // a 64-bit division is slow
  return row_slot(r, slots, row_group, mask);
}

template <typename Bits>
__device__ __forceinline__ ReflectUnit<Bits> reflect_unit(const ReflectUnits& units, int64_t u,
                                                          int64_t hidden, const Bits* table,
                                                          int64_t slots, UnitSlot slot) {
  const int s = u < units.per_set ? 0 : 1;
  const int64_t local = unit_local(units, u);
  const bool reflect = slot.m && slot.g >= 0 && slot.g < slots;
  return {static_cast<const Bits*>(units.set[s].x) + local * hidden,
          static_cast<Bits*>(units.set[s].out) + local * hidden,
          reflect ? table + slot.g * hidden : nullptr};
}

// The launch bounds name one block a multiprocessor for float32 (the registers then allow the
// four row arrays below without spills) and two for 16-bit elements, whose arrays are half as large: 128 registers a thread, so that two blocks of rows up
// to 8192 elements are in flight on each multiprocessor (unbounded, ptxas took 151 for the
// stepwise kernel, which left one block of 7 or 8 warps). bf16 before sm_80, rounded in software,
// keeps one. Blocks of 16 warps get at most 128 registers a thread,
// too few for four (ptxas spilled on sm_100 and sm_120): they load the unit's v when its turn
// comes (from L2: a table row is read by many units) instead of ahead.
template <typename E, int kWarps>
constexpr int reflect_chunk_min_blocks() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  // No bf16 conversion instruction: the software rounding needs more than 128 registers (spills).
  if (std::is_same<E, BF16>::value) return 1;
#endif
  return kWarps <= 8 && sizeof(typename E::Bits) == 2 ? 2 : 1;
}

template <typename E, bool Stepwise, int kWarps>
__global__ void __launch_bounds__(kWarps * 32, (reflect_chunk_min_blocks<E, kWarps>()))
reflect_rows_chunk_kernel(const __grid_constant__ ReflectUnits units, int hidden,
                          const typename E::Bits* table, int64_t slots, const int64_t* row_group,
                          const bool* mask) {
  using Bits = typename E::Bits;
  constexpr int P = ChunkShape<E>::kPerLane;
  __shared__ float sums[2][kWarps];  // the chunk sums of alternate reflected units
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int chunks = blockDim.x >> 5;
  const int vectors = hidden / ChunkShape<E>::kVec;
  const int base = warp * (kChunk / ChunkShape<E>::kVec);  // this warp's first vector
  const int64_t step = gridDim.x;
  constexpr bool kPrefetchV = kWarps <= 8;
  // The current unit's rows (a) and the next one's (b), moved into a after each unit. (Swapping
  // the roles instead, the loop unrolled twice, saves those moves but needed ~185 registers.)
  uint4 xa[P], va[P], xb[P], vb[P];
  // Unit u's x (unless it is copied in place: nothing to move) and v (if it is reflected).
  auto load = [&](int64_t u, UnitSlot slot, ReflectUnit<Bits>& w, uint4 (&xs)[P], uint4 (&vs)[P]) {
    if (u >= units.total) return;
    w = reflect_unit(units, u, hidden, table, slots, slot);
    // Out of place x is read once and dead after the op: loaded evict-first, which leaves the
    // L2 to the outputs the next layer reads and to the table (1024×7168 bf16 pair, H200:
    // 18.9 → 17.7 µs; in place, where the loaded lines are rewritten, plain loads were as fast).
    if (w.out != w.x) load_chunk<E, true>(w.x, base, vectors, xs);
    else if (w.v != nullptr) load_chunk<E>(w.x, base, vectors, xs);
    if (kPrefetchV && w.v != nullptr) load_chunk<E>(w.v, base, vectors, vs);
  };
  int parity = 0;
  // Unit u (loaded into xc, vc) reflected or copied, the next unit loaded into xn, vn meanwhile.
  auto unit = [&](int64_t u, const ReflectUnit<Bits>& cur, uint4 (&xc)[P], uint4 (&vc)[P],
                  UnitSlot next_slot, ReflectUnit<Bits>& next, uint4 (&xn)[P], uint4 (&vn)[P]) {
    load(u + step, next_slot, next, xn, vn);  // in flight during this unit's sum and stores
    uint4* out = reinterpret_cast<uint4*>(cur.out);
    if (cur.v != nullptr) {  // uniform over the block: the barrier below is reached by all
      if constexpr (!kPrefetchV) load_chunk<E>(cur.v, base, vectors, vc);
      float dot = chunk_dot<E>(xc, vc, base, vectors, ReflectProduct<E, Stepwise>{});
      if (chunks > 1) {
        // The last level over the chunk sums (core section 7). sums[parity] is rewritten two
        // reflected units later, after every warp passed the barrier of the one between (parity
        // turns only at a barrier, so copied units in between change nothing).
        if (lane == 0) sums[parity][warp] = dot;
        __syncthreads();
        dot = chunk_tree<1, 1, TreeResult::kEveryLane>([&](int c) { return sums[parity][c]; },
                                                       lane, chunks);
        parity ^= 1;
      }
      const float c = Stepwise ? stepwise_coefficient_fast<E>(dot) : householder_coefficient(dot);
      if (no_nan_outputs(c)) {  // the same in every thread (c is the row's)
#pragma unroll
        for (int m = 0; m < P; ++m) {
          const int q = base + lane + 32 * m;
          if (q < vectors) out[q] = reflected_vector<E, Stepwise, true>(xc[m], vc[m], c);
        }
      } else {
#pragma unroll
        for (int m = 0; m < P; ++m) {
          const int q = base + lane + 32 * m;
          if (q < vectors) out[q] = reflected_vector<E, Stepwise, false>(xc[m], vc[m], c);
        }
      }
    } else if (cur.out != cur.x) {  // copied bit for bit
#pragma unroll
      for (int m = 0; m < P; ++m) {
        const int q = base + lane + 32 * m;
        if (q < vectors) out[q] = xc[m];
      }
    }
  };
  ReflectUnit<Bits> ua{}, ub{};
  int64_t u = blockIdx.x;
  UnitSlot next_slot = unit_slot(units, u + step, slots, row_group, mask);
  load(u, unit_slot(units, u, slots, row_group, mask), ua, xa, va);
  for (; u < units.total; u += step) {
    const UnitSlot after = unit_slot(units, u + 2 * step, slots, row_group, mask);  // used a unit later
    unit(u, ua, xa, va, next_slot, ub, xb, vb);
    next_slot = after;
#pragma unroll
    for (int m = 0; m < P; ++m) {
      xa[m] = xb[m];
      if constexpr (kPrefetchV) va[m] = vb[m];
    }
    ua = ub;
  }
}

// The one-pass kernel over `units`, rows of hidden <= kWarps * kChunk elements, one warp a chunk.
template <typename E, bool Stepwise, int kWarps>
void launch_reflect_chunk(const ReflectUnits& units, int64_t hidden, const typename E::Bits* table,
                          int64_t slots, const int64_t* row_group, const bool* mask,
                          cudaStream_t stream) {
  const int warps = static_cast<int>((hidden + kChunk - 1) / kChunk);
  const unsigned blocks =
      resident_grid<reflect_rows_chunk_kernel<E, Stepwise, kWarps>, kWarps>(warps, units.total);
  reflect_rows_chunk_kernel<E, Stepwise, kWarps><<<blocks, warps * 32, 0, stream>>>(
      units, static_cast<int>(hidden), table, slots, row_group, mask);
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
