// snap_warp_pick.cuh — pick(seed, dim, k) of core 9.4 for the snap's row kernel (snap.cu,
// snap_row_kernel): the candidates listed by the row's warps, T and the pick by the block. Integer
// work only: no float arithmetic, so the result is 9.4's whatever the order of the counting.
// snap_pick.cuh (the block kernel) and pick_row.cuh keep their own selections; every one returns
// the same out, as 9.4 defines it by the scores alone.
//
// The selection is a filter, then a count:
//   1. candidates: while the row is read, every index i < dim is hashed once and the scores at
//      or below a bound `lim` are appended, in index order, to a list (each lane hashes a run
//      of consecutive indices; a prefix count over the lanes places its candidates: no
//      atomics). Lists warps share a row, warp w listing the w-th quarter (for four) of the
//      indices in list w, so the lists one after another are in index order. lim is
//      chosen on the host (snap_warp_pick_lim) so that about k + 8 sqrt(k) + 32 scores are
//      expected below it;
//   2. when the lists hold between k and their capacity, T (the k-th smallest of the row) is
//      the k-th smallest of the lists, found digit by digit over them alone (each warp counting
//      its own list), and each warp compacts its list into the pick. When they hold fewer than k
//      (T lies above lim) or one overflowed, warp 0 hashes every index again instead, for the
//      count and for the compaction: slower, the same out. tests/cpp/snap_warp_pick_gpu.cu
//      forces both branches with other bounds.
#pragma once

#include <math.h>
#include <stdint.h>

#include "../core/pocrand_core.h"

namespace pocrand {
namespace cuda {
namespace {

constexpr int kSnapWarpCandidates = 1024;  // the lists' capacity
constexpr int kSnapWarpMaxDim = 16384;     // the longest row of the row kernel
constexpr int kSnapWarpMaxPick = 512;      // the largest k (expected candidates 725 + 12 sigma < 1024)

constexpr int kSnapListRun = 8;            // consecutive indices a lane hashes in one step

// Lists lists of the candidates of one row and the counters of its selection. An entry is a
// score (low 32 bits) and its index (high bits): one 8-byte store a candidate.
template <int Lists>
struct SnapPickLists {
  static constexpr int kCap = kSnapWarpCandidates / Lists;  // a list's capacity
  uint64_t entry[Lists][kCap];
  unsigned int hist[3][256];  // the block's passes rotate over three (snap_block_pick)
  int count[Lists];  // may pass kCap: the list overflowed
  int below[Lists];  // entries below T
  uint32_t T;
};

__device__ __forceinline__ uint32_t entry_score(uint64_t e) { return static_cast<uint32_t>(e); }
__device__ __forceinline__ int entry_index(uint64_t e) { return static_cast<int>(e >> 32); }

// The bound of step 1: scores <= lim are candidates. Every score when dim fits the list.
__host__ inline uint32_t snap_warp_pick_lim(int64_t dim, int64_t k) {
  if (dim <= kSnapWarpCandidates) return 0xffffffffu;
  const double expected = static_cast<double>(k) + 8.0 * sqrt(static_cast<double>(k)) + 32.0;
  const double lim = expected / static_cast<double>(dim) * 4294967296.0;
  return lim >= 4294967295.0 ? 0xffffffffu : static_cast<uint32_t>(lim);
}

// The indices [lo, hi) that warp w of Lists lists: whole steps of 32 kSnapListRun indices, the
// last range shorter or empty. The host's replay in tests/cpp/snap_warp_pick_gpu.cu uses it too.
template <int Lists>
__host__ __device__ inline int snap_list_quarter(int dim) {
  constexpr int kStep = 32 * kSnapListRun;
  return (dim + kStep * Lists - 1) / (kStep * Lists) * kStep;
}
template <int Lists>
__device__ __forceinline__ void snap_list_range(int dim, int w, int& lo, int& hi) {
  const int quarter = snap_list_quarter<Lists>(dim);
  lo = min(dim, w * quarter);
  hi = min(dim, lo + quarter);
}

__device__ __forceinline__ unsigned lanes_below() {
  return (1u << (threadIdx.x & 31)) - 1u;
}

// Step 1 for the 32 kSnapListRun indices from base (every lane of the warp calling with the same
// base): lane l hashes the run base + kSnapListRun l + g, g < kSnapListRun, and appends its
// candidates after those of the lanes before it and the `count` already in the list (count: the
// same in every lane; it may pass cap, then the list is incomplete and is not used). Checked:
// indices at or beyond `end` are not candidates (the last step of a range).
template <bool Checked>
__device__ __forceinline__ void snap_warp_candidates(uint32_t seed, int base, int end,
                                                     uint32_t lim, uint64_t* list, int cap,
                                                     int& count) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  const int first = base + kSnapListRun * lane;
  uint32_t s[kSnapListRun];
  unsigned take = 0;
#pragma unroll
  for (int g = 0; g < kSnapListRun; ++g) {
    s[g] = pick_score(static_cast<uint32_t>(first + g), seed);
    const bool in = (!Checked || first + g < end) && s[g] <= lim;
    take |= (in ? 1u : 0u) << g;
  }
  const int mine = __popc(take);
  int incl = mine;  // inclusive prefix count over the lanes
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const int y = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += y;
  }
  int pos = count + incl - mine;
#pragma unroll
  for (int g = 0; g < kSnapListRun; ++g) {
    if (take & (1u << g)) {
      if (pos < cap)
        list[pos] = static_cast<uint64_t>(s[g]) | (static_cast<uint64_t>(first + g) << 32);
      ++pos;
    }
  }
  count += __shfl_sync(0xffffffffu, incl, 31);
}

// Step 1 for the indices [lo, hi) of this warp's range (lo a multiple of 32 kSnapListRun).
__device__ __forceinline__ void snap_warp_list_steps(uint32_t seed, int lo, int hi, int from,
                                                     int until, uint32_t lim, uint64_t* list,
                                                     int cap, int& count) {
  constexpr int kStep = 32 * kSnapListRun;
  for (int step = from; step < until; ++step) {
    const int base = lo + step * kStep;
    if (base + kStep <= hi) snap_warp_candidates<false>(seed, base, hi, lim, list, cap, count);
    else snap_warp_candidates<true>(seed, base, hi, lim, list, cap, count);
  }
}

// The digit of a pass's 256 counters where the rank-th counted score falls, the count of that
// digit, and rank made relative to it (rank <= the counters' total). Every lane of the warp
// calling gets the same results; lane l reads counters 8 l .. 8 l + 7.
__device__ __forceinline__ void snap_digit_of(const unsigned int* hist, int& rank, uint32_t& digit,
                                              unsigned& in_digit) {
  const int lane = threadIdx.x & 31;
  unsigned c[8];
  int own = 0;
#pragma unroll
  for (int b = 0; b < 8; ++b) {
    c[b] = hist[lane * 8 + b];
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
  digit = static_cast<uint32_t>(__shfl_sync(0xffffffffu, lane * 8 + b, src));
  in_digit = __shfl_sync(0xffffffffu, here ? c[b] : 0u, src);
  rank = __shfl_sync(0xffffffffu, r, src);
}

// f(v) for each of the scores v = value(i), i < n, whose digits under mask equal prefix, this
// lane taking i = lane, lane + 32, ...: a digit pass's count and the early end's search, over
// every index (the rehash) or over one warp's list (the block's selection).
template <typename Value, typename F>
__device__ __forceinline__ void snap_each_with_prefix(const Value& value, int n, uint32_t prefix,
                                                      uint32_t mask, const F& f) {
#pragma unroll 4
  for (int i = static_cast<int>(threadIdx.x & 31); i < n; i += 32) {
    const uint32_t v = value(i);
    if ((v & mask) == prefix) f(v);
  }
}

// The rank-th smallest (1-based, rank <= n) of the n distinct 32-bit scores value(0 .. n-1), by
// one warp, 8 bits at a time from the top: count the scores that share the digits found so far
// by their next digit (shared-memory atomics; a count does not depend on the order of the
// additions); the digit where the rank-th falls is T's. When that digit holds one score, that
// score is T (EarlyEnd = false counts every digit instead: the same T;
// tests/cpp/snap_warp_pick_gpu.cu runs both).
template <bool EarlyEnd, typename Value>
__device__ __forceinline__ uint32_t snap_warp_kth(const Value& value, int n, int rank,
                                                  unsigned int* hist) {
  const int lane = threadIdx.x & 31;
  uint32_t prefix = 0, mask = 0;
  for (int lo = 32; lo > 0;) {
    lo -= 8;
#pragma unroll
    for (int b = 0; b < 8; ++b) hist[lane * 8 + b] = 0;
    __syncwarp();
    snap_each_with_prefix(value, n, prefix, mask,
                          [&](uint32_t v) { atomicAdd(&hist[(v >> lo) & 0xffu], 1u); });
    __syncwarp();
    uint32_t digit;
    unsigned in_digit;
    snap_digit_of(hist, rank, digit, in_digit);
    prefix |= digit << lo;
    mask |= 0xffu << lo;
    __syncwarp();  // hist is rewritten by the next pass
    if (EarlyEnd && in_digit == 1u && lo > 0) {  // T is the one score with these digits
      uint32_t found = 0;
      snap_each_with_prefix(value, n, prefix, mask, [&](uint32_t v) { found = v; });
#pragma unroll
      for (int o = 16; o >= 1; o /= 2) found |= __shfl_xor_sync(0xffffffffu, found, o);
      return found;  // one lane found it, the others hold 0
    }
  }
  return prefix;
}

// The entries entry(i) = (score, index), i < n, in ascending index order, whose score is below T
// to out_below[0 ..) in that order, and the one whose score is T (if it is among them) to *out_T
// (9.4's out is out_below = out, out_T = out + k - 1). Ends with __syncwarp.
template <typename Entry, typename Index>
__device__ __forceinline__ void snap_warp_compact(const Entry& entry, int n, uint32_t T,
                                                  Index* out_below, Index* out_T) {
  int placed = 0;
  for (int base = 0; base < n; base += 32) {
    const int i = base + static_cast<int>(threadIdx.x & 31);
    uint32_t s = 0xffffffffu;
    int idx = 0;
    if (i < n) entry(i, s, idx);
    const bool below = i < n && s < T;
    const unsigned m = __ballot_sync(0xffffffffu, below);
    if (below) out_below[placed + __popc(m & lanes_below())] = static_cast<Index>(idx);
    if (i < n && s == T) *out_T = static_cast<Index>(idx);
    placed += __popc(m);
  }
  __syncwarp();
}

// The pick from every index hashed again (when the lists cannot hold it), by one warp. Ends
// with __syncwarp.
template <bool EarlyEnd, typename Index>
__device__ __forceinline__ void snap_warp_rehash_pick(uint32_t seed, int dim, int k,
                                                      unsigned int* hist, Index* out) {
  const auto score = [&](int i) { return pick_score(static_cast<uint32_t>(i), seed); };
  const uint32_t T = snap_warp_kth<EarlyEnd>(score, dim, k, hist);
  snap_warp_compact([&](int i, uint32_t& s, int& idx) { s = score(i); idx = i; }, dim, T, out,
                    out + (k - 1));
}

// Step 2, by the whole block (Lists warps, every thread calling) once the lists and their counts
// are complete (a barrier after step 1), and hist[0] is zero: the pick from the lists,
// or, when they cannot hold it, warp 0's from every index hashed again. `lim` is step 1's bound.
// Each warp counts its own list into the pass's shared counters and reads the digit from them
// (every warp the same), so a pass is one barrier; the passes rotate over three counter arrays,
// each zeroed one pass before it is counted into and two after it was read. Returns whether the
// lists were used (the same in every thread). Ends with a barrier.
template <bool EarlyEnd = true, int Lists, typename Index>
__device__ __forceinline__ bool snap_block_pick(uint32_t seed, int dim, int k, uint32_t lim,
                                                SnapPickLists<Lists>& sh, Index* out) {
  using L = SnapPickLists<Lists>;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int total = 0;
  bool complete = true;
#pragma unroll
  for (int w = 0; w < Lists; ++w) {
    total += sh.count[w];
    complete = complete && sh.count[w] <= L::kCap;
  }
  if (!complete || total < k) {  // the same in every thread
    if (warp == 0) snap_warp_rehash_pick<EarlyEnd>(seed, dim, k, sh.hist[2], out);
    __syncthreads();
    return false;
  }
  const uint64_t* list = sh.entry[warp];
  const int n = sh.count[warp];
  const auto score = [&](int i) { return entry_score(list[i]); };
  uint32_t prefix = 0, mask = 0;
  int rank = k, lo = lim == 0 ? 1 : 32 - __clz(lim);  // every candidate is below 2^lo
  bool found = false;
  for (int pass = 0; lo > 0; ++pass) {
    const int width = lo >= 8 ? 8 : lo;
    lo -= width;
    const uint32_t digits = (1u << width) - 1u;
    unsigned int* hist = sh.hist[pass % 3];
    for (int b = threadIdx.x; b < 256; b += blockDim.x) sh.hist[(pass + 1) % 3][b] = 0;
    snap_each_with_prefix(score, n, prefix, mask,
                          [&](uint32_t v) { atomicAdd(&hist[(v >> lo) & digits], 1u); });
    __syncthreads();
    uint32_t digit;
    unsigned in_digit;
    snap_digit_of(hist, rank, digit, in_digit);
    prefix |= digit << lo;
    mask |= digits << lo;
    if (EarlyEnd && in_digit == 1u && lo > 0) {  // T is the one candidate with these digits
      snap_each_with_prefix(score, n, prefix, mask, [&](uint32_t v) { sh.T = v; });
      found = true;
      break;
    }
  }
  __syncthreads();
  const uint32_t T = found ? sh.T : prefix;
  // the entries below T, list by list in index order; T's entry last
  int mine = 0;
  for (int base = 0; base < n; base += 32) {
    const int i = base + lane;
    mine += __popc(__ballot_sync(0xffffffffu, i < n && entry_score(list[min(i, n - 1)]) < T));
  }
  if (lane == 0) sh.below[warp] = mine;
  __syncthreads();
  int placed = 0;
#pragma unroll
  for (int w = 0; w < Lists; ++w) placed += w < warp ? sh.below[w] : 0;
  snap_warp_compact(
      [&](int i, uint32_t& s, int& idx) {
        const uint64_t x = list[i];
        s = entry_score(x);
        idx = entry_index(x);
      },
      n, T, out + placed, out + (k - 1));
  __syncthreads();
  return true;
}

}  // namespace
}  // namespace cuda
}  // namespace pocrand
