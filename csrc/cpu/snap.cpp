// snap.cpp — the snap on the CPU (snap.h). Threads split rows.
#include "snap.h"

#include <algorithm>
#include <vector>

#include "../core/pocrand_core.h"
#include "fp_env.h"
#include "parallel.h"
#include "pick_row.h"
#include "sums.h"

namespace pocrand {
namespace cpu {

void snap(Dtype h_type, const void* h, int64_t B, int64_t H, const int64_t* seeds,
          const float* codebook, int64_t P, int64_t d, int64_t* k, bool* bad, float* scores,
          float* q) {
  const IeeeFpMode ieee;  // fp_env.h: the serial parts in the IEEE mode too
  if (B == 0) return;
  with_storage(h_type, [&](auto st) {
    using S = decltype(st);
    const auto* hb = static_cast<const typename S::Bits*>(h);
    parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      std::vector<float> x(H), g(d);
      std::vector<int64_t> idx(d);
      for (int64_t b = b0; b < b1; ++b) {
        float* sb = scores + b * P;
        float* qb = q + b * d;
        for (int64_t i = 0; i < H; ++i) x[i] = S::widen(hb[b * H + i]);
        const float sum_sq = tree_sum_serial([&](int64_t i) { return square(x[i]); }, H);
        if (snap_row_bad(pr_sqrt(sum_sq))) {
          k[b] = kSnapBadK;
          bad[b] = true;
          std::fill(sb, sb + P, 0.0f);
          std::fill(qb, qb + d, 0.0f);
          continue;
        }
        const float d1 = artifact_divisor(sum_sq);
        pick_row(static_cast<uint32_t>(seeds[b]), H, d, idx.data());
        for (int64_t m = 0; m < d; ++m) g[m] = pr_div(x[idx[m]], d1);
        const float d2 = artifact_divisor(tree_sum_serial([&](int64_t m) { return square(g[m]); }, d));
        for (int64_t m = 0; m < d; ++m) qb[m] = pr_div(g[m], d2);
        int64_t best = 0;
        for (int64_t j = 0; j < P; ++j) {
          const float* cj = codebook + j * d;
          sb[j] = canonicalize_nan(tree_sum_serial([&](int64_t m) { return pr_mul(qb[m], cj[m]); }, d));
          if (j > 0 && snap_better(sb[j], sb[best])) best = j;
        }
        k[b] = best;
        bad[b] = false;
      }
    });
  });
}

}  // namespace cpu
}  // namespace pocrand
