// bind/stages.cpp — the core's scalar stages as one elementwise op, for verification only (the
// accuracy sweeps and CPU == GPU checks over whole domains of pocrand_ext/stages.py and scripts/):
// its schema, checks, and CPU (cpu/stages.cpp) and CUDA (cuda/stages.cu) implementations. Not
// part of the PoC API, and no production path calls it.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <string>
#include <vector>

#include "../cpu/fp_env.h"
#include "../cpu/stages.h"
#include "bind_common.h"
#include "tensor_guard.h"

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace pocrand {

TORCH_LIBRARY_FRAGMENT(pocrand, m) {
  // stage "box_muller": x int64 hashes (low 32 bits) -> float32 [u, r, cos(theta), sin(theta)],
  //   theta = 2 pi u (core section 5);
  // "log": x float32 -> [log(x)] (meaningful for positive normal x);
  // "sincos": x float32 theta -> [sin, cos] (meaningful for theta in [0, 8));
  // "round": x float32 -> [x delivered in dtype] (float16 / bfloat16 / float32, core section 6).
  // Every output has x's shape.
  m.def("core_stage(str stage, Tensor x, ScalarType? dtype=None) -> Tensor[]");
}

namespace {

enum class Stage { kBoxMuller, kLog, kSincos, kRound };

Stage check_stage(c10::string_view stage, const at::Tensor& x, c10::optional<at::ScalarType> dtype) {
  const std::string name(stage);
  Stage s;
  if (name == "box_muller") s = Stage::kBoxMuller;
  else if (name == "log") s = Stage::kLog;
  else if (name == "sincos") s = Stage::kSincos;
  else if (name == "round") s = Stage::kRound;
  else TORCH_CHECK_VALUE(false, "stage must be \"box_muller\", \"log\", \"sincos\" or \"round\", got \"" + name + "\"");
  if (s == Stage::kBoxMuller) check_keys(x, "x (hashes)");
  else check_float32(x, s == Stage::kSincos ? "x (theta)" : "x");
  check_no_grad(x, "x");
  if (s == Stage::kRound) {
    TORCH_CHECK_VALUE(dtype.has_value(), "stage \"round\" needs dtype");
    check_float_dtype(*dtype, "dtype");
  } else {
    TORCH_CHECK_VALUE(!dtype.has_value(), "dtype is for stage \"round\" only");
  }
  return s;
}

std::vector<at::Tensor> outputs(Stage s, const at::Tensor& x, c10::optional<at::ScalarType> dtype) {
  const auto f32 = x.options().dtype(at::kFloat);
  switch (s) {
    case Stage::kBoxMuller: return {at::empty(x.sizes(), f32), at::empty(x.sizes(), f32),
                                    at::empty(x.sizes(), f32), at::empty(x.sizes(), f32)};
    case Stage::kLog: return {at::empty(x.sizes(), f32)};
    case Stage::kSincos: return {at::empty(x.sizes(), f32), at::empty(x.sizes(), f32)};
    case Stage::kRound: return {at::empty(x.sizes(), x.options().dtype(*dtype))};
  }
  return {};
}

std::vector<at::Tensor> core_stage_cpu(c10::string_view stage, const at::Tensor& x,
                                       c10::optional<at::ScalarType> dtype) {
  const IeeeFpMode ieee;  // fp_env.h
  const Stage s = check_stage(stage, x, dtype);
  std::vector<at::Tensor> out = outputs(s, x, dtype);
  const int64_t n = x.numel();
  switch (s) {
    case Stage::kBoxMuller:
      cpu::core_box_muller(x.data_ptr<int64_t>(), n, out[0].data_ptr<float>(), out[1].data_ptr<float>(),
                           out[2].data_ptr<float>(), out[3].data_ptr<float>());
      break;
    case Stage::kLog: cpu::core_log(x.data_ptr<float>(), n, out[0].data_ptr<float>()); break;
    case Stage::kSincos:
      cpu::core_sincos(x.data_ptr<float>(), n, out[0].data_ptr<float>(), out[1].data_ptr<float>());
      break;
    case Stage::kRound: cpu::core_round(x.data_ptr<float>(), n, cpu_dtype(*dtype), out[0].data_ptr()); break;
  }
  return out;
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
std::vector<at::Tensor> core_stage_cuda(c10::string_view stage, const at::Tensor& x,
                                        c10::optional<at::ScalarType> dtype) {
  const Stage s = check_stage(stage, x, dtype);
  const c10::cuda::CUDAGuard guard(x.device());
  std::vector<at::Tensor> out = outputs(s, x, dtype);
  const int64_t n = x.numel();
  if (n == 0) return out;
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  switch (s) {
    case Stage::kBoxMuller:
      C10_CUDA_CHECK(cuda::launch_core_stages(x.data_ptr<int64_t>(), n, out[0].data_ptr<float>(),
                                              out[1].data_ptr<float>(), out[2].data_ptr<float>(),
                                              out[3].data_ptr<float>(), stream));
      break;
    case Stage::kLog:
      C10_CUDA_CHECK(cuda::launch_core_log(x.data_ptr<float>(), n, out[0].data_ptr<float>(), stream));
      break;
    case Stage::kSincos:
      C10_CUDA_CHECK(cuda::launch_core_sincos(x.data_ptr<float>(), n, out[0].data_ptr<float>(),
                                              out[1].data_ptr<float>(), stream));
      break;
    case Stage::kRound:
      C10_CUDA_CHECK(cuda::launch_core_round(x.data_ptr<float>(), n, cuda_dtype(*dtype), out[0].data_ptr(),
                                             stream));
      break;
  }
  return out;
}
#endif

}  // namespace

// Raw ops given None for a tensor: a TypeError naming it (tensor_guard.h).
TORCH_LIBRARY_IMPL(pocrand, BackendSelect, m) {
  POCRAND_TENSOR_GUARD(m, "core_stage", core_stage_cpu);
}

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("core_stage", &core_stage_cpu);
}

#if defined(POCRAND_WITH_CUDA) && POCRAND_WITH_CUDA
TORCH_LIBRARY_IMPL(pocrand, CUDA, m) {
  m.impl("core_stage", &core_stage_cuda);
}
#endif

}  // namespace pocrand
