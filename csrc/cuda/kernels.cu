// kernels.cu — pocrand's CUDA kernels: thin loops over csrc/core/pocrand_core.h (torch-free).
//
// The arithmetic is the core's, so a kernel differs from its CPU twin only in how it walks the
// elements. Reductions follow the core's fixed tree exactly: one warp per chunk of 1024 terms,
// widths 512..32 inside each lane's registers and 16..1 by warp shuffles (lane i adds lane
// i + width, the same pairing as the tree). Permutations are in permutations.cu.
#include <algorithm>

#include "../core/pocrand_core.h"
#include "device_common.cuh"
#include "kernels.h"
#include "launch_util.cuh"

namespace pocrand {
namespace cuda {
namespace {


// ------------------------------------------------------------------------------------------
// Generators
// ------------------------------------------------------------------------------------------
__global__ void murmur3_kernel(const int64_t* keys, int64_t n, uint32_t seed, int64_t* out) {
  for (int64_t i = global_thread(); i < n; i += thread_stride())
    out[i] = murmur3(static_cast<uint32_t>(keys[i]), seed);
}

__global__ void uniform_kernel(const int64_t* seeds, int64_t rows, int64_t n, float* out) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    for (int64_t i = global_thread(); i < n; i += thread_stride())
      out[row * n + i] = uniform(static_cast<uint32_t>(i), seed);
  }
}

// Where a kernel finds row r's seed: an int64 array in device memory (the seeds-tensor ops, which
// CUDA graphs replay with new seeds), or the launch's own parameters (InlineSeeds, no copy).
struct SeedArray {
  const int64_t* p;
  __device__ uint32_t operator()(int64_t r) const { return static_cast<uint32_t>(p[r]); }
};
struct SeedValues {
  InlineSeeds s;
  __device__ uint32_t operator()(int64_t r) const { return s.v[r]; }
};

// This thread's Box-Muller pairs j (its global index, then every `stride`, the grid's width) of
// normal(seed, len) with p pairs: out[base + j] and, while p + j < len, out[base + p + j] (an odd
// len drops the last second value). The device twin of the CPU's normal_pairs (cpu_common.h).
// The caller passes the stride, computed once outside its row loop.
template <typename Store>
__device__ __forceinline__ void thread_pairs(uint32_t seed, uint32_t p, uint32_t len, int64_t base,
                                             uint32_t stride, const Store& store) {
  for (uint32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < p; j += stride) {
    const NormalPair v = normal_pair(j, p, seed);
    store(base + j, v.first);
    if (p + j < len) store(base + p + j, v.second);
  }
}

// One thread per Box-Muller pair j of each row: writes out[j] and out[p + j]. Indices within a
// row are 32-bit (n < 2^31); only the row's base offset is 64-bit.
// (__grid_constant__: the seeds are read in place from the launch parameters, never copied.)
template <typename Seeds, typename Store>
__global__ void normal_kernel(const __grid_constant__ Seeds seeds, int64_t rows, int64_t n,
                              Store store) {
  const auto p = static_cast<uint32_t>(normal_pair_count(static_cast<uint64_t>(n)));
  const auto n32 = static_cast<uint32_t>(n);
  const uint32_t stride = gridDim.x * blockDim.x;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y)
    thread_pairs(seeds(row), p, n32, row * n, stride, store);
}

// Elements [start, start + m) of each row, one thread an element.
template <typename Store>
__global__ void normal_range_kernel(const int64_t* seeds, int64_t rows, int64_t n, int64_t start,
                                    int64_t m, Store store) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    for (int64_t i = global_thread(); i < m; i += thread_stride())
      store(row * m + i, normal_element(static_cast<uint32_t>(start + i), static_cast<uint32_t>(n), seed));
  }
}

// Concat inputs (core 9.1): words(row, j) is sub-seed j of a row, from a [rows, 8] array or the
// launch parameters (kInlineSeeds / 8 rows).
struct WordArray {
  const int64_t* p;
  __device__ uint32_t operator()(int64_t row, uint32_t j) const {
    return static_cast<uint32_t>(p[row * 8 + j]);
  }
};
struct WordValues {
  InlineSeeds s;
  __device__ uint32_t operator()(int64_t row, uint32_t j) const { return s.v[row * 8 + j]; }
};

// Whole rows, one thread per Box-Muller pair of a segment: blockIdx.z is the segment j (each a
// normal(word, its length) of its own, written at row * n + j * L), blockIdx.y walks the rows.
// The segment length L is passed in, so no thread divides.
template <typename Words, typename Store>
__global__ void concat_normal_kernel(const __grid_constant__ Words words, int64_t rows, int64_t n,
                                     uint32_t L, Store store) {
  const uint32_t j = blockIdx.z;
  const uint32_t len = min(L, static_cast<uint32_t>(n) - j * L);
  const auto p = static_cast<uint32_t>(normal_pair_count(len));
  const uint32_t stride = gridDim.x * blockDim.x;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y)
    thread_pairs(words(row, j), p, len, row * n + static_cast<int64_t>(j) * L, stride, store);
}

// Elements [start, start + m) of each row, one thread an element (random access).
template <typename Store>
__global__ void concat_range_kernel(const int64_t* words, int64_t rows, int64_t n, int64_t start,
                                    int64_t m, Store store) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    uint32_t w[8];
    for (int j = 0; j < 8; ++j) w[j] = static_cast<uint32_t>(words[row * 8 + j]);
    for (int64_t i = global_thread(); i < m; i += thread_stride())
      store(row * m + i, concat_normal_element(static_cast<uint32_t>(start + i),
                                               static_cast<uint32_t>(n), w));
  }
}

// ------------------------------------------------------------------------------------------
// Fixed-order reductions (core section 7): the warp-per-chunk sum is in device_common.cuh
// ------------------------------------------------------------------------------------------
// The chunk sum by a block of kChunkThreads threads, four terms each, for terms that are costly
// to compute (a warp would evaluate 32 of them one after another). Thread t holds terms t,
// t + 256, t + 512, t + 768: widths 512 and 256 of the tree pair them inside the thread, widths
// 128 .. 32 go through shared memory, 16 .. 1 through shuffles in warp 0. Result in thread 0.
constexpr int kChunkThreads = kChunk / 4;
template <typename Terms>
__device__ float block_chunk_sum(const Terms& terms, int64_t n, int64_t c, float* partial) {
  const int t = threadIdx.x;
  float x[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int64_t i = c * kChunk + t + kChunkThreads * k;
    x[k] = i < n ? terms(i) : 0.0f;
  }
  partial[t] = pr_add(pr_add(x[0], x[2]), pr_add(x[1], x[3]));
  __syncthreads();
#pragma unroll
  for (int w = kChunkThreads / 2; w >= 32; w /= 2) {
    if (t < w) partial[t] = pr_add(partial[t], partial[t + w]);
    __syncthreads();
  }
  float v = t < 32 ? partial[t] : 0.0f;
  if (t < 32) {
#pragma unroll
    for (int w = 16; w >= 1; w /= 2) v = pr_add(v, __shfl_down_sync(0xffffffffu, v, w));
  }
  __syncthreads();  // partial is free again
  return v;
}

// out[row * chunks + c] = sum of chunk c of row `row`, one block (kChunkThreads) per chunk.
template <typename Term>
__global__ void __launch_bounds__(kChunkThreads)
chunk_sums_by_block_kernel(int64_t rows, int64_t n, int64_t chunks,
                           const __grid_constant__ Term term, float* out) {
  __shared__ float partial[kChunkThreads];
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto terms = term.row(row);
    for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
      const float v = block_chunk_sum(terms, n, c, partial);
      if (threadIdx.x == 0) out[row * chunks + c] = v;
    }
  }
}

template <typename Term>
__global__ void __launch_bounds__(kTreeWarps * 32)
chunk_tree_kernel(int64_t rows, int64_t n, int64_t chunks, const __grid_constant__ Term term,
                  float* out) {
  const int64_t first_chunk = static_cast<int64_t>(blockIdx.x) * kTreeWarps + (threadIdx.x >> 5);
  const int64_t chunk_stride = static_cast<int64_t>(gridDim.x) * kTreeWarps;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto terms = term.row(row);
    for (int64_t c = first_chunk; c < chunks; c += chunk_stride) {
      const float v = warp_chunk_sum(terms, n, c);
      if ((threadIdx.x & 31) == 0) out[row * chunks + c] = v;
    }
  }
}

struct PlainTerm {  // the previous level's chunk sums
  const float* in;
  int64_t row_stride;
  __device__ RowTerms<F32, false> row(int64_t r) const { return {in + r * row_stride}; }
};

template <typename E>
struct SquareTerm {  // x^2 of a float32 / fp16 / bf16 row
  const void* x;
  int64_t row_stride;
  __device__ RowTerms<E, true> row(int64_t r) const {
    return {static_cast<const typename E::Bits*>(x) + r * row_stride};
  }
};

// normal(seed_r, n)[i]^2, each element computed where it is needed (random access, core
// section 5), so the unit-normal path never stores the unnormalised row.
struct NormalSquareRow {
  uint32_t seed, n;
  __device__ float operator()(int64_t i) const {
    return square(normal_element(static_cast<uint32_t>(i), n, seed));
  }
};
template <typename Seeds>
struct NormalSquareTerm {
  Seeds seeds;
  int64_t n;
  __device__ NormalSquareRow row(int64_t r) const { return {seeds(r), static_cast<uint32_t>(n)}; }
};

int64_t chunk_count(int64_t n) { return (n + kChunk - 1) / kChunk; }

size_t workspace_floats_one_row(int64_t n) {
  size_t total = 0;
  do {
    n = chunk_count(n);
    total += static_cast<size_t>(n);
  } while (n > 1);
  return total;
}

dim3 tree_grid(int64_t chunks, int64_t rows) {
  return dim3(static_cast<unsigned>(std::min((chunks + kTreeWarps - 1) / kTreeWarps, kMaxGridX)),
              static_cast<unsigned>(std::min(rows, kMaxGridY)));
}

// Runs every level of the tree for `rows` sums of n terms; returns a pointer to the rows final
// sums (inside `work`, which holds reduction_workspace_floats(rows, n) floats).
template <typename Term>
float* fixed_order_sums(int64_t rows, int64_t n, Term first, float* work, cudaStream_t stream) {
  int64_t chunks = chunk_count(n);
  float* level = work;
  chunk_tree_kernel<<<tree_grid(chunks, rows), kTreeWarps * 32, 0, stream>>>(rows, n, chunks,
                                                                            first, level);
  while (chunks > 1) {
    const int64_t next = chunk_count(chunks);
    float* out = level + rows * chunks;
    chunk_tree_kernel<<<tree_grid(next, rows), kTreeWarps * 32, 0, stream>>>(
        rows, chunks, next, PlainTerm{level, chunks}, out);
    level = out;
    chunks = next;
  }
  return level;  // [rows], one sum per row
}

// out[row, i] = t[row, i] / sqrt(sums[row]), rounded to the output type.
template <typename Store>
__global__ void normalise_kernel(const float* t, const float* sums, int64_t rows, int64_t V,
                                 float norm_offset, Store store) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const float nrm = pr_add(pr_sqrt(sums[row]), norm_offset);
    for (int64_t i = global_thread(); i < V; i += thread_stride())
      store(row * V + i, canonicalize_nan(pr_div(t[row * V + i], nrm)));
  }
}

// The unit-normal path for V <= 2^20 (at most 1024 chunk sums, so one more tree level gives the
// sum), after chunk_sums_by_block_kernel over the squared normals: every block finishes each
// row's sum of squares from its chunk sums itself (a warp's work), then writes
// normal(seed, V)[i] / norm, recomputing the normals. Two launches in all.
template <typename Seeds, typename Store>
__global__ void normalise_from_chunks_kernel(const __grid_constant__ Seeds seeds, int64_t rows,
                                             int64_t V, const float* chunk_sums, int64_t chunks,
                                             float norm_offset, Store store) {
  __shared__ float norm;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    if (threadIdx.x < 32) {
      const float total = last_level_sum(chunk_sums + row * chunks, chunks);
      if (threadIdx.x == 0) norm = pr_add(pr_sqrt(total), norm_offset);
    }
    const uint32_t seed = seeds(row);
    const auto n32 = static_cast<uint32_t>(V);
    const int64_t first = global_thread();  // its normal is computed while warp 0 finds the norm
    const float t_first = first < V ? normal_element(static_cast<uint32_t>(first), n32, seed) : 0.0f;
    __syncthreads();
    const float nrm = norm;
    for (int64_t i = first; i < V; i += thread_stride()) {
      const float t = i == first ? t_first : normal_element(static_cast<uint32_t>(i), n32, seed);
      store(row * V + i, canonicalize_nan(pr_div(t, nrm)));
    }
    __syncthreads();  // norm is rewritten for the next row
  }
}

// Rows of at most kUnitRowMax elements (the layer vectors, Haar vectors, small targets): one
// block per row holds normal(seed, V) in shared memory, sums its squares with block_tree_sum and
// writes t / (norm + norm_offset). One launch, each normal computed once.
constexpr int kUnitRowMax = 8192;
constexpr int kUnitRowThreads = 1024;

template <typename Seeds, typename Store>
__global__ void __launch_bounds__(kUnitRowThreads)
unit_row_kernel(const __grid_constant__ Seeds seeds, int64_t rows, int64_t V, float norm_offset,
                Store store) {
  __shared__ float t[kUnitRowMax];
  __shared__ float levels[16];  // block_tree_scratch(kUnitRowMax) = 9 chunk and level sums
  const auto v32 = static_cast<uint32_t>(V);
  const auto p = static_cast<uint32_t>(normal_pair_count(v32));
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const uint32_t seed = seeds(row);
    for (uint32_t q = threadIdx.x; q < p; q += blockDim.x) {
      const NormalPair v = normal_pair(q, p, seed);
      t[q] = v.first;
      if (p + q < v32) t[p + q] = v.second;
    }
    __syncthreads();
    const float d = pr_add(pr_sqrt(block_tree_sum(RowTerms<F32, true>{t}, V, levels)), norm_offset);
    for (int64_t i = threadIdx.x; i < V; i += blockDim.x)
      store(row * V + i, canonicalize_nan(pr_div(t[i], d)));
    __syncthreads();  // t is rewritten for the next row
  }
}

// (x[perm[i]] / nx - target[i])^2 for distances; records out-of-range permutation entries.
template <typename L, typename T>
struct DistanceRow {
  const typename L::Bits* logits;  // this row
  const int64_t* perm;             // this row
  const typename T::Bits* target;
  float nx;
  int64_t V;
  int64_t row_offset;             // row * V, for error reporting
  unsigned long long* first_bad;  // this row's smallest out-of-range flat index
  __device__ float operator()(int64_t i) const {
    const int64_t p = perm[i];
    if (p < 0 || p >= V) {
      atomicMin(first_bad, static_cast<unsigned long long>(row_offset + i));
      return 0.0f;
    }
    const float y = pr_div(L::widen(logits[p]), nx);
    return square(pr_sub(y, T::widen(target[i])));
  }
};

template <typename L, typename T>
struct DistanceTerm {
  const void* logits;
  const int64_t* perm;
  const void* target;
  const float* norm_sq;  // [rows] sum of x^2
  int64_t V;
  unsigned long long* first_bad;  // [rows]
  __device__ DistanceRow<L, T> row(int64_t r) const {
    return {static_cast<const typename L::Bits*>(logits) + r * V, perm + r * V,
            static_cast<const typename T::Bits*>(target), pr_sqrt(norm_sq[r]), V, r * V,
            first_bad + r};
  }
};

// The distance of a row from its two sums: NaN unless the norm is not zero, Inf or NaN and every
// permutation entry of the row was in range.
__device__ float distance_verdict(float norm_sq, float dist_sq, unsigned long long first_bad) {
  const float nx = pr_sqrt(norm_sq);
  const bool valid = nx > 0.0f && nx <= 0x1.fffffep127f && first_bad == ~0ull;
  return valid ? canonicalize_nan(pr_sqrt(dist_sq)) : pr_from_bits(kCanonicalNaN);
}

__global__ void distance_finish_kernel(const float* norm_sq, const float* dist_sq,
                                       const unsigned long long* first_bad, int64_t rows,
                                       float* out) {
  for (int64_t row = global_thread(); row < rows; row += thread_stride())
    out[row] = distance_verdict(norm_sq[row], dist_sq[row], first_bad[row]);
}

// Rows of at most 1024 chunks (V <= 2^20) finish their sums in the kernels that need them, one
// warp per row, instead of in a separate tree level each: four launches in all, not six.
__device__ __forceinline__ int64_t warp_global() {
  return (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
}
__device__ __forceinline__ int64_t warp_stride() {
  return (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
}

// norm_sq[row] from the norm pass's chunk sums; also resets first_bad for the distance pass.
__global__ void norm_finish_kernel(const float* chunk_sums, int64_t rows, int64_t chunks,
                                   float* norm_sq, unsigned long long* first_bad) {
  for (int64_t row = warp_global(); row < rows; row += warp_stride()) {
    const float s = last_level_sum(chunk_sums + row * chunks, chunks);
    if ((threadIdx.x & 31) == 0) {
      norm_sq[row] = s;
      first_bad[row] = ~0ull;
    }
  }
}

__global__ void distance_finish_from_chunks_kernel(const float* norm_sq, const float* chunk_sums,
                                                   int64_t chunks,
                                                   const unsigned long long* first_bad,
                                                   int64_t rows, float* out) {
  for (int64_t row = warp_global(); row < rows; row += warp_stride()) {
    const float d = last_level_sum(chunk_sums + row * chunks, chunks);
    if ((threadIdx.x & 31) == 0) out[row] = distance_verdict(norm_sq[row], d, first_bad[row]);
  }
}

// ------------------------------------------------------------------------------------------
// Scalar stages
// ------------------------------------------------------------------------------------------
__global__ void core_stages_kernel(const int64_t* h, int64_t n, float* u, float* r, float* c,
                                   float* s) {
  for (int64_t i = global_thread(); i < n; i += thread_stride()) {
    const float ui = uniform_from_hash(static_cast<uint32_t>(h[i]));
    u[i] = ui;
    r[i] = box_muller_radius(ui);
    float si, ci;
    sincos_reduced(box_muller_angle(ui), &si, &ci);
    s[i] = si;
    c[i] = ci;
  }
}

__global__ void core_log_kernel(const float* x, int64_t n, float* out) {
  for (int64_t i = global_thread(); i < n; i += thread_stride()) out[i] = log_positive(x[i]);
}

__global__ void core_sincos_kernel(const float* t, int64_t n, float* s, float* c) {
  for (int64_t i = global_thread(); i < n; i += thread_stride()) {
    float si, ci;
    sincos_reduced(t[i], &si, &ci);
    s[i] = si;
    c[i] = ci;
  }
}

template <typename Store>
__global__ void core_round_kernel(const float* x, int64_t n, Store store) {
  for (int64_t i = global_thread(); i < n; i += thread_stride()) store(i, x[i]);
}

}  // namespace

// ------------------------------------------------------------------------------------------
// Launchers
// ------------------------------------------------------------------------------------------
cudaError_t launch_murmur3(const int64_t* keys, int64_t n, uint32_t seed, int64_t* out,
                           cudaStream_t stream) {
  murmur3_kernel<<<grid_for(n, 1), kThreads, 0, stream>>>(keys, n, seed, out);
  return cudaGetLastError();
}

cudaError_t launch_uniform(const int64_t* seeds, int64_t rows, int64_t n, float* out,
                           cudaStream_t stream) {
  uniform_kernel<<<grid_for(n, rows), kThreads, 0, stream>>>(seeds, rows, n, out);
  return cudaGetLastError();
}

template <typename Seeds>
cudaError_t normal(const Seeds& seeds, int64_t rows, int64_t n, FloatType out_type, void* out,
                   cudaStream_t stream) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  return with_store(out_type, out, [&](auto store) {
    normal_kernel<<<grid_for(p, rows), kThreads, 0, stream>>>(seeds, rows, n, store);
  });
}

template <typename Words>
cudaError_t concat_normal(const Words& words, int64_t rows, int64_t n, FloatType out_type,
                          void* out, cudaStream_t stream) {
  const auto n32 = static_cast<uint32_t>(n);
  const uint32_t L = concat_segment_length(n32);
  dim3 grid = grid_for(static_cast<int64_t>(normal_pair_count(L)), rows);
  grid.z = concat_segment_count(n32);  // at most 8
  return with_store(out_type, out, [&](auto store) {
    concat_normal_kernel<<<grid, kThreads, 0, stream>>>(words, rows, n, L, store);
  });
}

cudaError_t launch_normal(const int64_t* seeds, int64_t rows, int64_t n, FloatType out_type,
                          void* out, cudaStream_t stream) {
  return normal(SeedArray{seeds}, rows, n, out_type, out, stream);
}

cudaError_t launch_normal(const InlineSeeds& seeds, int64_t rows, int64_t n, FloatType out_type,
                          void* out, cudaStream_t stream) {
  if (rows > kInlineSeeds) return cudaErrorInvalidValue;
  return normal(SeedValues{seeds}, rows, n, out_type, out, stream);
}

cudaError_t launch_normal_range(const int64_t* seeds, int64_t rows, int64_t n, int64_t start,
                                int64_t end, FloatType out_type, void* out, cudaStream_t stream) {
  const int64_t m = end - start;
  return with_store(out_type, out, [&](auto store) {
    normal_range_kernel<<<grid_for(m, rows), kThreads, 0, stream>>>(seeds, rows, n, start, m, store);
  });
}

size_t reduction_workspace_floats(int64_t rows, int64_t n) {
  return static_cast<size_t>(rows) * workspace_floats_one_row(n);
}

// The two-launch path recomputes every normal twice (squares, then the quotient): cheaper than a
// store and reload while the launches dominate, so it is taken for small outputs only.
bool unit_normal_fused(int64_t rows, int64_t V) {
  return V <= kChunk * kChunk && rows * V <= (int64_t{1} << 22);
}

size_t unit_normal_scratch_floats(int64_t rows, int64_t V) {
  if (V <= kUnitRowMax) return 0;  // unit_row_kernel: shared memory only
  if (unit_normal_fused(rows, V)) return static_cast<size_t>(rows * chunk_count(V));
  return static_cast<size_t>(rows * V) + reduction_workspace_floats(rows, V);
}

template <typename Seeds>
cudaError_t unit_normal(const Seeds& seeds, int64_t rows, int64_t V, float norm_offset,
                        FloatType out_type, void* out, float* scratch, cudaStream_t stream) {
  if (V <= kUnitRowMax) {
    return with_store(out_type, out, [&](auto store) {
      unit_row_kernel<<<static_cast<unsigned>(std::min(rows, kMaxGridX)), kUnitRowThreads, 0,
                        stream>>>(seeds, rows, V, norm_offset, store);
    });
  }
  if (unit_normal_fused(rows, V)) {
    const int64_t chunks = chunk_count(V);
    const dim3 grid(static_cast<unsigned>(std::min(chunks, kMaxGridX)),
                    static_cast<unsigned>(std::min(rows, kMaxGridY)));
    chunk_sums_by_block_kernel<<<grid, kChunkThreads, 0, stream>>>(
        rows, V, chunks, NormalSquareTerm<Seeds>{seeds, V}, scratch);
    return with_store(out_type, out, [&](auto store) {
      normalise_from_chunks_kernel<<<grid_for(V, rows), kThreads, 0, stream>>>(
          seeds, rows, V, scratch, chunks, norm_offset, store);
    });
  }
  float* t = scratch;
  cudaError_t err = normal(seeds, rows, V, FloatType::kFloat32, t, stream);
  if (err != cudaSuccess) return err;
  const float* sums = fixed_order_sums(rows, V, SquareTerm<F32>{t, V}, t + rows * V, stream);
  return with_store(out_type, out, [&](auto store) {
    normalise_kernel<<<grid_for(V, rows), kThreads, 0, stream>>>(t, sums, rows, V, norm_offset,
                                                                 store);
  });
}

cudaError_t launch_unit_normal(const int64_t* seeds, int64_t rows, int64_t V, float norm_offset,
                               FloatType out_type, void* out, float* scratch, cudaStream_t stream) {
  return unit_normal(SeedArray{seeds}, rows, V, norm_offset, out_type, out, scratch, stream);
}

cudaError_t launch_unit_normal(const InlineSeeds& seeds, int64_t rows, int64_t V,
                               float norm_offset, FloatType out_type, void* out, float* scratch,
                               cudaStream_t stream) {
  if (rows > kInlineSeeds) return cudaErrorInvalidValue;
  return unit_normal(SeedValues{seeds}, rows, V, norm_offset, out_type, out, scratch, stream);
}

// ------------------------------------------------------------------------------------------
// Concat inputs (core 9.1)
// ------------------------------------------------------------------------------------------
cudaError_t launch_concat_normal(const int64_t* words, int64_t rows, int64_t n, int64_t start,
                                 int64_t end, FloatType out_type, void* out, cudaStream_t stream) {
  if (start == 0 && end == n) return concat_normal(WordArray{words}, rows, n, out_type, out, stream);
  const int64_t m = end - start;
  return with_store(out_type, out, [&](auto store) {
    concat_range_kernel<<<grid_for(m, rows), kThreads, 0, stream>>>(words, rows, n, start, m, store);
  });
}

cudaError_t launch_concat_normal(const InlineSeeds& words, int64_t rows, int64_t n,
                                 FloatType out_type, void* out, cudaStream_t stream) {
  if (rows * 8 > kInlineSeeds) return cudaErrorInvalidValue;
  return concat_normal(WordValues{words}, rows, n, out_type, out, stream);
}

size_t distance_scratch_floats(int64_t rows, int64_t V) {
  const size_t fused = static_cast<size_t>(rows * (2 * chunk_count(V) + 1));
  return std::max(2 * reduction_workspace_floats(rows, V), fused);
}

cudaError_t launch_distances(const void* logits, FloatType logits_type, const int64_t* perm,
                             const void* target, FloatType target_type, int64_t rows, int64_t V,
                             float* out, float* scratch, unsigned long long* first_bad,
                             cudaStream_t stream) {
  float* work = scratch;
  const size_t per_pass = reduction_workspace_floats(rows, V);
  const int64_t chunks = chunk_count(V);
  const dim3 warp_per_row = grid_for(rows * 32, 1);
  if (chunks <= kChunk) {  // the pass's chunk sums, then the last level where it is needed
    float* norm_chunks = work;                   // [rows, chunks]
    float* norm_sq = norm_chunks + rows * chunks;  // [rows]
    float* dist_chunks = norm_sq + rows;           // [rows, chunks]
    with_element_type(logits_type, [&](auto l) {
      using L = decltype(l);
      chunk_tree_kernel<<<tree_grid(chunks, rows), kTreeWarps * 32, 0, stream>>>(
          rows, V, chunks, SquareTerm<L>{logits, V}, norm_chunks);
      norm_finish_kernel<<<warp_per_row, kThreads, 0, stream>>>(norm_chunks, rows, chunks, norm_sq,
                                                               first_bad);
      with_element_type(target_type, [&](auto t) {
        const DistanceTerm<L, decltype(t)> term{logits, perm, target, norm_sq, V, first_bad};
        chunk_tree_kernel<<<tree_grid(chunks, rows), kTreeWarps * 32, 0, stream>>>(
            rows, V, chunks, term, dist_chunks);
      });
    });
    distance_finish_from_chunks_kernel<<<warp_per_row, kThreads, 0, stream>>>(
        norm_sq, dist_chunks, chunks, first_bad, rows, out);
    return cudaGetLastError();
  }
  cudaError_t err = cudaMemsetAsync(first_bad, 0xff, rows * sizeof(unsigned long long), stream);
  if (err != cudaSuccess) return err;
  const float* norm_sq = nullptr;
  const float* dist_sq = nullptr;
  with_element_type(logits_type, [&](auto l) {
    using L = decltype(l);
    norm_sq = fixed_order_sums(rows, V, SquareTerm<L>{logits, V}, work, stream);
    with_element_type(target_type, [&](auto t) {
      const DistanceTerm<L, decltype(t)> term{logits, perm, target, norm_sq, V, first_bad};
      dist_sq = fixed_order_sums(rows, V, term, work + per_pass, stream);
    });
  });
  distance_finish_kernel<<<grid_for(rows, 1), kThreads, 0, stream>>>(norm_sq, dist_sq, first_bad,
                                                                     rows, out);
  return cudaGetLastError();
}

cudaError_t launch_core_stages(const int64_t* hashes, int64_t n, float* u, float* r, float* c,
                               float* s, cudaStream_t stream) {
  core_stages_kernel<<<grid_for(n, 1), kThreads, 0, stream>>>(hashes, n, u, r, c, s);
  return cudaGetLastError();
}

cudaError_t launch_core_log(const float* x, int64_t n, float* out, cudaStream_t stream) {
  core_log_kernel<<<grid_for(n, 1), kThreads, 0, stream>>>(x, n, out);
  return cudaGetLastError();
}

cudaError_t launch_core_sincos(const float* theta, int64_t n, float* s, float* c,
                               cudaStream_t stream) {
  core_sincos_kernel<<<grid_for(n, 1), kThreads, 0, stream>>>(theta, n, s, c);
  return cudaGetLastError();
}

cudaError_t launch_core_round(const float* x, int64_t n, FloatType out_type, void* out,
                              cudaStream_t stream) {
  return with_store(out_type, out, [&](auto store) {
    core_round_kernel<<<grid_for(n, 1), kThreads, 0, stream>>>(x, n, store);
  });
}

}  // namespace cuda
}  // namespace pocrand
