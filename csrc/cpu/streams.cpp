// streams.cpp — the generators on the CPU (streams.h). Thin loops over csrc/core/pocrand_core.h:
// parallel over independent elements, 64-bit indices throughout, no arithmetic of their own.
// Threads only split the work; they never change an operation's order (the norms follow the fixed
// tree of core section 7).
#include "streams.h"

#include <algorithm>
#include <vector>

#include "../core/pocrand_core.h"
#include "box_muller.h"
#include "fp_env.h"
#include "parallel.h"
#include "sums.h"

namespace pocrand {
namespace cpu {
namespace {

// fn(store), store(i, v) writing float32 v into out[i] in S's type (core section 6).
template <typename Fn>
void with_store(Dtype dtype, void* out, Fn&& fn) {
  with_storage(dtype, [&](auto s) {
    using S = decltype(s);
    auto* p = static_cast<typename S::Bits*>(out);
    fn([p](int64_t i, float v) { p[i] = S::encode(v); });
  });
}

}  // namespace

void hash_keys(const int64_t* keys, int64_t n, uint32_t seed, int64_t* out) {
  const IeeeFpMode ieee;  // integer work only, but every CPU kernel follows fp_env.h's rules
  parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = pocrand::murmur3(static_cast<uint32_t>(keys[i]), seed);
  });
}

void hash_rows(const int64_t* keys, const int64_t* seeds, int64_t rows, int64_t n, int64_t* out) {
  const IeeeFpMode ieee;
  parallel_for(0, rows * n, kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      out[i] = pocrand::murmur3(static_cast<uint32_t>(keys[i]), static_cast<uint32_t>(seeds[i / n]));
  });
}

void uniform_rows(const int64_t* seeds, int64_t rows, int64_t n, float* out) {
  const IeeeFpMode ieee;
  for (int64_t b = 0; b < rows; ++b) {
    const auto s = static_cast<uint32_t>(seeds[b]);
    parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) out[b * n + i] = pocrand::uniform(static_cast<uint32_t>(i), s);
    });
  }
}

void normal_rows(const int64_t* seeds, int64_t rows, int64_t n, int64_t start, int64_t end, Dtype dtype,
            void* out) {
  const IeeeFpMode ieee;
  const int64_t m = end - start;
  with_store(dtype, out, [&](const auto& store) {
    if (start == 0 && end == n) {
      const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
      parallel_for(0, rows * p, kGrain / 2, [&](int64_t t0, int64_t t1) {
        // Task [t0, t1) of the flattened (row, pair) space, split at row boundaries.
        for (int64_t t = t0; t < t1;) {
          const int64_t b = t / p, j0 = t % p, j1 = std::min(p, j0 + (t1 - t));
          normal_pairs(static_cast<uint32_t>(seeds[b]), n, j0, j1, b * n, store);
          t += j1 - j0;
        }
      });
      return;
    }
    for (int64_t b = 0; b < rows; ++b) {  // a slice: element by element (random access)
      const auto s = static_cast<uint32_t>(seeds[b]);
      parallel_for(0, m, kGrain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i)
          store(b * m + i, normal_element(static_cast<uint32_t>(start + i), static_cast<uint32_t>(n), s));
      });
    }
  });
}

void unit_rows(const int64_t* seeds, int64_t rows, int64_t n, bool tiny, Dtype dtype, void* out) {
  const IeeeFpMode ieee;
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  std::vector<float> t(n);
  float* tp = t.data();
  with_store(dtype, out, [&](const auto& store) {
    for (int64_t b = 0; b < rows; ++b) {
      const auto s = static_cast<uint32_t>(seeds[b]);
      parallel_for(0, p, kGrain / 2, [&](int64_t j0, int64_t j1) {
        normal_pairs(s, n, j0, j1, 0, [tp](int64_t i, float v) { tp[i] = v; });
      });
      std::vector<float> sq(n);
      for (int64_t i = 0; i < n; ++i) sq[i] = square(tp[i]);
      const float sum_sq = fixed_order_sum(std::move(sq));
      const float d = tiny ? unit_vector_divisor(sum_sq) : pr_sqrt(sum_sq);
      parallel_for(0, n, kGrain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) store(b * n + i, canonicalize_nan(pr_div(tp[i], d)));
      });
    }
  });
}

void concat_normal_rows(const int64_t* words, int64_t rows, int64_t n, int64_t start, int64_t end,
                   Dtype dtype, void* out) {
  const IeeeFpMode ieee;
  const int64_t m = end - start;
  std::vector<uint32_t> seeds(rows * 8);
  for (int64_t i = 0; i < rows * 8; ++i) seeds[i] = static_cast<uint32_t>(words[i]);
  const auto n32 = static_cast<uint32_t>(n);
  const int64_t L = concat_segment_length(n32), S = concat_segment_count(n32);
  with_store(dtype, out, [&](const auto& store) {
    if (start == 0 && end == n) {  // whole rows: segment by segment, in vectorised pair blocks
      const int64_t pairs = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(L)));
      parallel_for(0, rows * S * pairs, kGrain / 2, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1;) {  // (row, segment, pair) space, split at segment ends
          const int64_t row = t / (S * pairs), j = (t / pairs) % S, q0 = t % pairs;
          const int64_t q1 = std::min(pairs, q0 + (t1 - t));
          const int64_t len = concat_segment_size(static_cast<uint32_t>(j), n32);
          const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(len)));
          if (q0 < p)
            normal_pairs(seeds[row * 8 + j], len, q0, std::min(q1, p), row * n + j * L, store);
          t += q1 - q0;
        }
      });
      return;
    }
    parallel_for(0, rows * m, kGrain, [&](int64_t t0, int64_t t1) {  // a slice: element by element
      for (int64_t t = t0; t < t1; ++t)
        store(t, concat_normal_element(static_cast<uint32_t>(start + t % m), n32, &seeds[(t / m) * 8]));
    });
  });
}

}  // namespace cpu
}  // namespace pocrand
