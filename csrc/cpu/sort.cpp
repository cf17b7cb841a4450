// sort.cpp — the permutations and the pick on the CPU (sort.h). Threads split rows.
#include "sort.h"

#include <algorithm>
#include <vector>

#include "../core/pocrand_core.h"
#include "fp_env.h"
#include "host_order.h"
#include "parallel.h"
#include "pick_row.h"

namespace pocrand {
namespace cpu {

void permutations(const int64_t* seeds, int64_t rows, int64_t V, int64_t* out) {
  const IeeeFpMode ieee;
  parallel_for(0, rows, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const auto seed = static_cast<uint32_t>(seeds[b]);
      // (hash << 32 | index): hash is a bijection, so ordering by the pair is ordering by hash.
      // Sorted in the output row itself (an int64 row viewed as uint64): no buffer of its own.
      auto* keyed = reinterpret_cast<uint64_t*>(out + b * V);
      for (int64_t i = 0; i < V; ++i)
        keyed[i] = (static_cast<uint64_t>(murmur3(static_cast<uint32_t>(i), seed)) << 32) |
                   static_cast<uint64_t>(i);
      std::sort(keyed, keyed + V);
      for (int64_t i = 0; i < V; ++i) out[b * V + i] = static_cast<int64_t>(keyed[i] & 0xffffffffu);
    }
  });
}

void pick(const int64_t* seeds, int64_t rows, int64_t dim, int64_t k, bool host_order,
          int64_t* out) {
  const IeeeFpMode ieee;
  if (!host_order) {
    parallel_for(0, rows, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        pick_row(static_cast<uint32_t>(seeds[b]), dim, k, out + b * k);
    });
    return;
  }
  parallel_for(0, rows, 1, [&](int64_t b0, int64_t b1) {
    std::vector<ScoredIndex> q(static_cast<size_t>(dim));  // one row's (score, index) pairs
    for (int64_t b = b0; b < b1; ++b) {
      const auto seed = static_cast<uint32_t>(seeds[b]);
      for (int64_t i = 0; i < dim; ++i)
        q[i] = {pick_score(static_cast<uint32_t>(i), seed), i};
      host_topk(q.data(), dim, k);
      for (int64_t j = 0; j < k; ++j) out[b * k + j] = q[j].index;
    }
  });
}

}  // namespace cpu
}  // namespace pocrand
