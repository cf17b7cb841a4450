// sort_cpu.cpp — orders by hash on the CPU: the permutations (SPEC.md section 8) and the pick of
// PoC v2 (9.4). Integer work only.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "../core/pocrand_core.h"
#include "../op_checks.h"
#include "cpu_common.h"
#include "row_ops.h"

namespace pocrand {
namespace {

at::Tensor permutations_cpu(const at::Tensor& seeds, int64_t vocab_size) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seeds(seeds);
  check_count(vocab_size, "vocab_size");
  const auto s = seeds_to_u32(seeds);
  const int64_t B = seeds.numel(), V = vocab_size;
  auto out = at::empty({B, V}, seeds.options().dtype(at::kLong));
  int64_t* o = out.data_ptr<int64_t>();
  ieee_parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      // (hash << 32 | index): hash is a bijection, so ordering by the pair is ordering by hash.
      // Sorted in the output row itself (an int64 row viewed as uint64): no buffer of its own.
      auto* keyed = reinterpret_cast<uint64_t*>(o + b * V);
      for (int64_t i = 0; i < V; ++i)
        keyed[i] = (static_cast<uint64_t>(murmur3(static_cast<uint32_t>(i), s[b])) << 32) |
                   static_cast<uint64_t>(i);
      std::sort(keyed, keyed + V);
      for (int64_t i = 0; i < V; ++i) o[b * V + i] = static_cast<int64_t>(keyed[i] & 0xffffffffu);
    }
  });
  return out;
}

at::Tensor pick_cpu(const at::Tensor& seeds, int64_t dim, int64_t k) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seeds(seeds);
  check_count(dim, "dim");
  check_between(k, 1, dim, "k");
  const auto s = seeds_to_u32(seeds);
  const int64_t B = seeds.numel();
  auto out = at::empty({B, k}, seeds.options().dtype(at::kLong));
  int64_t* o = out.data_ptr<int64_t>();
  ieee_parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) pick_row(s[b], dim, k, o + b * k);
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("permutations", &permutations_cpu);
  m.impl("pick", &pick_cpu);
}

}  // namespace pocrand
