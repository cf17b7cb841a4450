// overrides_checks.h — argument checks of the masked forward-pass overrides (SPEC.md 10.11
// embed_synth, 10.12 router_override), shared by the CPU and CUDA implementations. Every failure is
// a TypeError (wrong dtype) or ValueError (wrong shape, value, layout or device) naming the
// argument, as op_checks.h's are. The values of the per-row tensors (seeds, steps, previous
// indices, mask) are never read here: that would synchronise a GPU stream, and every int64 value
// is allowed (the ops use its low 32 bits, or its sign for prev_k).
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <string>

#include "decode_checks.h"
#include "op_checks.h"

namespace pocrand {

// A 1-D, contiguous per-row tensor of `dtype` with at least `rows` entries, on `device`; `x_name`
// is the tensor whose rows it describes.
inline void check_row_buffer(const at::Tensor& t, at::ScalarType dtype, int64_t rows,
                             const at::Device& device, const char* name, const char* x_name) {
  const std::string n(name);
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, n + " must be " + dtype_name(dtype) + ", got " +
                   dtype_name(t.scalar_type()));
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) >= rows, n + " must be 1-D with at least " + num(rows) +
                    " entries (one per row of " + x_name + "), got " + shape(t.sizes()));
  TORCH_CHECK_VALUE(t.device() == device, n + " must be on " + device.str() + " (" + x_name +
                    "'s device), got " + t.device().str());
  TORCH_CHECK_VALUE(t.is_contiguous(), n + " must be contiguous");
}

// x [n, cols] of float32/float16/bfloat16, contiguous.
inline void check_override_rows(const at::Tensor& x, const char* name, const char* cols) {
  const std::string xn(name);
  TORCH_CHECK_VALUE(x.dim() == 2, xn + " must be 2-D [rows, " + cols + "], got " + num(x.dim()) + "-D");
  check_float_dtype(x.scalar_type(), (xn + " dtype").c_str());
  TORCH_CHECK_VALUE(x.is_contiguous(), xn + " must be contiguous");
}

// embed_synth: x (the embeddings computed) [n, hidden]; base_seeds, step, prev_k int64 [>= n];
// embeds [>= n, hidden] of any of the three float dtypes; mask bool [>= n]; salt a u32.
inline void check_embed_synth_args(const at::Tensor& x, const at::Tensor& base_seeds,
                                   const at::Tensor& step, const at::Tensor& prev_k,
                                   const at::Tensor& embeds, const at::Tensor& mask, int64_t salt) {
  check_override_rows(x, "x", "hidden");
  check_count(x.size(1), "hidden size (x.shape[-1])");
  const int64_t n = x.size(0);
  check_row_buffer(base_seeds, at::kLong, n, x.device(), "base_seeds", "x");
  check_row_buffer(step, at::kLong, n, x.device(), "step", "x");
  check_row_buffer(prev_k, at::kLong, n, x.device(), "prev_k", "x");
  check_row_buffer(mask, at::kBool, n, x.device(), "mask", "x");
  check_float_dtype(embeds.scalar_type(), "embeds dtype");
  TORCH_CHECK_VALUE(embeds.dim() == 2 && embeds.size(0) >= n && embeds.size(1) == x.size(1),
                    "embeds must be [rows >= " + num(n) + ", " + num(x.size(1)) + "] (x's hidden size), got " +
                    shape(embeds.sizes()));
  TORCH_CHECK_VALUE(embeds.device() == x.device(), "embeds must be on " + x.device().str() +
                    " (x's device), got " + embeds.device().str());
  TORCH_CHECK_VALUE(embeds.is_contiguous(), "embeds must be contiguous");
  check_seed(salt, "salt");
}

inline void check_embed_synth_inplace_args(const at::Tensor& x, const at::Tensor& base_seeds,
                                           const at::Tensor& step, const at::Tensor& prev_k,
                                           const at::Tensor& embeds, const at::Tensor& mask,
                                           int64_t salt) {
  check_embed_synth_args(x, base_seeds, step, prev_k, embeds, mask, salt);
  check_no_self_overlap(x, "x");
  check_no_overlap(x, "x", base_seeds, "base_seeds");
  check_no_overlap(x, "x", step, "step");
  check_no_overlap(x, "x", prev_k, "prev_k");
  check_no_overlap(x, "x", embeds, "embeds");
  check_no_overlap(x, "x", mask, "mask");
}

// router_override: logits [n, n_experts]; route_seeds, step int64 [>= n]; mask bool [>= n];
// top_k and ladder_base in forced_logits' ranges (10.4).
inline void check_router_override_args(const at::Tensor& logits, const at::Tensor& route_seeds,
                                       const at::Tensor& step, const at::Tensor& mask,
                                       int64_t n_experts, int64_t top_k, int64_t ladder_base) {
  check_override_rows(logits, "logits", "n_experts");
  check_count(n_experts, "n_experts");
  TORCH_CHECK_VALUE(logits.size(1) == n_experts, "logits.shape[-1] must be n_experts = " +
                    num(n_experts) + ", got " + shape(logits.sizes()));
  check_between(top_k, 1, std::min(n_experts, kMaxLadder), "top_k");
  check_between(ladder_base, -kMaxLadder, kMaxLadder, "ladder_base");
  const int64_t n = logits.size(0);
  check_row_buffer(route_seeds, at::kLong, n, logits.device(), "route_seeds", "logits");
  check_row_buffer(step, at::kLong, n, logits.device(), "step", "logits");
  check_row_buffer(mask, at::kBool, n, logits.device(), "mask", "logits");
}

inline void check_router_override_inplace_args(const at::Tensor& logits, const at::Tensor& route_seeds,
                                               const at::Tensor& step, const at::Tensor& mask,
                                               int64_t n_experts, int64_t top_k, int64_t ladder_base) {
  check_router_override_args(logits, route_seeds, step, mask, n_experts, top_k, ladder_base);
  check_no_self_overlap(logits, "logits");
  check_no_overlap(logits, "logits", route_seeds, "route_seeds");
  check_no_overlap(logits, "logits", step, "step");
  check_no_overlap(logits, "logits", mask, "mask");
}

}  // namespace pocrand
