// permutations.cu — generate_permutations on the GPU (SPEC.md section 8): row b lists 0 .. V-1 by
// ascending hash(i, seed_b). The hashes of a row are distinct, so every correct sort gives the
// same bits; which one runs is a matter of speed only.
//
// Bucket sort, for V <= kBucketSortMaxV (2^21, which covers the vocabularies in use). The top
// `bucket_bits` hash bits split each row into 2^bucket_bits buckets of 1536-3072 elements on
// average (fewer for small V); hashes are recomputed from indices rather than stored.
//   1. count    one block per tile of 4096 indices: a shared-memory histogram over buckets
//   2. offsets  one block per row: where each (bucket, tile) run starts in the row
//   3. scatter  each tile groups its indices by bucket in shared memory, then writes every run
//               contiguously to its place in a staging array (4-byte indices)
//   4. sort     one block per bucket: a counting sort by the next 11 hash bits in shared memory,
//               then within each run of equal bits (< 1 element on average) by the full hash
// Traffic: ~4 B written and read per staged index plus the 8 B int64 output, against ~92 B per
// element for a device-wide radix sort. Large buckets matter: the sort blocks are latency-bound,
// so fewer, fuller blocks are faster (measured on an H100 for V = 151936: 512 buckets a row
// 375 us, 128 buckets 209 us, 64 buckets 189 us). A bucket larger than `capacity` (4096, 4/3 of
// the largest mean; the Chernoff bound puts a real bucket above it below e^-140) is ranked by
// counting instead: slower, same result.
//
// Radix sort, for larger V: one CUB radix sort over 32-bit keys (local row << (32 - row_bits)) |
// (hash >> row_bits) with the index as value, then a fix-up that orders each run of equal keys
// (the dropped low hash bits) by the full hash.
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "../core/pocrand_core.h"
#include "kernels.h"
#include "launch_util.cuh"

namespace pocrand {
namespace cuda {
namespace {

constexpr int64_t kBucketMean = 3072;                 // largest mean bucket size chosen
constexpr int kMaxBucketBits = kMaxPermutationBucketBits;
constexpr int kMaxBuckets = 1 << kMaxBucketBits;
constexpr int64_t kBucketSortMaxV = int64_t{1} << 21;  // 1024 buckets; above, the radix sort

constexpr int kTileThreads = 256, kTileItems = 16, kTile = kTileThreads * kTileItems;
constexpr int kOffsetThreads = 512;
constexpr int kSortThreads = 256, kSortItems = 16, kSortCapacity = kSortThreads * kSortItems;
static_assert(kSortCapacity == kMaxPermutationBucketCapacity, "kernels.h states the capacity");
constexpr int kSubBits = 11, kSubBuckets = 1 << kSubBits;

__device__ __forceinline__ uint32_t bucket_of(uint32_t h, int bucket_bits) {
  return bucket_bits ? h >> (32 - bucket_bits) : 0u;
}

// In-place exclusive prefix sum of a shared array of N = Threads * Items counters (blocked).
template <int Threads, int N>
__device__ void exclusive_sum_shared(uint32_t* a,
                                     typename cub::BlockScan<uint32_t, Threads>::TempStorage& tmp) {
  constexpr int kItems = N / Threads;
  uint32_t v[kItems];
#pragma unroll
  for (int j = 0; j < kItems; ++j) v[j] = a[threadIdx.x * kItems + j];
  cub::BlockScan<uint32_t, Threads>(tmp).ExclusiveSum(v, v);
  __syncthreads();  // every thread has read a
#pragma unroll
  for (int j = 0; j < kItems; ++j) a[threadIdx.x * kItems + j] = v[j];
  __syncthreads();
}

// 1. counts[row][tile][bucket] = how many indices of the tile fall in the bucket.
__global__ void __launch_bounds__(kTileThreads, 4)
    bucket_count_kernel(const int64_t* seeds, int64_t rows, int64_t V, int bucket_bits, int tiles,
                        uint32_t* counts) {
  __shared__ uint32_t hist[kMaxBuckets];
  const int nb = 1 << bucket_bits;
  const int64_t base = static_cast<int64_t>(blockIdx.x) * kTile;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    for (int b = threadIdx.x; b < nb; b += kTileThreads) hist[b] = 0;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTileItems; ++k) {
      const int64_t i = base + k * kTileThreads + threadIdx.x;
      if (i < V) atomicAdd(&hist[bucket_of(murmur3(static_cast<uint32_t>(i), seed), bucket_bits)], 1u);
    }
    __syncthreads();
    uint32_t* out = counts + (row * tiles + blockIdx.x) * nb;
    for (int b = threadIdx.x; b < nb; b += kTileThreads) out[b] = hist[b];
    __syncthreads();  // hist is zeroed again for the next row
  }
}

// 2. counts[row][tile][bucket] becomes the number of the bucket's elements in earlier tiles;
// bucket_start[row][0 .. nb] = where each bucket starts in the sorted row (the last entry is V).
__global__ void __launch_bounds__(kOffsetThreads)
    bucket_offsets_kernel(int64_t rows, int64_t V, int bucket_bits, int tiles, uint32_t* counts,
                          uint32_t* bucket_start) {
  __shared__ typename cub::BlockScan<uint32_t, kOffsetThreads>::TempStorage tmp;
  __shared__ uint32_t totals[kMaxBuckets];
  const int nb = 1 << bucket_bits;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    uint32_t* c = counts + row * tiles * nb;
    for (int b = threadIdx.x; b < kMaxBuckets; b += kOffsetThreads) {  // striped: coalesced
      uint32_t total = 0;
      for (int t0 = 0; b < nb && t0 < tiles; t0 += 8) {  // 8 loads in flight, then the stores
        uint32_t v[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) v[j] = t0 + j < tiles ? c[(t0 + j) * nb + b] : 0u;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          if (t0 + j < tiles) c[(t0 + j) * nb + b] = total;
          total += v[j];
        }
      }
      totals[b] = total;
    }
    __syncthreads();
    exclusive_sum_shared<kOffsetThreads, kMaxBuckets>(totals, tmp);
    uint32_t* s = bucket_start + row * (nb + 1);
    for (int b = threadIdx.x; b < nb; b += kOffsetThreads) s[b] = totals[b];
    if (threadIdx.x == 0) s[nb] = static_cast<uint32_t>(V);
    __syncthreads();  // totals is rewritten for the next row
  }
}

// 3. staged[row][p] for p in bucket order: the tile's indices, each bucket's run written
// contiguously (the order inside a run is arbitrary; step 4 sorts it completely).
__global__ void __launch_bounds__(kTileThreads, 4)
    bucket_scatter_kernel(const int64_t* seeds, int64_t rows, int64_t V, int bucket_bits,
                          int tiles, const uint32_t* counts, const uint32_t* bucket_start,
                          uint32_t* staged) {
  __shared__ typename cub::BlockScan<uint32_t, kTileThreads>::TempStorage tmp;
  __shared__ uint32_t local_start[kMaxBuckets];  // counts, then each bucket's start in tile_index
  __shared__ uint32_t dest[kMaxBuckets];         // in-row position of the tile's first of a bucket
  __shared__ uint32_t tile_index[kTile];         // the tile's indices grouped by bucket
  __shared__ uint16_t tile_bucket[kTile];
  const int nb = 1 << bucket_bits;
  const int64_t base = static_cast<int64_t>(blockIdx.x) * kTile;
  const int n = V - base < kTile ? static_cast<int>(V - base) : kTile;  // this tile's indices
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    const uint32_t* c = counts + (row * tiles + blockIdx.x) * nb;
    const uint32_t* s = bucket_start + row * (nb + 1);
    for (int b = threadIdx.x; b < kMaxBuckets; b += kTileThreads) {
      local_start[b] = 0;
      if (b < nb) dest[b] = s[b] + c[b];
    }
    __syncthreads();
    uint32_t bucket_rank[kTileItems];  // bucket << 16 | rank within the tile's bucket (< 4096)
#pragma unroll
    for (int k = 0; k < kTileItems; ++k) {
      const int64_t i = base + k * kTileThreads + threadIdx.x;
      if (i < V) {
        const uint32_t b = bucket_of(murmur3(static_cast<uint32_t>(i), seed), bucket_bits);
        bucket_rank[k] = b << 16 | atomicAdd(&local_start[b], 1u);
      }
    }
    __syncthreads();
    exclusive_sum_shared<kTileThreads, kMaxBuckets>(local_start, tmp);
#pragma unroll
    for (int k = 0; k < kTileItems; ++k) {
      const int64_t i = base + k * kTileThreads + threadIdx.x;
      if (i < V) {
        const uint32_t b = bucket_rank[k] >> 16;
        const uint32_t p = local_start[b] + (bucket_rank[k] & 0xffffu);
        tile_index[p] = static_cast<uint32_t>(i);
        tile_bucket[p] = static_cast<uint16_t>(b);
      }
    }
    __syncthreads();
    uint32_t* out = staged + row * V;
    for (int p = threadIdx.x; p < n; p += kTileThreads) {
      const uint32_t b = tile_bucket[p];
      out[dest[b] + (p - local_start[b])] = tile_index[p];
    }
    __syncthreads();  // shared arrays are reused for the next row
  }
}

// A bucket over capacity: each index's place is the number of the bucket's indices with a smaller
// hash, counted against the bucket in chunks staged in shared memory. The whole block takes part.
__device__ void rank_by_counting(const uint32_t* in, uint32_t m, uint32_t seed, int64_t* dst,
                                 uint32_t* chunk) {
  for (uint32_t g = 0; g < m; g += kSortThreads) {
    const uint32_t j = g + threadIdx.x;
    const uint32_t index = j < m ? in[j] : 0u, key = murmur3(index, seed);
    uint32_t rank = 0;
    for (uint32_t c0 = 0; c0 < m; c0 += kSortCapacity) {
      const uint32_t len = min(static_cast<uint32_t>(kSortCapacity), m - c0);
      __syncthreads();
      for (uint32_t q = threadIdx.x; q < len; q += kSortThreads) chunk[q] = murmur3(in[c0 + q], seed);
      __syncthreads();
      for (uint32_t q = 0; q < len; ++q) rank += chunk[q] < key;
    }
    if (j < m) dst[rank] = index;
  }
  __syncthreads();
}

// 4. One bucket per block: out[row][start + rank] = index, rank by the full hash.
__global__ void __launch_bounds__(kSortThreads, 4)
    bucket_sort_kernel(const int64_t* seeds, int64_t rows, int64_t V, int bucket_bits,
                       uint32_t capacity, const uint32_t* bucket_start, const uint32_t* staged,
                       int64_t* out) {
  __shared__ typename cub::BlockScan<uint32_t, kSortThreads>::TempStorage tmp;
  __shared__ uint32_t sub_start[kSubBuckets];  // counts, then each sub-bucket's start in keys
  __shared__ uint32_t keys[kSortCapacity];     // the bucket's hashes by sub-bucket, then its
                                               // indices in sorted order
  const int nb = 1 << bucket_bits;
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    for (int b = blockIdx.x; b < nb; b += gridDim.x) {
      const uint32_t start = bucket_start[row * (nb + 1) + b];
      const uint32_t m = bucket_start[row * (nb + 1) + b + 1] - start;
      const uint32_t* in = staged + row * V + start;
      int64_t* dst = out + row * V + start;
      if (m > capacity) {
        rank_by_counting(in, m, seed, dst, keys);
        continue;
      }
      for (int j = threadIdx.x; j < kSubBuckets; j += kSortThreads) sub_start[j] = 0;
      __syncthreads();
      // the kSubBits hash bits below the bucket's
      auto sub_of = [&](uint32_t key) { return (key << bucket_bits) >> (32 - kSubBits); };
      // Per item only the index and its rank in its sub-bucket stay in registers; the hash is
      // recomputed (a dozen integer instructions) so that more blocks fit on an SM.
      uint32_t index[kSortItems], rank[kSortItems];
#pragma unroll
      for (int k = 0; k < kSortItems; ++k) {
        const uint32_t j = k * kSortThreads + threadIdx.x;
        if (j < m) {
          index[k] = in[j];
          rank[k] = atomicAdd(&sub_start[sub_of(murmur3(index[k], seed))], 1u);
        }
      }
      __syncthreads();
      exclusive_sum_shared<kSortThreads, kSubBuckets>(sub_start, tmp);
#pragma unroll
      for (int k = 0; k < kSortItems; ++k) {
        if (k * kSortThreads + threadIdx.x < m) {
          const uint32_t key = murmur3(index[k], seed);
          keys[sub_start[sub_of(key)] + rank[k]] = key;
        }
      }
      __syncthreads();
#pragma unroll
      for (int k = 0; k < kSortItems; ++k) {
        if (k * kSortThreads + threadIdx.x < m) {
          const uint32_t key = murmur3(index[k], seed);
          const uint32_t sub = sub_of(key);
          const uint32_t lo = sub_start[sub];
          const uint32_t hi = sub + 1 < kSubBuckets ? sub_start[sub + 1] : m;
          uint32_t r = lo;
          for (uint32_t q = lo; q < hi; ++q) r += keys[q] < key;
          rank[k] = r;  // now the rank in the bucket
        }
      }
      // Through shared memory so that the int64 stores leave coalesced: 8-byte stores to
      // scattered addresses cost an L2 transaction each, which made this the slowest pass.
      __syncthreads();
#pragma unroll
      for (int k = 0; k < kSortItems; ++k)
        if (k * kSortThreads + threadIdx.x < m) keys[rank[k]] = index[k];
      __syncthreads();
      for (uint32_t j = threadIdx.x; j < m; j += kSortThreads) dst[j] = keys[j];
      __syncthreads();  // shared arrays are reused for the next bucket
    }
  }
}

int default_bucket_bits(int64_t V) {  // fewest bits with a mean bucket of at most kBucketMean
  int bits = 0;
  while (((V + (int64_t{1} << bits) - 1) >> bits) > kBucketMean) ++bits;
  return bits;
}

int64_t tiles_for(int64_t V) { return (V + kTile - 1) / kTile; }

struct BucketScratch {
  uint32_t* staged;        // [rows, V]
  uint32_t* counts;        // [rows, tiles, nb]
  uint32_t* bucket_start;  // [rows, nb + 1]
};

size_t bucket_scratch_layout(int64_t rows, int64_t V, int bucket_bits, void* base,
                             BucketScratch* s) {
  const int64_t nb = int64_t{1} << bucket_bits;
  const size_t staged = align_up(rows * V * sizeof(uint32_t));
  const size_t counts = align_up(rows * tiles_for(V) * nb * sizeof(uint32_t));
  const size_t starts = align_up(rows * (nb + 1) * sizeof(uint32_t));
  if (s) {
    char* p = static_cast<char*>(base);
    s->staged = reinterpret_cast<uint32_t*>(p);
    s->counts = reinterpret_cast<uint32_t*>(p + staged);
    s->bucket_start = reinterpret_cast<uint32_t*>(p + staged + counts);
  }
  return staged + counts + starts;
}

cudaError_t bucket_sort(const int64_t* seeds, int64_t rows, int64_t V, int bucket_bits,
                        int capacity, int64_t* out, void* scratch, cudaStream_t stream) {
  BucketScratch s;
  bucket_scratch_layout(rows, V, bucket_bits, scratch, &s);
  const int tiles = static_cast<int>(tiles_for(V));
  const int nb = 1 << bucket_bits;
  const unsigned grid_rows = static_cast<unsigned>(std::min(rows, kMaxGridY));
  bucket_count_kernel<<<dim3(tiles, grid_rows), kTileThreads, 0, stream>>>(
      seeds, rows, V, bucket_bits, tiles, s.counts);
  bucket_offsets_kernel<<<static_cast<unsigned>(std::min(rows, kMaxGridX)), kOffsetThreads, 0,
                          stream>>>(rows, V, bucket_bits, tiles, s.counts, s.bucket_start);
  bucket_scatter_kernel<<<dim3(tiles, grid_rows), kTileThreads, 0, stream>>>(
      seeds, rows, V, bucket_bits, tiles, s.counts, s.bucket_start, s.staged);
  bucket_sort_kernel<<<dim3(nb, grid_rows), kSortThreads, 0, stream>>>(
      seeds, rows, V, bucket_bits, static_cast<uint32_t>(capacity), s.bucket_start, s.staged, out);
  return cudaGetLastError();
}

// ---- radix sort (V > kBucketSortMaxV) ----

__global__ void permutation_keys_kernel(const int64_t* seeds, int64_t rows, int64_t V,
                                        int row_bits, uint32_t* keys, int32_t* values) {
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const auto seed = static_cast<uint32_t>(seeds[row]);
    const uint32_t row_key = row_bits ? static_cast<uint32_t>(row) << (32 - row_bits) : 0u;
    for (int64_t i = global_thread(); i < V; i += thread_stride()) {
      keys[row * V + i] = row_key | (murmur3(static_cast<uint32_t>(i), seed) >> row_bits);
      values[row * V + i] = static_cast<int32_t>(i);
    }
  }
}

// out[k] = values[k] as int64, except that each run of equal keys is put in full-hash order by
// the thread at its start (rank of each element = how many in the run have a smaller hash; the
// hashes of a row are distinct). O(run length^2) hash evaluations, no scratch, no length limit.
// Runs are short: batch_rows * V <= 2^31 keeps the expected elements per key value <= 2.
__global__ void permutation_fixup_kernel(const uint32_t* keys, const int32_t* values,
                                         const int64_t* seeds, int64_t items, int64_t V,
                                         int64_t* out) {
  for (int64_t k = global_thread(); k < items; k += thread_stride()) {
    const uint32_t key = keys[k];
    if (k > 0 && keys[k - 1] == key) continue;  // written by the thread at the start of the run
    int64_t len = 1;
    while (k + len < items && keys[k + len] == key) ++len;
    if (len == 1) {
      out[k] = values[k];
      continue;
    }
    const auto seed = static_cast<uint32_t>(seeds[k / V]);
    for (int64_t m = 0; m < len; ++m) {
      const int32_t v = values[k + m];
      const uint32_t h = murmur3(static_cast<uint32_t>(v), seed);
      int64_t rank = 0;
      for (int64_t q = 0; q < len; ++q)
        rank += murmur3(static_cast<uint32_t>(values[k + q]), seed) < h;
      out[k + rank] = v;
    }
  }
}

int bits_for(int64_t rows) {  // bits needed for local row numbers 0 .. rows-1
  int b = 0;
  while ((int64_t{1} << b) < rows) ++b;
  return b;
}

size_t cub_sort_bytes(int64_t items) {
  size_t bytes = 0;
  cub::DoubleBuffer<uint32_t> k(nullptr, nullptr);
  cub::DoubleBuffer<int32_t> v(nullptr, nullptr);
  cub::DeviceRadixSort::SortPairs(nullptr, bytes, k, v, static_cast<int>(items));
  return bytes;
}

size_t radix_scratch_bytes(int64_t batch_rows, int64_t V) {
  const int64_t items = batch_rows * V;
  return 2 * align_up(items * sizeof(uint32_t)) + 2 * align_up(items * sizeof(int32_t)) +
         align_up(cub_sort_bytes(items));
}

cudaError_t radix_sort(const int64_t* seeds, int64_t rows, int64_t V, int64_t* out,
                       void* scratch, size_t scratch_bytes, cudaStream_t stream) {
  const int64_t batch = permutation_batch_rows(rows, V);
  const int64_t cap = batch * V;
  char* p = static_cast<char*>(scratch);
  auto* k0 = reinterpret_cast<uint32_t*>(p);  p += align_up(cap * sizeof(uint32_t));
  auto* k1 = reinterpret_cast<uint32_t*>(p);  p += align_up(cap * sizeof(uint32_t));
  auto* v0 = reinterpret_cast<int32_t*>(p);   p += align_up(cap * sizeof(int32_t));
  auto* v1 = reinterpret_cast<int32_t*>(p);   p += align_up(cap * sizeof(int32_t));
  size_t temp_bytes = scratch_bytes - static_cast<size_t>(p - static_cast<char*>(scratch));
  for (int64_t row0 = 0; row0 < rows; row0 += batch) {
    const int64_t n_rows = std::min(batch, rows - row0), items = n_rows * V;
    const int row_bits = bits_for(n_rows);
    permutation_keys_kernel<<<grid_for(V, n_rows), kThreads, 0, stream>>>(seeds + row0, n_rows, V,
                                                                          row_bits, k0, v0);
    cub::DoubleBuffer<uint32_t> keys(k0, k1);
    cub::DoubleBuffer<int32_t> values(v0, v1);
    cudaError_t err = cub::DeviceRadixSort::SortPairs(p, temp_bytes, keys, values,
                                                      static_cast<int>(items), 0, 32, stream);
    if (err != cudaSuccess) return err;
    permutation_fixup_kernel<<<grid_for(items, 1), kThreads, 0, stream>>>(
        keys.Current(), values.Current(), seeds + row0, items, V, out + row0 * V);
    err = cudaGetLastError();
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

}  // namespace

int64_t permutation_batch_rows(int64_t rows, int64_t V) {
  const int64_t max_items = 2147483647;
  return std::max<int64_t>(1, std::min(rows, max_items / V));
}

size_t permutation_scratch_bytes(int64_t batch_rows, int64_t V) {
  if (V <= kBucketSortMaxV)
    return bucket_scratch_layout(batch_rows, V, default_bucket_bits(V), nullptr, nullptr);
  return radix_scratch_bytes(batch_rows, V);
}

cudaError_t launch_permutations(const int64_t* seeds, int64_t rows, int64_t V, int64_t* out,
                                void* scratch, size_t scratch_bytes, cudaStream_t stream) {
  if (V > kBucketSortMaxV) return radix_sort(seeds, rows, V, out, scratch, scratch_bytes, stream);
  const int64_t batch = permutation_batch_rows(rows, V);
  for (int64_t row0 = 0; row0 < rows; row0 += batch) {
    const cudaError_t err = bucket_sort(seeds + row0, std::min(batch, rows - row0), V,
                                        default_bucket_bits(V), kSortCapacity, out + row0 * V,
                                        scratch, stream);
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

size_t bucket_sort_scratch_bytes(int64_t rows, int64_t V, int bucket_bits) {
  return bucket_scratch_layout(rows, V, bucket_bits, nullptr, nullptr);
}

cudaError_t launch_bucket_sort(const int64_t* seeds, int64_t rows, int64_t V, int bucket_bits,
                               int capacity, int64_t* out, void* scratch, cudaStream_t stream) {
  if (bucket_bits < 0 || bucket_bits > kMaxBucketBits || capacity < 0 || capacity > kSortCapacity)
    return cudaErrorInvalidValue;  // the shared-memory arrays are sized for these limits
  return bucket_sort(seeds, rows, V, bucket_bits, capacity, out, scratch, stream);
}

}  // namespace cuda
}  // namespace pocrand
