// snap_pick.cuh — pick(seed, dim, k) of core 9.4 for the snap kernel (snap.cu): k <= 1024 and
// dim <= J blockDim.x, the row's scores hashed once into registers. Integer work only: counting,
// selection and ordered compaction, no float arithmetic. pick.cu and haar.cu keep pick_row.cuh's
// block_pick_row; every selection here returns the same out (9.4 defines it by the scores alone).
//
// Layout: thread t holds the scores of indices t J .. t J + J - 1 (n of them below dim), so
// thread order is index order and the compaction is one prefix count over the threads.
//
// The k-th smallest score T is found digit by digit, 11 bits at a time, as block_pick_row does
// with 8: count the scores that share the digits found so far by their next digit (shared-memory
// atomics: a count does not depend on the order of the additions), the digit where the rank-th of
// them falls is T's. Two shortcuts that change the work, not the result:
//   - the first count assumes T < 2^(lo + 11): it is fused with the hashing and counts only the
//     scores below that bound (lo from snap_pick_first_lo: about 2k + 64 of them are expected,
//     so the assumption fails with a probability below 10^-20 for the snap's shapes). When fewer
//     than k scores are below it, T is not, and the count is redone over all scores from the top
//     11 bits: the same T either way;
//   - once the digits found so far are shared by at most ListMax scores, those few are gathered
//     and T is the one of the wanted rank among them (the scores of a row are distinct: hash is a
//     bijection of u32), instead of further digit passes.
// Every function is called by every thread of the block with the same arguments (blockDim.x a
// multiple of 32, at most 1024).
#pragma once

#include <stdint.h>

#include "../core/pocrand_core.h"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kSnapPickBits = 11;                   // digit width of a counting pass
constexpr int kSnapPickBins = 1 << kSnapPickBits;   // 2048 counters (8 KiB of shared memory)
constexpr int kSnapPickList = 32;                   // at most this many scores are ranked directly

struct SnapPickShared {
  alignas(16) unsigned int hist[kSnapPickBins];  // read 4 at a time by snap_pick_digit
  uint32_t list[kSnapPickList];
  int warp_total[32];
  unsigned int list_n;
  uint32_t digit, count, T;
  int rank;
};

// The first pass counts scores below 2^(lo + 11): the smallest lo (0 .. 21; 21 counts every
// score) for which dim 2^(lo + 11) / 2^32, the expected number of them, is at least 2k + 64.
// (k <= 1024 and dim < 2^31 keep both sides below 2^64.)
__host__ __device__ inline int snap_pick_first_lo(int64_t dim, int64_t k) {
  const uint64_t need = static_cast<uint64_t>(2 * k + 64) << 32;
  for (int lo = 0; lo < 32 - kSnapPickBits; ++lo)
    if ((static_cast<uint64_t>(dim) << (kSnapPickBits + lo)) >= need) return lo;
  return 32 - kSnapPickBits;
}

// Exclusive prefix count of v over the threads in thread order; total gets the block's sum.
// Writes warp_total: the caller needs a barrier before the next call.
__device__ __forceinline__ int block_exclusive_count(int v, int* warp_total, int& total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  int inc = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const int y = __shfl_up_sync(0xffffffffu, inc, o);
    if (lane >= o) inc += y;
  }
  if (lane == 31) warp_total[warp] = inc;
  __syncthreads();
  int before = 0, all = 0;
  for (int w = 0; w < warps; ++w) {
    const int x = warp_total[w];
    all += x;
    before += w < warp ? x : 0;
  }
  total = all;
  return before + inc - v;
}

// Before the hashing: all 2048 counters and the list are empty. A barrier must follow before
// snap_pick_threshold.
__device__ __forceinline__ void snap_pick_begin(SnapPickShared& sh) {
  for (int b = threadIdx.x; b < kSnapPickBins; b += blockDim.x) sh.hist[b] = 0;
  if (threadIdx.x == 0) sh.list_n = 0;
}

// The thread's scores: indices first .. first + J - 1, of which the n below dim count. Arithmetic
// only, so warps that have nothing else to do may run it while others wait for memory.
template <int J>
__device__ __forceinline__ void snap_pick_hash(uint32_t seed, int first, uint32_t (&s)[J]) {
#pragma unroll
  for (int j = 0; j < J; ++j) s[j] = pick_score(static_cast<uint32_t>(first + j), seed);
}

// The digit of hist[0 .. bins) where the rank-th counted score falls, its count and the rank
// within it; false (in every thread) when fewer than rank scores were counted. Ends with a
// barrier, after which hist may be rewritten.
__device__ __forceinline__ bool snap_pick_digit(int bins, int rank, SnapPickShared& sh,
                                                uint32_t& digit, uint32_t& count, int& new_rank) {
  const int per = (bins + blockDim.x - 1) / blockDim.x;
  const int b0 = min(bins, static_cast<int>(threadIdx.x) * per), b1 = min(bins, b0 + per);
  int own = 0;
  if (per % 4 == 0) {  // 16-byte loads: thread t's 8 counters (2048 bins, 256 threads) in two
    for (int b = b0; b < b1; b += 4) {  // wavefronts, not in 8 loads 8 ways conflicted
      const uint4 v = *reinterpret_cast<const uint4*>(&sh.hist[b]);
      own += static_cast<int>(v.x + v.y + v.z + v.w);
    }
  } else {
    for (int b = b0; b < b1; ++b) own += static_cast<int>(sh.hist[b]);
  }
  int total;
  const int before = block_exclusive_count(own, sh.warp_total, total);
  if (before < rank && rank <= before + own) {  // one thread at most; none when total < rank
    int b = b0, r = rank - before;
    while (r > static_cast<int>(sh.hist[b])) r -= static_cast<int>(sh.hist[b++]);
    sh.digit = static_cast<uint32_t>(b);
    sh.count = sh.hist[b];
    sh.rank = r;
  }
  __syncthreads();
  digit = sh.digit;
  count = sh.count;
  new_rank = sh.rank;
  return total >= rank;  // total is the same in every thread
}

// The rank-th smallest (1-based) of the count <= 32 scores with (s & mask) == prefix. The list is
// empty (snap_pick_begin; called once a row); ends with a barrier.
template <int J>
__device__ __forceinline__ uint32_t snap_pick_list(const uint32_t (&s)[J], int n, uint32_t mask,
                                                   uint32_t prefix, int count, int rank,
                                                   SnapPickShared& sh) {
#pragma unroll
  for (int j = 0; j < J; ++j)
    if (j < n && (s[j] & mask) == prefix) sh.list[atomicAdd(&sh.list_n, 1u)] = s[j];
  __syncthreads();
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x;
    const uint32_t v = lane < count ? sh.list[lane] : 0u;
    int below = 0;  // the scores are distinct, so exactly one has rank - 1 below it
    for (int m = 0; m < count; ++m) below += sh.list[m] < v ? 1 : 0;
    if (lane < count && below == rank - 1) sh.T = v;
  }
  __syncthreads();
  return sh.T;
}

// T, the k-th smallest score of the row, after snap_pick_begin, snap_pick_hash and a barrier.
// The first pass counts the scores below 2^(lo + 11) by their bits lo .. lo + 10. ListMax = 0
// never gathers a list (every digit is counted; tests/cpp/snap_pick_gpu.cu runs both). Ends with
// a barrier.
template <int J, int ListMax = kSnapPickList>
__device__ __forceinline__ uint32_t snap_pick_threshold(const uint32_t (&s)[J], int n, int k,
                                                        int lo, SnapPickShared& sh) {
  static_assert(ListMax >= 0 && ListMax <= kSnapPickList, "the list holds 32 scores");
  uint32_t mask = lo + kSnapPickBits < 32 ? ~0u << (lo + kSnapPickBits) : 0u, prefix = 0;
  int rank = k, width = kSnapPickBits;  // the pass counts bits lo .. lo + width - 1
  for (;;) {
    // One call site for the counting loop (a second one cost ptxas registers): the scores with
    // (s & mask) == prefix by their digit. hist is zero here.
    const uint32_t digits = (1u << width) - 1u;
#pragma unroll
    for (int j = 0; j < J; ++j)
      if (j < n && (s[j] & mask) == prefix) atomicAdd(&sh.hist[(s[j] >> lo) & digits], 1u);
    __syncthreads();
    uint32_t digit, count;
    int new_rank;
    if (snap_pick_digit(1 << width, rank, sh, digit, count, new_rank)) {
      prefix |= digit << lo;
      mask |= digits << lo;
      rank = new_rank;
      if (lo == 0) return prefix;
      if (static_cast<int>(count) <= ListMax)
        return snap_pick_list(s, n, mask, prefix, static_cast<int>(count), rank, sh);
      width = min(kSnapPickBits, lo);
      lo -= width;
    } else {
      // Fewer than k scores below 2^(lo + 11) (only the first pass assumes anything, and prefix
      // is still 0): count every score by its top 11 bits.
      mask = 0;
      lo = 32 - kSnapPickBits;
      width = kSnapPickBits;
    }
    for (int b = threadIdx.x; b < (1 << width); b += blockDim.x) sh.hist[b] = 0;
    __syncthreads();
  }
}

// out[0 .. k): the indices whose score is below T in ascending index order, then T's index
// (9.4). warp_total must be free; ends with a barrier.
template <int J, typename Index>
__device__ __forceinline__ void snap_pick_compact(const uint32_t (&s)[J], int n, int first, int k,
                                                  uint32_t T, SnapPickShared& sh, Index* out) {
  int c = 0;
#pragma unroll
  for (int j = 0; j < J; ++j) c += j < n && s[j] < T ? 1 : 0;
  int total;
  int pos = block_exclusive_count(c, sh.warp_total, total);
#pragma unroll
  for (int j = 0; j < J; ++j) {
    if (j < n) {
      if (s[j] < T) out[pos++] = static_cast<Index>(first + j);
      else if (s[j] == T) out[k - 1] = static_cast<Index>(first + j);
    }
  }
  __syncthreads();
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
