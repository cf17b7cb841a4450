// decode_checks.h — argument checks of the gonka-poc ops (SPEC.md section 10), shared by the CPU
// and CUDA implementations. Like op_checks.h, every failure is a TypeError (dtype) or ValueError
// (value, shape, layout, device) naming its argument.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "op_checks.h"

namespace pocrand {

constexpr int64_t kMaxLadder = int64_t{1} << 23;  // |ladder_base| and top_k (SPEC.md 10.4)

// An int64, contiguous, 1-D tensor of `rows` entries on `device` (prev_k, steps). Any int64
// value is allowed: the ops use its low 32 bits.
inline void check_row_ints(const at::Tensor& t, int64_t rows, const at::Device& device,
                           const char* name) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kLong, std::string(name) + " must be int64, got " +
                   dtype_name(t.scalar_type()));
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == rows, std::string(name) + " must be [" +
                    num(rows) + "] (one per row of base_seeds), got " + shape(t.sizes()));
  TORCH_CHECK_VALUE(t.device() == device, std::string(name) + " must be on " + device.str() +
                    " (base_seeds' device), got " + t.device().str());
  TORCH_CHECK_VALUE(t.is_contiguous(), std::string(name) + " must be contiguous");
}

// Exactly one of a per-row steps tensor and an integer step.
inline void check_step_args(const at::Tensor& seeds, const c10::optional<at::Tensor>& steps,
                            c10::optional<int64_t> step) {
  TORCH_CHECK_VALUE(steps.has_value() != step.has_value(),
                    "give exactly one of steps (a [B] int64 tensor) and step (an int)");
  if (steps.has_value()) check_row_ints(*steps, seeds.numel(), seeds.device(), "steps");
}

// step_seeds / step_normal: base_seeds [B] u32 values, prev_k [B], a step, a u32 salt.
inline void check_step_seed_args(const at::Tensor& base_seeds, const at::Tensor& prev_k,
                                 const c10::optional<at::Tensor>& steps,
                                 c10::optional<int64_t> step, int64_t salt) {
  check_seeds(base_seeds);
  check_row_ints(prev_k, base_seeds.numel(), base_seeds.device(), "prev_k");
  check_step_args(base_seeds, steps, step);
  check_seed(salt, "salt");
}

// forced_logits: route seeds [B], an optional step, n_experts, top_k, ladder_base, dtype.
inline void check_forced_logit_args(const at::Tensor& seeds, const c10::optional<at::Tensor>& steps,
                                    c10::optional<int64_t> step, int64_t n_experts, int64_t top_k,
                                    int64_t ladder_base, at::ScalarType dtype) {
  check_seeds(seeds);
  TORCH_CHECK_VALUE(!(steps.has_value() && step.has_value()),
                    "give at most one of steps (a [B] int64 tensor) and step (an int)");
  if (steps.has_value()) check_row_ints(*steps, seeds.numel(), seeds.device(), "steps");
  check_count(n_experts, "n_experts");
  check_between(top_k, 1, std::min(n_experts, kMaxLadder), "top_k");
  check_between(ladder_base, -kMaxLadder, kMaxLadder, "ladder_base");
  check_float_dtype(dtype, "dtype");
}

}  // namespace pocrand
