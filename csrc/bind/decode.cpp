// bind/decode.cpp — the gonka-poc decode ops (SPEC.md 10.1-10.4): their schemas, argument checks,
// and CPU (cpu/decode.cpp) and CUDA (cuda/decode.cu) implementations.
//
// Exactly one of steps (int64 [B]) and step (an int) gives each row's step (forced_logits: at most
// one); prev_k is int64 [B] (low 32 bits used); every tensor on base_seeds' device. Nothing is
// read back to the host, so these run inside CUDA-graph capture and torch.compile(fullgraph=True).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <string>

#include "../cpu/decode.h"
#include "../cpu/fp_env.h"
#include "bind_common.h"
#include "tensor_guard.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "../cuda/decode.h"
#endif

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // base_seeds int64 [B] -> int64 [B]: step_seed(base, prev, step, salt) (10.1).
  m.def("step_seeds(Tensor base_seeds, Tensor prev_k, Tensor? steps, int? step, int salt) -> Tensor");
  // -> dtype [B, n]: normal(step seed of row b, n) (10.3), in one pass.
  m.def("step_normal(Tensor base_seeds, Tensor prev_k, Tensor? steps, int? step, int salt, int n, "
        "ScalarType dtype) -> Tensor");
  // seeds int64 [B] -> int32 [B, n]: hash(i, seed_b) mod modulus (10.2; the pseudo token ids).
  m.def("hash_mod(Tensor seeds, int n, int modulus) -> Tensor");
  // seeds int64 [B] -> dtype [B, n_experts] (10.4): route seed hash(step, seed_b) when a step is
  // given (steps [B] or step), else seed_b itself; the ladder from ladder_base, -10000 elsewhere.
  m.def("forced_logits(Tensor seeds, Tensor? steps, int? step, int n_experts, int top_k, "
        "int ladder_base, ScalarType dtype) -> Tensor");
}

namespace {

// An int64, contiguous, 1-D tensor of `rows` entries on `device` (prev_k, steps). Any int64
// value is allowed: the ops use its low 32 bits.
void check_row_ints(const at::Tensor& t, int64_t rows, const at::Device& device, const char* name) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kLong, std::string(name) + " must be int64, got " +
                   dtype_name(t.scalar_type()));
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == rows, std::string(name) + " must be [" +
                    num(rows) + "] (one per row of base_seeds), got " + shape(t.sizes()));
  TORCH_CHECK_VALUE(t.device() == device, std::string(name) + " must be on " + device.str() +
                    " (base_seeds' device), got " + t.device().str());
  TORCH_CHECK_VALUE(t.is_contiguous(), std::string(name) + " must be contiguous");
}

// step_seeds / step_normal: base_seeds [B] u32 values, prev_k [B], exactly one step, a u32 salt.
void check_step_seed_args(const at::Tensor& base_seeds, const at::Tensor& prev_k,
                          const c10::optional<at::Tensor>& steps, c10::optional<int64_t> step,
                          int64_t salt) {
  check_seeds(base_seeds);
  check_row_ints(prev_k, base_seeds.numel(), base_seeds.device(), "prev_k");
  TORCH_CHECK_VALUE(steps.has_value() != step.has_value(),
                    "give exactly one of steps (a [B] int64 tensor) and step (an int)");
  if (steps.has_value()) check_row_ints(*steps, base_seeds.numel(), base_seeds.device(), "steps");
  check_seed(salt, "salt");
}

// forced_logits: route seeds [B], at most one step, n_experts, top_k, ladder_base, dtype.
void check_forced_logit_args(const at::Tensor& seeds, const c10::optional<at::Tensor>& steps,
                             c10::optional<int64_t> step, int64_t n_experts, int64_t top_k,
                             int64_t ladder_base, at::ScalarType dtype) {
  check_seeds(seeds);
  TORCH_CHECK_VALUE(!(steps.has_value() && step.has_value()),
                    "give at most one of steps (a [B] int64 tensor) and step (an int)");
  if (steps.has_value()) check_row_ints(*steps, seeds.numel(), seeds.device(), "steps");
  check_count(n_experts, "n_experts");
  check_ladder(n_experts, top_k, ladder_base);
  check_float_dtype(dtype, "dtype");
}

void check_hash_mod_args(const at::Tensor& seeds, int64_t n, int64_t modulus) {
  check_seeds(seeds);
  check_count(n, "n");
  check_count(modulus, "modulus");
}

cpu::Steps cpu_steps(const c10::optional<at::Tensor>& steps, c10::optional<int64_t> step) {
  return {steps.has_value() ? steps->data_ptr<int64_t>() : nullptr, static_cast<uint32_t>(step.value_or(0))};
}

at::Tensor step_seeds_cpu(const at::Tensor& base_seeds, const at::Tensor& prev_k,
                          const c10::optional<at::Tensor>& steps, c10::optional<int64_t> step, int64_t salt) {
  const IeeeFpMode ieee;  // fp_env.h
  check_step_seed_args(base_seeds, prev_k, steps, step, salt);
  auto out = at::empty({base_seeds.numel()}, base_seeds.options());
  cpu::step_seeds(base_seeds.data_ptr<int64_t>(), prev_k.data_ptr<int64_t>(), base_seeds.numel(),
                  cpu_steps(steps, step), static_cast<uint32_t>(salt), out.data_ptr<int64_t>());
  return out;
}

at::Tensor step_normal_cpu(const at::Tensor& base_seeds, const at::Tensor& prev_k,
                           const c10::optional<at::Tensor>& steps, c10::optional<int64_t> step, int64_t salt,
                           int64_t n, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_env.h
  check_step_seed_args(base_seeds, prev_k, steps, step, salt);
  check_count(n, "n");
  check_float_dtype(dtype, "dtype");
  auto out = at::empty({base_seeds.numel(), n}, base_seeds.options().dtype(dtype));
  cpu::step_normal(base_seeds.data_ptr<int64_t>(), prev_k.data_ptr<int64_t>(), base_seeds.numel(),
                   cpu_steps(steps, step), static_cast<uint32_t>(salt), n, cpu_dtype(dtype), out.data_ptr());
  return out;
}

at::Tensor hash_mod_cpu(const at::Tensor& seeds, int64_t n, int64_t modulus) {
  const IeeeFpMode ieee;  // fp_env.h
  check_hash_mod_args(seeds, n, modulus);
  auto out = at::empty({seeds.numel(), n}, seeds.options().dtype(at::kInt));
  cpu::hash_mod(seeds.data_ptr<int64_t>(), seeds.numel(), n, static_cast<uint32_t>(modulus),
                out.data_ptr<int32_t>());
  return out;
}

at::Tensor forced_logits_cpu(const at::Tensor& seeds, const c10::optional<at::Tensor>& steps,
                             c10::optional<int64_t> step, int64_t n_experts, int64_t top_k,
                             int64_t ladder_base, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_env.h
  check_forced_logit_args(seeds, steps, step, n_experts, top_k, ladder_base, dtype);
  auto out = at::empty({seeds.numel(), n_experts}, seeds.options().dtype(dtype));
  cpu::forced_logits(seeds.data_ptr<int64_t>(), seeds.numel(), cpu_steps(steps, step),
                     steps.has_value() || step.has_value(), n_experts, top_k, ladder_base, cpu_dtype(dtype),
                     out.data_ptr());
  return out;
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
cuda::StepArg step_arg(const c10::optional<at::Tensor>& steps, c10::optional<int64_t> step) {
  return {steps.has_value() ? steps->data_ptr<int64_t>() : nullptr, static_cast<uint32_t>(step.value_or(0))};
}

at::Tensor step_seeds_cuda(const at::Tensor& base_seeds, const at::Tensor& prev_k,
                           const c10::optional<at::Tensor>& steps, c10::optional<int64_t> step, int64_t salt) {
  check_step_seed_args(base_seeds, prev_k, steps, step, salt);
  const c10::cuda::CUDAGuard guard(base_seeds.device());
  auto out = at::empty_like(base_seeds);
  C10_CUDA_CHECK(cuda::launch_step_seeds(base_seeds.data_ptr<int64_t>(), prev_k.data_ptr<int64_t>(),
                                         step_arg(steps, step), static_cast<uint32_t>(salt),
                                         base_seeds.numel(), out.data_ptr<int64_t>(),
                                         at::cuda::getCurrentCUDAStream()));
  return out;
}

at::Tensor step_normal_cuda(const at::Tensor& base_seeds, const at::Tensor& prev_k,
                            const c10::optional<at::Tensor>& steps, c10::optional<int64_t> step, int64_t salt,
                            int64_t n, at::ScalarType dtype) {
  check_step_seed_args(base_seeds, prev_k, steps, step, salt);
  check_count(n, "n");
  check_float_dtype(dtype, "dtype");
  const c10::cuda::CUDAGuard guard(base_seeds.device());
  auto out = at::empty({base_seeds.numel(), n}, base_seeds.options().dtype(dtype));
  C10_CUDA_CHECK(cuda::launch_step_normal(base_seeds.data_ptr<int64_t>(), prev_k.data_ptr<int64_t>(),
                                          step_arg(steps, step), static_cast<uint32_t>(salt),
                                          base_seeds.numel(), n, cuda_dtype(dtype), out.data_ptr(),
                                          at::cuda::getCurrentCUDAStream()));
  return out;
}

at::Tensor hash_mod_cuda(const at::Tensor& seeds, int64_t n, int64_t modulus) {
  check_hash_mod_args(seeds, n, modulus);
  const c10::cuda::CUDAGuard guard(seeds.device());
  auto out = at::empty({seeds.numel(), n}, seeds.options().dtype(at::kInt));
  C10_CUDA_CHECK(cuda::launch_hash_mod(seeds.data_ptr<int64_t>(), seeds.numel(), n,
                                       static_cast<uint32_t>(modulus), out.data_ptr<int32_t>(),
                                       at::cuda::getCurrentCUDAStream()));
  return out;
}

at::Tensor forced_logits_cuda(const at::Tensor& seeds, const c10::optional<at::Tensor>& steps,
                              c10::optional<int64_t> step, int64_t n_experts, int64_t top_k,
                              int64_t ladder_base, at::ScalarType dtype) {
  check_forced_logit_args(seeds, steps, step, n_experts, top_k, ladder_base, dtype);
  const c10::cuda::CUDAGuard guard(seeds.device());
  auto out = at::empty({seeds.numel(), n_experts}, seeds.options().dtype(dtype));
  C10_CUDA_CHECK(cuda::launch_forced_logits(seeds.data_ptr<int64_t>(), step_arg(steps, step),
                                            steps.has_value() || step.has_value(), seeds.numel(),
                                            n_experts, top_k, ladder_base, cuda_dtype(dtype),
                                            out.data_ptr(), at::cuda::getCurrentCUDAStream()));
  return out;
}
#endif

}  // namespace

// Raw ops given None for a tensor: a TypeError naming it (tensor_guard.h).
TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
  POCRAND_TENSOR_GUARD(m, "step_seeds", step_seeds_cpu);
  POCRAND_TENSOR_GUARD(m, "step_normal", step_normal_cpu);
  POCRAND_TENSOR_GUARD(m, "hash_mod", hash_mod_cpu);
  POCRAND_TENSOR_GUARD(m, "forced_logits", forced_logits_cpu);
}

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("step_seeds", &step_seeds_cpu);
  m.impl("step_normal", &step_normal_cpu);
  m.impl("hash_mod", &hash_mod_cpu);
  m.impl("forced_logits", &forced_logits_cpu);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("step_seeds", &step_seeds_cuda);
  m.impl("step_normal", &step_normal_cuda);
  m.impl("hash_mod", &hash_mod_cuda);
  m.impl("forced_logits", &forced_logits_cuda);
}
#endif

}  // namespace pocrand
