// decode.cpp — the gonka-poc ops on the CPU (decode.h).
#include "decode.h"

#include <algorithm>
#include <vector>

#include "../core/pocrand_core.h"
#include "box_muller.h"
#include "fp_env.h"
#include "parallel.h"

namespace pocrand {
namespace cpu {
namespace {

std::vector<uint32_t> row_step_seeds(const int64_t* base, const int64_t* prev, int64_t B, Steps step,
                                     uint32_t salt) {
  std::vector<uint32_t> s(B);
  for (int64_t b = 0; b < B; ++b)
    s[b] = step_seed(static_cast<uint32_t>(base[b]), static_cast<uint32_t>(prev[b]), step(b), salt);
  return s;
}

}  // namespace

void step_seeds(const int64_t* base_seeds, const int64_t* prev_k, int64_t B, Steps step, uint32_t salt,
                int64_t* out) {
  const IeeeFpMode ieee;  // integer work only, but every CPU kernel follows fp_env.h's rules
  const auto s = row_step_seeds(base_seeds, prev_k, B, step, salt);
  for (int64_t b = 0; b < B; ++b) out[b] = s[b];
}

void step_normal(const int64_t* base_seeds, const int64_t* prev_k, int64_t B, Steps step, uint32_t salt,
                 int64_t n, Dtype type, void* out) {
  const IeeeFpMode ieee;
  const auto s = row_step_seeds(base_seeds, prev_k, B, step, salt);
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  with_storage(type, [&](auto st) {
    using S = decltype(st);
    auto* o = static_cast<typename S::Bits*>(out);
    const auto store = [o](int64_t i, float v) { o[i] = S::encode(v); };
    parallel_for(0, B * p, kGrain / 2, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1;) {  // task [t0, t1) of the (row, pair) space, split at rows
        const int64_t b = t / p, j0 = t % p, j1 = std::min(p, j0 + (t1 - t));
        normal_pairs(s[b], n, j0, j1, b * n, store);
        t += j1 - j0;
      }
    });
  });
}

void hash_mod(const int64_t* seeds, int64_t B, int64_t n, uint32_t modulus, int32_t* out) {
  const IeeeFpMode ieee;
  parallel_for(0, B * n, kGrain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      out[t] = static_cast<int32_t>(
          pocrand::hash_mod(static_cast<uint32_t>(t % n), static_cast<uint32_t>(seeds[t / n]), modulus));
  });
}

void forced_logits(const int64_t* seeds, int64_t B, Steps step, bool fold, int64_t n_experts,
                   int64_t top_k, int64_t ladder_base, Dtype type, void* out) {
  const IeeeFpMode ieee;
  const int64_t E = n_experts;
  const auto e32 = static_cast<uint32_t>(E), k32 = static_cast<uint32_t>(top_k);
  const auto lad = static_cast<int32_t>(ladder_base);
  with_storage(type, [&](auto st) {
    using S = decltype(st);
    auto* o = static_cast<typename S::Bits*>(out);
    parallel_for(0, B, std::max<int64_t>(1, kGrain / E), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const auto seed = static_cast<uint32_t>(seeds[b]);
        const uint32_t r = fold ? murmur3(step(b), seed) : seed;
        const uint32_t start = route_start(r, e32);
        for (int64_t e = 0; e < E; ++e)
          o[b * E + e] = S::encode(forced_logit(static_cast<uint32_t>(e), start, e32, k32, lad));
      }
    });
  });
}

}  // namespace cpu
}  // namespace pocrand
