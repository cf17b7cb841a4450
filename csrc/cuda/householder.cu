// householder.cu — apply_householder on the GPU (SPEC.md 9.3, 9.8): each row x of one or two
// tensors (the pair form: a layer's hidden states and residual) becomes x - 2 (x . v) v.
//
// Three kernels, by row shape; each writes nothing of a row before its dot is known, so the
// output may be the input (in place):
// - the chunk kernel (a shared v, rows of at most 16384 elements, 16-byte aligned vectors): one
//   warp per 1024-term chunk of the fixed-order sum, the row held in registers and read once;
//   each block walks rows and loads the next while it sums the current one. The path of the
//   forward-pass hooks, near the copy bandwidth.
// - the fused kernel (a v per row, rows of up to kFusedMaxDim elements): the row in registers
//   and its products in shared memory, summed by block_tree_sum.
// - the generic kernel (any length and alignment): reads the row twice, the second time mostly
//   from L2.
#include <algorithm>

#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"
#include "householder_chunk.cuh"
#include "tree_sum.cuh"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kRowThreads = 256;
constexpr int64_t kFusedMaxDim = 10240;  // products a block holds in shared memory (40 KB)

int64_t row_blocks(int64_t rows) { return std::min(rows, kMaxGridX); }

// Row r of the (up to two) tensors, numbered one after the other.
struct RowSets {
  HouseholderRows set[2];
  int count;
  __host__ __device__ int64_t total() const { return set[0].rows + (count > 1 ? set[1].rows : 0); }
  template <typename Bits>
  __device__ void row(int64_t r, const Bits*& x, Bits*& out, int64_t dim) const {
    const int s = r < set[0].rows ? 0 : 1;
    const int64_t local = s == 0 ? r : r - set[0].rows;
    x = static_cast<const Bits*>(set[s].x) + local * dim;
    out = static_cast<Bits*>(set[s].out) + local * dim;
  }
};

// v of row r: shared, or one row of v per row (a single set only).
template <typename Bits>
__device__ const Bits* v_row(const Bits* v, bool v_per_row, int64_t r, int64_t dim) {
  return v_per_row ? v + r * dim : v;
}

// One 16-byte vector of x and of v (elements q * kVec ...): their products into `products`.
template <typename E>
__device__ __forceinline__ void store_products(const uint4& x, const uint4& v, int q,
                                               float* products) {
  using Bits = typename E::Bits;
  constexpr int kVec = 16 / sizeof(Bits);
  Bits xb[kVec], vb[kVec];
  memcpy(xb, &x, 16);
  memcpy(vb, &v, 16);
  float p[kVec];
#pragma unroll
  for (int e = 0; e < kVec; ++e) p[e] = pr_mul(E::arith(xb[e]), E::arith(vb[e]));
#pragma unroll
  for (int h = 0; h < kVec / 4; ++h)
    reinterpret_cast<float4*>(products)[q * (kVec / 4) + h] =
        make_float4(p[4 * h], p[4 * h + 1], p[4 * h + 2], p[4 * h + 3]);
}

// The same vector of x reflected: x - c v, each element rounded once to E's type (9.3).
template <typename E>
__device__ __forceinline__ uint4 reflected(const uint4& x, const uint4& v, float c) {
  using Bits = typename E::Bits;
  constexpr int kVec = 16 / sizeof(Bits);
  Bits xb[kVec], vb[kVec], yb[kVec];
  memcpy(xb, &x, 16);
  memcpy(vb, &v, 16);
#pragma unroll
  for (int e = 0; e < kVec; ++e)
    yb[e] = E::encode(canonicalize_nan(householder_update(E::arith(xb[e]), c, E::arith(vb[e]))));
  uint4 y;
  memcpy(&y, yb, 16);
  return y;
}

// The fused kernel. One pass over the row: each thread loads its 16-byte vectors of x and v into
// registers and writes their products to shared memory; the block sums the products in the
// fixed order; each thread then updates the x it holds. x is read once from memory, and a
// shared v mostly from L2.
template <typename E>
__global__ void __launch_bounds__(kRowThreads)
householder_fused_kernel(const __grid_constant__ RowSets rows, const typename E::Bits* v,
                         bool v_per_row, int64_t dim) {
  using Bits = typename E::Bits;
  constexpr int kVec = 16 / sizeof(Bits);                           // elements a vector
  constexpr int kPerThread = kFusedMaxDim / (kVec * kRowThreads);   // vectors a thread, at most
  extern __shared__ __align__(16) float products[];                 // [dim]
  __shared__ float levels[16];  // block_tree_scratch(kFusedMaxDim) = 10 + 1
  const int vectors = static_cast<int>(dim / kVec);
  for (int64_t r = blockIdx.x; r < rows.total(); r += gridDim.x) {
    const Bits* x;
    Bits* out;
    rows.row(r, x, out, dim);
    const Bits* vr = v_row(v, v_per_row, r, dim);
    uint4 xs[kPerThread], vs[kPerThread];
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int q = threadIdx.x + j * kRowThreads;
      if (q < vectors) {
        xs[j] = reinterpret_cast<const uint4*>(x)[q];
        vs[j] = reinterpret_cast<const uint4*>(vr)[q];
        store_products<E>(xs[j], vs[j], q, products);
      }
    }
    __syncthreads();
    // block_tree_sum ends with a barrier: `products` is free for the next row afterwards
    const float c = householder_coefficient(
        block_tree_sum(RowTerms<F32, false>{products}, dim, levels));
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int q = threadIdx.x + j * kRowThreads;
      if (q < vectors) reinterpret_cast<uint4*>(out)[q] = reflected<E>(xs[j], vs[j], c);
    }
  }
}

// ------------------------------------------------------------------------------------------
// The chunk kernel: a shared v and rows of at most kWarps chunks, one warp per chunk; its dot is
// householder_chunk.cuh's chunk_dot.
// ------------------------------------------------------------------------------------------
// Two instantiations: blocks of up to 8 warps (rows of up to 8192 elements: 256 threads, two
// blocks a multiprocessor for 16-bit rows) and of up to 16 warps (rows of up to 16384 elements,
// one block a multiprocessor).
constexpr int kChunkWarps = 8;
constexpr int kWideChunkWarps = 16;

// The launch bounds name a minimum of one block a multiprocessor, which the occupancy gives
// anyway: the PTX is the same, but ptxas then schedules the loop differently, and on an H200 the
// kernel took 76 µs on [8192, 8192] bf16 with it against 99 µs without (BENCHMARKS.md, log 20).
template <typename E, int kWarps>
__global__ void __launch_bounds__(kWarps * 32, 1)
householder_chunk_kernel(const __grid_constant__ RowSets rows, const typename E::Bits* v,
                         int64_t dim) {
  using Bits = typename E::Bits;
  constexpr int P = ChunkShape<E>::kPerLane;
  __shared__ float sums[2][kWarps];  // the chunk sums of alternate rows
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int chunks = blockDim.x >> 5;
  const int vectors = static_cast<int>(dim / ChunkShape<E>::kVec);
  const int base = warp * (kChunk / ChunkShape<E>::kVec);  // this warp's first vector
  const int64_t total = rows.total();
  const int64_t step = gridDim.x;
  uint4 vreg[P], cur[P], next[P];
  load_chunk<E>(v, base, vectors, vreg);
  auto load_row = [&](int64_t r, uint4 (&to)[P]) {
    if (r < total) {
      const Bits* x;
      Bits* unused;
      rows.row(r, x, unused, dim);
      load_chunk<E>(x, base, vectors, to);
    }
  };
  int64_t r = blockIdx.x;
  load_row(r, cur);
  for (int parity = 0; r < total; r += step, parity ^= 1) {
    const Bits* x;
    Bits* out;
    rows.row(r, x, out, dim);
    load_row(r + step, next);  // in flight during this row's sum
    // A copy that costs nothing: the code measured (see above) has it, and without it ptxas
    // gets a differently numbered program, whose speed nobody measured.
    uint4 vs[P];
#pragma unroll
    for (int m = 0; m < P; ++m) vs[m] = vreg[m];
    float dot = chunk_dot<E>(cur, vs, base, vectors);
    if (chunks > 1) {
      // Row r's slots are rewritten at row r + 2, after every warp passed row r + 1's barrier.
      if (lane == 0) sums[parity][warp] = dot;
      __syncthreads();
      dot = chunk_tree<1, 1, TreeResult::kEveryLane>([&](int c) { return sums[parity][c]; },
                                                     lane, chunks);
    }
    const float c = householder_coefficient(dot);
#pragma unroll
    for (int m = 0; m < P; ++m) {
      const int q = base + lane + 32 * m;
      if (q < vectors) reinterpret_cast<uint4*>(out)[q] = reflected<E>(cur[m], vreg[m], c);
      cur[m] = next[m];
    }
  }
}

// Any row length and alignment: the dot from global memory, then the update.
template <typename E>
__global__ void __launch_bounds__(kRowThreads)
householder_kernel(const __grid_constant__ RowSets rows, const typename E::Bits* v, bool v_per_row,
                   int64_t dim, float* scratch) {
  using Bits = typename E::Bits;
  float* tree = scratch + blockIdx.x * block_tree_scratch(dim);
  for (int64_t r = blockIdx.x; r < rows.total(); r += gridDim.x) {
    const Bits* x;
    Bits* out;
    rows.row(r, x, out, dim);
    const Bits* vr = v_row(v, v_per_row, r, dim);
    const float c = householder_coefficient(block_tree_sum(ProductTerms<E, E>{x, vr}, dim, tree));
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
      out[i] = E::encode(canonicalize_nan(householder_update(E::widen(x[i]), c, E::widen(vr[i]))));
    __syncthreads();  // in place: every thread's update of this row is done before the next
  }
}

// The chunk kernel on rows of `warps` chunks, in blocks of at most kWarps warps.
template <typename E, int kWarps>
void launch_chunk(const RowSets& rows, const typename E::Bits* v, int64_t dim, cudaStream_t stream) {
  const int warps = static_cast<int>((dim + kChunk - 1) / kChunk);
  const auto blocks = static_cast<unsigned>(std::min<int64_t>(
      rows.total(), int64_t{resident_blocks_per_sm<householder_chunk_kernel<E, kWarps>, kWarps>(warps)} *
                        device_multiprocessors()));
  householder_chunk_kernel<E, kWarps><<<blocks, warps * 32, 0, stream>>>(rows, v, dim);
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// Rows that split into whole 16-byte vectors, at 16-byte aligned addresses (x, out and v).
bool in_vectors(const RowSets& rows, const void* v, int64_t dim, size_t element_size) {
  if ((dim * static_cast<int64_t>(element_size)) % 16 != 0) return false;
  bool ok = aligned16(v);
  for (int s = 0; s < rows.count; ++s) ok = ok && aligned16(rows.set[s].x) && aligned16(rows.set[s].out);
  return ok;
}

}  // namespace

size_t householder_scratch_floats(int64_t rows, int64_t dim) {
  return static_cast<size_t>(row_blocks(rows) * block_tree_scratch(dim));
}

cudaError_t launch_householder(const HouseholderRows* sets, int count, const void* v,
                               bool v_per_row, FloatType type, int64_t dim, float* scratch,
                               cudaStream_t stream) {
  if (count < 1 || count > 2 || (v_per_row && count != 1)) return cudaErrorInvalidValue;
  RowSets rows{{sets[0], count > 1 ? sets[1] : HouseholderRows{}}, count};
  const auto blocks = static_cast<unsigned>(row_blocks(rows.total()));
  if (blocks == 0) return cudaSuccess;
  with_element_type(type, [&](auto e) {
    using E = decltype(e);
    const auto* ve = static_cast<const typename E::Bits*>(v);
    const bool vectors = in_vectors(rows, v, dim, sizeof(typename E::Bits));
    if (vectors && !v_per_row && dim <= int64_t{kChunkWarps} * kChunk) {
      launch_chunk<E, kChunkWarps>(rows, ve, dim, stream);
    } else if (vectors && !v_per_row && dim <= int64_t{kWideChunkWarps} * kChunk) {
      launch_chunk<E, kWideChunkWarps>(rows, ve, dim, stream);
    } else if (vectors && dim <= kFusedMaxDim) {
      householder_fused_kernel<E><<<blocks, kRowThreads, dim * sizeof(float), stream>>>(
          rows, ve, v_per_row, dim);
    } else {
      householder_kernel<E><<<blocks, kRowThreads, 0, stream>>>(rows, ve, v_per_row, dim, scratch);
    }
  });
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace pocrand
