// artifacts.cpp — PoC v2's Haar rotation and artifacts on the CPU (artifacts.h). Threads split
// rows; each row's steps run on one thread, every sum in the fixed order of core section 7.
#include "artifacts.h"

#include <algorithm>
#include <vector>

#include "../core/pocrand_core.h"
#include "box_muller.h"
#include "fp_env.h"
#include "parallel.h"
#include "pick_row.h"
#include "sums.h"

namespace pocrand {
namespace cpu {
namespace {

// Householder reflection of y[0..dim) by v (both binary32, 9.3), each result delivered in
// `storage` and widened back.
void reflect_row(float* y, const float* v, int64_t dim, Dtype storage) {
  const float dot = tree_sum_serial([&](int64_t i) { return pr_mul(y[i], v[i]); }, dim);
  const float c = householder_coefficient(dot);
  for (int64_t i = 0; i < dim; ++i) y[i] = through_storage(householder_update(y[i], c, v[i]), storage);
}

// unit_vector(seed, dim) (9.2) into v[0..dim), each element delivered in `storage` and widened
// back; t is scratch of dim floats.
void unit_vector_row(uint32_t seed, int64_t dim, Dtype storage, float* v, float* t) {
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(dim)));
  normal_pairs(seed, dim, 0, p, 0, [t](int64_t i, float x) { t[i] = x; });
  const float d = unit_vector_divisor(tree_sum_serial([&](int64_t i) { return square(t[i]); }, dim));
  for (int64_t i = 0; i < dim; ++i) v[i] = through_storage(pr_div(t[i], d), storage);
}

// haar_rotate of one row (9.10): y[0..k) (already widened) reflected by the unit vectors of
// seeds[0 .. k - 2] in order, every step delivered in `storage`. v and t: scratch of k floats.
void haar_row(float* y, int64_t k, const int64_t* seeds, Dtype storage, float* v, float* t) {
  for (int64_t j = 0; j + 1 < k; ++j) {
    unit_vector_row(static_cast<uint32_t>(seeds[j]), k, storage, v, t);
    reflect_row(y, v, k, storage);
  }
}

}  // namespace

void haar_rotate(Dtype type, const void* x, const int64_t* seeds, int64_t rows, int64_t k, void* out) {
  const IeeeFpMode ieee;
  with_storage(type, [&](auto s) {
    using S = decltype(s);
    auto* o = static_cast<typename S::Bits*>(out);
    parallel_for(0, rows, 1, [&](int64_t b0, int64_t b1) {
      std::vector<float> y(k), v(k), t(k);
      for (int64_t b = b0; b < b1; ++b) {
        widen(type, x, b * k, (b + 1) * k, y.data());
        haar_row(y.data(), k, seeds + b * (k - 1), type, v.data(), t.data());
        for (int64_t m = 0; m < k; ++m) o[b * k + m] = S::encode(canonicalize_nan(y[m]));
      }
    });
  });
}

void artifacts(Dtype type, const void* hidden, const int64_t* seeds, int64_t rows, int64_t H,
               int64_t k, uint16_t* out, bool* flags) {
  const IeeeFpMode ieee;
  parallel_for(0, rows, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> h(H), g(k), v(k), t(k);
    std::vector<int64_t> idx(k);
    for (int64_t b = b0; b < b1; ++b) {
      widen(type, hidden, b * H, (b + 1) * H, h.data());
      const float sum_sq = tree_sum_serial([&](int64_t i) { return square(h[i]); }, H);
      const float nx = pr_sqrt(sum_sq);
      flags[b] = !(nx <= 0x1.fffffep127f);  // NaN or Inf: a NaN/Inf in the row, or overflow
      if (flags[b]) {
        std::fill(out + b * k, out + (b + 1) * k, uint16_t{0x7e00});
        continue;
      }
      const float d1 = artifact_divisor(sum_sq);
      pick_row(static_cast<uint32_t>(seeds[b * k]), H, k, idx.data());
      for (int64_t m = 0; m < k; ++m) g[m] = pr_div(h[idx[m]], d1);
      haar_row(g.data(), k, seeds + b * k + 1, Dtype::kFloat32, v.data(), t.data());
      const float d2 = artifact_divisor(tree_sum_serial([&](int64_t m) { return square(g[m]); }, k));
      for (int64_t m = 0; m < k; ++m) out[b * k + m] = float_to_half_bits(canonicalize_nan(pr_div(g[m], d2)));
    }
  });
}

}  // namespace cpu
}  // namespace pocrand
