// decode_cpu.cpp — the gonka-poc ops on the CPU (SPEC.md section 10): step seeds, the decode rows
// of normals (step seeds and section 5 in one pass), hash modulo (pseudo token ids) and forced
// expert logits. Thin loops over core section 10; the CUDA twins are in cuda/decode.cu.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../core/pocrand_core.h"
#include "../decode_checks.h"
#include "cpu_common.h"

namespace pocrand {
namespace {

// The step of row b: steps[b] when given, else the integer step (low 32 bits of either).
struct StepSource {
  const int64_t* steps;  // [B] or null
  uint32_t step;
  uint32_t operator()(int64_t b) const {
    return steps ? static_cast<uint32_t>(steps[b]) : step;
  }
};

StepSource step_source(const c10::optional<at::Tensor>& steps, c10::optional<int64_t> step) {
  return {steps.has_value() ? steps->data_ptr<int64_t>() : nullptr,
          static_cast<uint32_t>(step.value_or(0))};
}

// 10.1 for every row.
std::vector<uint32_t> row_step_seeds(const at::Tensor& base_seeds, const at::Tensor& prev_k,
                                     const StepSource& step, uint32_t salt) {
  const int64_t* base = base_seeds.data_ptr<int64_t>();
  const int64_t* prev = prev_k.data_ptr<int64_t>();
  std::vector<uint32_t> s(base_seeds.numel());
  for (int64_t b = 0; b < base_seeds.numel(); ++b)
    s[b] = step_seed(static_cast<uint32_t>(base[b]), static_cast<uint32_t>(prev[b]), step(b), salt);
  return s;
}

at::Tensor step_seeds_cpu(const at::Tensor& base_seeds, const at::Tensor& prev_k,
                          const c10::optional<at::Tensor>& steps, c10::optional<int64_t> step,
                          int64_t salt) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_step_seed_args(base_seeds, prev_k, steps, step, salt);
  const auto s = row_step_seeds(base_seeds, prev_k, step_source(steps, step),
                                static_cast<uint32_t>(salt));
  auto out = at::empty({base_seeds.numel()}, base_seeds.options());
  int64_t* o = out.data_ptr<int64_t>();
  for (size_t b = 0; b < s.size(); ++b) o[b] = s[b];
  return out;
}

// 10.3: normal(step seed of row b, n) into out's rows.
at::Tensor step_normal_cpu(const at::Tensor& base_seeds, const at::Tensor& prev_k,
                           const c10::optional<at::Tensor>& steps, c10::optional<int64_t> step,
                           int64_t salt, int64_t n, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_step_seed_args(base_seeds, prev_k, steps, step, salt);
  check_count(n, "n");
  check_float_dtype(dtype, "dtype");
  const auto s = row_step_seeds(base_seeds, prev_k, step_source(steps, step),
                                static_cast<uint32_t>(salt));
  const auto B = static_cast<int64_t>(s.size());
  auto out = at::empty({B, n}, base_seeds.options().dtype(dtype));
  const int64_t p = static_cast<int64_t>(normal_pair_count(static_cast<uint64_t>(n)));
  with_store(out, [&](const auto& store) {
    ieee_parallel_for(0, B * p, kGrain / 2, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1;) {  // task [t0, t1) of the (row, pair) space, split at rows
        const int64_t b = t / p, j0 = t % p, j1 = std::min(p, j0 + (t1 - t));
        normal_pairs(s[b], n, j0, j1, b * n, store);
        t += j1 - j0;
      }
    });
  });
  return out;
}

// 10.2: int32 [B, n], hash(i, seed_b) mod m.
at::Tensor hash_mod_cpu(const at::Tensor& seeds, int64_t n, int64_t modulus) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_seeds(seeds);
  check_count(n, "n");
  check_count(modulus, "modulus");
  const auto s = seeds_to_u32(seeds);
  const int64_t B = seeds.numel();
  auto out = at::empty({B, n}, seeds.options().dtype(at::kInt));
  int32_t* o = out.data_ptr<int32_t>();
  const auto m = static_cast<uint32_t>(modulus);
  ieee_parallel_for(0, B * n, kGrain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      o[t] = static_cast<int32_t>(hash_mod(static_cast<uint32_t>(t % n), s[t / n], m));
  });
  return out;
}

// 10.4: [B, E] in dtype.
at::Tensor forced_logits_cpu(const at::Tensor& seeds, const c10::optional<at::Tensor>& steps,
                             c10::optional<int64_t> step, int64_t n_experts, int64_t top_k,
                             int64_t ladder_base, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_forced_logit_args(seeds, steps, step, n_experts, top_k, ladder_base, dtype);
  const auto s = seeds_to_u32(seeds);
  const bool fold = steps.has_value() || step.has_value();
  const StepSource st = step_source(steps, step);
  const int64_t B = seeds.numel(), E = n_experts;
  auto out = at::empty({B, E}, seeds.options().dtype(dtype));
  const auto e32 = static_cast<uint32_t>(E), k32 = static_cast<uint32_t>(top_k);
  const auto lad = static_cast<int32_t>(ladder_base);
  with_store(out, [&](const auto& store) {
    ieee_parallel_for(0, B, std::max<int64_t>(1, kGrain / E), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const uint32_t r = fold ? murmur3(st(b), s[b]) : s[b];
        const uint32_t start = route_start(r, e32);
        for (int64_t e = 0; e < E; ++e)
          store(b * E + e, forced_logit(static_cast<uint32_t>(e), start, e32, k32, lad));
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("step_seeds", &step_seeds_cpu);
  m.impl("step_normal", &step_normal_cpu);
  m.impl("hash_mod", &hash_mod_cpu);
  m.impl("forced_logits", &forced_logits_cpu);
}

}  // namespace pocrand
