// host_order.h — the pick's host order (SPEC.md 9.4, "Host order"), torch-free: the order in which
// torch's CPU `topk(-s, k, sorted=False)` returns the k smallest scores, written out so that it is
// the same on every machine. torch's CPU kernel calls std::nth_element (k * 64 > n) or
// std::partial_sort (k * 64 <= n) on (value, index) pairs and keeps the first k; the order left
// behind is that of the C++ library torch was built with. The Linux wheels use libstdc++, whose
// introselect and heap routines are restated here step for step. Calling std::nth_element instead
// would give libc++'s or the MSVC library's order wherever pocrand is built with those.
#pragma once

#include <stdint.h>

#include <utility>

namespace pocrand {
namespace cpu {
namespace {

// The widest row the host order takes: one row's pairs (16 bytes each) per thread, 16 MiB.
constexpr int64_t kHostOrderMaxDim = int64_t{1} << 20;

struct ScoredIndex {
  uint32_t score;
  int64_t index;
};

// torch compares -score with ">": the element with the smaller score goes first. Scores of one
// pick are distinct (murmur3 is a bijection of its key), but ties would compare equal as in torch.
inline bool goes_first(const ScoredIndex& a, const ScoredIndex& b) { return a.score < b.score; }

inline void adjust_heap(ScoredIndex* first, int64_t hole, int64_t len, ScoredIndex value) {
  const int64_t top = hole;
  int64_t child = hole;
  while (child < (len - 1) / 2) {
    child = 2 * (child + 1);
    if (goes_first(first[child], first[child - 1])) --child;
    first[hole] = first[child];
    hole = child;
  }
  if ((len & 1) == 0 && child == (len - 2) / 2) {
    child = 2 * (child + 1);
    first[hole] = first[child - 1];
    hole = child - 1;
  }
  int64_t parent = (hole - 1) / 2;
  while (hole > top && goes_first(first[parent], value)) {
    first[hole] = first[parent];
    hole = parent;
    parent = (hole - 1) / 2;
  }
  first[hole] = value;
}

inline void make_heap(ScoredIndex* first, int64_t len) {
  if (len < 2) return;
  for (int64_t parent = (len - 2) / 2;; --parent) {
    adjust_heap(first, parent, len, first[parent]);
    if (parent == 0) return;
  }
}

// Moves the heap's top to *result and sifts what was at *result into the heap [first, last).
inline void pop_heap(ScoredIndex* first, ScoredIndex* last, ScoredIndex* result) {
  const ScoredIndex value = *result;
  *result = *first;
  adjust_heap(first, 0, last - first, value);
}

inline void heap_select(ScoredIndex* first, ScoredIndex* middle, ScoredIndex* last) {
  make_heap(first, middle - first);
  for (ScoredIndex* i = middle; i < last; ++i)
    if (goes_first(*i, *first)) pop_heap(first, middle, i);
}

inline void insertion_sort(ScoredIndex* first, ScoredIndex* last) {
  if (first == last) return;
  for (ScoredIndex* i = first + 1; i != last; ++i) {
    const ScoredIndex value = *i;
    if (goes_first(value, *first)) {
      for (ScoredIndex* j = i; j != first; --j) *j = *(j - 1);
      *first = value;
    } else {
      ScoredIndex* hole = i;
      while (goes_first(value, *(hole - 1))) {
        *hole = *(hole - 1);
        --hole;
      }
      *hole = value;
    }
  }
}

inline void move_median_to_first(ScoredIndex* result, ScoredIndex* a, ScoredIndex* b,
                                 ScoredIndex* c) {
  ScoredIndex* median;
  if (goes_first(*a, *b))
    median = goes_first(*b, *c) ? b : (goes_first(*a, *c) ? c : a);
  else
    median = goes_first(*a, *c) ? a : (goes_first(*b, *c) ? c : b);
  std::swap(*result, *median);
}

inline ScoredIndex* unguarded_partition(ScoredIndex* first, ScoredIndex* last,
                                        const ScoredIndex* pivot) {
  while (true) {
    while (goes_first(*first, *pivot)) ++first;
    --last;
    while (goes_first(*pivot, *last)) --last;
    if (!(first < last)) return first;
    std::swap(*first, *last);
    ++first;
  }
}

inline int64_t floor_log2(int64_t n) {
  int64_t r = 0;
  while (n >>= 1) ++r;
  return r;
}

// libstdc++'s std::nth_element: introselect with a median-of-three pivot, a heap select once
// 2 * floor(log2(n)) partitions have not finished, and an insertion sort of the last <= 3.
inline void nth_element(ScoredIndex* first, ScoredIndex* nth, ScoredIndex* last) {
  if (first == last || nth == last) return;
  int64_t depth = 2 * floor_log2(last - first);
  while (last - first > 3) {
    if (depth == 0) {
      heap_select(first, nth + 1, last);
      std::swap(*first, *nth);
      return;
    }
    --depth;
    ScoredIndex* mid = first + (last - first) / 2;
    move_median_to_first(first, first + 1, mid, last - 1);
    ScoredIndex* cut = unguarded_partition(first + 1, last, first);
    if (cut <= nth)
      first = cut;
    else
      last = cut;
  }
  insertion_sort(first, last);
}

// The first k of q[0 .. n) in torch's CPU topk(sorted=False) order; q starts in index order.
inline void host_topk(ScoredIndex* q, int64_t n, int64_t k) {
  if (k * 64 <= n) {  // std::partial_sort: heap select, then sort the heap
    heap_select(q, q + k, q + n);
    for (ScoredIndex* last = q + k; last - q > 1;) {
      --last;
      pop_heap(q, last, last);
    }
  } else {
    nth_element(q, q + k - 1, q + n);
  }
}

}  // namespace
}  // namespace cpu
}  // namespace pocrand
