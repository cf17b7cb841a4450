// bind/snap.cpp — the decode scheme's snap (SPEC.md 10.6, 10.7): the op's schema, its argument
// checks, and its CPU (cpu/snap.cpp) and CUDA (cuda/snap.cu) implementations.
//
// The op writes four caller tensors (address-stable, for CUDA-graph replay); Python's snap()
// allocates them when it is given none (pocrand_ext/snap.py). Nothing is read back to the host.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <string>

#include "../core/pocrand_core.h"
#include "../cpu/fp_env.h"
#include "../cpu/snap.h"
#include "bind_common.h"
#include "tensor_guard.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "../cuda/snap_kernels.h"
#endif

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // h [B, H] (f32/f16/bf16), seeds int64 [B] (u32 pick seeds), codebook float32 [P, d] -> written
  // into k int64 [B], bad bool [B], scores float32 [B, P], q float32 [B, d].
  m.def("snap(Tensor h, Tensor seeds, Tensor codebook, Tensor(a!) k, Tensor(b!) bad, "
        "Tensor(c!) scores, Tensor(d!) q) -> ()");
}

namespace {

void check_snap_out(const at::Tensor& t, const char* name, at::ScalarType dtype, at::IntArrayRef sizes,
                    const at::Tensor& h) {
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, std::string(name) + " must be " + dtype_name(dtype) +
                   ", got " + dtype_name(t.scalar_type()));
  TORCH_CHECK_VALUE(t.sizes() == sizes, std::string(name) + " must have shape " + shape(sizes) +
                    ", got " + shape(t.sizes()));
  TORCH_CHECK_VALUE(t.device() == h.device(), std::string(name) + " must be on h's device " +
                    h.device().str() + ", got " + t.device().str());
  TORCH_CHECK_VALUE(t.is_contiguous(), std::string(name) + " must be contiguous");
  check_no_grad(t, name);
}

void check_snap(const at::Tensor& h, const at::Tensor& seeds, const at::Tensor& codebook,
                const at::Tensor& k, const at::Tensor& bad, const at::Tensor& scores, const at::Tensor& q) {
  TORCH_CHECK_VALUE(h.dim() == 2, "h must be 2-D [batch, hidden], got " + num(h.dim()) + "-D");
  check_float_dtype(h.scalar_type(), "h dtype");
  check_count(h.size(1), "hidden size (h.shape[1])");
  check_no_grad(h, "h");
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
  check_no_grad(codebook, "codebook");
  TORCH_CHECK_VALUE(seeds.device() == h.device() && codebook.device() == h.device(),
                    "h, seeds and codebook must be on one device, got " + h.device().str() + ", " +
                    seeds.device().str() + " and " + codebook.device().str());
  TORCH_CHECK_VALUE(h.is_contiguous(), "h must be contiguous");
  TORCH_CHECK_VALUE(seeds.is_contiguous(), "seeds must be contiguous");
  TORCH_CHECK_VALUE(codebook.is_contiguous(), "codebook must be contiguous");
  check_seed_values(seeds, "seeds");
  const int64_t B = h.size(0), P = codebook.size(0), d = codebook.size(1);
  // The outputs named as snap(..., out=(k, bad, scores, q)) passes them: the Python wrapper leaves
  // their checks to this one.
  check_snap_out(k, "out[0] (k)", at::kLong, {B}, h);
  check_snap_out(bad, "out[1] (bad)", at::kBool, {B}, h);
  check_snap_out(scores, "out[2] (scores)", at::kFloat, {B, P}, h);
  check_snap_out(q, "out[3] (q)", at::kFloat, {B, d}, h);
  // Every output apart from the inputs and from the other outputs (memory ranges).
  const at::Tensor* outs[] = {&k, &bad, &scores, &q};
  const char* out_names[] = {"out[0] (k)", "out[1] (bad)", "out[2] (scores)", "out[3] (q)"};
  for (int i = 0; i < 4; ++i) {
    check_apart(*outs[i], out_names[i], h, "h");
    check_apart(*outs[i], out_names[i], seeds, "seeds");
    check_apart(*outs[i], out_names[i], codebook, "codebook");
    for (int j = i + 1; j < 4; ++j) check_apart(*outs[i], out_names[i], *outs[j], out_names[j]);
  }
}

void snap_cpu(const at::Tensor& h, const at::Tensor& seeds, const at::Tensor& codebook, const at::Tensor& k,
              const at::Tensor& bad, const at::Tensor& scores, const at::Tensor& q) {
  const IeeeFpMode ieee;  // fp_env.h
  check_snap(h, seeds, codebook, k, bad, scores, q);
  cpu::snap(cpu_dtype(h.scalar_type()), h.data_ptr(), h.size(0), h.size(1), seeds.data_ptr<int64_t>(),
            codebook.data_ptr<float>(), codebook.size(0), codebook.size(1), k.data_ptr<int64_t>(),
            bad.data_ptr<bool>(), scores.data_ptr<float>(), q.data_ptr<float>());
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
void snap_cuda(const at::Tensor& h, const at::Tensor& seeds, const at::Tensor& codebook, const at::Tensor& k,
               const at::Tensor& bad, const at::Tensor& scores, const at::Tensor& q) {
  check_snap(h, seeds, codebook, k, bad, scores, q);
  const c10::cuda::CUDAGuard guard(h.device());
  const int64_t rows = h.size(0), H = h.size(1);
  if (rows == 0) return;
  const auto floats = static_cast<int64_t>(cuda::snap_scratch_floats(rows, H));
  const at::Tensor scratch = floats > 0 ? at::empty({floats}, h.options().dtype(at::kFloat)) : at::Tensor();
  C10_CUDA_CHECK(cuda::launch_snap(h.data_ptr(), cuda_dtype(h.scalar_type()), seeds.data_ptr<int64_t>(),
                                   codebook.data_ptr<float>(), rows, H, codebook.size(0), codebook.size(1),
                                   k.data_ptr<int64_t>(), bad.data_ptr<bool>(), scores.data_ptr<float>(),
                                   q.data_ptr<float>(), scratch.defined() ? scratch.data_ptr<float>() : nullptr,
                                   at::cuda::getCurrentCUDAStream()));
}
#endif

}  // namespace

// Raw ops given None for a tensor: a TypeError naming it (tensor_guard.h).
TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
  POCRAND_TENSOR_GUARD(m, "snap", snap_cpu);
}

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("snap", &snap_cpu);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("snap", &snap_cuda);
}
#endif

}  // namespace pocrand
