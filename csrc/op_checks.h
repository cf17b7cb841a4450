// op_checks.h — argument checks shared by the CPU and CUDA implementations of the pocrand ops.
//
// The Python API validates user input first and gives friendlier messages; these checks guard the
// raw torch.ops.pocrand.* entry points, so a direct call can never read out of bounds or write a
// tensor of the wrong shape. Every message names the argument it is about.
#pragma once

#include <ATen/ATen.h>

namespace pocrand {

constexpr int64_t kMaxCount = 2147483647;  // 2^31 - 1: per-nonce element count / vocabulary size

inline void check_seeds(const at::Tensor& seeds) {
  TORCH_CHECK(seeds.dim() == 1, "seeds must be a 1-D tensor, got ", seeds.dim(), " dimensions");
  TORCH_CHECK(seeds.scalar_type() == at::kLong, "seeds must be int64, got ", seeds.scalar_type());
  TORCH_CHECK(seeds.numel() >= 1, "seeds must hold at least one seed");
  TORCH_CHECK(seeds.is_contiguous(), "seeds must be contiguous");
}

inline void check_count(int64_t n, const char* name) {
  TORCH_CHECK(n >= 1 && n <= kMaxCount, name, " must be in [1, 2^31 - 1], got ", n);
}

inline void check_float_dtype(at::ScalarType dtype, const char* name) {
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kHalf || dtype == at::kBFloat16, name,
              " must be float32, float16 or bfloat16, got ", dtype);
}

inline void check_distance_args(const at::Tensor& logits, const at::Tensor& permutations,
                                const at::Tensor& target) {
  TORCH_CHECK(logits.dim() == 2, "logits must be 2-D [batch, vocab], got ", logits.dim(), "-D");
  check_float_dtype(logits.scalar_type(), "logits dtype");
  TORCH_CHECK(permutations.scalar_type() == at::kLong, "permutations must be int64, got ",
              permutations.scalar_type());
  TORCH_CHECK(permutations.sizes() == logits.sizes(), "permutations shape ", permutations.sizes(),
              " must equal logits shape ", logits.sizes());
  TORCH_CHECK(target.dim() == 1 && target.size(0) == logits.size(1), "target must be 1-D of length ",
              logits.size(1), " (the vocab size), got shape ", target.sizes());
  check_float_dtype(target.scalar_type(), "target dtype");
  TORCH_CHECK(logits.size(0) >= 1, "logits must have at least one row");
  check_count(logits.size(1), "vocab size (logits.shape[1])");
  TORCH_CHECK(permutations.device() == logits.device() && target.device() == logits.device(),
              "logits, permutations and target must be on one device, got ", logits.device(), ", ",
              permutations.device(), " and ", target.device());
  TORCH_CHECK(logits.is_contiguous(), "logits must be contiguous");
  TORCH_CHECK(permutations.is_contiguous(), "permutations must be contiguous");
  TORCH_CHECK(target.is_contiguous(), "target must be contiguous");
}

}  // namespace pocrand
