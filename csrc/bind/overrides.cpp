// bind/overrides.cpp — the masked forward-pass overrides (SPEC.md 10.11 embed_synth, 10.12
// router_override): the ops' schemas, their argument checks, and their CPU (cpu/overrides.cpp) and
// CUDA (cuda/overrides.cu) implementations.
//
// Each op writes `out` (x itself: in place); Python's functional forms allocate it
// (pocrand_ext/overrides.py). The per-row tensors may be longer than the rows (only the first n
// entries are read) and their values are never read here: that would synchronise a GPU stream,
// and every int64 value is allowed (the ops use its low 32 bits, or its sign for prev_k). So the
// ops run under CUDA-graph capture and torch.compile(fullgraph=True).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <string>

#include "../cpu/fp_env.h"
#include "../cpu/overrides.h"
#include "bind_common.h"
#include "tensor_guard.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "../cuda/overrides.h"
#endif

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // x [n, hidden] (f32/f16/bf16, the embeddings computed), base_seeds, step, prev_k int64 [>= n],
  // embeds [>= n, hidden] (f32/f16/bf16), mask bool [>= n], salt a u32 -> out (x's shape and
  // dtype; x itself in place): row r is normal(step_seed(base, prev, step, salt), hidden) when
  // mask[r] and prev_k[r] >= 0, embeds[r] in x's dtype when mask[r] and prev_k[r] < 0, else x[r].
  m.def("embed_synth(Tensor(a!) out, Tensor x, Tensor base_seeds, Tensor step, Tensor prev_k, "
        "Tensor embeds, Tensor mask, int salt) -> ()");
  // logits [n, n_experts] (f32/f16/bf16), route_seeds, step int64 [>= n], mask bool [>= n] ->
  // out (logits' shape and dtype; logits itself in place): row r is the forced-logits row (10.4)
  // of route seed hash(u32(step[r]), u32(route_seeds[r])) when mask[r], else logits[r].
  m.def("router_override(Tensor(a!) out, Tensor logits, Tensor route_seeds, Tensor step, "
        "Tensor mask, int n_experts, int top_k, int ladder_base) -> ()");
}

namespace {

// x [n, cols] of float32/float16/bfloat16, contiguous; out of its shape, dtype and device, x
// itself or apart from it and from every other input.
void check_rows_and_out(const at::Tensor& out, const at::Tensor& x, const char* name, const char* cols) {
  const std::string xn(name);
  TORCH_CHECK_VALUE(x.dim() == 2, xn + " must be 2-D [rows, " + cols + "], got " + num(x.dim()) + "-D");
  check_float_dtype(x.scalar_type(), (xn + " dtype").c_str());
  TORCH_CHECK_VALUE(x.is_contiguous(), xn + " must be contiguous");
  check_no_grad(x, name);
  TORCH_CHECK_TYPE(out.scalar_type() == x.scalar_type(), "out must have " + xn + "'s dtype " +
                   dtype_name(x.scalar_type()) + ", got " + dtype_name(out.scalar_type()));
  TORCH_CHECK_VALUE(out.sizes() == x.sizes(), "out must have " + xn + "'s shape " + shape(x.sizes()) +
                    ", got " + shape(out.sizes()));
  TORCH_CHECK_VALUE(out.device() == x.device(), "out must be on " + xn + "'s device " +
                    x.device().str() + ", got " + out.device().str());
  TORCH_CHECK_VALUE(out.is_contiguous(), "out must be contiguous");
  check_no_grad(out, "out");
  in_place_or_apart(out, "out", x, name);
}

void check_embed_synth(const at::Tensor& out, const at::Tensor& x, const at::Tensor& base_seeds,
                       const at::Tensor& step, const at::Tensor& prev_k, const at::Tensor& embeds,
                       const at::Tensor& mask, int64_t salt) {
  check_rows_and_out(out, x, "x", "hidden");
  check_count(x.size(1), "hidden size (x.shape[-1])");
  const int64_t n = x.size(0);
  check_per_row(base_seeds, "base_seeds", at::kLong, n, x.device(), "x");
  check_per_row(step, "step", at::kLong, n, x.device(), "x");
  check_per_row(prev_k, "prev_k", at::kLong, n, x.device(), "x");
  check_per_row(mask, "mask", at::kBool, n, x.device(), "x");
  check_float_dtype(embeds.scalar_type(), "embeds dtype");
  TORCH_CHECK_VALUE(embeds.dim() == 2 && embeds.size(0) >= n && embeds.size(1) == x.size(1),
                    "embeds must be [rows >= " + num(n) + ", " + num(x.size(1)) + "] (x's hidden size), got " +
                    shape(embeds.sizes()));
  TORCH_CHECK_VALUE(embeds.device() == x.device(), "embeds must be on " + x.device().str() +
                    " (x's device), got " + embeds.device().str());
  TORCH_CHECK_VALUE(embeds.is_contiguous(), "embeds must be contiguous");
  check_no_grad(embeds, "embeds");
  check_seed(salt, "salt");
  check_apart(out, "out", base_seeds, "base_seeds");
  check_apart(out, "out", step, "step");
  check_apart(out, "out", prev_k, "prev_k");
  check_apart(out, "out", embeds, "embeds");
  check_apart(out, "out", mask, "mask");
}

void check_router_override(const at::Tensor& out, const at::Tensor& logits, const at::Tensor& route_seeds,
                           const at::Tensor& step, const at::Tensor& mask, int64_t n_experts,
                           int64_t top_k, int64_t ladder_base) {
  check_rows_and_out(out, logits, "logits", "n_experts");
  check_count(n_experts, "n_experts");
  TORCH_CHECK_VALUE(logits.size(1) == n_experts, "logits.shape[-1] must be n_experts = " +
                    num(n_experts) + ", got " + shape(logits.sizes()));
  check_ladder(n_experts, top_k, ladder_base);
  const int64_t n = logits.size(0);
  check_per_row(route_seeds, "route_seeds", at::kLong, n, logits.device(), "logits");
  check_per_row(step, "step", at::kLong, n, logits.device(), "logits");
  check_per_row(mask, "mask", at::kBool, n, logits.device(), "logits");
  check_apart(out, "out", route_seeds, "route_seeds");
  check_apart(out, "out", step, "step");
  check_apart(out, "out", mask, "mask");
}

void embed_synth_cpu(const at::Tensor& out, const at::Tensor& x, const at::Tensor& base_seeds,
                     const at::Tensor& step, const at::Tensor& prev_k, const at::Tensor& embeds,
                     const at::Tensor& mask, int64_t salt) {
  const IeeeFpMode ieee;  // fp_env.h
  check_embed_synth(out, x, base_seeds, step, prev_k, embeds, mask, salt);
  cpu::embed_synth(cpu_dtype(x.scalar_type()), x.data_ptr(), out.data_ptr(), x.size(0), x.size(1),
                   base_seeds.data_ptr<int64_t>(), step.data_ptr<int64_t>(), prev_k.data_ptr<int64_t>(),
                   cpu_dtype(embeds.scalar_type()), embeds.data_ptr(), mask.data_ptr<bool>(),
                   static_cast<uint32_t>(salt));
}

void router_override_cpu(const at::Tensor& out, const at::Tensor& logits, const at::Tensor& route_seeds,
                         const at::Tensor& step, const at::Tensor& mask, int64_t n_experts,
                         int64_t top_k, int64_t ladder_base) {
  const IeeeFpMode ieee;
  check_router_override(out, logits, route_seeds, step, mask, n_experts, top_k, ladder_base);
  cpu::router_override(cpu_dtype(logits.scalar_type()), logits.data_ptr(), out.data_ptr(), logits.size(0),
                       logits.size(1), route_seeds.data_ptr<int64_t>(), step.data_ptr<int64_t>(),
                       mask.data_ptr<bool>(), top_k, ladder_base);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
void embed_synth_cuda(const at::Tensor& out, const at::Tensor& x, const at::Tensor& base_seeds,
                      const at::Tensor& step, const at::Tensor& prev_k, const at::Tensor& embeds,
                      const at::Tensor& mask, int64_t salt) {
  check_embed_synth(out, x, base_seeds, step, prev_k, embeds, mask, salt);
  const c10::cuda::CUDAGuard guard(x.device());
  if (x.numel() == 0) return;
  C10_CUDA_CHECK(cuda::launch_embed_synth(
      x.data_ptr(), out.data_ptr(), cuda_dtype(x.scalar_type()), x.size(0), x.size(1),
      base_seeds.data_ptr<int64_t>(), step.data_ptr<int64_t>(), prev_k.data_ptr<int64_t>(),
      embeds.data_ptr(), cuda_dtype(embeds.scalar_type()), mask.data_ptr<bool>(),
      static_cast<uint32_t>(salt), at::cuda::getCurrentCUDAStream()));
}

void router_override_cuda(const at::Tensor& out, const at::Tensor& logits, const at::Tensor& route_seeds,
                          const at::Tensor& step, const at::Tensor& mask, int64_t n_experts,
                          int64_t top_k, int64_t ladder_base) {
  check_router_override(out, logits, route_seeds, step, mask, n_experts, top_k, ladder_base);
  const c10::cuda::CUDAGuard guard(logits.device());
  if (logits.numel() == 0) return;
  C10_CUDA_CHECK(cuda::launch_router_override(
      logits.data_ptr(), out.data_ptr(), cuda_dtype(logits.scalar_type()), logits.size(0),
      logits.size(1), route_seeds.data_ptr<int64_t>(), step.data_ptr<int64_t>(),
      mask.data_ptr<bool>(), top_k, ladder_base, at::cuda::getCurrentCUDAStream()));
}
#endif

}  // namespace

// Raw ops given None for a tensor: a TypeError naming it (tensor_guard.h).
TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
  POCRAND_TENSOR_GUARD(m, "embed_synth", embed_synth_cpu);
  POCRAND_TENSOR_GUARD(m, "router_override", router_override_cpu);
}

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("embed_synth", &embed_synth_cpu);
  m.impl("router_override", &router_override_cpu);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("embed_synth", &embed_synth_cuda);
  m.impl("router_override", &router_override_cuda);
}
#endif

}  // namespace pocrand
