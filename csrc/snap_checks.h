// snap_checks.h — argument checks of the snap ops (SPEC.md 10.7), shared by the CPU and CUDA
// implementations. Every failure is a TypeError (wrong dtype) or ValueError (wrong shape, value,
// layout or device) naming the argument, as op_checks.h's are.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <tuple>

#include "core/pocrand_core.h"
#include "op_checks.h"

namespace pocrand {

// snap(h [B, H] f32/f16/bf16, seeds int64 [B], codebook float32 [P, d]).
inline void check_snap_args(const at::Tensor& h, const at::Tensor& seeds, const at::Tensor& codebook) {
  TORCH_CHECK_VALUE(h.dim() == 2, "h must be 2-D [batch, hidden], got " + num(h.dim()) + "-D");
  check_float_dtype(h.scalar_type(), "h dtype");
  check_count(h.size(1), "hidden size (h.shape[1])");
  TORCH_CHECK_TYPE(seeds.scalar_type() == at::kLong, "seeds must be int64, got " +
                   dtype_name(seeds.scalar_type()));
  TORCH_CHECK_VALUE(seeds.dim() == 1 && seeds.size(0) == h.size(0), "seeds must be [batch] = [" +
                    num(h.size(0)) + "], got " + shape(seeds.sizes()));
  TORCH_CHECK_TYPE(codebook.scalar_type() == at::kFloat, "codebook must be float32, got " +
                   dtype_name(codebook.scalar_type()));
  TORCH_CHECK_VALUE(codebook.dim() == 2, "codebook must be 2-D [points, dim], got " +
                    num(codebook.dim()) + "-D");
  check_between(codebook.size(0), 1, kSnapMax, "codebook points (codebook.shape[0])");
  check_between(codebook.size(1), 1, std::min<int64_t>(h.size(1), kSnapMax),
                "codebook dim (codebook.shape[1], at most the hidden size and 1024)");
  TORCH_CHECK_VALUE(seeds.device() == h.device() && codebook.device() == h.device(),
                    "h, seeds and codebook must be on one device, got " + h.device().str() + ", " +
                    seeds.device().str() + " and " + codebook.device().str());
  TORCH_CHECK_VALUE(h.is_contiguous(), "h must be contiguous");
  TORCH_CHECK_VALUE(seeds.is_contiguous(), "seeds must be contiguous");
  TORCH_CHECK_VALUE(codebook.is_contiguous(), "codebook must be contiguous");
  check_seed_values(seeds, "seeds");
}

// The four outputs of snap for h [B, H] and a codebook [P, d], empty, on h's device:
// k int64 [B], bad bool [B], scores float32 [B, P], q float32 [B, d].
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> empty_snap_outputs(
    const at::Tensor& h, const at::Tensor& codebook) {
  const int64_t B = h.size(0), P = codebook.size(0), d = codebook.size(1);
  return {at::empty({B}, h.options().dtype(at::kLong)), at::empty({B}, h.options().dtype(at::kBool)),
          at::empty({B, P}, h.options().dtype(at::kFloat)),
          at::empty({B, d}, h.options().dtype(at::kFloat))};
}

inline void check_snap_out(const at::Tensor& t, const char* name, at::ScalarType dtype,
                           at::IntArrayRef sizes, const at::Tensor& h) {
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, std::string(name) + " must be " + dtype_name(dtype) +
                   ", got " + dtype_name(t.scalar_type()));
  TORCH_CHECK_VALUE(t.sizes() == sizes, std::string(name) + " must have shape " + shape(sizes) +
                    ", got " + shape(t.sizes()));
  TORCH_CHECK_VALUE(t.device() == h.device(), std::string(name) + " must be on h's device " +
                    h.device().str() + ", got " + t.device().str());
  TORCH_CHECK_VALUE(t.is_contiguous(), std::string(name) + " must be contiguous");
}

// snap_into: the outputs k int64 [B], bad bool [B], scores float32 [B, P], q float32 [B, d].
inline void check_snap_into_args(const at::Tensor& h, const at::Tensor& seeds, const at::Tensor& codebook,
                                 const at::Tensor& k, const at::Tensor& bad, const at::Tensor& scores,
                                 const at::Tensor& q) {
  check_snap_args(h, seeds, codebook);
  const int64_t B = h.size(0), P = codebook.size(0), d = codebook.size(1);
  check_snap_out(k, "k", at::kLong, {B}, h);
  check_snap_out(bad, "bad", at::kBool, {B}, h);
  check_snap_out(scores, "scores", at::kFloat, {B, P}, h);
  check_snap_out(q, "q", at::kFloat, {B, d}, h);
}

}  // namespace pocrand
