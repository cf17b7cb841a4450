// stages_cpu.cpp — the core's scalar stages as elementwise CPU ops, for verification only
// (accuracy sweeps and CPU == GPU checks over whole domains; pocrand_ext/stages.py).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "../core/pocrand_core.h"
#include "../op_checks.h"
#include "cpu_common.h"

namespace pocrand {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> core_stages_cpu(const at::Tensor& hashes) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_keys(hashes, "hashes");
  auto u = at::empty(hashes.sizes(), hashes.options().dtype(at::kFloat));
  auto r = at::empty_like(u), c = at::empty_like(u), s = at::empty_like(u);
  const int64_t* h = hashes.data_ptr<int64_t>();
  float *up = u.data_ptr<float>(), *rp = r.data_ptr<float>(), *cp = c.data_ptr<float>(),
        *sp = s.data_ptr<float>();
  ieee_parallel_for(0, hashes.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      up[i] = uniform_from_hash(static_cast<uint32_t>(h[i]));
      rp[i] = box_muller_radius(up[i]);
      sincos_reduced(box_muller_angle(up[i]), &sp[i], &cp[i]);
    }
  });
  return {u, r, c, s};
}

at::Tensor core_log_cpu(const at::Tensor& x) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_float32(x, "x");
  auto out = at::empty_like(x);
  const float* xp = x.data_ptr<float>();
  float* o = out.data_ptr<float>();
  ieee_parallel_for(0, x.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) o[i] = log_positive(xp[i]);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> core_sincos_cpu(const at::Tensor& theta) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_float32(theta, "theta");
  auto s = at::empty_like(theta), c = at::empty_like(theta);
  const float* t = theta.data_ptr<float>();
  float *sp = s.data_ptr<float>(), *cp = c.data_ptr<float>();
  ieee_parallel_for(0, theta.numel(), kGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) sincos_reduced(t[i], &sp[i], &cp[i]);
  });
  return {s, c};
}

at::Tensor core_round_cpu(const at::Tensor& x, at::ScalarType dtype) {
  const IeeeFpMode ieee;  // fp_mode.h
  check_float32(x, "x");
  check_float_dtype(dtype, "dtype");
  auto out = at::empty(x.sizes(), x.options().dtype(dtype));
  const float* xp = x.data_ptr<float>();
  with_store(out, [&](const auto& store) {
    ieee_parallel_for(0, x.numel(), kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) store(i, xp[i]);
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pocrand, CPU, m) {
  m.impl("core_stages", &core_stages_cpu);
  m.impl("core_log", &core_log_cpu);
  m.impl("core_sincos", &core_sincos_cpu);
  m.impl("core_round", &core_round_cpu);
}

}  // namespace pocrand
