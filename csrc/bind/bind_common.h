// bind_common.h — what the per-topic binding files share: the torch dtype of a tensor as the
// kernel layers' element tag, and the memory checks of ops that write into caller tensors.
// The checks name the op's own arguments; every failure is a TypeError or ValueError
// (TORCH_CHECK_TYPE / TORCH_CHECK_VALUE), raised before anything is allocated or launched.
#pragma once

#include <ATen/ATen.h>

#include <stdint.h>

#include <string>

#include "../cpu/storage.h"
#include "../op_checks.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include "../cuda/kernels.h"
#endif

namespace pocrand {

// |ladder_base| and top_k of the forced logits (SPEC.md 10.4).
constexpr int64_t kMaxLadder = int64_t{1} << 23;

// The forced logits' ladder rule, for forced_logits and router_override alike (the Python
// wrappers leave it to the ops): top_k in [1, min(n_experts, 2^23)], |ladder_base| <= 2^23.
inline void check_ladder(int64_t n_experts, int64_t top_k, int64_t ladder_base) {
  TORCH_CHECK_VALUE(top_k >= 1 && top_k <= std::min(n_experts, kMaxLadder),
                    "top_k must be in [1, min(n_experts, 2^23)], got top_k=" + num(top_k) +
                    ", n_experts=" + num(n_experts));
  TORCH_CHECK_VALUE(ladder_base >= -kMaxLadder && ladder_base <= kMaxLadder,
                    "ladder_base must be in [-2^23, 2^23], got " + num(ladder_base));
}

// f32/f16/bf16 (checked before) as the CPU kernels' tag.
inline cpu::Dtype cpu_dtype(at::ScalarType t) {
  if (t == at::kHalf) return cpu::Dtype::kFloat16;
  if (t == at::kBFloat16) return cpu::Dtype::kBFloat16;
  return cpu::Dtype::kFloat32;
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
inline cuda::FloatType cuda_dtype(at::ScalarType t) {
  if (t == at::kHalf) return cuda::FloatType::kFloat16;
  if (t == at::kBFloat16) return cuda::FloatType::kBFloat16;
  return cuda::FloatType::kFloat32;
}
#endif

// The bytes [first, last) that a tensor's elements span (empty for an empty tensor).
struct ByteSpan {
  uintptr_t first = 0, last = 0;
};

inline ByteSpan byte_span(const at::Tensor& t) {
  if (t.numel() == 0) return {};
  int64_t lo = 0, hi = 0;  // element offsets of the lowest and highest elements
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t reach = t.stride(d) * (t.size(d) - 1);
    (reach < 0 ? lo : hi) += reach;
  }
  const auto base = reinterpret_cast<uintptr_t>(t.data_ptr());
  const auto size = static_cast<intptr_t>(t.element_size());
  return {base + static_cast<uintptr_t>(lo * size), base + static_cast<uintptr_t>((hi + 1) * size)};
}

// Whether two tensors' byte spans meet. Memory ranges, not storages: two tensors made from one
// NumPy buffer have storages of their own and may still overlap.
inline bool spans_meet(const at::Tensor& a, const at::Tensor& b) {
  if (a.device() != b.device()) return false;
  const ByteSpan x = byte_span(a), y = byte_span(b);
  return x.first < x.last && y.first < y.last && x.first < y.last && y.first < x.last;
}

// `written` must not meet `read`: the op writes one while it reads the other.
inline void check_apart(const at::Tensor& written, const char* written_name, const at::Tensor& read,
                        const char* read_name) {
  TORCH_CHECK_VALUE(!spans_meet(written, read), std::string(written_name) + " and " + read_name +
                    " share memory; the op writes " + written_name + " while it reads " +
                    read_name + ", so they must not overlap (pass a copy)");
}

// An output of an op that may run in place: `out` is `x` itself (same address, both contiguous and
// of one shape, checked before) or shares no memory with it.
inline void in_place_or_apart(const at::Tensor& out, const char* out_name, const at::Tensor& x,
                              const char* x_name) {
  if (out.data_ptr() == x.data_ptr() && out.numel() > 0) return;
  check_apart(out, out_name, x, x_name);
}

// A per-row buffer of a forward-pass op (row_group, mask, seeds, steps): `dtype`, 1-D, contiguous,
// at least `rows` entries (one per row of `x_name`; later entries are not read), on `device`.
inline void check_per_row(const at::Tensor& t, const char* name, at::ScalarType dtype, int64_t rows,
                          const at::Device& device, const char* x_name) {
  const std::string n(name);
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, n + " must be " + dtype_name(dtype) + ", got " +
                   dtype_name(t.scalar_type()));
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) >= rows, n + " must be 1-D with at least " + num(rows) +
                    " entries (one per row of " + x_name + "), got " + shape(t.sizes()));
  TORCH_CHECK_VALUE(t.device() == device, n + " must be on " + device.str() + " (" + x_name +
                    "'s device), got " + t.device().str());
  TORCH_CHECK_VALUE(t.is_contiguous(), n + " must be contiguous");
}

inline void check_no_grad(const at::Tensor& t, const char* name) {
  TORCH_CHECK_VALUE(!t.requires_grad(), std::string(name) + " requires grad, but pocrand's ops "
                    "are not differentiable (their outputs are constants of the protocol): pass " +
                    name + ".detach(), or run under torch.no_grad() / torch.inference_mode()");
}

}  // namespace pocrand
