// row_ops.h — the PoC v2 steps on one row, on the calling thread (SPEC.md 9.3, 9.4, 9.10, 9.11):
// the CPU kernels run them in loops that are parallel over rows. Plumbing over the core; the
// arithmetic is pocrand_core.h's.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <mutex>
#include <vector>

#include "cpu_common.h"
#include "fp_mode.h"
#include "pick_row.h"

namespace pocrand {
namespace {

// Householder reflection of y[0..dim) by v (both binary32, 9.3), each result delivered in
// `storage` and widened back.
inline void reflect_row(float* y, const float* v, int64_t dim, at::ScalarType storage) {
  const float dot = tree_sum_serial([&](int64_t i) { return pr_mul(y[i], v[i]); }, dim);
  const float c = householder_coefficient(dot);
  for (int64_t i = 0; i < dim; ++i) y[i] = through_storage(householder_update(y[i], c, v[i]), storage);
}

// unit_vector(seed, dim) (9.2) into v[0..dim), each element delivered in `storage` and widened
// back; t is scratch of dim floats.
inline void unit_vector_row(uint32_t seed, int64_t dim, at::ScalarType storage, float* v, float* t) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(dim)));
  normal_pairs(seed, dim, 0, p, 0, [t](int64_t i, float x) { t[i] = x; });
  const float d = unit_vector_divisor(tree_sum_serial([&](int64_t i) { return square(t[i]); }, dim));
  for (int64_t i = 0; i < dim; ++i) v[i] = through_storage(pr_div(t[i], d), storage);
}

// haar_rotate of one row (9.10): y[0..k) (already widened) reflected by the unit vectors of
// seeds[0 .. k - 2] in order, every step delivered in `storage`. v and t: scratch of k floats.
inline void haar_row(float* y, int64_t k, const int64_t* seeds, at::ScalarType storage, float* v,
                     float* t) {
  for (int64_t j = 0; j + 1 < k; ++j) {
    unit_vector_row(static_cast<uint32_t>(seeds[j]), k, storage, v, t);
    reflect_row(y, v, k, storage);
  }
}

}  // namespace
}  // namespace pocrand
