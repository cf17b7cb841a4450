// snap.cu — the decode scheme's snap on the GPU (SPEC.md 10.6, 10.7). Every sum is section 7's
// tree, the pick is 9.4's and every element step the core's, so the bits equal the CPU's whatever
// the batch, grid, kernel or device. Three kernels, by shape:
//
// snap_warp_kernel — rows of H <= 16384 elements stored as whole 16-byte vectors, d <= 512 (the
// network's shape: 1024 x 7168 bf16, d = 256). One warp a row, no barrier, so every row of a
// decode batch is in flight at once:
//   1. the row is read chunk by chunk (the next chunk's loads in flight), each 1024-term chunk's
//      sum of squares by householder_chunk.cuh's chunk_dot, the chunk sums' level by
//      warp_small_sum; meanwhile each index is hashed once and the candidates of the pick kept
//      (snap_warp_pick.cuh);
//   2. a bad row (norm NaN or Inf) writes its zeros; the others select the pick from the
//      candidates, gather the d picked values, and sum the norm of the picked values and each of
//      the P scores by warp_chunk_sum (d <= 1024: one chunk); lane 0 keeps the argmax.
//
// snap_kernel — other rows of H <= kSnapRegisterMaxH: one block a row, blocks of ceil(H / J)
// threads rounded up to whole warps, thread t holding the pick scores of indices t J .. t J + J - 1
// in registers (snap_pick.cuh); at most 64 registers a thread, so that 1024 threads (four rows of
// H <= 7168) share a multiprocessor.
//   1. the row's sum of squares: chunk c of section 7 by warp c (warp_chunk_sum), the chunk sums
//      in shared memory, their level by warp 0 (block_tree_sum's order, without global scratch);
//   2. each thread hashes its indices once (the warps without a chunk at once), then T;
//   3. as the warp kernel's step 2, by the block.
// Longer rows (snap_kernel_rehash) take pick_row.cuh's block_pick_row in 1024-thread blocks,
// which hashes each index again in each of its five passes, and block_tree_sum with global scratch.
#include <algorithm>

#include "device_common.cuh"
#include "householder_chunk.cuh"
#include "launch_util.cuh"
#include "pick_row.cuh"
#include "snap_pick.cuh"
#include "snap_warp_pick.cuh"
#include "storage_round.cuh"
#include "tree_sum.cuh"
#include "snap_kernels.h"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kSnapRegisterMaxH = 16384;  // the largest H of snap_kernel (1024 threads, 16 each)

int64_t snap_blocks(int64_t rows) { return std::max<int64_t>(1, std::min(rows, kMaxGridX)); }

struct SnapShared {
  SnapPickShared pick;
  int idx[kSnapMax];
  float q[kSnapMax];
  float s[kSnapMax];
  float chunk_sum[kSnapRegisterMaxH / kChunk];
  float sum_sq, d2;
};

// The end of a row after its pick: g, q, the scores and k (idx[0 .. d) in shared memory, after
// a barrier). Ends with a barrier.
template <typename E, typename Index>
__device__ __forceinline__ void snap_finish_row(const typename E::Bits* hr, const Index* idx,
                                                float d1, const float* codebook, int P, int d,
                                                float* q, float* s, float* d2_shared,
                                                int64_t* k_out, bool* bad_out, float* sr,
                                                float* qr) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int m = threadIdx.x; m < d; m += blockDim.x) q[m] = pr_div(E::widen(hr[idx[m]]), d1);
  __syncthreads();
  if (warp == 0) {
    const float g_sum_sq = warp_chunk_sum(RowTerms<F32, true>{q}, d, 0);
    if (lane == 0) *d2_shared = artifact_divisor(g_sum_sq);
  }
  __syncthreads();
  const float d2 = *d2_shared;
  for (int m = threadIdx.x; m < d; m += blockDim.x) {
    const float v = pr_div(q[m], d2);
    q[m] = v;
    qr[m] = v;
  }
  __syncthreads();
  for (int j = warp; j < P; j += warps) {
    const float v = warp_chunk_sum(ProductTerms<F32, F32>{q, codebook + static_cast<int64_t>(j) * d}, d, 0);
    if (lane == 0) {
      s[j] = canonicalize_nan(v);
      sr[j] = s[j];
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int best = 0;
    for (int j = 1; j < P; ++j)
      if (snap_better(s[j], s[best])) best = j;
    *k_out = best;
    *bad_out = false;
  }
  __syncthreads();  // idx, q and s are rewritten for the next row
}

__device__ __forceinline__ void snap_bad_row(int P, int d, int64_t* k_out, bool* bad_out,
                                             float* sr, float* qr) {
  for (int j = threadIdx.x; j < P; j += blockDim.x) sr[j] = 0.0f;
  for (int m = threadIdx.x; m < d; m += blockDim.x) qr[m] = 0.0f;
  if (threadIdx.x == 0) {
    *k_out = kSnapBadK;
    *bad_out = true;
  }
}

// H <= J blockDim.x, blockDim.x <= MaxThreads. At most 64 registers a thread: 1024 / MaxThreads
// blocks of MaxThreads threads fill the register file.
template <typename E, int J, int MaxThreads>
__global__ void __launch_bounds__(MaxThreads, 1024 / MaxThreads)
snap_kernel(const typename E::Bits* h, const int64_t* seeds, const float* codebook, int64_t rows,
            int H, int P, int d, int first_lo, int64_t* k_out, bool* bad_out, float* scores_out,
            float* q_out) {
  __shared__ SnapShared sh;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  const int chunks = (H + kChunk - 1) / kChunk;
  const int first = static_cast<int>(threadIdx.x) * J;
  const int n = max(0, min(J, H - first));  // this thread's indices below H
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const auto* hr = h + row * H;
    snap_pick_begin(sh.pick);
    for (int c = warp; c < chunks; c += warps) {
      const float v = warp_chunk_sum(RowTerms<E, true>{hr}, H, c);
      if (lane == 0) sh.chunk_sum[c] = v;
    }
    uint32_t score[J];  // hashed while other warps wait for their chunk of h
    snap_pick_hash<J>(static_cast<uint32_t>(seeds[row]), first, score);
    __syncthreads();  // the chunk sums are in; the counters are zero
    if (warp == 0) {  // section 7's next level (chunks <= 16: one chunk), beside the first count
      const float v = chunks == 1 ? sh.chunk_sum[0]
                                  : warp_chunk_sum(RowTerms<F32, false>{sh.chunk_sum}, chunks, 0);
      if (lane == 0) sh.sum_sq = v;
    }
    // The pick whether or not the row is bad: the threshold's barriers publish sum_sq.
    const uint32_t T = snap_pick_threshold<J>(score, n, d, first_lo, sh.pick);
    const float sum_sq = sh.sum_sq;
    if (snap_row_bad(pr_sqrt(sum_sq))) {  // the same value in every thread
      snap_bad_row(P, d, k_out + row, bad_out + row, scores_out + row * P, q_out + row * d);
      continue;  // the next row's writes to shared memory follow reads that a barrier closed
    }
    snap_pick_compact<J>(score, n, first, d, T, sh.pick, sh.idx);
    snap_finish_row<E>(h + row * H, sh.idx, artifact_divisor(sum_sq), codebook, P, d, sh.q, sh.s,
                       &sh.d2, k_out + row, bad_out + row, scores_out + row * P, q_out + row * d);
  }
}

// The sum-of-squares term of a row element for chunk_dot (its second operand is ignored): the
// element widened and squared, two 16-bit elements a word in `pair` (+0.0 for two zeros, the
// padding). `arith` may give a NaN another payload: a NaN makes the row bad whatever its bits.
template <typename E>
struct SquareProduct {
  __device__ __forceinline__ float operator()(typename E::Bits x, typename E::Bits) const {
    return square(E::arith(x));
  }
  __device__ __forceinline__ float2 pair(uint32_t xw, uint32_t) const {
    const float2 x = widen2<E>(xw);
    return make_float2(square(x.x), square(x.y));
  }
};
template <>
struct SquareProduct<F32> {  // chunk_dot takes `pair` for 16-bit elements only
  __device__ __forceinline__ float operator()(float x, float) const { return square(x); }
};

constexpr int kSnapWarps = 4;        // rows (warps) a block: 40 KiB of shared memory
constexpr int kSnapWarpGroups = 8;   // pick scores hashed at once by a lane
constexpr int kSnapWarpScores = 4;   // codebook scores summed at once

struct SnapWarpShared {  // one warp's
  SnapWarpPickShared pick;
  uint16_t idx[kSnapWarpMaxPick];
  float q[kSnapWarpMaxPick];
};

// H a multiple of the vector's elements, h 16-byte aligned, H <= kSnapWarpMaxDim,
// d <= kSnapWarpMaxPick; lim = snap_warp_pick_lim(H, d).
template <typename E>
__global__ void __launch_bounds__(kSnapWarps * 32)
snap_warp_kernel(const typename E::Bits* h, const int64_t* seeds, const float* codebook,
                 int64_t rows, int H, int P, int d, uint32_t lim, int64_t* k_out, bool* bad_out,
                 float* scores_out, float* q_out) {
  using Shape = ChunkShape<E>;
  constexpr int kPer = Shape::kPerLane;
  constexpr int kChunkVectors = 32 * kPer;
  __shared__ SnapWarpShared shared[kSnapWarps];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  SnapWarpShared& sh = shared[warp];
  const int vectors = H / Shape::kVec;
  const int chunks = (H + kChunk - 1) / kChunk;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kSnapWarps + warp; row < rows;
       row += static_cast<int64_t>(gridDim.x) * kSnapWarps) {
    const auto* hr = h + row * H;
    const auto seed = static_cast<uint32_t>(seeds[row]);
    uint4 cur[kPer], next[kPer];
    load_chunk<E>(hr, 0, vectors, cur);
    float chunk_sum = 0.0f;  // lane c: chunk c's sum
    int count = 0;           // candidates listed (the same in every lane)
    for (int c = 0; c < chunks; ++c) {
      if (c + 1 < chunks) load_chunk<E>(hr, (c + 1) * kChunkVectors, vectors, next);
      // while the loads are in flight: the chunk's indices, kSnapWarpGroups groups of 32 at once
      const int end = min(H, (c + 1) * kChunk);
      for (int base = c * kChunk; base < end; base += 32 * kSnapWarpGroups)
        snap_warp_candidates<kSnapWarpGroups>(seed, base, H, lim, sh.pick, count);
      const float s = chunk_dot<E>(cur, cur, c * kChunkVectors, vectors, SquareProduct<E>{});
      if (lane == c) chunk_sum = s;
#pragma unroll
      for (int m = 0; m < kPer; ++m) cur[m] = next[m];
    }
    // section 7's next level over the chunk sums (chunks <= 16); one chunk is the row's sum
    const float sum_sq = chunks == 1 ? __shfl_sync(0xffffffffu, chunk_sum, 0)
                                     : warp_small_sum(chunk_sum, chunks);
    float* sr = scores_out + row * P;
    float* qr = q_out + row * d;
    if (snap_row_bad(pr_sqrt(sum_sq))) {  // the same in every lane
      for (int j = lane; j < P; j += 32) sr[j] = 0.0f;
      for (int m = lane; m < d; m += 32) qr[m] = 0.0f;
      if (lane == 0) {
        k_out[row] = kSnapBadK;
        bad_out[row] = true;
      }
      __syncwarp();  // the list is rewritten by the next row
      continue;
    }
    snap_warp_pick(seed, H, d, lim, count, sh.pick, sh.idx);
    const float d1 = artifact_divisor(sum_sq);
    {  // the gathers first (all in flight at once), then the divisions
      typename E::Bits g[kSnapWarpMaxPick / 32];
#pragma unroll
      for (int t = 0; t < kSnapWarpMaxPick / 32; ++t)
        if (lane + 32 * t < d) g[t] = hr[sh.idx[lane + 32 * t]];
#pragma unroll
      for (int t = 0; t < kSnapWarpMaxPick / 32; ++t)
        if (lane + 32 * t < d) sh.q[lane + 32 * t] = pr_div(E::widen(g[t]), d1);
    }
    __syncwarp();
    const float g_sum_sq = warp_chunk_sum(RowTerms<F32, true>{sh.q}, d, 0);  // lane 0
    const float d2 = artifact_divisor(__shfl_sync(0xffffffffu, g_sum_sq, 0));
    __syncwarp();
    for (int m = lane; m < d; m += 32) {
      const float v = pr_div(sh.q[m], d2);
      sh.q[m] = v;
      qr[m] = v;
    }
    __syncwarp();
    int best = 0;
    float best_score = 0.0f;
    for (int j0 = 0; j0 < P; j0 += kSnapWarpScores) {  // a few independent sums at once
      float v[kSnapWarpScores];
#pragma unroll
      for (int u = 0; u < kSnapWarpScores; ++u) {
        const int j = min(j0 + u, P - 1);  // past P: a repeat, not used
        v[u] = warp_chunk_sum(ProductTerms<F32, F32>{sh.q, codebook + static_cast<int64_t>(j) * d},
                              d, 0);
      }
      if (lane == 0) {
#pragma unroll
        for (int u = 0; u < kSnapWarpScores; ++u) {
          const int j = j0 + u;
          const float vj = canonicalize_nan(v[u]);
          if (j < P) {
            sr[j] = vj;
            if (j == 0 || snap_better(vj, best_score)) {
              best = j;
              best_score = vj;
            }
          }
        }
      }
    }
    if (lane == 0) {
      k_out[row] = best;
      bad_out[row] = false;
    }
    __syncwarp();  // idx, q and the list are rewritten by the next row
  }
}

template <typename E>
bool snap_warp_applies(const void* h, int64_t H, int64_t d) {
  constexpr int64_t vec = ChunkShape<E>::kVec;
  return H <= kSnapWarpMaxDim && d <= kSnapWarpMaxPick && H % vec == 0 &&
         reinterpret_cast<uintptr_t>(h) % 16 == 0;
}

// Rows longer than kSnapRegisterMaxH: 1024 threads, block_tree_sum with global scratch and
// block_pick_row (every index hashed in each pass).
constexpr int kRehashThreads = 1024;

template <typename E>
__global__ void __launch_bounds__(kRehashThreads)
snap_kernel_rehash(const typename E::Bits* h, const int64_t* seeds, const float* codebook,
                   int64_t rows, int64_t H, int P, int d, int64_t* k_out, bool* bad_out,
                   float* scores_out, float* q_out, float* scratch) {
  __shared__ int64_t idx[kSnapMax];
  __shared__ float q[kSnapMax];
  __shared__ float s[kSnapMax];
  __shared__ float d2_shared;
  float* tree = scratch + blockIdx.x * block_tree_scratch(H);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const auto* hr = h + row * H;
    float* sr = scores_out + row * P;
    float* qr = q_out + row * d;
    const float sum_sq = block_tree_sum(RowTerms<E, true>{hr}, H, tree);  // ends with a barrier
    if (snap_row_bad(pr_sqrt(sum_sq))) {
      snap_bad_row(P, d, k_out + row, bad_out + row, sr, qr);
      continue;
    }
    block_pick_row(static_cast<uint32_t>(seeds[row]), H, d, idx);
    __syncthreads();
    snap_finish_row<E>(hr, idx, artifact_divisor(sum_sq), codebook, P, d, q, s, &d2_shared,
                       k_out + row, bad_out + row, sr, qr);
  }
}

template <typename E, int J, int MaxThreads>
void launch_register_snap(const void* h, const int64_t* seeds, const float* codebook,
                          int64_t rows, int64_t H, int P, int d, int64_t* k, bool* bad,
                          float* scores, float* q, cudaStream_t stream) {
  const int64_t threads = (H + J - 1) / J;
  const auto block = static_cast<unsigned>(std::max<int64_t>(32, (threads + 31) / 32 * 32));
  snap_kernel<E, J, MaxThreads><<<static_cast<unsigned>(snap_blocks(rows)), block, 0, stream>>>(
      static_cast<const typename E::Bits*>(h), seeds, codebook, rows, static_cast<int>(H), P, d,
      snap_pick_first_lo(H, d), k, bad, scores, q);
}

}  // namespace

size_t snap_scratch_floats(int64_t rows, int64_t H) {
  if (H <= kSnapRegisterMaxH) return 0;
  return static_cast<size_t>(snap_blocks(rows) * block_tree_scratch(H));
}

cudaError_t launch_snap(const void* h, FloatType type, const int64_t* seeds, const float* codebook,
                        int64_t rows, int64_t H, int64_t P, int64_t d, int64_t* k, bool* bad,
                        float* scores, float* q, float* scratch, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  if (P < 1 || P > kSnapMax || d < 1 || d > kSnapMax || d > H) return cudaErrorInvalidValue;
  const int p = static_cast<int>(P), dd = static_cast<int>(d);
  with_element_type(type, [&](auto e) {
    using E = decltype(e);
    // The warp kernel where it applies. Otherwise J scores a thread: the smallest of 8, 16, 28
    // that keeps the block at 256 threads (four rows a multiprocessor), then up to 1024 threads
    // of 16 (H = 8192: 512 threads); ptxas fits each in 64 registers without spilling.
    if (snap_warp_applies<E>(h, H, d)) {
      const int64_t blocks = std::min<int64_t>((rows + kSnapWarps - 1) / kSnapWarps, kMaxGridX);
      snap_warp_kernel<E><<<static_cast<unsigned>(blocks), kSnapWarps * 32, 0, stream>>>(
          static_cast<const typename E::Bits*>(h), seeds, codebook, rows, static_cast<int>(H), p,
          dd, snap_warp_pick_lim(H, d), k, bad, scores, q);
    } else if (H <= 256 * 8) {
      launch_register_snap<E, 8, 256>(h, seeds, codebook, rows, H, p, dd, k, bad, scores, q, stream);
    } else if (H <= 256 * 16) {
      launch_register_snap<E, 16, 256>(h, seeds, codebook, rows, H, p, dd, k, bad, scores, q, stream);
    } else if (H <= 256 * 28) {
      launch_register_snap<E, 28, 256>(h, seeds, codebook, rows, H, p, dd, k, bad, scores, q, stream);
    } else if (H <= kSnapRegisterMaxH) {
      launch_register_snap<E, 16, 1024>(h, seeds, codebook, rows, H, p, dd, k, bad, scores, q, stream);
    } else {
      snap_kernel_rehash<E><<<static_cast<unsigned>(snap_blocks(rows)), kRehashThreads, 0, stream>>>(
          static_cast<const typename E::Bits*>(h), seeds, codebook, rows, H, p, dd, k, bad,
          scores, q, scratch);
    }
  });
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace pocrand
