// snap_cpu.cpp — the snap of the decode scheme on the CPU (SPEC.md 10.6, 10.7). Threads split
// rows; every sum is the fixed tree of core section 7 (tree_sum_serial), the pick is 9.4's
// (pick_row), and every element step is the core's, so a row's bits never depend on the batch.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "../core/pocrand_core.h"
#include "../snap_checks.h"
#include "cpu_common.h"
#include "row_ops.h"

namespace pocrand {
namespace {

void snap_into_cpu(const at::Tensor& h, const at::Tensor& seeds, const at::Tensor& codebook,
                   const at::Tensor& k_out, const at::Tensor& bad_out, const at::Tensor& scores_out,
                   const at::Tensor& q_out) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_snap_into_args(h, seeds, codebook, k_out, bad_out, scores_out, q_out);
  const int64_t B = h.size(0), H = h.size(1), P = codebook.size(0), d = codebook.size(1);
  const int64_t* s = seeds.data_ptr<int64_t>();
  const float* C = codebook.data_ptr<float>();
  int64_t* k = k_out.data_ptr<int64_t>();
  bool* bad = bad_out.data_ptr<bool>();
  float* scores = scores_out.data_ptr<float>();
  float* q = q_out.data_ptr<float>();
  ieee_parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> x(H), g(d);
    std::vector<int64_t> idx(d);
    for (int64_t b = b0; b < b1; ++b) {
      float* sb = scores + b * P;
      float* qb = q + b * d;
      widen_to_float(h, b * H, (b + 1) * H, x.data());
      const float sum_sq = tree_sum_serial([&](int64_t i) { return square(x[i]); }, H);
      if (snap_row_bad(pr_sqrt(sum_sq))) {
        k[b] = kSnapBadK;
        bad[b] = true;
        std::fill(sb, sb + P, 0.0f);
        std::fill(qb, qb + d, 0.0f);
        continue;
      }
      const float d1 = artifact_divisor(sum_sq);
      pick_row(static_cast<uint32_t>(s[b]), H, d, idx.data());
      for (int64_t m = 0; m < d; ++m) g[m] = pr_div(x[idx[m]], d1);
      const float d2 = artifact_divisor(tree_sum_serial([&](int64_t m) { return square(g[m]); }, d));
      for (int64_t m = 0; m < d; ++m) qb[m] = pr_div(g[m], d2);
      int64_t best = 0;
      for (int64_t j = 0; j < P; ++j) {
        const float* cj = C + j * d;
        sb[j] = canonicalize_nan(tree_sum_serial([&](int64_t m) { return pr_mul(qb[m], cj[m]); }, d));
        if (j > 0 && snap_better(sb[j], sb[best])) best = j;
      }
      k[b] = best;
      bad[b] = false;
    }
  });
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> snap_cpu(const at::Tensor& h,
                                                                    const at::Tensor& seeds,
                                                                    const at::Tensor& codebook) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_snap_args(h, seeds, codebook);
  auto out = empty_snap_outputs(h, codebook);
  snap_into_cpu(h, seeds, codebook, std::get<0>(out), std::get<1>(out), std::get<2>(out),
                std::get<3>(out));
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("snap", &snap_cpu);
  m.impl("snap_into", &snap_into_cpu);
}

}  // namespace pocrand
