// sums.h — the fixed-order sums of core section 7 for the CPU kernels, torch-free: over a whole
// vector with each tree level's chunks spread over threads, or on the calling thread for loops
// that are already parallel over rows. The order is the core's tree_sum whatever the thread count.
#pragma once

#include <stdint.h>

#include <utility>
#include <vector>

#include "../core/pocrand_core.h"
#include "parallel.h"

namespace pocrand {
namespace cpu {

// sum() of core section 7 (the core's tree_sum), each level's chunks spread over threads; consumes
// `v` (n >= 1).
inline float fixed_order_sum(std::vector<float> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  std::vector<float> levels(tree_scratch(n));
  const auto parallel_chunks = [](int64_t count, const auto& body) { parallel_for(0, count, 16, body); };
  return tree_sum([&](int64_t i) { return v[i]; }, n, levels.data(), parallel_chunks);
}

// sqrt of the fixed-order sum of squares of x[0 .. n).
inline float fixed_order_norm(const float* x, int64_t n) {
  std::vector<float> sq(n);
  for (int64_t i = 0; i < n; ++i) sq[i] = square(x[i]);
  return pr_sqrt(fixed_order_sum(std::move(sq)));
}

// sum() of core section 7 over term(0) .. term(n - 1) (n >= 1), on the calling thread. Terms are
// computed as each chunk is filled, so products and squares need no array of their own.
template <typename Term>
float tree_sum_serial(const Term& term, int64_t n) {
  std::vector<float> levels(tree_scratch(n));
  return tree_sum(term, n, levels.data());
}

}  // namespace cpu
}  // namespace pocrand
