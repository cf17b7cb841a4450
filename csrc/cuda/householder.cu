// householder.cu — apply_householder on the GPU (SPEC.md 9.3, 9.8): each row x of one or two
// tensors (the pair form: a layer's hidden states and residual) becomes x - 2 (x . v) v.
//
// The fast kernel reads a row once: 16-byte loads of x and v into registers, their products into
// shared memory, the dot by block_tree_sum over them (the fixed tree of core section 7), then the
// update of the x each thread holds, with 16-byte stores. Rows of up to kFusedMaxDim elements whose length is a
// multiple of a 16-byte vector take it; others take the generic kernel, which reads the row
// twice (the second read mostly from L2). Both write nothing before the row's dot is known, so
// the output may be the input (in place).
#include <algorithm>

#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"

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
  for (int e = 0; e < kVec; ++e) p[e] = pr_mul(E::widen(xb[e]), E::widen(vb[e]));
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
    yb[e] = E::encode(canonicalize_nan(householder_update(E::widen(xb[e]), c, E::widen(vb[e]))));
  uint4 y;
  memcpy(&y, yb, 16);
  return y;
}

// One pass over the row: each thread loads its 16-byte vectors of x and v into registers and
// writes their products to shared memory; the block sums the products in the fixed order; each
// thread then updates the x it holds. x is read once from memory, and v (the same for every row
// of a layer) mostly from L2.
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

// The same for a shared v and rows of at most kStreamVectors 16-byte vectors a thread (8192
// bf16/fp16, 4096 float32 elements): each block keeps its part of v in registers and walks rows
// gridDim.x apart, loading the next row while it sums and updates the current one, so memory
// reads overlap the barriers of the fixed-order sum.
constexpr int kStreamVectors = 4;

template <typename E>
__device__ __forceinline__ void load_row(const typename E::Bits* x, int vectors, uint4 (&to)[kStreamVectors]) {
#pragma unroll
  for (int j = 0; j < kStreamVectors; ++j) {
    const int q = threadIdx.x + j * kRowThreads;
    if (q < vectors) to[j] = reinterpret_cast<const uint4*>(x)[q];
  }
}

template <typename E>
__global__ void __launch_bounds__(kRowThreads)
householder_stream_kernel(const __grid_constant__ RowSets rows, const typename E::Bits* v,
                          int64_t dim) {
  using Bits = typename E::Bits;
  constexpr int kVec = 16 / sizeof(Bits);
  extern __shared__ __align__(16) float products[];  // [dim]
  __shared__ float levels[16];
  const int vectors = static_cast<int>(dim / kVec);
  const int64_t total = rows.total();
  uint4 vs[kStreamVectors], cur[kStreamVectors], next[kStreamVectors];
  load_row<E>(v, vectors, vs);
  int64_t r = blockIdx.x;
  const Bits* x;
  Bits* out;
  if (r < total) {
    rows.row(r, x, out, dim);
    load_row<E>(x, vectors, cur);
  }
  for (; r < total; r += gridDim.x) {
    rows.row(r, x, out, dim);
    if (r + gridDim.x < total) {  // the next row's loads, in flight during this row's sum
      const Bits* x_next;
      Bits* unused;
      rows.row(r + gridDim.x, x_next, unused, dim);
      load_row<E>(x_next, vectors, next);
    }
#pragma unroll
    for (int j = 0; j < kStreamVectors; ++j) {
      const int q = threadIdx.x + j * kRowThreads;
      if (q < vectors) store_products<E>(cur[j], vs[j], q, products);
    }
    __syncthreads();
    const float c = householder_coefficient(
        block_tree_sum(RowTerms<F32, false>{products}, dim, levels));
#pragma unroll
    for (int j = 0; j < kStreamVectors; ++j) {
      const int q = threadIdx.x + j * kRowThreads;
      if (q < vectors) reinterpret_cast<uint4*>(out)[q] = reflected<E>(cur[j], vs[j], c);
      cur[j] = next[j];
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

// The current device's multiprocessor count (the stream kernel's grid: a few blocks a
// multiprocessor, each walking many rows).
int multiprocessors() {
  int device = 0, count = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device);
  return count > 0 ? count : 1;
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

bool fused_applies(const RowSets& rows, const void* v, int64_t dim, size_t element_size) {
  if (dim > kFusedMaxDim || (dim * static_cast<int64_t>(element_size)) % 16 != 0) return false;
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
    constexpr int kVec = 16 / sizeof(typename E::Bits);
    if (fused_applies(rows, v, dim, sizeof(typename E::Bits)) && !v_per_row &&
        dim <= int64_t{kStreamVectors} * kRowThreads * kVec) {
      const auto stream_blocks =
          static_cast<unsigned>(std::min<int64_t>(rows.total(), 4 * multiprocessors()));
      householder_stream_kernel<E><<<stream_blocks, kRowThreads, dim * sizeof(float), stream>>>(
          rows, ve, dim);
    } else if (fused_applies(rows, v, dim, sizeof(typename E::Bits))) {
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
