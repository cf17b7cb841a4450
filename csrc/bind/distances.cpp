// bind/distances.cpp — the Phase-2 distances (SPEC.md section 8): the op's schema, its argument
// checks, and its CPU (cpu/distances.cpp) and CUDA (cuda/distances.cu) implementations.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "../cpu/distances.h"
#include "../cpu/fp_env.h"
#include "bind_common.h"
#include "tensor_guard.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // logits [B, V] (f32/f16/bf16), permutations int64 [B, V], target [V] -> float32 [B].
  // check=true raises on a permutation entry outside [0, V) (on a GPU this synchronises);
  // check=false never synchronises and gives such a row the canonical NaN instead.
  m.def("distances(Tensor logits, Tensor permutations, Tensor target, bool check=True) -> Tensor");
}

namespace {

void check_args(const at::Tensor& logits, const at::Tensor& permutations, const at::Tensor& target) {
  check_distance_args(logits, permutations, target);
  check_no_grad(logits, "logits");
  check_no_grad(target, "target");
}

// Raises on the first row with an entry out of range; first_bad: a CPU int64 [rows], -1 = none.
void raise_first_bad(const at::Tensor& first_bad, const at::Tensor& permutations, int64_t V) {
  const int64_t* b = first_bad.data_ptr<int64_t>();
  for (int64_t r = 0; r < first_bad.numel(); ++r) {
    if (b[r] != -1) {
      const int64_t value = permutations.view(-1)[b[r]].item<int64_t>();
      TORCH_CHECK_VALUE(false, out_of_range_message(b[r], value, V));
    }
  }
}

at::Tensor distances_cpu(const at::Tensor& logits, const at::Tensor& permutations,
                         const at::Tensor& target, bool check) {
  const IeeeFpMode ieee;  // fp_env.h
  check_args(logits, permutations, target);
  const int64_t rows = logits.size(0), V = logits.size(1);
  auto out = at::empty({rows}, logits.options().dtype(at::kFloat));
  auto first_bad = at::empty({rows}, logits.options().dtype(at::kLong));
  cpu::distances(cpu_dtype(logits.scalar_type()), logits.data_ptr(), permutations.data_ptr<int64_t>(),
                 cpu_dtype(target.scalar_type()), target.data_ptr(), rows, V, out.data_ptr<float>(),
                 first_bad.data_ptr<int64_t>());
  if (check) raise_first_bad(first_bad, permutations, V);
  return out;
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
at::Tensor distances_cuda(const at::Tensor& logits, const at::Tensor& permutations,
                          const at::Tensor& target, bool check) {
  check_args(logits, permutations, target);
  const c10::cuda::CUDAGuard guard(logits.device());
  const int64_t rows = logits.size(0), V = logits.size(1);
  auto out = at::empty({rows}, logits.options().dtype(at::kFloat));
  auto scratch = at::empty({static_cast<int64_t>(cuda::distance_scratch_floats(rows, V))},
                           logits.options().dtype(at::kFloat));
  // Per row, the smallest out-of-range flat index; UINT64_MAX (int64 -1) = none. Set by the launch.
  auto first_bad = at::empty({rows}, logits.options().dtype(at::kLong));
  C10_CUDA_CHECK(cuda::launch_distances(
      logits.data_ptr(), cuda_dtype(logits.scalar_type()), permutations.data_ptr<int64_t>(),
      target.data_ptr(), cuda_dtype(target.scalar_type()), rows, V, out.data_ptr<float>(),
      scratch.numel() ? scratch.data_ptr<float>() : nullptr,
      reinterpret_cast<unsigned long long*>(first_bad.data_ptr<int64_t>()),
      at::cuda::getCurrentCUDAStream()));
  if (check) raise_first_bad(first_bad.cpu(), permutations, V);  // synchronises; check=false never does
  return out;
}
#endif

}  // namespace

// Raw ops given None for a tensor: a TypeError naming it (tensor_guard.h).
TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
  POCRAND_TENSOR_GUARD(m, "distances", distances_cpu);
}

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("distances", &distances_cpu);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("distances", &distances_cuda);
}
#endif

}  // namespace pocrand
