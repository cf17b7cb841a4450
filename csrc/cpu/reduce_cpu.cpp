// reduce_cpu.cpp — the CPU reductions (SPEC.md section 7 order): distances (section 8), and the
// Haar rotation and artifacts of PoC v2 (9.10, 9.11). Threads split
// rows; each sum follows the fixed tree whatever the thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "../core/pocrand_core.h"
#include "../op_checks.h"
#include "../protocols/pocv2_seeds.h"
#include "cpu_common.h"
#include "row_ops.h"
#include "seeds.h"

namespace pocrand {
namespace {

at::Tensor distances_cpu(const at::Tensor& logits, const at::Tensor& permutations,
                         const at::Tensor& target, bool check) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_distance_args(logits, permutations, target);
  const int64_t B = logits.size(0), V = logits.size(1);
  std::vector<float> tgt(V);
  widen_to_float(target, 0, V, tgt.data());
  auto out = at::empty({B}, logits.options().dtype(at::kFloat));
  float* o = out.data_ptr<float>();
  const int64_t* perm = permutations.data_ptr<int64_t>();
  // Range check first, without throwing inside the parallel region: the first bad flat index.
  std::vector<int64_t> first_bad(B, -1);
  ieee_parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t i = 0; i < V && first_bad[b] < 0; ++i)
        if (perm[b * V + i] < 0 || perm[b * V + i] >= V) first_bad[b] = b * V + i;
  });
  for (int64_t b = 0; check && b < B; ++b)
    if (first_bad[b] >= 0)
      TORCH_CHECK_VALUE(false, out_of_range_message(first_bad[b], perm[first_bad[b]], V));
  ieee_parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> x(V), d(V);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t* pr = perm + b * V;
      if (first_bad[b] >= 0) {  // only reached with check = false: the row has no distance
        o[b] = pr_from_bits(kCanonicalNaN);
        continue;
      }
      widen_to_float(logits, b * V, (b + 1) * V, x.data());
      const float nx = fixed_order_norm(x.data(), V);
      if (!(nx > 0.0f && nx <= 0x1.fffffep127f)) {  // zero, Inf or NaN: no valid direction
        o[b] = pr_from_bits(kCanonicalNaN);
        continue;
      }
      for (int64_t i = 0; i < V; ++i) d[i] = pr_sub(pr_div(x[pr[i]], nx), tgt[i]);
      o[b] = canonicalize_nan(fixed_order_norm(d.data(), V));
    }
  });
  return out;
}

at::Tensor haar_rotate_cpu(const at::Tensor& x, const at::Tensor& seeds) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_haar_args(x, seeds);
  const int64_t B = x.size(0), k = x.size(1);
  const int64_t* s = seeds.data_ptr<int64_t>();
  auto out = at::empty_like(x);
  with_store(out, [&](const auto& store) {
    ieee_parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      std::vector<float> y(k), v(k), t(k);
      for (int64_t b = b0; b < b1; ++b) {
        widen_to_float(x, b * k, (b + 1) * k, y.data());
        haar_row(y.data(), k, s + b * (k - 1), x.scalar_type(), v.data(), t.data());
        for (int64_t m = 0; m < k; ++m) store(b * k + m, canonicalize_nan(y[m]));
      }
    });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> artifacts_cpu(const at::Tensor& hidden, const at::Tensor& seeds,
                                                 int64_t k) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_artifact_args(hidden, seeds, k);
  const int64_t B = hidden.size(0), H = hidden.size(1);
  const int64_t* s = seeds.data_ptr<int64_t>();
  auto out = at::empty({B, k}, hidden.options().dtype(at::kHalf));
  auto flags = at::empty({B}, hidden.options().dtype(at::kBool));
  auto* o = reinterpret_cast<uint16_t*>(out.data_ptr());
  bool* f = flags.data_ptr<bool>();
  ieee_parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> h(H), g(k), v(k), t(k);
    std::vector<int64_t> idx(k);
    for (int64_t b = b0; b < b1; ++b) {
      widen_to_float(hidden, b * H, (b + 1) * H, h.data());
      const float sum_sq = tree_sum_serial([&](int64_t i) { return square(h[i]); }, H);
      const float nx = pr_sqrt(sum_sq);
      f[b] = !(nx <= 0x1.fffffep127f);  // NaN or Inf: a NaN/Inf in the row, or overflow
      if (f[b]) {
        std::fill(o + b * k, o + (b + 1) * k, uint16_t{0x7e00});
        continue;
      }
      const float d1 = artifact_divisor(sum_sq);
      pick_row(static_cast<uint32_t>(s[b * k]), H, k, idx.data());
      for (int64_t m = 0; m < k; ++m) g[m] = pr_div(h[idx[m]], d1);
      haar_row(g.data(), k, s + b * k + 1, at::kFloat, v.data(), t.data());
      const float d2 = artifact_divisor(tree_sum_serial([&](int64_t m) { return square(g[m]); }, k));
      for (int64_t m = 0; m < k; ++m)
        o[b * k + m] = float_to_half_bits(canonicalize_nan(pr_div(g[m], d2)));
    }
  });
  return {out, flags};
}

std::tuple<at::Tensor, at::Tensor> artifacts_nonces_cpu(const at::Tensor& hidden,
                                                        c10::string_view prefix,
                                                        at::IntArrayRef nonces, int64_t k) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_artifact_nonces(hidden, nonces, k);
  return artifacts_cpu(hidden, derive_artifact_seeds(prefix, nonces, k), k);
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("distances", &distances_cpu);
  m.impl("haar_rotate", &haar_rotate_cpu);
  m.impl("artifacts", &artifacts_cpu);
  m.impl("artifacts_nonces", &artifacts_nonces_cpu);
}

}  // namespace pocrand
