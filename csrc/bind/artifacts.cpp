// bind/artifacts.cpp — PoC v2's Haar rotation and artifacts (SPEC.md 9.10, 9.11): the ops'
// schemas, their argument checks, and their CPU (cpu/artifacts.cpp) and CUDA (cuda/haar.cu)
// implementations. The seed strings are the protocol layer's (pocrand_ext/protocols/pocv2/):
// artifacts_nonces gets them as a prefix and two suffixes and derives the seeds where it uses
// them, on the host for the CPU and on the device for CUDA (no upload).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>

#include "../cpu/artifacts.h"
#include "../cpu/fp_env.h"
#include "../cpu/seeds.h"
#include "bind_common.h"
#include "tensor_guard.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // x [B, k] (f32/f16/bf16), seeds int64 [B, k - 1] -> [B, k] in x's dtype (9.10).
  m.def("haar_rotate(Tensor x, Tensor seeds) -> Tensor");
  // hidden [B, H] (f32/f16/bf16), seeds int64 [B, k] (column 0 the pick seed, columns 1 .. k - 1
  // the Haar seeds j = 0 .. k - 2) -> (fp16 [B, k] artifacts, bool [B] non-finite-row flags) (9.11).
  m.def("artifacts(Tensor hidden, Tensor seeds, int k) -> (Tensor, Tensor)");
  // The same with the seeds of nonce b derived by the op: column 0 seed(prefix + str(nonce) +
  // pick), column c >= 1 seed(prefix + str(nonce) + haar + str(c - 1)).
  m.def("artifacts_nonces(Tensor hidden, str prefix, int[] nonces, int k, str pick, str haar) "
        "-> (Tensor, Tensor)");
}

namespace {

void check_artifacts(const at::Tensor& hidden, const at::Tensor& seeds, int64_t k) {
  check_artifact_args(hidden, seeds, k);
  check_no_grad(hidden, "hidden");
}

void check_artifacts_nonces(const at::Tensor& hidden, at::IntArrayRef nonces, int64_t k,
                            c10::string_view pick, c10::string_view haar) {
  check_artifact_nonces(hidden, nonces, k);
  check_no_grad(hidden, "hidden");
  TORCH_CHECK_VALUE(pick.size() <= SeedPattern::kMaxMiddle && haar.size() <= SeedPattern::kMaxMiddle,
                    "pick and haar must be at most " + num(SeedPattern::kMaxMiddle) + " bytes each");
}

std::tuple<at::Tensor, at::Tensor> artifact_outputs(const at::Tensor& hidden, int64_t k) {
  return {at::empty({hidden.size(0), k}, hidden.options().dtype(at::kHalf)),
          at::empty({hidden.size(0)}, hidden.options().dtype(at::kBool))};
}

at::Tensor haar_rotate_cpu(const at::Tensor& x, const at::Tensor& seeds) {
  const IeeeFpMode ieee;  // fp_env.h
  check_haar_args(x, seeds);
  check_no_grad(x, "x");
  auto out = at::empty_like(x);
  cpu::haar_rotate(cpu_dtype(x.scalar_type()), x.data_ptr(), seeds.data_ptr<int64_t>(), x.size(0),
                   x.size(1), out.data_ptr());
  return out;
}

std::tuple<at::Tensor, at::Tensor> artifacts_cpu(const at::Tensor& hidden, const at::Tensor& seeds,
                                                 int64_t k) {
  const IeeeFpMode ieee;
  check_artifacts(hidden, seeds, k);
  auto [out, flags] = artifact_outputs(hidden, k);
  cpu::artifacts(cpu_dtype(hidden.scalar_type()), hidden.data_ptr(), seeds.data_ptr<int64_t>(),
                 hidden.size(0), hidden.size(1), k, reinterpret_cast<uint16_t*>(out.data_ptr()),
                 flags.data_ptr<bool>());
  return {out, flags};
}

std::tuple<at::Tensor, at::Tensor> artifacts_nonces_cpu(const at::Tensor& hidden, c10::string_view prefix,
                                                        at::IntArrayRef nonces, int64_t k,
                                                        c10::string_view pick, c10::string_view haar) {
  const IeeeFpMode ieee;
  check_artifacts_nonces(hidden, nonces, k, pick, haar);
  const auto B = static_cast<int64_t>(nonces.size());
  auto seeds = at::empty({B, k}, at::TensorOptions().dtype(at::kLong));
  cpu::derive_seed_columns(prefix, nonces.data(), B, pick, haar, k, seeds.data_ptr<int64_t>());
  return artifacts_cpu(hidden, seeds, k);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
cudaStream_t stream() { return at::cuda::getCurrentCUDAStream(); }

float* scratch_of(const at::Tensor& like, size_t floats, at::Tensor& holder) {
  holder = at::empty({static_cast<int64_t>(floats)}, like.options().dtype(at::kFloat));
  return floats ? holder.data_ptr<float>() : nullptr;
}

at::Tensor haar_rotate_cuda(const at::Tensor& x, const at::Tensor& seeds) {
  check_haar_args(x, seeds);
  check_no_grad(x, "x");
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t rows = x.size(0), k = x.size(1);
  auto out = at::empty_like(x);
  if (rows == 0) return out;
  at::Tensor scratch;
  float* s = scratch_of(x, cuda::haar_scratch_floats(rows, k), scratch);
  C10_CUDA_CHECK(cuda::launch_haar_rotate(x.data_ptr(), cuda_dtype(x.scalar_type()),
                                          seeds.data_ptr<int64_t>(), rows, k, out.data_ptr(), s,
                                          stream()));
  return out;
}

std::tuple<at::Tensor, at::Tensor> artifacts_of_device_seeds(const at::Tensor& hidden,
                                                             const at::Tensor& seeds, int64_t k) {
  const int64_t rows = hidden.size(0), H = hidden.size(1);
  auto [out, flags] = artifact_outputs(hidden, k);
  at::Tensor scratch;
  float* s = scratch_of(hidden, cuda::artifact_scratch_floats(rows, H, k), scratch);
  C10_CUDA_CHECK(cuda::launch_artifacts(hidden.data_ptr(), cuda_dtype(hidden.scalar_type()),
                                        seeds.data_ptr<int64_t>(), rows, H, k,
                                        reinterpret_cast<uint16_t*>(out.data_ptr()),
                                        flags.data_ptr<bool>(), s, stream()));
  return {out, flags};
}

std::tuple<at::Tensor, at::Tensor> artifacts_cuda(const at::Tensor& hidden, const at::Tensor& seeds,
                                                  int64_t k) {
  check_artifacts(hidden, seeds, k);
  const c10::cuda::CUDAGuard guard(hidden.device());
  return artifacts_of_device_seeds(hidden, seeds, k);
}

std::tuple<at::Tensor, at::Tensor> artifacts_nonces_cuda(const at::Tensor& hidden, c10::string_view prefix,
                                                         at::IntArrayRef nonces, int64_t k,
                                                         c10::string_view pick, c10::string_view haar) {
  check_artifacts_nonces(hidden, nonces, k, pick, haar);
  const auto B = static_cast<int64_t>(nonces.size());
  const c10::cuda::CUDAGuard guard(hidden.device());
  // the seeds, derived on the device from the patterns and the nonces in the launch parameters
  auto seeds = at::empty({B, k}, hidden.options().dtype(at::kLong));
  cuda::ArtifactSeedSpec spec{cpu::seed_pattern(prefix, pick, false),
                              cpu::seed_pattern(prefix, haar, true), {}};
  for (int64_t r0 = 0; r0 < B; r0 += cuda::kInlineNonces) {
    const int64_t count = std::min<int64_t>(cuda::kInlineNonces, B - r0);
    for (int64_t r = 0; r < count; ++r) spec.nonces[r] = nonces[r0 + r];
    C10_CUDA_CHECK(cuda::launch_artifact_seeds(spec, count, k, seeds.data_ptr<int64_t>() + r0 * k,
                                               stream()));
  }
  return artifacts_of_device_seeds(hidden, seeds, k);
}
#endif

}  // namespace

// Raw ops given None for a tensor: a TypeError naming it (tensor_guard.h).
TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
  POCRAND_TENSOR_GUARD(m, "haar_rotate", haar_rotate_cpu);
  POCRAND_TENSOR_GUARD(m, "artifacts", artifacts_cpu);
}

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("haar_rotate", &haar_rotate_cpu);
  m.impl("artifacts", &artifacts_cpu);
  m.impl("artifacts_nonces", &artifacts_nonces_cpu);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("haar_rotate", &haar_rotate_cuda);
  m.impl("artifacts", &artifacts_cuda);
  m.impl("artifacts_nonces", &artifacts_nonces_cuda);
}
#endif

}  // namespace pocrand
