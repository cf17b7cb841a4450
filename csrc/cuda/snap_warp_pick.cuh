// snap_warp_pick.cuh — pick(seed, dim, k) of core 9.4 by one warp, for the warp-a-row snap kernel
// (snap.cu, snap_warp_kernel). Integer work only: no float arithmetic, so the result is 9.4's
// whatever the order of the counting. snap_pick.cuh (a block a row) and pick_row.cuh keep their
// own selections; every one returns the same out, as 9.4 defines it by the scores alone.
//
// Why a warp a row: a block a row pays a barrier at every step of the selection and leaves
// most of its warps idle in the steps that one warp does; a warp needs no barrier (__syncwarp
// only) and 1024 rows are then in flight on the device at once.
//
// The selection is a filter, then a count:
//   1. candidates: while the row is read, every index i < dim is hashed once and the scores at
//      or below a bound `lim` are appended, in index order, to the warp's list (a ballot and a
//      prefix count: no atomics). lim is chosen on the host (snap_warp_pick_lim) so that about
//      k + 8 sqrt(k) + 32 scores are expected below it;
//   2. when the list holds between k and kSnapWarpCandidates scores, T (the k-th smallest of
//      the row) is the k-th smallest of the list, found digit by digit over the list alone, and
//      the pick is compacted from the list. When it holds fewer than k (T lies above lim) or
//      overflowed, every index is hashed again instead, for the count and for the compaction
//      (snap_warp_rehash_pick): slower, the same out. tests/cpp/snap_warp_pick_gpu.cu forces
//      both branches with other bounds.
#pragma once

#include <math.h>
#include <stdint.h>

#include "../core/pocrand_core.h"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kSnapWarpCandidates = 1024;  // the list's capacity (indices fit 16 bits: dim <= 2^16)
constexpr int kSnapWarpMaxDim = 16384;     // the longest row of the warp kernel
constexpr int kSnapWarpMaxPick = 512;      // the largest k (expected candidates 725 + 12 sigma < 1024)

struct SnapWarpPickShared {  // one warp's
  uint32_t score[kSnapWarpCandidates];
  uint16_t index[kSnapWarpCandidates];
  unsigned int hist[256];
};

// The bound of step 1: scores <= lim are candidates. Every score when dim fits the list.
__host__ inline uint32_t snap_warp_pick_lim(int64_t dim, int64_t k) {
  if (dim <= kSnapWarpCandidates) return 0xffffffffu;
  const double expected = static_cast<double>(k) + 8.0 * sqrt(static_cast<double>(k)) + 32.0;
  const double lim = expected / static_cast<double>(dim) * 4294967296.0;
  return lim >= 4294967295.0 ? 0xffffffffu : static_cast<uint32_t>(lim);
}

__device__ __forceinline__ unsigned lanes_below() {
  return (1u << (threadIdx.x & 31)) - 1u;
}

// Step 1 for the indices base + 32 g + lane, g < G (base a multiple of 32, every lane calling
// with the same base): appends the candidates, if any, after the `count` already listed (count:
// the same in every lane; it may pass the capacity, then the list is incomplete and is not
// used). The G hashes are independent, so they are computed together, then listed in order.
template <int G>
__device__ __forceinline__ void snap_warp_candidates(uint32_t seed, int base, int dim,
                                                     uint32_t lim, SnapWarpPickShared& sh,
                                                     int& count) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  uint32_t s[G];
#pragma unroll
  for (int g = 0; g < G; ++g) s[g] = pick_score(static_cast<uint32_t>(base + 32 * g + lane), seed);
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const int i = base + 32 * g + lane;
    const bool take = i < dim && s[g] <= lim;
    const unsigned m = __ballot_sync(0xffffffffu, take);
    const int pos = count + __popc(m & lanes_below());
    if (take && pos < kSnapWarpCandidates) {
      sh.score[pos] = s[g];
      sh.index[pos] = static_cast<uint16_t>(i);
    }
    count += __popc(m);
  }
}

// The rank-th smallest (1-based, rank <= n) of the n distinct scores value(0 .. n-1), 8 bits at
// a time from bit `bits` - 1 down (every score is below 2^bits): count the scores that share the
// digits found so far by their next digit (shared-memory atomics; a count does not depend on the
// order of the additions); the digit where the rank-th falls is T's. When that digit holds one
// score, that score is T (EarlyEnd = false counts every digit instead: the same T;
// tests/cpp/snap_warp_pick_gpu.cu runs both).
template <bool EarlyEnd, typename Value>
__device__ __forceinline__ uint32_t snap_warp_kth(const Value& value, int n, int rank, int bits,
                                                  SnapWarpPickShared& sh) {
  const int lane = threadIdx.x & 31;
  uint32_t prefix = 0, mask = 0;
  int lo = bits;
  while (lo > 0) {
    const int width = lo >= 8 ? 8 : lo;
    lo -= width;
    const uint32_t digits = (1u << width) - 1u;
#pragma unroll
    for (int b = 0; b < 8; ++b) sh.hist[lane * 8 + b] = 0;
    __syncwarp();
#pragma unroll 4
    for (int i = lane; i < n; i += 32) {
      const uint32_t v = value(i);
      if ((v & mask) == prefix) atomicAdd(&sh.hist[(v >> lo) & digits], 1u);
    }
    __syncwarp();
    unsigned c[8];
    int own = 0;
#pragma unroll
    for (int b = 0; b < 8; ++b) {
      c[b] = sh.hist[lane * 8 + b];
      own += static_cast<int>(c[b]);
    }
    int incl = own;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const int y = __shfl_up_sync(0xffffffffu, incl, o);
      if (lane >= o) incl += y;
    }
    const bool here = incl - own < rank && rank <= incl;  // exactly one lane
    int r = rank - (incl - own), b = 0;
    if (here) {
      while (r > static_cast<int>(c[b])) r -= static_cast<int>(c[b++]);
    }
    const int src = __ffs(__ballot_sync(0xffffffffu, here)) - 1;
    const uint32_t digit = static_cast<uint32_t>(__shfl_sync(0xffffffffu, lane * 8 + b, src));
    const unsigned in_digit = __shfl_sync(0xffffffffu, here ? c[b] : 0u, src);
    rank = __shfl_sync(0xffffffffu, r, src);
    prefix |= digit << lo;
    mask |= digits << lo;
    __syncwarp();  // hist is rewritten by the next pass
    if (EarlyEnd && in_digit == 1u && lo > 0) {  // T is the one score with these digits
      uint32_t found = 0;
      for (int i = lane; i < n; i += 32) {
        const uint32_t v = value(i);
        if ((v & mask) == prefix) found = v;
      }
#pragma unroll
      for (int o = 16; o >= 1; o /= 2) found |= __shfl_xor_sync(0xffffffffu, found, o);
      return found;  // one lane found it, the others hold 0
    }
  }
  return prefix;
}

// out[0 .. k): the indices whose score is below T in ascending index order, then T's index (9.4),
// from entry(i) = (score, index) for i < n in ascending index order. Ends with __syncwarp.
template <typename Entry, typename Index>
__device__ __forceinline__ void snap_warp_compact(const Entry& entry, int n, int k, uint32_t T,
                                                  Index* out) {
  int placed = 0;
  for (int base = 0; base < n; base += 32) {
    const int i = base + static_cast<int>(threadIdx.x & 31);
    uint32_t s = 0xffffffffu;
    int idx = 0;
    if (i < n) entry(i, s, idx);
    const bool below = i < n && s < T;
    const unsigned m = __ballot_sync(0xffffffffu, below);
    if (below) out[placed + __popc(m & lanes_below())] = static_cast<Index>(idx);
    if (i < n && s == T) out[k - 1] = static_cast<Index>(idx);
    placed += __popc(m);
  }
  __syncwarp();
}

// Step 2: the pick from the list of `count` candidates (step 1 done for every index), or, when
// the list cannot hold the answer, from every index hashed again. `lim` is step 1's bound.
// Returns whether the list was used. Ends with __syncwarp.
template <bool EarlyEnd = true, typename Index>
__device__ __forceinline__ bool snap_warp_pick(uint32_t seed, int dim, int k, uint32_t lim,
                                               int count, SnapWarpPickShared& sh, Index* out) {
  __syncwarp();  // the list is complete
  if (count >= k && count <= kSnapWarpCandidates) {
    const int bits = lim == 0 ? 1 : 32 - __clz(lim);  // every candidate is below 2^bits
    const uint32_t T = snap_warp_kth<EarlyEnd>([&](int i) { return sh.score[i]; }, count, k, bits, sh);
    snap_warp_compact([&](int i, uint32_t& s, int& idx) { s = sh.score[i]; idx = sh.index[i]; },
                      count, k, T, out);
    return true;
  }
  const auto score = [&](int i) { return pick_score(static_cast<uint32_t>(i), seed); };
  const uint32_t T = snap_warp_kth<EarlyEnd>(score, dim, k, 32, sh);
  snap_warp_compact([&](int i, uint32_t& s, int& idx) { s = score(i); idx = i; }, dim, k, T, out);
  return false;
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
