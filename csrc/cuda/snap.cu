// snap.cu — the decode scheme's snap on the GPU (SPEC.md 10.6, 10.7). Every sum is section 7's
// tree, the pick is 9.4's and every element step the core's, so the bits equal the CPU's whatever
// the batch, grid, kernel or device. Three kernels, by shape:
//
// snap_row_kernel — rows of H <= 16384 elements stored as whole 16-byte vectors, d <= 512 (the
// network's shape: 1024 x 7168 bf16, d = 256). A block of four warps a row, eight rows a
// multiprocessor, so that a decode batch of 1024 rows is in flight at once; about a dozen barriers a row:
//   1. warp w hashes its quarter of the indices once, listing the pick's candidates
//      (snap_warp_pick.cuh), and between its steps reads chunks w, w + 4, ... of the row
//      (chunk_dot: each chunk's sum of squares in registers and shuffles; the 32 warps of a
//      multiprocessor cover each other's load latency);
//   2. warp 0 sums the chunk sums' level (warp_small_sum); the warps select the pick from their
//      lists (a counting pass a barrier, snap_block_pick);
//   3. a bad row (norm NaN or Inf) writes its zeros; the others gather the d picked values,
//      warp 0 sums their norm, and the warps sum the P scores (warp_chunk_sum, d <= 1024: one
//      chunk, four at once); thread 0 keeps the argmax in index order.
//
// snap_kernel — other rows of H <= kSnapRegisterMaxH: one block a row, blocks of ceil(H / J)
// threads rounded up to whole warps, thread t holding the pick scores of indices t J .. t J + J - 1
// in registers (snap_pick.cuh); at most 64 registers a thread, so that 1024 threads (four rows of
// H <= 7168) share a multiprocessor.
//   1. the row's sum of squares: chunk c of section 7 by warp c (warp_chunk_sum), the chunk sums
//      in shared memory, their level by warp 0 (block_tree_sum's order, without global scratch);
//   2. each thread hashes its indices once (the warps without a chunk at once), then T;
//   3. as the row kernel's step 3, by the block.
// Longer rows (snap_kernel_rehash) take pick_row.cuh's block_pick_row in 1024-thread blocks,
// which hashes each index again in each of its five passes, and block_tree_sum with global scratch.
#include <algorithm>

#include "device_common.cuh"
#include "chunk_dot.cuh"
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

constexpr int kRowWarps = 4;       // warps a row (a block): one list of candidates each
constexpr int kRowScores = 4;      // codebook scores summed at once by a warp

struct SnapRowShared {
  SnapPickLists<kRowWarps> pick;
  float chunk_sum[kSnapWarpMaxDim / kChunk];
  uint16_t idx[kSnapWarpMaxPick];
  float q[kSnapWarpMaxPick];
  float s[kSnapMax];
  float sum_sq, d2;
};

// A sum over the d <= kSnapWarpMaxPick picked terms by one warp (section 7, one chunk; the
// result in lane 0): chunk_tree over the 256 or 512 terms that can be nonzero, the rest of the
// chunk being padding (chunk_tree adds it as + 0.0: the same bits as warp_chunk_sum's 32 terms a
// lane, with a quarter or half of the work).
template <typename Terms>
__device__ __forceinline__ float picked_sum(const Terms& terms, int d) {
  static_assert(kSnapWarpMaxPick == 512, "two layouts: 8 and 16 terms a lane");
  const int lane = threadIdx.x & 31;
  return d <= 256 ? chunk_tree<8, 1>(terms, lane, d) : chunk_tree<16, 1>(terms, lane, d);
}

// H a multiple of the vector's elements, h 16-byte aligned, H <= kSnapWarpMaxDim,
// d <= kSnapWarpMaxPick; lim = snap_warp_pick_lim(H, d). Every thread of the block runs every
// step (the barriers), each warp its share.
template <typename E>
__global__ void __launch_bounds__(kRowWarps * 32, 8)
snap_row_kernel(const typename E::Bits* h, const int64_t* seeds, const float* codebook,
                int64_t rows, int H, int P, int d, uint32_t lim, int64_t* k_out, bool* bad_out,
                float* scores_out, float* q_out) {
  using Shape = ChunkShape<E>;
  constexpr int kPer = Shape::kPerLane;
  constexpr int kChunkVectors = 32 * kPer;
  __shared__ SnapRowShared sh;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int vectors = H / Shape::kVec;
  const int chunks = (H + kChunk - 1) / kChunk;
  int lo, hi;  // this warp's indices to list
  snap_list_range<kRowWarps>(H, warp, lo, hi);
  const int steps = (hi - lo + 32 * kSnapListRun - 1) / (32 * kSnapListRun);
  const int my_chunks = chunks > warp ? (chunks - warp + kRowWarps - 1) / kRowWarps : 0;
  // a share of the listing steps before each of this warp's chunks, the rest after the last
  const int steps_per_chunk = my_chunks > 0 ? (steps + my_chunks - 1) / my_chunks : steps;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const auto* hr = h + row * H;
    const auto seed = static_cast<uint32_t>(seeds[row]);
    int count = 0, done = 0;  // candidates listed, steps hashed (the same in every lane)
    const auto list_steps = [&](int until) {
      until = min(steps, until);
      snap_warp_list_steps(seed, lo, hi, done, until, lim, sh.pick.entry[warp],
                           SnapPickLists<kRowWarps>::kCap, count);
      done = max(done, until);
    };
    // 1. the candidates of this warp's range, a share of its steps before each of its chunks
    //    warp, warp + kRowWarps, ... (the chunk's sum of squares by chunk_dot)
    for (int n = 0; n < my_chunks; ++n) {
      const int c = warp + n * kRowWarps;
      list_steps((n + 1) * steps_per_chunk);
      uint4 x[kPer];
      load_chunk<E>(hr, c * kChunkVectors, vectors, x);
      const float v = chunk_dot<E>(x, x, c * kChunkVectors, vectors, SquareProduct<E>{});
      if (lane == 0) sh.chunk_sum[c] = v;
    }
    list_steps(steps);
    if (lane == 0) sh.pick.count[warp] = count;
    for (int b = threadIdx.x; b < 256; b += blockDim.x) sh.pick.hist[0][b] = 0;
    __syncthreads();
    // 2. warp 0: section 7's next level over the chunk sums (one chunk is the row's sum); the
    //    block: the pick, whether or not the row is bad (its barriers publish sum_sq)
    if (warp == 0) {
      const float v = chunks == 1 ? sh.chunk_sum[0]
                                  : warp_small_sum(lane < chunks ? sh.chunk_sum[lane] : 0.0f, chunks);
      if (lane == 0) sh.sum_sq = v;
    }
    snap_block_pick(seed, H, d, lim, sh.pick, sh.idx);
    const float sum_sq = sh.sum_sq;
    float* sr = scores_out + row * P;
    float* qr = q_out + row * d;
    if (snap_row_bad(pr_sqrt(sum_sq))) {  // the same in every thread
      for (int j = threadIdx.x; j < P; j += blockDim.x) sr[j] = 0.0f;
      for (int m = threadIdx.x; m < d; m += blockDim.x) qr[m] = 0.0f;
      if (threadIdx.x == 0) {
        k_out[row] = kSnapBadK;
        bad_out[row] = true;
      }
      __syncthreads();  // shared memory is rewritten by the next row
      continue;
    }
    // 3. g = the picked values / d1; d2 by warp 0; q = g / d2
    const float d1 = artifact_divisor(sum_sq);
    {  // the gathers first (all in flight at once), then the divisions
      constexpr int kPerThread = kSnapWarpMaxPick / (kRowWarps * 32);
      typename E::Bits g[kPerThread];
#pragma unroll
      for (int t = 0; t < kPerThread; ++t) {
        const int m = threadIdx.x + kRowWarps * 32 * t;
        if (m < d) g[t] = hr[sh.idx[m]];
      }
#pragma unroll
      for (int t = 0; t < kPerThread; ++t) {
        const int m = threadIdx.x + kRowWarps * 32 * t;
        if (m < d) sh.q[m] = pr_div(E::widen(g[t]), d1);
      }
    }
    __syncthreads();
    if (warp == 0) {
      const float g_sum_sq = picked_sum(RowTerms<F32, true>{sh.q}, d);  // lane 0
      if (lane == 0) sh.d2 = artifact_divisor(g_sum_sq);
    }
    __syncthreads();
    const float d2 = sh.d2;
    for (int m = threadIdx.x; m < d; m += blockDim.x) {
      const float v = pr_div(sh.q[m], d2);
      qr[m] = v;
      sh.q[m] = v;  // each element rewritten by the thread that reads it
    }
    __syncthreads();
    // 4. scores j = warp, warp + kRowWarps, ..., kRowScores sums at once; the argmax by thread 0
    for (int j0 = warp * kRowScores; j0 < P; j0 += kRowWarps * kRowScores) {
      float v[kRowScores];
#pragma unroll
      for (int u = 0; u < kRowScores; ++u) {
        const int j = min(j0 + u, P - 1);  // past P: a repeat, not used
        v[u] = picked_sum(ProductTerms<F32, F32>{sh.q, codebook + static_cast<int64_t>(j) * d}, d);
      }
      if (lane == 0) {
#pragma unroll
        for (int u = 0; u < kRowScores; ++u) {
          if (j0 + u < P) {
            const float vj = canonicalize_nan(v[u]);
            sh.s[j0 + u] = vj;
            sr[j0 + u] = vj;
          }
        }
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int best = 0;
      for (int j = 1; j < P; ++j)
        if (snap_better(sh.s[j], sh.s[best])) best = j;
      k_out[row] = best;
      bad_out[row] = false;
    }
    __syncthreads();  // shared memory is rewritten by the next row
  }
}

template <typename E>
bool snap_row_applies(const void* h, int64_t H, int64_t d) {
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
    // The row kernel where it applies. Otherwise J scores a thread: the smallest of 8, 16, 28
    // that keeps the block at 256 threads (four rows a multiprocessor), then up to 1024 threads
    // of 16 (H = 8192: 512 threads); ptxas fits each in 64 registers without spilling.
    if (snap_row_applies<E>(h, H, d)) {
      snap_row_kernel<E><<<static_cast<unsigned>(snap_blocks(rows)), kRowWarps * 32, 0, stream>>>(
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
