// distances.cpp — the Phase-2 distances on the CPU (distances.h). Threads split rows; each sum
// follows the fixed tree of core section 7 whatever the thread count.
#include "distances.h"

#include <vector>

#include "../core/pocrand_core.h"
#include "fp_env.h"
#include "parallel.h"
#include "sums.h"

namespace pocrand {
namespace cpu {

void distances(Dtype logits_type, const void* logits, const int64_t* perm, Dtype target_type,
               const void* target, int64_t rows, int64_t V, float* out, int64_t* first_bad) {
  const IeeeFpMode ieee;
  std::vector<float> tgt(V);
  widen(target_type, target, 0, V, tgt.data());
  parallel_for(0, rows, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> x(V), d(V);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t* pr = perm + b * V;
      first_bad[b] = -1;
      for (int64_t i = 0; i < V && first_bad[b] < 0; ++i)
        if (pr[i] < 0 || pr[i] >= V) first_bad[b] = b * V + i;
      widen(logits_type, logits, b * V, (b + 1) * V, x.data());
      const float nx = first_bad[b] < 0 ? fixed_order_norm(x.data(), V) : 0.0f;
      if (!(nx > 0.0f && nx <= 0x1.fffffep127f)) {  // a bad entry, or zero, Inf or NaN: no direction
        out[b] = pr_from_bits(kCanonicalNaN);
        continue;
      }
      for (int64_t i = 0; i < V; ++i) d[i] = pr_sub(pr_div(x[pr[i]], nx), tgt[i]);
      out[b] = canonicalize_nan(fixed_order_norm(d.data(), V));
    }
  });
}

}  // namespace cpu
}  // namespace pocrand
