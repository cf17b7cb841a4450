// kernels.cu — pocrand's CUDA kernels: thin loops over csrc/core/pocrand_core.h (torch-free).
//
// The arithmetic is the core's, so a kernel differs from its CPU twin only in how it walks the
// elements. Reductions follow the core's fixed tree exactly: one 512-thread block per chunk of
// 1024 terms does the width-512 step while loading, the widths 256..32 in shared memory and
// 16..1 with warp shuffles (lane i adds lane i + width, the same pairing as the tree).
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "../core/pocrand_core.h"
#include "kernels.h"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGridX = 1 << 20;   // grid-stride beyond this many blocks
constexpr int64_t kMaxGridY = 65535;

dim3 grid_for(int64_t items, int64_t rows, int threads = kThreads) {
  const int64_t x = std::max<int64_t>(1, std::min((items + threads - 1) / threads, kMaxGridX));
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(std::min(rows, kMaxGridY)));
}

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

// Exact widening loads.
__device__ __forceinline__ float widen(const void* p, FloatType type, int64_t i) {
  switch (type) {
    case FloatType::kFloat16: return half_bits_to_float(static_cast<const uint16_t*>(p)[i]);
    case FloatType::kBFloat16: return bf16_bits_to_float(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ int64_t global_thread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

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

// One thread per Box-Muller pair j of each row: writes out[j] and out[p + j].
template <typename Store>
__global__ void normal_kernel(const int64_t* seeds, int64_t rows, int64_t n, Store store) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    for (int64_t j = global_thread(); j < p; j += thread_stride()) {
      const NormalPair v = normal_pair(static_cast<uint32_t>(j), static_cast<uint32_t>(p), seed);
      store(row * n + j, v.first);
      if (p + j < n) store(row * n + p + j, v.second);
    }
  }
}

// ------------------------------------------------------------------------------------------
// Fixed-order reductions (core section 7)
// ------------------------------------------------------------------------------------------
constexpr int kTreeThreads = kChunk / 2;  // 512: thread i starts with a[i] + a[i + 512]

// Sums of each chunk of 1024 terms of each row: out[row * chunks + c]. term(row, i) gives the
// i-th term of a row for i < n; terms beyond n are the zero padding.
template <typename Term>
__global__ void __launch_bounds__(kTreeThreads)
chunk_tree_kernel(int64_t rows, int64_t n, int64_t chunks, Term term, float* out) {
  __shared__ float sm[kTreeThreads];
  const int i = threadIdx.x;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
      const int64_t lo = c * kChunk + i, hi = lo + kTreeThreads;
      const float a = lo < n ? term(row, lo) : 0.0f;
      const float b = hi < n ? term(row, hi) : 0.0f;
      sm[i] = pr_add(a, b);  // width 512
      __syncthreads();
      for (int width = kTreeThreads / 2; width >= 32; width /= 2) {
        if (i < width) sm[i] = pr_add(sm[i], sm[i + width]);
        __syncthreads();
      }
      if (i < 32) {
        float v = sm[i];
        for (int width = 16; width >= 1; width /= 2)
          v = pr_add(v, __shfl_down_sync(0xffffffffu, v, width));
        if (i == 0) out[row * chunks + c] = v;
      }
      __syncthreads();  // sm is reused by the next chunk
    }
  }
}

struct PlainTerm {  // the previous level's chunk sums
  const float* in;
  int64_t row_stride;
  __device__ float operator()(int64_t row, int64_t i) const { return in[row * row_stride + i]; }
};

struct SquareTerm {  // x^2 of a float32 / fp16 / bf16 row
  const void* x;
  FloatType type;
  int64_t row_stride;
  __device__ float operator()(int64_t row, int64_t i) const {
    return square(widen(x, type, row * row_stride + i));
  }
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
  return dim3(static_cast<unsigned>(std::min(chunks, kMaxGridX)),
              static_cast<unsigned>(std::min(rows, kMaxGridY)));
}

// Runs every level of the tree for `rows` sums of n terms; returns a pointer to the rows final
// sums (inside `work`, which holds reduction_workspace_floats(rows, n) floats).
template <typename Term>
float* fixed_order_sums(int64_t rows, int64_t n, Term first, float* work, cudaStream_t stream) {
  int64_t chunks = chunk_count(n);
  float* level = work;
  chunk_tree_kernel<<<tree_grid(chunks, rows), kTreeThreads, 0, stream>>>(rows, n, chunks, first,
                                                                          level);
  while (chunks > 1) {
    const int64_t next = chunk_count(chunks);
    float* out = level + rows * chunks;
    chunk_tree_kernel<<<tree_grid(next, rows), kTreeThreads, 0, stream>>>(
        rows, chunks, next, PlainTerm{level, chunks}, out);
    level = out;
    chunks = next;
  }
  return level;  // [rows], one sum per row
}

// out[row, i] = t[row, i] / sqrt(sums[row]), rounded to the output type.
template <typename Store>
__global__ void normalise_kernel(const float* t, const float* sums, int64_t rows, int64_t V,
                                 Store store) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const float nrm = pr_sqrt(sums[row]);
    for (int64_t i = global_thread(); i < V; i += thread_stride())
      store(row * V + i, canonicalize_nan(pr_div(t[row * V + i], nrm)));
  }
}

// (x[perm[i]] / nx - target[i])^2 for distances; records out-of-range permutation entries.
struct DistanceTerm {
  const void* logits;
  FloatType logits_type;
  const int64_t* perm;
  const void* target;
  FloatType target_type;
  const float* norm_sq;  // [rows] sum of x^2
  int64_t V;
  unsigned long long* first_bad_index;
  __device__ float operator()(int64_t row, int64_t i) const {
    const int64_t flat = row * V + i;
    const int64_t p = perm[flat];
    if (p < 0 || p >= V) {
      atomicMin(first_bad_index, static_cast<unsigned long long>(flat));
      return 0.0f;
    }
    const float nx = pr_sqrt(norm_sq[row]);
    const float y = pr_div(widen(logits, logits_type, row * V + p), nx);
    return square(pr_sub(y, widen(target, target_type, i)));
  }
};

__global__ void distance_finish_kernel(const float* norm_sq, const float* dist_sq, int64_t rows,
                                       float* out) {
  for (int64_t row = global_thread(); row < rows; row += thread_stride()) {
    const float nx = pr_sqrt(norm_sq[row]);
    const bool valid = nx > 0.0f && nx <= 0x1.fffffep127f;  // not zero, Inf or NaN
    out[row] = valid ? canonicalize_nan(pr_sqrt(dist_sq[row])) : pr_from_bits(kCanonicalNaN);
  }
}

// ------------------------------------------------------------------------------------------
// Permutations: one radix sort of (local row << 32 | hash, index) per batch of rows.
// ------------------------------------------------------------------------------------------
__global__ void permutation_keys_kernel(const int64_t* seeds, int64_t rows, int64_t V,
                                        uint64_t* keys, int32_t* values) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    for (int64_t i = global_thread(); i < V; i += thread_stride()) {
      keys[row * V + i] = (static_cast<uint64_t>(row) << 32) | murmur3(static_cast<uint32_t>(i), seed);
      values[row * V + i] = static_cast<int32_t>(i);
    }
  }
}

__global__ void widen_indices_kernel(const int32_t* values, int64_t n, int64_t* out) {
  for (int64_t i = global_thread(); i < n; i += thread_stride()) out[i] = values[i];
}

int bits_for(int64_t rows) {  // bits needed for local row numbers 0 .. rows-1
  int b = 0;
  while ((int64_t{1} << b) < rows) ++b;
  return b;
}

size_t align_up(size_t x) { return (x + 255) & ~size_t{255}; }

size_t cub_sort_bytes(int64_t items) {
  size_t bytes = 0;
  cub::DoubleBuffer<uint64_t> k(nullptr, nullptr);
  cub::DoubleBuffer<int32_t> v(nullptr, nullptr);
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, k, v, static_cast<int>(items));
  return bytes;
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

cudaError_t launch_normal(const int64_t* seeds, int64_t rows, int64_t n, FloatType out_type,
                          void* out, cudaStream_t stream) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  return with_store(out_type, out, [&](auto store) {
    normal_kernel<<<grid_for(p, rows), kThreads, 0, stream>>>(seeds, rows, n, store);
  });
}

size_t reduction_workspace_floats(int64_t rows, int64_t n) {
  return static_cast<size_t>(rows) * workspace_floats_one_row(n);
}

cudaError_t launch_unit_normal(const int64_t* seeds, int64_t rows, int64_t V, FloatType out_type,
                               void* out, float* scratch, cudaStream_t stream) {
  float* t = scratch;
  cudaError_t err = launch_normal(seeds, rows, V, FloatType::kFloat32, t, stream);
  if (err != cudaSuccess) return err;
  const float* sums = fixed_order_sums(rows, V, SquareTerm{t, FloatType::kFloat32, V}, t + rows * V,
                                       stream);
  return with_store(out_type, out, [&](auto store) {
    normalise_kernel<<<grid_for(V, rows), kThreads, 0, stream>>>(t, sums, rows, V, store);
  });
}

cudaError_t launch_distances(const void* logits, FloatType logits_type, const int64_t* perm,
                             const void* target, FloatType target_type, int64_t rows, int64_t V,
                             float* out, float* scratch, unsigned long long* first_bad_index,
                             cudaStream_t stream) {
  float* work = scratch;
  const size_t per_pass = reduction_workspace_floats(rows, V);
  const float* norm_sq =
      fixed_order_sums(rows, V, SquareTerm{logits, logits_type, V}, work, stream);
  const DistanceTerm term{logits, logits_type, perm, target, target_type, norm_sq, V,
                          first_bad_index};
  const float* dist_sq = fixed_order_sums(rows, V, term, work + per_pass, stream);
  distance_finish_kernel<<<grid_for(rows, 1), kThreads, 0, stream>>>(norm_sq, dist_sq, rows, out);
  return cudaGetLastError();
}

int64_t permutation_batch_rows(int64_t rows, int64_t V) {
  const int64_t max_items = 2147483647;
  return std::max<int64_t>(1, std::min(rows, max_items / V));
}

size_t permutation_scratch_bytes(int64_t batch_rows, int64_t V) {
  const int64_t items = batch_rows * V;
  return 2 * align_up(items * sizeof(uint64_t)) + 2 * align_up(items * sizeof(int32_t)) +
         align_up(cub_sort_bytes(items));
}

cudaError_t launch_permutations(const int64_t* seeds, int64_t rows, int64_t V, int64_t* out,
                                void* scratch, size_t scratch_bytes, cudaStream_t stream) {
  const int64_t batch = permutation_batch_rows(rows, V);
  const int64_t cap = batch * V;
  char* p = static_cast<char*>(scratch);
  auto* k0 = reinterpret_cast<uint64_t*>(p);  p += align_up(cap * sizeof(uint64_t));
  auto* k1 = reinterpret_cast<uint64_t*>(p);  p += align_up(cap * sizeof(uint64_t));
  auto* v0 = reinterpret_cast<int32_t*>(p);   p += align_up(cap * sizeof(int32_t));
  auto* v1 = reinterpret_cast<int32_t*>(p);   p += align_up(cap * sizeof(int32_t));
  size_t temp_bytes = scratch_bytes - static_cast<size_t>(p - static_cast<char*>(scratch));
  for (int64_t row0 = 0; row0 < rows; row0 += batch) {
    const int64_t n_rows = std::min(batch, rows - row0), items = n_rows * V;
    permutation_keys_kernel<<<grid_for(V, n_rows), kThreads, 0, stream>>>(seeds + row0, n_rows, V,
                                                                          k0, v0);
    cub::DoubleBuffer<uint64_t> keys(k0, k1);
    cub::DoubleBuffer<int32_t> values(v0, v1);
    cudaError_t err = cub::DeviceRadixSort::SortPairs(p, temp_bytes, keys, values,
                                                      static_cast<int>(items), 0,
                                                      32 + bits_for(n_rows), stream);
    if (err != cudaSuccess) return err;
    widen_indices_kernel<<<grid_for(items, 1), kThreads, 0, stream>>>(values.Current(), items,
                                                                      out + row0 * V);
    err = cudaGetLastError();
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
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
