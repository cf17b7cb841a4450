// chunk_dot.cuh — the one-pass kernels' fixed-order dot (the reflection's chunk kernel in
// reflect_rows_chunk.cuh, and the snap's): the row's 1024-term chunks held in 16-byte vectors,
// one warp a chunk, summed by the tree of core section 7 in registers and shuffles. In a header of its own so that tests/cpp/tree_sum_gpu.cu
// compares it with tree_sum.cuh's chunk_tree.
#pragma once

#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "../core/pocrand_core.h"
#include "device_common.cuh"

namespace pocrand {
namespace cuda {
namespace {

// ------------------------------------------------------------------------------------------
// The chunk kernel: a shared v and rows of at most kWarps chunks, one warp per chunk.
//
// Core section 7 sums each chunk of 1024 terms by the halving tree, term j meeting term j + w
// at widths w = 512, 256, ..., 1. Lane l of the chunk's warp loads the chunk's 16-byte vectors
// l, l + 32, l + 64, ... (each load instruction of the warp reads 512 contiguous bytes), so with
// V elements a vector and P vectors a lane, term j = V (l + 32 m) + e sits in lane l, vector m,
// element e. The tree's widths then fall on three kinds of pairs, in this order:
//   widths 512 .. 32V:   vectors m and m + w / (32V) of the same lane (adds in registers);
//   widths 16V .. V:     lanes l and l + w / V (shuffles);
//   widths V/2 .. 1:     elements e and e + w of the same vector (shuffles, see below).
// The lane steps split the work: at the shuffle over lane bit b, a lane whose bit b is 0 keeps
// the lower half of the elements it still holds and its partner the upper half, each adding the
// other's half of the pair (IEEE addition is commutative, so either lane computes the tree's
// sum). After log2(V) splits a lane holds one element of one position; the last lane steps and
// the element steps are then plain butterflies over the lane bits that the splits gave to the
// elements. No shared memory, no barrier: a chunk's sum is in every lane of its warp.
//
// The row's chunk sums then meet in shared memory (one barrier) and every warp sums them by the
// last tree level itself, so each thread has c = 2 (x . v) without a second barrier. Each block
// walks rows gridDim.x apart and loads the next row while it sums and updates the current one.
// ------------------------------------------------------------------------------------------
template <typename E>
struct ChunkShape {
  static constexpr int kVec = 16 / sizeof(typename E::Bits);  // elements a vector (V)
  static constexpr int kPerLane = kChunk / (32 * kVec);        // vectors a lane (P)
};

// Vectors m of lane `lane` in the chunk starting at vector `base` of x (zero beyond `vectors`).
// Streaming: loaded evict-first (ld.global.cs), for rows read once whose lines need not stay in
// the caches (reflect_rows' inputs out of place).
template <typename E, bool Streaming = false>
__device__ __forceinline__ void load_chunk(const typename E::Bits* x, int base, int vectors,
                                           uint4 (&to)[ChunkShape<E>::kPerLane]) {
  const int lane = threadIdx.x & 31;
  const uint4* row = reinterpret_cast<const uint4*>(x);
#pragma unroll
  for (int m = 0; m < ChunkShape<E>::kPerLane; ++m) {
    const int q = base + lane + 32 * m;
    to[m] = q >= vectors ? make_uint4(0, 0, 0, 0) : Streaming ? __ldcs(row + q) : row[q];
  }
}

// The dot's term of the Householder reflection (9.3): x[i] * v[i] in binary32.
template <typename E>
struct ArithProduct {
  __device__ __forceinline__ float operator()(typename E::Bits x, typename E::Bits v) const {
    return pr_mul(E::arith(x), E::arith(v));
  }
};

// Whether a product of 16-bit elements also computes two terms at once: product.pair(xw, vw), with
// xw and vw two consecutive elements each in a 32-bit word (the lower element in the low half), is
// a float2 equal to the two single products. The stepwise product is the storage type's own
// product of the two words (one instruction), and bf16 widens them from the word directly. Such
// a product must give +0.0 for two zero elements (x and v beyond the row are loaded as zeros),
// which chunk_dot then takes for the padding.
template <typename Product, typename = void>
struct ProductHasPair : std::false_type {};
template <typename Product>
struct ProductHasPair<Product, decltype(void(&Product::pair))> : std::true_type {};

// The sum of product(x[i], v[i]) (by default x[i] * v[i]) over the chunk held by this warp (core
// section 7 tree), in every lane. The specialised copy of the tree (tree_sum.cuh): it equals
//   chunk_tree<32, 1, TreeResult::kEveryLane>(products, chunk start + lane, n)
// over the same products (n the row's length), in other lanes' registers; tests/cpp/tree_sum_gpu.cu
// checks the two bit for bit. Kept for speed: the chunk kernel runs near its memory floor, and this
// layout reads each lane's terms as 16-byte vectors. `product` is a parameter so that the one-pass
// reflect_rows kernel (reflect_rows_chunk.cuh) sums its stepwise products by the same tree; the
// default is the plain product of 9.3.
template <typename E, typename Product = ArithProduct<E>>
__device__ __forceinline__ float chunk_dot(const uint4 (&x)[ChunkShape<E>::kPerLane],
                                           const uint4 (&v)[ChunkShape<E>::kPerLane], int base,
                                           int vectors, Product product = Product{}) {
  using Bits = typename E::Bits;
  constexpr int V = ChunkShape<E>::kVec, P = ChunkShape<E>::kPerLane;
  const int lane = threadIdx.x & 31;
  float t[P][V];
#pragma unroll
  for (int m = 0; m < P; ++m) {
    Bits xb[V], vb[V];
    memcpy(xb, &x[m], 16);
    memcpy(vb, &v[m], 16);
    const bool in_row = base + lane + 32 * m < vectors;  // else +0.0 padding
    if constexpr (ProductHasPair<Product>::value && sizeof(Bits) == 2) {
      // No select here: a pair product is one whose value at two zeros is +0.0, the padding's
      // value, and load_chunk loads zeros beyond the row.
      uint32_t xw[V / 2], vw[V / 2];
      memcpy(xw, &x[m], 16);
      memcpy(vw, &v[m], 16);
#pragma unroll
      for (int k = 0; k < V / 2; ++k) {
        const float2 p = product.pair(xw[k], vw[k]);
        t[m][2 * k] = p.x;
        t[m][2 * k + 1] = p.y;
      }
    } else {
#pragma unroll
      for (int e = 0; e < V; ++e) t[m][e] = in_row ? product(xb[e], vb[e]) : 0.0f;
    }
  }
  // widths 512 .. 32V: vectors m and m + h of this lane
#pragma unroll
  for (int h = P / 2; h >= 1; h /= 2)
#pragma unroll
    for (int m = 0; m < h; ++m)
#pragma unroll
      for (int e = 0; e < V; ++e) t[m][e] = pr_add(t[m][e], t[m + h][e]);
  // widths 16V .. V: lanes l and l + b, splitting the elements while there are several
  float* s = t[0];
  int b = 16;
#pragma unroll
  for (int n = V; n > 1; n /= 2, b /= 2) {
    const bool upper = lane & b;
#pragma unroll
    for (int i = 0; i < n / 2; ++i) {
      const float give = upper ? s[i] : s[i + n / 2];
      const float keep = upper ? s[i + n / 2] : s[i];
      s[i] = pr_add(keep, __shfl_xor_sync(0xffffffffu, give, b));
    }
  }
  float sum = s[0];
#pragma unroll
  for (; b >= 1; b /= 2) sum = pr_add(sum, __shfl_xor_sync(0xffffffffu, sum, b));
  // widths V/2 .. 1: element e + w lives in the lane whose split bit for w is set
#pragma unroll
  for (int w = 16; w > 16 / V; w /= 2) sum = pr_add(sum, __shfl_xor_sync(0xffffffffu, sum, w));
  return sum;
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
